//! The signing key: read, unlocked and checked once before any job runs,
//! then used by the sign job. Part of the `sign` packager.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::config::{Method, Signed};
use super::plan::SignStep;

/// A key that cannot sign. Each names where the key came from (a file, an
/// environment variable, a gpg key id), never its content.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SignError {
    #[error("[sign] cannot read the key file {}: {source}", path.display())]
    #[diagnostic(
        code(matrix::sign::key_file),
        help("check [sign] key-file in matrix.toml")
    )]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("[sign] the environment variable {var} ({key}) is not set or empty")]
    #[diagnostic(code(matrix::sign::env), help("export {var} before running matrix"))]
    Env { var: String, key: &'static str },
    #[error("[sign] the {method} key from {from} cannot sign: {why}")]
    #[diagnostic(code(matrix::sign::key), help("{help}"))]
    Key {
        method: &'static str,
        from: String,
        why: String,
        help: String,
    },
    #[error("[sign] {program} is needed for method = \"{method}\" and cannot be run: {source}")]
    #[diagnostic(
        code(matrix::sign::tool),
        help("install it (Debian: apt-get install {package})")
    )]
    Tool {
        program: &'static str,
        method: &'static str,
        package: &'static str,
        source: std::io::Error,
    },
    #[error("[sign] cannot sign {file}: {why}")]
    #[diagnostic(code(matrix::sign::sign))]
    Sign { file: String, why: String },
    #[error("[sign] cannot prepare the key from {from}: {source}")]
    #[diagnostic(code(matrix::sign::io))]
    Io {
        from: String,
        source: std::io::Error,
    },
}

/// The loaded key and what the sign job makes with it.
pub struct Signer {
    pub method: Method,
    pub signed: Signed,
    /// Where the key came from, for messages.
    pub from: String,
    /// The file users verify with (`<project>.pub`, `allowed_signers`,
    /// `<project>-signing-key.asc`) and its text.
    pub public_name: String,
    pub public_text: String,
    key: Key,
}

enum Key {
    Minisign {
        secret: minisign::SecretKey,
        public: minisign::PublicKey,
        /// The same key for plain Ed25519 (the provenance's DSSE
        /// signature), and its minisign key id in hex.
        ed25519: Zeroizing<[u8; 32]>,
        keyid: String,
        /// Signed into every signature's trusted comment.
        comment: String,
    },
    /// A private copy of the key (0600, in a 0700 folder removed on
    /// drop) and, with a passphrase, the askpass program that prints it.
    Ssh {
        _dir: tempfile::TempDir,
        file: PathBuf,
        askpass: Option<(PathBuf, Zeroizing<String>)>,
    },
    Gpg {
        id: String,
        _dir: tempfile::TempDir,
        passphrase_file: Option<PathBuf>,
    },
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("method", &self.method)
            .field("signed", &self.signed)
            .field("from", &self.from)
            .field("public_name", &self.public_name)
            .finish_non_exhaustive()
    }
}

/// The variable holding the passphrase for ssh-keygen's askpass program,
/// set for that child only.
const ASKPASS_VAR: &str = "MATRIX_SIGN_PASSPHRASE";

fn env_secret(var: &str, key: &'static str) -> Result<Zeroizing<String>, SignError> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(Zeroizing::new(v)),
        _ => Err(SignError::Env {
            var: var.into(),
            key,
        }),
    }
}

impl Signer {
    /// Reads and unlocks `[sign]`'s key (paths relative to `root`) and
    /// checks that it signs: a missing file or variable, a wrong
    /// passphrase or a key of the wrong kind fails here, before any job.
    /// `commit` goes into minisign's trusted comments, so they do not
    /// depend on the clock.
    pub fn load(
        step: &SignStep,
        root: &Path,
        project: &str,
        commit: &str,
    ) -> Result<Signer, SignError> {
        let config = &step.config;
        let from = match (&config.key_file, &config.key_env, &config.key_id) {
            (Some(f), _, _) => format!("key-file {f}"),
            (_, Some(v), _) => format!("key-env {v}"),
            (_, _, Some(id)) => format!("gpg key-id {id}"),
            _ => "[sign]".into(),
        };
        let passphrase = match &config.passphrase_env {
            Some(var) => Some(env_secret(var, "passphrase-env")?),
            None => None,
        };
        let secret_text = || -> Result<Zeroizing<String>, SignError> {
            match (&config.key_file, &config.key_env) {
                (Some(f), _) => {
                    let path = root.join(f);
                    std::fs::read_to_string(&path)
                        .map(Zeroizing::new)
                        .map_err(|source| SignError::KeyFile { path, source })
                }
                (_, Some(var)) => env_secret(var, "key-env"),
                _ => Err(SignError::Env {
                    var: String::new(),
                    key: "key-env",
                }),
            }
        };
        let bad = |why: String, help: &str| SignError::Key {
            method: config.method.as_str(),
            from: from.clone(),
            why,
            help: help.into(),
        };
        let io = |source| SignError::Io {
            from: from.clone(),
            source,
        };
        let (key, public_name, public_text) = match config.method {
            Method::Minisign => {
                let text = secret_text()?;
                let not_key = || bad("not a minisign secret key".into(), MINISIGN_HELP);
                let raw = text
                    .lines()
                    .nth(1)
                    .and_then(|l| {
                        use base64::Engine;
                        base64::engine::general_purpose::STANDARD
                            .decode(l.trim())
                            .ok()
                    })
                    .map(Zeroizing::new)
                    .filter(|b| b.get(..2) == Some(&b"Ed"[..]))
                    .ok_or_else(not_key)?;
                let encrypted = raw.get(2..4) != Some(&[0, 0][..]);
                let secret = match (encrypted, &passphrase) {
                    (true, Some(p)) => minisign::SecretKeyBox::from_string(&text)
                        .and_then(|b| b.into_secret_key(Some(p.to_string())))
                        .map_err(|e| {
                            if e.to_string().contains("Wrong password") {
                                bad(
                                    "wrong passphrase".into(),
                                    "check the variable passphrase-env names",
                                )
                            } else {
                                not_key()
                            }
                        })?,
                    (true, None) => {
                        return Err(bad(
                            "the key is encrypted and [sign] has no passphrase-env".into(),
                            "add passphrase-env = \"VARIABLE\" naming the variable that holds the passphrase",
                        ));
                    }
                    // Read without the crate's checksum check: minisign
                    // 0.11 (Debian 12) writes `-W` keys with a zero
                    // checksum. The probe signature below proves the key.
                    (false, _) => minisign::SecretKey::from_bytes(&raw).map_err(|_| not_key())?,
                };
                let public =
                    minisign::PublicKey::from_secret_key(&secret).map_err(|_| not_key())?;
                // A signature checked against the public half proves the
                // secret half.
                minisign::sign(Some(&public), &secret, &b""[..], Some("probe"), None)
                    .map_err(|_| not_key())?;
                let text = public
                    .to_box()
                    .map(|b| b.into_string())
                    .map_err(|_| not_key())?;
                // The secret key's bytes: algorithms (6), salt (32), limits
                // (16), key id (8), then the Ed25519 seed and public key.
                let bytes = Zeroizing::new(secret.to_bytes());
                let (keynum, seed) = (bytes.get(54..62), bytes.get(62..94));
                let (Some(keynum), Some(seed)) = (keynum, seed) else {
                    return Err(not_key());
                };
                let mut ed25519 = Zeroizing::new([0u8; 32]);
                ed25519.copy_from_slice(seed);
                let derived =
                    ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*ed25519));
                if super::provenance::minisign_public(&text) != Some(*derived.pk) {
                    return Err(not_key());
                }
                let keyid = hex::encode(keynum);
                (
                    Key::Minisign {
                        secret,
                        public,
                        ed25519,
                        keyid,
                        comment: format!("project:{project} commit:{commit}"),
                    },
                    step.public_key.clone(),
                    text,
                )
            }
            Method::Ssh => {
                let text = secret_text()?;
                if !text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
                    return Err(bad(
                        "not an OpenSSH private key".into(),
                        "give the private key file ssh-keygen wrote (-----BEGIN OPENSSH PRIVATE KEY-----)",
                    ));
                }
                let dir = private_dir().map_err(io)?;
                let file = dir.path().join("key");
                write_private(&file, text.as_bytes()).map_err(io)?;
                let askpass = match &passphrase {
                    Some(p) => {
                        let script = dir.path().join("askpass");
                        write_private(
                            &script,
                            format!("#!/bin/sh\nprintf '%s\\n' \"${ASKPASS_VAR}\"\n").as_bytes(),
                        )
                        .map_err(io)?;
                        set_mode(&script, 0o700).map_err(io)?;
                        Some((script, p.clone()))
                    }
                    None => None,
                };
                let key = Key::Ssh {
                    _dir: dir,
                    file,
                    askpass,
                };
                // Deriving the public key proves the passphrase.
                let out =
                    key.ssh_keygen(&["-y", "-f"], None)
                        .map_err(|source| SignError::Tool {
                            program: "ssh-keygen",
                            method: "ssh",
                            package: "openssh-client",
                            source,
                        })?;
                if !out.status.success() {
                    let why = if passphrase.is_some() {
                        "wrong passphrase, or not a private key ssh-keygen can read"
                    } else {
                        "ssh-keygen cannot read it (is it encrypted? then set passphrase-env)"
                    };
                    return Err(bad(
                        why.into(),
                        "check key-file / key-env and passphrase-env",
                    ));
                }
                let line = String::from_utf8_lossy(&out.stdout);
                let public: Vec<&str> = line.split_whitespace().take(2).collect();
                if public.len() != 2 {
                    return Err(bad("ssh-keygen gave no public key".into(), ""));
                }
                (
                    key,
                    step.public_key.clone(),
                    format!(
                        "{project} namespaces=\"{}\" {} {}\n",
                        super::SSH_NAMESPACE,
                        public[0],
                        public[1]
                    ),
                )
            }
            Method::Gpg => {
                let id = config.key_id.clone().unwrap_or_default();
                let dir = private_dir().map_err(io)?;
                let passphrase_file = match &passphrase {
                    Some(p) => {
                        let f = dir.path().join("passphrase");
                        write_private(&f, p.as_bytes()).map_err(io)?;
                        Some(f)
                    }
                    None => None,
                };
                let key = Key::Gpg {
                    id: id.clone(),
                    _dir: dir,
                    passphrase_file,
                };
                let gpg_tool = |source| SignError::Tool {
                    program: "gpg",
                    method: "gpg",
                    package: "gnupg",
                    source,
                };
                let exported = crate::process::tool(
                    "gpg",
                    ["--batch", "--armor", "--export", "--", id.as_str()],
                    &[],
                    crate::process::Stream::Capture,
                    crate::process::Stream::Capture,
                )
                .map_err(gpg_tool)?;
                let text = String::from_utf8_lossy(&exported.stdout).into_owned();
                if !exported.status.success() || !text.contains("BEGIN PGP PUBLIC KEY BLOCK") {
                    return Err(bad(
                        "gpg has no such key".into(),
                        "see gpg --list-secret-keys (GNUPGHOME picks the keyring)",
                    ));
                }
                // A signature of nothing proves the secret key and its
                // passphrase.
                let probe = key.gpg_sign(b"").map_err(|why| {
                    bad(
                        format!("gpg cannot sign with it ({why})"),
                        "check the secret key is in the keyring and passphrase-env",
                    )
                })?;
                drop(probe);
                (key, step.public_key.clone(), text)
            }
        };
        Ok(Signer {
            method: config.method,
            signed: config.artifacts,
            from,
            public_name,
            public_text,
            key,
        })
    }

    /// The detached signature of `file` (in dist/, named `name` there).
    pub fn sign(&self, name: &str, file: &Path) -> Result<Vec<u8>, SignError> {
        let fail = |why: String| SignError::Sign {
            file: name.into(),
            why,
        };
        match &self.key {
            Key::Minisign {
                secret,
                public,
                comment,
                ..
            } => {
                let data = std::fs::File::open(file).map_err(|e| fail(e.to_string()))?;
                let trusted = format!("file:{name} {comment}");
                minisign::sign(
                    Some(public),
                    secret,
                    data,
                    Some(&trusted),
                    Some("signature from matrix"),
                )
                .map(|b| b.into_string().into_bytes())
                .map_err(|e| fail(e.to_string()))
            }
            Key::Ssh { .. } => {
                let out = self
                    .key
                    .ssh_keygen(
                        &["-Y", "sign", "-n", super::SSH_NAMESPACE, "-f"],
                        Some(file),
                    )
                    .map_err(|e| fail(format!("ssh-keygen: {e}")))?;
                if !out.status.success() {
                    return Err(fail(format!(
                        "ssh-keygen -Y sign: {}",
                        first_line(&out.stderr)
                    )));
                }
                Ok(out.stdout)
            }
            Key::Gpg { .. } => {
                let data = std::fs::read(file).map_err(|e| fail(e.to_string()))?;
                self.key.gpg_sign(&data).map_err(fail)
            }
        }
    }
}

impl Signer {
    /// A plain Ed25519 signature of `message` and the key's id, when the
    /// key is Ed25519 (minisign); deterministic.
    pub fn sign_ed25519(&self, message: &[u8]) -> Option<(String, Vec<u8>)> {
        let Key::Minisign { ed25519, keyid, .. } = &self.key else {
            return None;
        };
        let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(**ed25519));
        Some((keyid.clone(), pair.sk.sign(message, None).to_vec()))
    }
}

const MINISIGN_HELP: &str =
    "give the secret key file minisign -G wrote (untrusted comment, then the key)";

impl Key {
    /// Runs ssh-keygen with `args` then the key file, reading `input` as
    /// stdin when given; the passphrase reaches it only through askpass.
    fn ssh_keygen(
        &self,
        args: &[&str],
        input: Option<&Path>,
    ) -> std::io::Result<std::process::Output> {
        let Key::Ssh { file, askpass, .. } = self else {
            return Err(std::io::Error::other("not an ssh key"));
        };
        let mut argv: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        argv.push(file.into());
        let script;
        let env: Vec<(&str, &str)> = match askpass {
            Some((path, pass)) => {
                script = path.to_string_lossy().into_owned();
                vec![
                    ("SSH_ASKPASS", script.as_str()),
                    ("SSH_ASKPASS_REQUIRE", "force"),
                    ("DISPLAY", ":0"),
                    (ASKPASS_VAR, pass.as_str()),
                ]
            }
            None => vec![("SSH_ASKPASS_REQUIRE", "never")],
        };
        let null = Path::new("/dev/null");
        crate::process::tool_with_input("ssh-keygen", argv, &env, input.unwrap_or(null))
    }

    /// An armored detached gpg signature of `data`; on failure, gpg's
    /// first error line.
    fn gpg_sign(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        let Key::Gpg {
            id,
            _dir,
            passphrase_file,
        } = self
        else {
            return Err("not a gpg key".into());
        };
        let input = _dir.path().join("data");
        std::fs::write(&input, data).map_err(|e| e.to_string())?;
        let mut args: Vec<String> = vec![
            "--batch".into(),
            "--yes".into(),
            "--pinentry-mode".into(),
            "loopback".into(),
        ];
        match passphrase_file {
            Some(f) => {
                args.push("--passphrase-file".into());
                args.push(f.to_string_lossy().into_owned());
            }
            None => {
                args.push("--passphrase".into());
                args.push(String::new());
            }
        }
        args.extend(
            [
                "--local-user",
                id.as_str(),
                "--armor",
                "--detach-sign",
                "--output",
                "-",
            ]
            .map(String::from),
        );
        args.push(input.to_string_lossy().into_owned());
        let out = crate::process::tool(
            "gpg",
            args,
            &[],
            crate::process::Stream::Capture,
            crate::process::Stream::Capture,
        )
        .map_err(|e| format!("gpg: {e}"))?;
        let _ = std::fs::remove_file(&input);
        if !out.status.success() || out.stdout.is_empty() {
            return Err(first_line(&out.stderr));
        }
        Ok(out.stdout)
    }
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("failed")
        .to_string()
}

fn private_dir() -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix("matrix-sign-").tempdir()?;
    set_mode(dir.path(), 0o700)?;
    Ok(dir)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

impl Signer {
    /// The Ed25519 public key of a key [`Signer::sign_ed25519`] signs
    /// with (minisign), for cosign's PEM key file.
    pub fn ed25519_public(&self) -> Option<[u8; 32]> {
        let Key::Minisign { ed25519, .. } = &self.key else {
            return None;
        };
        let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(**ed25519));
        Some(*pair.pk)
    }
}
