//! `[cache]`: the action cache `matrix build` restores unchanged builds
//! from.
//!
//! Part of `config`. Only the keys and their types; the plan resolves them
//! (the folder against matrix.toml's, the size to bytes) and points at the
//! key when a value is wrong.

use schemars::JsonSchema;
use serde::Deserialize;

use super::OneOrMany;

/// The action cache. Its presence turns the cache on (as `--cache-dir`,
/// `--cache-from` and `--cache-to` do); `matrix build --no-cache` turns it
/// off for one run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CacheConfig {
    /// The store's folder, relative to matrix.toml's; a shared folder
    /// works too. Default `$XDG_CACHE_HOME/matrix/cache`, else
    /// `~/.cache/matrix/cache`.
    #[serde(default)]
    pub dir: Option<String>,
    /// Size cap of the store (`10GiB`, `500MiB`, bytes); least recently
    /// used entries go first after a build and on `matrix cache prune`.
    /// Default 10GiB.
    #[serde(default)]
    pub max_size: Option<String>,
    /// Globs (relative to matrix.toml's folder) of the source files the
    /// builds depend on, in place of the git tree of HEAD plus its dirty
    /// tracked files. Needed outside git.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Registry repositories (`ghcr.io/acme/tool-cache`) an entry missing
    /// from the folder is pulled from, in order; one or a list.
    /// `matrix build --cache-from` replaces them.
    #[serde(default)]
    pub from: Option<OneOrMany>,
    /// The registry repository each stored entry is pushed to.
    /// `matrix build --cache-to` replaces it.
    #[serde(default)]
    pub to: Option<String>,
}
