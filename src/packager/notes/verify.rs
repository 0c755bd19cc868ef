//! The Verification section's checks beyond the checksums: signatures,
//! provenance, GitHub's attestations and image signatures, each with the
//! exact commands for what the release has and nothing it does not have.
//!
//! Part of the notes packager. The plan decides every name ([`Verification`]
//! is planned with the notes, from `[sign]`, `[images]` and `[ci]`); this
//! file only turns those names into commands, so the notes of a release
//! without them are unchanged.

use serde::Serialize;

use super::{ImageNote, NotesInput, example};

/// The issuer of the OIDC tokens GitHub Actions workflows sign with.
pub const GITHUB_OIDC_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// What a release has to check besides its checksums file, as planned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// `[sign]`: how the checksums file (or every file) is signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
    /// The provenance files in dist/ (`<project>_<version>.intoto.jsonl`,
    /// and one per archive where written).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provenance: Vec<String>,
    /// `owner/repo` whose GitHub attestations cover the release's files:
    /// set when the generated workflow makes them (`[ci] attestations`, a
    /// tagged release) and `[ci] repository` names the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestations: Option<String>,
    /// The cosign public key file the pushed images are verified with
    /// (`[sign]` and pushed images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_key: Option<String>,
    /// The certificate identity (a regular expression) of the workflow that
    /// signs the pushed images keylessly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyless_identity: Option<String>,
}

impl Verification {
    /// Nothing to check but the checksums.
    pub fn is_empty(&self) -> bool {
        self == &Verification::default()
    }
}

/// How the release is signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    pub kind: SignatureKind,
    /// The file in dist/ users verify with.
    pub public_key: String,
    /// ssh: the principal `allowed_signers` names the key by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The signature files' extension (`minisig`, `sig`, `asc`).
    pub extension: String,
    /// Every artifact is signed, not only the checksums file.
    pub every_file: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureKind {
    Minisign,
    Ssh,
    Gpg,
}

/// One check of the Verification section: what it is, the commands, and
/// what a success shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub intro: String,
    pub commands: Vec<String>,
    pub note: String,
}

fn q(s: &str) -> String {
    shell_words::quote(s).into_owned()
}

/// The checks of `input`'s verification, in the order a user runs them.
pub(super) fn checks(input: &NotesInput) -> Vec<Check> {
    let v = input.verification;
    let mut out = Vec::new();
    let sums = input.checksums_file;
    let archive = example(input.packages)
        .or(input.packages.first())
        .map(|p| p.file_name.as_str());
    if let Some(s) = &v.signature {
        let mut files = vec![sums];
        if s.every_file
            && let Some(a) = archive
        {
            files.push(a);
        }
        let signatures: Vec<String> = files
            .iter()
            .map(|f| format!("`{f}.{}`", s.extension))
            .collect();
        let (what, commands, tool) = match s.kind {
            SignatureKind::Minisign => (
                "minisign key",
                files
                    .iter()
                    .map(|f| format!("minisign -Vm {} -p {}", q(f), q(&s.public_key)))
                    .collect(),
                "`minisign` prints `Signature and comment signature verified`",
            ),
            SignatureKind::Ssh => (
                "SSH key",
                files
                    .iter()
                    .map(|f| {
                        format!(
                            "ssh-keygen -Y verify -f {} -I {} -n file -s {} < {}",
                            q(&s.public_key),
                            q(s.identity.as_deref().unwrap_or_default()),
                            q(&format!("{f}.{}", s.extension)),
                            q(f)
                        )
                    })
                    .collect(),
                "`ssh-keygen` prints `Good \"file\" signature`",
            ),
            SignatureKind::Gpg => {
                let mut c = vec![format!("gpg --import {}", q(&s.public_key))];
                c.extend(files.iter().map(|f| {
                    format!(
                        "gpg --verify {} {}",
                        q(&format!("{f}.{}", s.extension)),
                        q(f)
                    )
                }));
                ("OpenPGP key", c, "`gpg` prints `Good signature`")
            }
        };
        let scope = if s.every_file {
            format!(
                "Every file of the release is signed with the project's {what}, each in `<file>.{}` beside it",
                s.extension
            )
        } else {
            format!("The checksums file is signed with the project's {what}")
        };
        let key = match s.kind {
            SignatureKind::Ssh => "allowed-signers file",
            _ => "public key",
        };
        let then = if files.len() > 1 {
            "then check the checksums file and your archive"
        } else {
            "then check it"
        };
        out.push(Check {
            intro: format!(
                "{scope}. Download {} and the {key} `{}` too, {then}:",
                signatures.join(" and "),
                s.public_key,
            ),
            commands,
            note: format!(
                "{tool} and exits 0 only when the file is exactly the one the key signed. With the checksums check above, this shows the archives are the ones the key holder released. A key downloaded beside the files proves nothing if both were replaced: compare `{}` with the one the project publishes elsewhere (its website or repository).",
                s.public_key
            ),
        });
    }
    if !v.provenance.is_empty() {
        let files: Vec<String> = v.provenance.iter().map(|f| format!("`{f}`")).collect();
        out.push(Check {
            intro: format!(
                "The build provenance (an in-toto statement with a SLSA v1 predicate: the commit, the configuration's hash, each target's command and environment, and every file's digest, in a signed DSSE envelope) is in {}, and each archive's own, naming only that archive, in `<archive>.intoto.jsonl`. With the release's files and `manifest.json` downloaded into one folder, check it and everything else with matrix (`--flat`: a file the manifest records in a folder, such as `homebrew/hello.rb`, may also be in this one, by its name):",
                files.join(", ")
            ),
            commands: vec!["matrix verify --flat .".into()],
            note: "`matrix verify` checks every file's digest, every signature, that the provenance's subjects are the files' digests, and that each SBOM names its archive; it prints `ok`, or names each file that does not match.".into(),
        });
    }
    if let (Some(repo), Some(a)) = (&v.attestations, archive) {
        let mut command = format!("gh attestation verify {} --repo {}", q(a), q(repo));
        if input.algorithm == crate::package::checksum::Algorithm::Sha512 {
            command.push_str(" --digest-alg sha512");
        }
        out.push(Check {
            intro: format!(
                "GitHub attested every file of the checksums file when the release workflow of `{repo}` built it. With the GitHub CLI, check the archive you downloaded:"
            ),
            commands: vec![command],
            note: format!(
                "`gh attestation verify` looks up the attestations of the file's digest and succeeds only for one signed by a workflow of `{repo}`; it prints the workflow and the commit it ran on."
            ),
        });
    }
    let pinned = |image: &ImageNote| -> Vec<String> {
        image
            .repositories
            .iter()
            .map(|r| format!("{r}@{}", image.digest))
            .collect()
    };
    let refs: Vec<String> = input.images.iter().flat_map(pinned).collect();
    if !refs.is_empty() {
        if let Some(key) = &v.image_key {
            out.push(Check {
                intro: format!(
                    "Each image is signed with the project's key; `{key}` is its public half, for cosign:"
                ),
                commands: refs
                    .iter()
                    .map(|r| format!(
                            "cosign verify --key {} --insecure-ignore-tlog=true {}",
                            q(key),
                            q(r)
                        ))
                    .collect(),
                note: "`cosign verify` fetches the signature stored next to the image in its registry and succeeds only when the key signed that digest; matrix signs offline, with no entry in Sigstore's transparency log, hence `--insecure-ignore-tlog=true`.".into(),
            });
        }
        if let Some(identity) = &v.keyless_identity {
            out.push(Check {
                intro: "Each image is also signed keylessly by the release workflow (a Sigstore certificate naming the workflow and the tag):".into(),
                commands: refs
                    .iter()
                    .map(|r| {
                        format!(
                            "cosign verify --certificate-identity-regexp {} --certificate-oidc-issuer {} {}",
                            q(identity),
                            GITHUB_OIDC_ISSUER,
                            q(r)
                        )
                    })
                    .collect(),
                note: "`cosign verify` succeeds only for a signature whose certificate GitHub issued to this repository's workflow run at this tag, logged in Sigstore's transparency log.".into(),
            });
        }
    }
    out
}

/// The certificate identity of a workflow of `repo` run at `tag`, as a
/// regular expression: the workflow file's name is the user's choice.
pub fn workflow_identity(repo: &str, tag: &str) -> String {
    format!(
        "^https://github\\.com/{}/\\.github/workflows/[^/@]+@refs/tags/{}$",
        regex::escape(repo),
        regex::escape(tag)
    )
}
