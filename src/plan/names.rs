//! Names that land on disk: every file name a release writes, and the
//! binary each build leaves, is one plain name, never a path.
//!
//! Part of `plan`: templates are rendered per target there, so a name that
//! renders to `..`, `/x` or nothing for one target is an error at plan
//! time, at its line in matrix.toml, naming the target.

use std::collections::HashMap;

use super::Target;
use crate::config::{ConfigError, KeyPath, Loaded, Source};

/// Names land in dist/ as single files: no folders, no hidden or empty
/// names. `target` names the target a per-target template rendered for.
pub(super) fn check_file_name(
    name: &str,
    source: &Source,
    at: &KeyPath,
    target: Option<&str>,
) -> Result<(), ConfigError> {
    let bad = name.is_empty()
        || name.starts_with('.')
        || name.contains(['/', '\\', '\0'])
        || name.chars().any(char::is_control);
    if bad {
        return Err(source.error_at(
            at,
            match target {
                Some(id) => format!("{at} renders to {name:?} for {id}, which is not a usable file name"),
                None => format!("{name:?} is not a usable file name"),
            },
            Some("the name must be non-empty, must not start with '.', and must not contain '/' or '\\'".into()),
        ));
    }
    Ok(())
}

/// The binary is one file in `{{ out }}` and in the archive: a plain name,
/// never a path. `..` or `/x` would make the build write, and the archive
/// read, outside the target's folder.
pub(super) fn check_binary_name(
    id: &str,
    name: &str,
    source: &Source,
    at: &KeyPath,
) -> Result<(), ConfigError> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name == "." || name == ".." {
        Some("names a folder")
    } else if name.contains(['/', '\\']) {
        Some("is a path")
    } else if name.starts_with('-') {
        // `cargo build --bin <name>`, `tar ... <name>`: read as an option.
        Some("starts with '-', which a command would read as an option")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(source.error_at(
            at,
            // The base setting is every target's; an override's, these.
            if at.to_string().starts_with("build.overrides") {
                format!("the binary name {name:?} of {id} {problem}, not a file name")
            } else {
                format!("the binary name {name:?} {problem}, not a file name")
            },
            Some("give the file name the build writes into {{ out }}: not empty, not `.` or `..`, without '/' or '\\', not starting with '-' (`.exe` is added on Windows)".into()),
        )),
    }
}

/// Two targets writing the same file would overwrite each other's release.
pub(super) fn check_unique_names(targets: &[Target], loaded: &Loaded) -> Result<(), ConfigError> {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    for t in targets {
        if let Some(first) = seen.insert(&t.archive.file_name, &t.id) {
            return Err(loaded.source.error_at(
                &KeyPath::parse("archive.name"),
                format!(
                    "targets {first} and {} would both write {:?}",
                    t.id, t.archive.file_name
                ),
                Some("use every axis in the archive name, e.g. {{ project }}_{{ version }}_{{ target_slug }}".into()),
            ));
        }
    }
    Ok(())
}
