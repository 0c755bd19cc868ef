//! `[ci]`: what the CI files `matrix ci` writes add beyond plan, build and
//! merge. Part of `config`; read by `ci` (the workflow) and by the plan's
//! release notes (which say how to check what the workflow made).

use schemars::JsonSchema;
use serde::Deserialize;

/// `[ci]` of matrix.toml.
#[derive(Debug, Clone, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CiConfig {
    /// GitHub's own attestations (default true): on a tag, the generated
    /// GitHub workflow's merge job attests every file of the checksums file
    /// with `actions/attest-build-provenance` and signs each pushed image
    /// keylessly with cosign (both with the workflow's OIDC identity). Set
    /// false for a private repository on a plan without attestations.
    #[serde(default = "yes")]
    pub attestations: bool,
}

fn yes() -> bool {
    true
}

impl Default for CiConfig {
    fn default() -> Self {
        CiConfig { attestations: true }
    }
}
