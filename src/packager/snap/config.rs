//! `[channels.<name>]` keys of a Snapcraft channel (`kind = "snapcraft"`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Confinement, Grade};

/// Snapcraft's own keys.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SnapConfig {
    /// Short summary (Snapcraft: required, at most 78 characters; Chocolatey).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Snapcraft: `stable` or `devel` (default: devel for snapshots and
    /// prereleases, else stable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grade: Option<Grade>,
    /// Snapcraft: `strict` (default), `classic` or `devmode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confinement: Option<Confinement>,
    /// Snapcraft: the base snap (default core24).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Snapcraft: interfaces the app plugs, e.g. ["network"].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugs: Option<Vec<String>>,
    /// Snapcraft and Chocolatey: also build the package itself (.snap,
    /// .nupkg), not only its inputs (default true).
    #[serde(default = "crate::packager::yes")]
    pub package: bool,
}
