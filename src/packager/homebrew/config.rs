//! `[channels.<name>]` keys of a Homebrew channel (`kind = "homebrew"`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Homebrew's own keys.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HomebrewConfig {
    /// Homebrew: the formula's class name (default from the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Homebrew: arguments the `test do` block runs the binary with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Vec<String>>,
    /// Homebrew: caveats text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caveats: Option<String>,
    /// Homebrew: the formula's `desc` (default: [project] description).
    /// Homebrew's rules apply: no leading article, no final full stop, not
    /// starting with the formula name, at most 80 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    /// Homebrew: the tap `matrix publish` commits the formula to:
    /// `{ url, branch, path, author, message }` (path default
    /// `Formula/{{ name }}.rb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tap: Option<crate::packager::tap::TapConfig>,
}
