//! `[channels.<name>]` keys of a Scoop channel (`kind = "scoop"`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Scoop's own keys.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScoopConfig {
    /// Scoop: the executable to shim (default: the binary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bin: Option<String>,
    /// Scoop: `checkver` (default "github" for a github.com homepage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkver: Option<String>,
    /// Scoop: the bucket `matrix publish` commits the manifest to:
    /// `{ url, branch, path, author, message }` (path default
    /// `bucket/{{ name }}.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<crate::packager::tap::TapConfig>,
}
