//! The sign step of a plan: `[sign]` as written, with the name of the
//! public key file decided. Part of the `sign` packager.

use serde::Serialize;

use super::config::{Method, SignConfig};

/// What the sign job does: the config (key sources are names of files and
/// variables, never their content) and the public key file it writes.
#[derive(Debug, Clone, Serialize)]
pub struct SignStep {
    #[serde(flatten)]
    pub config: SignConfig,
    /// The file in dist/ users verify with.
    pub public_key: String,
}

/// The sign step of `config` for `project`.
pub fn plan(project: &str, config: &SignConfig) -> SignStep {
    SignStep {
        config: config.clone(),
        public_key: match config.method {
            Method::Minisign => format!("{project}.pub"),
            Method::Ssh => "allowed_signers".into(),
            Method::Gpg => format!("{project}-signing-key.asc"),
        },
    }
}
