//! `[ci]`: what the CI files `matrix ci` writes add beyond plan, build and
//! merge. Part of `config`; read by `ci` (the workflow) and by the plan's
//! release notes (which say how to check what the workflow made).

use schemars::JsonSchema;
use serde::Deserialize;

/// `[ci]` of matrix.toml.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CiConfig {
    /// GitHub's own attestations (default false, as with cargo-dist): on a
    /// tag, the generated GitHub workflow's merge job attests every file of
    /// the checksums file with `actions/attest-build-provenance` and signs
    /// each pushed image keylessly with cosign (both with the workflow's
    /// OIDC identity). Off by default because a private repository on a
    /// plan without attestations would fail every tagged release.
    #[serde(default)]
    pub attestations: bool,
    /// The GitHub repository (`owner/repo`) whose release workflow builds
    /// the release: with it, the release notes show how to check GitHub's
    /// attestations (`gh attestation verify`) and the images' keyless
    /// signatures (`cosign verify --certificate-identity-regexp`).
    #[serde(default)]
    pub repository: Option<String>,
}

impl CiConfig {
    /// What is wrong with `repository`, if anything: the message and a hint.
    pub fn problem(&self) -> Option<(String, String)> {
        let repo = self.repository.as_deref()?;
        let part_ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && s != "."
                && s != ".."
        };
        match repo.split_once('/') {
            Some((owner, name)) if part_ok(owner) && part_ok(name) => None,
            _ => Some((
                format!("`repository` must be a GitHub repository as owner/repo, not {repo:?}"),
                "e.g. repository = \"octo-org/hello\" (letters, digits, '-', '_' and '.')".into(),
            )),
        }
    }
}
