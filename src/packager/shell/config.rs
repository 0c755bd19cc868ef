//! `[channels.<name>]` keys of an install.sh channel (`kind = "shell"`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The installer's own keys.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ShellConfig {
    /// install.sh: the script's file name (default "install.sh").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_name: Option<String>,
    /// install.sh: where the script downloads the checksums file (default:
    /// next to each archive, the archive's URL with the checksums file's
    /// name in place of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksums_url: Option<String>,
}
