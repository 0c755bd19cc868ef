//! `[universal]`: binaries joined across architectures into one file.
//!
//! Part of `config`. Today one table key, `darwin`: join the darwin/amd64
//! and darwin/arm64 builds into a universal (fat) Mach-O, shipped as the
//! `darwin/universal` archive. Whether the matrix has both targets is
//! checked by `plan` (it needs the expanded matrix), at this key.

use schemars::JsonSchema;
use serde::Deserialize;

/// `[universal]`: extra artifacts made by joining thin builds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Universal {
    /// Join the darwin/amd64 and darwin/arm64 binaries into one universal
    /// Mach-O, archived as `darwin/universal` (arch `universal` in name
    /// templates); Homebrew formulae then use it for macOS. Default false.
    #[serde(default)]
    pub darwin: bool,
}
