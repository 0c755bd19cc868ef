//! `[cache]` resolved for the run: the store's folder and size cap.
//!
//! Part of `plan`. Pure like the rest of the plan: the folder is joined to
//! matrix.toml's, nothing is created or read.

use crate::cache::{DEFAULT_MAX_SIZE, Settings, parse_size};
use crate::config::{KeyPath, Loaded};

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
    Ok(Some(Settings {
        dir: c.dir.as_ref().map(|d| req.root.join(d)),
        max_size,
        inputs: c.inputs.clone(),
    }))
}
