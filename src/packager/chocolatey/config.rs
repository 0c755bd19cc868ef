//! `[channels.<name>]` keys of a Chocolatey channel (`kind = "chocolatey"`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Chocolatey's own keys.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ChocolateyConfig {
    /// Short summary (Snapcraft: required, at most 78 characters; Chocolatey).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Chocolatey: authors (default: the project name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authors: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owners: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_source_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_source_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docs_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bug_tracker_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_notes: Option<String>,
    /// Chocolatey: your own install / uninstall script templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstall_template: Option<String>,
    /// Snapcraft and Chocolatey: also build the package itself (.snap,
    /// .nupkg), not only its inputs (default true).
    #[serde(default = "crate::packager::yes")]
    pub package: bool,
}
