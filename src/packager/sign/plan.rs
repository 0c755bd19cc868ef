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
    /// When pushed images are signed in cosign's layout: the PEM public
    /// key file in dist/ that `cosign verify --key` takes
    /// (`<project>.cosign.pub`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cosign_key: Option<String>,
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
        cosign_key: None,
    }
}

/// The PEM public key file pushed images are verified with.
pub fn cosign_key_name(project: &str) -> String {
    format!("{project}.cosign.pub")
}

impl SignStep {
    /// Decides whether the images are signed: when they are pushed and
    /// `images` is not turned off. A gpg key cannot: the problem (key,
    /// message, hint) to point at under `[sign]`.
    pub fn sign_images(
        &mut self,
        project: &str,
        pushed: bool,
    ) -> Result<(), (&'static str, String, String)> {
        if let Some(problem) = self.config.image_problem(pushed) {
            return Err(problem);
        }
        self.cosign_key = (pushed && self.config.images).then(|| cosign_key_name(project));
        Ok(())
    }
}
