//! The checks `Renderer::new` makes before any target is rendered: matrix
//! keys that are not reserved names, override `when`s that name matrix
//! keys, and valid `[archive] files` globs and destinations.
//!
//! Part of `plan::steps`, so pure.

use std::collections::BTreeSet;

use crate::config::{Config, ConfigError, FileEntry, KeyPath, Source, When};
use crate::package::files;

/// Variables matrix defines itself; an axis may not take one of these names.
const RESERVED: &[&str] = &[
    "project",
    "version",
    "tag",
    "major",
    "minor",
    "patch",
    "prerelease",
    "commit",
    "short_commit",
    "commit_date",
    "commit_timestamp",
    "is_snapshot",
    "env",
    "target",
    "target_id",
    "target_slug",
    "out",
    "bin",
    "ext",
];

/// No matrix key may take the name of a variable matrix defines.
pub(super) fn check_matrix_keys(keys: &BTreeSet<&str>, source: &Source) -> Result<(), ConfigError> {
    for key in keys {
        if RESERVED.contains(key) {
            return Err(source.error_at(
                &KeyPath::parse("matrix").key(key),
                format!("`{key}` is a variable matrix defines; a matrix key cannot use that name"),
                Some(format!(
                    "rename the key; reserved names: {}",
                    RESERVED.join(", ")
                )),
            ));
        }
    }
    Ok(())
}

/// Every `when` of the build and format overrides names keys of [matrix].
pub(super) fn check_override_keys(
    config: &Config,
    keys: &BTreeSet<&str>,
    source: &Source,
) -> Result<(), ConfigError> {
    for (i, o) in config.build.overrides.iter().enumerate() {
        check_when(
            &o.when,
            keys,
            &KeyPath::parse("build.overrides").index(i),
            source,
        )?;
    }
    for (i, o) in config.archive.format_overrides.iter().enumerate() {
        check_when(
            &o.when,
            keys,
            &KeyPath::parse("archive.format-overrides").index(i),
            source,
        )?;
    }
    Ok(())
}

/// Every `[archive] files` entry is a valid glob, with a valid `dst`.
pub(super) fn check_archive_files(config: &Config, source: &Source) -> Result<(), ConfigError> {
    for (i, entry) in config.archive.files.iter().enumerate() {
        let (at, pattern) = match entry {
            FileEntry::Glob(p) => (KeyPath::parse("archive.files").index(i), p),
            FileEntry::Mapped { src, .. } => {
                (KeyPath::parse("archive.files").index(i).key("src"), src)
            }
        };
        files::validate_pattern(pattern).map_err(|e| {
            source.error_at(
                &at,
                e.to_string(),
                Some("use a glob like \"docs/*.md\"".into()),
            )
        })?;
        if let FileEntry::Mapped { dst, .. } = entry {
            crate::package::dest::normalize_dest(dst).map_err(|e| {
                source.error_at(
                    &KeyPath::parse("archive.files").index(i).key("dst"),
                    e.to_string(),
                    Some("`dst` is a folder inside the archive: relative, without `..`, '\\' or a drive letter, e.g. \"docs\"".into()),
                )
            })?;
        }
    }
    Ok(())
}

fn check_when(
    when: &When,
    keys: &BTreeSet<&str>,
    at: &KeyPath,
    source: &Source,
) -> Result<(), ConfigError> {
    if when.is_empty() {
        return Err(source.error_at(
            &at.clone().key("when"),
            "`when` is empty, so it would match every target",
            Some("name at least one matrix key, e.g. when = { os = \"windows\" }".into()),
        ));
    }
    for key in when.keys() {
        if !keys.contains(key.as_str()) {
            let known: Vec<&str> = keys.iter().copied().collect();
            let near = known
                .iter()
                .min_by_key(|k| strsim::levenshtein(k, key))
                .filter(|k| strsim::levenshtein(k, key) <= 2);
            let help = match near {
                Some(k) => format!("did you mean `{k}`? matrix keys: {}", known.join(", ")),
                None => format!("matrix keys: {}", known.join(", ")),
            };
            return Err(source.error_at(
                &at.clone().key("when").key(key),
                format!("`when` names `{key}`, which is not a key of the matrix"),
                Some(help),
            ));
        }
    }
    Ok(())
}
