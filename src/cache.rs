//! The action cache: a job's outputs kept by the digest of everything that
//! can change them, so an unchanged job is restored instead of run.
//!
//! Beside the flow, below `plan`: it knows nothing of jobs or plans. `exec`
//! names a job's inputs ([`Inputs`]: command, environment, toolchain,
//! sources, ...), asks a [`Store`] for the record of their [`Inputs::key`],
//! and either restores the outputs it lists or runs the job and saves them.
//! [`key`] makes keys and says which input changed, [`store`] is the local
//! (or shared directory) store, [`registry`] layers OCI registries under it
//! (entries pulled on a local miss, pushed after a save), [`sources`]
//! digests the source tree and
//! [`toolchain`] a compiler's identity; [`prune`] keeps a store under its
//! size cap, least recently used first.

pub mod key;
pub mod prune;
pub mod registry;
pub mod sources;
pub mod store;
pub mod toolchain;

use std::path::PathBuf;

use serde::Serialize;

pub use key::Inputs;
pub use registry::Layered;
pub use store::{LocalStore, Record, Store};

/// Format of the records and of the last-inputs files.
pub const FORMAT: u32 = 1;

/// The store's size cap when `[cache] max-size` does not give one.
pub const DEFAULT_MAX_SIZE: u64 = 10 << 30;

/// What `[cache]` in matrix.toml asks for, resolved by the plan.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Settings {
    /// `[cache] dir` (relative to matrix.toml); `None`: [`default_dir`].
    pub dir: Option<PathBuf>,
    /// `[cache] max-size` in bytes.
    pub max_size: u64,
    /// `[cache] inputs`: globs of the source files a job depends on, in
    /// place of the git tree.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<String>,
    /// `[cache] from`: registry repositories read on a local miss, in
    /// order (checked references).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<String>,
    /// `[cache] to`: the registry repository entries are pushed to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// The cache folder matrix uses when none is named:
/// `$XDG_CACHE_HOME/matrix/cache`, else `~/.cache/matrix/cache`.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("matrix").join("cache"))
}

/// Parses a size such as `10GiB`, `500 MiB`, `2G` or `123456` (bytes).
/// Units are binary (`K`/`KiB` = 1024) and case-insensitive.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_units() {
        assert_eq!(parse_size("10GiB"), Some(10 << 30));
        assert_eq!(parse_size("500 MiB"), Some(500 << 20));
        assert_eq!(parse_size("2g"), Some(2 << 30));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("1.5GiB"), None);
        assert_eq!(parse_size("GiB"), None);
        assert_eq!(parse_size("10 parsecs"), None);
        assert_eq!(parse_size("99999999999999999999T"), None);
    }
}
