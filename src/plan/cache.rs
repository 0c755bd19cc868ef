//! `[cache]` resolved for the run (the store's folder and size cap, the
//! registries it reads and writes), and the folders of the user's cache
//! the plan names: a target's `{{ cache }}` and the container caches.
//!
//! Part of `plan`. Pure like the rest of the plan: folders are joined from
//! matrix.toml's and the request's environment, nothing is created or read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cache::{DEFAULT_MAX_SIZE, Settings, parse_size};
use crate::config::{KeyPath, Loaded};
use crate::package::checksum::{Algorithm, Hasher};

use super::{PlanError, Request};

/// The cache settings when matrix.toml has a `[cache]` table.
pub(super) fn settings(loaded: &Loaded, req: &Request) -> Result<Option<Settings>, PlanError> {
    let Some(c) = &loaded.config.cache else {
        return Ok(None);
    };
    let max_size = match &c.max_size {
        None => DEFAULT_MAX_SIZE,
        Some(text) => parse_size(text).ok_or_else(|| {
            loaded.source.error_at(
                &KeyPath::parse("cache.max-size"),
                format!("`{text}` is not a size"),
                Some(
                    "write a whole number of bytes or KiB, MiB, GiB, TiB: max-size = \"10GiB\""
                        .into(),
                ),
            )
        })?,
    };
    for (i, glob) in c.inputs.iter().enumerate() {
        if let Err(e) = globset::Glob::new(glob) {
            return Err(loaded
                .source
                .error_at(
                    &KeyPath::parse("cache.inputs").index(i),
                    format!("`{glob}` is not a glob: {}", e.kind()),
                    Some("globs are relative to matrix.toml's folder: inputs = [\"src/**\", \"Cargo.lock\"]".into()),
                )
                .into());
        }
    }
    let from = c.from.as_ref().map(|f| f.values()).unwrap_or_default();
    let many = matches!(c.from, Some(crate::config::OneOrMany::Many(_)));
    for (i, text) in from.iter().enumerate() {
        let at = KeyPath::parse("cache.from");
        let at = if many { at.index(i) } else { at };
        reference(loaded, &at, text)?;
    }
    if let Some(text) = &c.to {
        reference(loaded, &KeyPath::parse("cache.to"), text)?;
    }
    Ok(Some(Settings {
        dir: c.dir.as_ref().map(|d| req.root.join(d)),
        max_size,
        inputs: c.inputs.clone(),
        from: from.into_iter().map(str::to_string).collect(),
        to: c.to.clone(),
    }))
}

/// `$XDG_CACHE_HOME`, else `$HOME/.cache`, else the temp folder.
pub(super) fn cache_home(env: &BTreeMap<String, String>) -> PathBuf {
    if let Some(x) = env.get("XDG_CACHE_HOME").filter(|v| v.starts_with('/')) {
        return PathBuf::from(x);
    }
    match env.get("HOME").filter(|v| !v.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache"),
        None => std::env::temp_dir(),
    }
}

/// How many folders below the cache home a target's `{{ cache }}` is
/// (`matrix/targets/<project>-<hash>/<slug>`): matrix makes them, so
/// none may be a link or another user's.
pub(crate) const TARGET_DIR_DEPTH: usize = 4;

/// The folder of this checkout's targets' `{{ cache }}`s: `<cache
/// home>/matrix/targets/<project>-<12 hex of the project's path>`; a
/// target's is its slug below it ([`TARGET_DIR_DEPTH`] folders in all).
/// Kept across builds and `--clean` (a compiler's incremental state lives
/// there); one per checkout, so two clones of a project do not share, and
/// so overwrite, each other's. Made once per plan, not per target.
pub(super) fn targets_dir(env: &BTreeMap<String, String>, project: &str, root: &Path) -> PathBuf {
    let mut hasher = Hasher::new(Algorithm::Sha256);
    hasher.update(root.as_os_str().as_encoded_bytes());
    let checkout = &hasher.finalize_hex()[..12];
    cache_home(env)
        .join("matrix/targets")
        .join(format!("{project}-{checkout}"))
}

/// Checks a registry repository of `[cache] from` or `to`.
fn reference(loaded: &Loaded, at: &KeyPath, text: &str) -> Result<(), PlanError> {
    match crate::cache::registry::parse_reference(text) {
        Ok(_) => Ok(()),
        Err(why) => Err(loaded
            .source
            .error_at(
                at,
                why,
                Some(
                    "a registry repository, without a tag: to = \"ghcr.io/acme/tool-cache\"".into(),
                ),
            )
            .into()),
    }
}
