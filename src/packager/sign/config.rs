//! `[sign]` keys of matrix.toml: which kind of signature, where its key
//! comes from, and which files of the release are signed. Part of the
//! `sign` packager.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[sign]`: detached signatures of the checksums file (or of every
/// artifact), with a key the user owns.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SignConfig {
    /// The kind of signature: `minisign` (`<file>.minisig`), `ssh`
    /// (SSHSIG, `<file>.sig`) or `gpg` (`<file>.asc`).
    pub method: Method,
    /// minisign: the secret key file; ssh: the OpenSSH private key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// The environment variable holding the key (the file's text), instead
    /// of `key-file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_env: Option<String>,
    /// gpg: the key id (or fingerprint, or user id) in the user's keyring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The environment variable holding the key's passphrase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase_env: Option<String>,
    /// Which files are signed: `checksums` (the default) or `all`.
    #[serde(default)]
    pub artifacts: Signed,
    /// Whether images pushed with `--push` are signed too, in cosign's
    /// registry layout (`sha256-<digest>.sig` tags, checked by `cosign
    /// verify --key <project>.cosign.pub`): `true` (the default) or
    /// `false`. Needs an Ed25519 key: minisign, or an SSH Ed25519 key.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub images: bool,
}

fn yes() -> bool {
    true
}

fn is_true(v: &bool) -> bool {
    *v
}

/// The kind of signature `[sign] method` picks.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Minisign,
    Ssh,
    Gpg,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Minisign => "minisign",
            Method::Ssh => "ssh",
            Method::Gpg => "gpg",
        }
    }

    /// The extension of its signature files.
    pub fn extension(self) -> &'static str {
        match self {
            Method::Minisign => "minisig",
            Method::Ssh => "sig",
            Method::Gpg => "asc",
        }
    }
}

/// `[sign] artifacts`: which files of the release get a signature.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Signed {
    /// The checksums file only (it names every other file's digest).
    #[default]
    Checksums,
    /// Every artifact, the checksums file included.
    All,
}

impl SignConfig {
    /// What keeps images that are pushed from being signed, if anything:
    /// the key (under `[sign]`) to point at, the message and a hint. A gpg
    /// key is known not to sign Ed25519 from the config alone; an SSH
    /// key's type is checked when it is loaded.
    pub fn image_problem(&self, pushed: bool) -> Option<(&'static str, String, String)> {
        if !(pushed && self.images && self.method == Method::Gpg) {
            return None;
        }
        Some((
            "method",
            "method = \"gpg\" cannot sign the pushed images: they are signed in cosign's layout, \
             with an Ed25519 key"
                .into(),
            "add images = false under [sign] to push them unsigned, or sign with method = \"minisign\""
                .into(),
        ))
    }

    /// What is wrong with the keys taken together, if anything: the key
    /// (under `[sign]`) to point at, the message and a hint.
    pub fn problem(&self) -> Option<(&'static str, String, String)> {
        let env_name_ok =
            |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        for (key, value) in [
            ("key-env", &self.key_env),
            ("passphrase-env", &self.passphrase_env),
        ] {
            if let Some(v) = value
                && !env_name_ok(v)
            {
                return Some((
                    key,
                    format!("`{key}` must name an environment variable, not {v:?}"),
                    "letters, digits and '_' only, e.g. MATRIX_SIGNING_KEY".into(),
                ));
            }
        }
        if matches!(&self.key_file, Some(f) if f.is_empty()) {
            return Some((
                "key-file",
                "`key-file` is empty".into(),
                "give the path of the key file, relative to matrix.toml".into(),
            ));
        }
        match self.method {
            Method::Minisign | Method::Ssh => {
                let what = if self.method == Method::Minisign {
                    "a minisign secret key"
                } else {
                    "an OpenSSH private key"
                };
                if self.key_id.is_some() {
                    return Some((
                        "key-id",
                        format!(
                            "`key-id` is for method = \"gpg\"; {} signs with {what}",
                            self.method.as_str()
                        ),
                        "give the key with `key-file` or `key-env`".into(),
                    ));
                }
                match (&self.key_file, &self.key_env) {
                    (Some(_), Some(_)) => Some((
                        "key-env",
                        "`key-file` and `key-env` both give the key".into(),
                        "keep one of them".into(),
                    )),
                    (None, None) => Some((
                        "method",
                        format!("method = \"{}\" needs {what}", self.method.as_str()),
                        "add key-file = \"path\" or key-env = \"VARIABLE\"".into(),
                    )),
                    _ => None,
                }
            }
            Method::Gpg => {
                if self.key_file.is_some() || self.key_env.is_some() {
                    let key = if self.key_file.is_some() {
                        "key-file"
                    } else {
                        "key-env"
                    };
                    return Some((
                        key,
                        format!(
                            "method = \"gpg\" signs with a key of the user's gpg keyring, not `{key}`"
                        ),
                        "name the key with key-id = \"<id or fingerprint>\"".into(),
                    ));
                }
                match &self.key_id {
                    None => Some((
                        "method",
                        "method = \"gpg\" needs `key-id`".into(),
                        "name the key with key-id = \"<id or fingerprint>\" (see gpg --list-secret-keys)".into(),
                    )),
                    Some(id) if id.is_empty() || id.starts_with('-') => Some((
                        "key-id",
                        format!("invalid key id {id:?}"),
                        "a key id, fingerprint or user id (see gpg --list-secret-keys)".into(),
                    )),
                    _ => None,
                }
            }
        }
    }
}
