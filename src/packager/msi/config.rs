//! `[channels.<name>]` keys of an MSI channel (`kind = "msi"`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The MSI package's own keys.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MsiConfig {
    /// msi: the Manufacturer Windows shows (required): one line, at most
    /// 128 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// msi: a GUID the per-architecture UpgradeCodes are derived from,
    /// instead of the package name (keep it once released: a new one
    /// makes Windows see another product).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_code: Option<String>,
}
