//! The dirty-tree check: which changes in the checkout count against a
//! release, and which are matrix's own output.
//!
//! Part of `version`, used by [`super::git_facts`]. A release is built from
//! the committed tree, so any change git sees is refused (without
//! `--snapshot`), except files matrix wrote itself. The rule, checked per
//! file from `git status --porcelain -z --untracked-files=all`:
//!
//! 1. A change to a *tracked* file (modified, deleted, staged, renamed,
//!    conflicted) always counts, wherever it is.
//! 2. An *untracked* file is not counted when it lies under a folder the
//!    run was told is its own (its `--dist`), or
//! 3. when it lies under a folder (below the top of the work tree) that
//!    matrix wrote and that holds no tracked file at all. Matrix wrote a
//!    folder when it holds, as a regular file (a link is not followed),
//!    either a `manifest.json` that is a matrix manifest (`"format":
//!    "matrix-manifest"`), or the `.matrix.lock` that `build` and `merge`
//!    take in every dist before writing anything (so a failed build's
//!    folder counts too). That covers earlier `--dist`s, shard folders
//!    wherever they were copied or downloaded (`shards/shard-1/`), and
//!    merge output. Even there, only the files matrix writes are skipped,
//!    the same set `merge` accepts in a shard folder: the manifest, the
//!    lock, the files the manifest records, and anything under the work
//!    folders `logs/`, `build/` and `images/`. A new source file dropped
//!    next to a copied manifest still counts.
//!
//! Why it cannot hide a real change: tracked files are never skipped, so a
//! marker cannot mask an edit; a folder with even one tracked file is a
//! source folder and a marker in it counts for nothing (the marker itself is
//! then listed as untracked); the top of the work tree is never a matrix
//! folder. What remains is a folder consisting only of untracked files next
//! to a manifest matrix would accept, which is what a dist is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{Git, VersionError};

/// The largest manifest.json read to recognise a matrix folder; a real one
/// is far smaller, and a bigger file is simply not a marker.
const MAX_MARKER_BYTES: u64 = 64 << 20;

/// One line of `git status --porcelain=v1 -z`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub path: String,
    /// `??`: not tracked. Everything else is a change to a tracked file.
    pub untracked: bool,
}

/// Entries from `git status --porcelain=v1 -z`, in git's order.
pub(super) fn parse_status(out: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut fields = out.split('\0');
    while let Some(entry) = fields.next() {
        let (Some(code), Some(path)) = (entry.get(..2), entry.get(3..)) else {
            continue;
        };
        entries.push(Entry {
            path: path.to_owned(),
            untracked: code == "??",
        });
        // Renames and copies carry their source path as the next field.
        if code.contains(['R', 'C']) {
            fields.next();
        }
    }
    entries
}

/// The files that count against a release, sorted and deduplicated.
pub(super) fn dirty_files(git: &Git<'_>, ignore: &[PathBuf]) -> Result<Vec<String>, VersionError> {
    let top = PathBuf::from(
        git.ok(&["rev-parse", "--show-toplevel"])?
            .trim_end_matches('\n'),
    );
    let top = resolve_existing(&top);
    let out = git.ok(&[
        "status",
        "--porcelain=v1",
        "-z",
        // Explicit, so a user's status.showUntrackedFiles=no cannot hide
        // files that would end up in the build; `all` so each file is
        // judged on its own, never a whole folder at once.
        "--untracked-files=all",
        "--",
        ":(top)",
    ])?;
    let own: Vec<PathBuf> = ignore
        .iter()
        .filter_map(|p| top_relative(git.dir, &top, p))
        .collect();
    let mut folders = Folders {
        git,
        top: &top,
        seen: BTreeMap::new(),
    };
    let mut files = Vec::new();
    for entry in parse_status(&out) {
        if !entry.untracked || !folders.is_matrix_output(&entry.path, &own)? {
            files.push(entry.path);
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// Folders of a dist that hold matrix's work files, not release files
/// (`merge::WORK_DIRS`, spelled again: `version` sits below `merge`).
const WORK_DIRS: [&str; 3] = ["logs", "build", "images"];

/// The files (relative to it) a matrix folder's manifest records; a
/// folder marked only by the lock records none.
type Recorded = BTreeSet<PathBuf>;

/// Recognises folders matrix wrote, remembering each answer.
struct Folders<'a, 'g> {
    git: &'a Git<'g>,
    top: &'a Path,
    seen: BTreeMap<PathBuf, Option<Recorded>>,
}

impl Folders<'_, '_> {
    /// Whether the untracked `file` (top-relative) is matrix's own output.
    fn is_matrix_output(&mut self, file: &str, own: &[PathBuf]) -> Result<bool, VersionError> {
        let file = Path::new(file);
        if own.iter().any(|o| file.starts_with(o)) {
            return Ok(true);
        }
        let mut folder = file.parent();
        while let Some(dir) = folder.filter(|d| !d.as_os_str().is_empty()) {
            let rel = file.strip_prefix(dir).unwrap_or(file);
            if self
                .matrix_folder(dir)?
                .is_some_and(|recorded| is_matrix_file(rel, recorded))
            {
                return Ok(true);
            }
            folder = dir.parent();
        }
        Ok(false)
    }

    /// What `dir` records, if it is a folder matrix wrote.
    fn matrix_folder(&mut self, dir: &Path) -> Result<Option<&Recorded>, VersionError> {
        if !self.seen.contains_key(dir) {
            let answer = match marker(&self.top.join(dir)) {
                Some(recorded) if !self.has_tracked_files(dir)? => Some(recorded),
                _ => None,
            };
            self.seen.insert(dir.to_path_buf(), answer);
        }
        Ok(self.seen.get(dir).and_then(Option::as_ref))
    }

    fn has_tracked_files(&self, dir: &Path) -> Result<bool, VersionError> {
        let mut spec = std::ffi::OsString::from(":(top,literal)");
        spec.push(dir.as_os_str());
        let out = self.git.ok(&[
            std::ffi::OsStr::new("ls-files"),
            std::ffi::OsStr::new("-z"),
            std::ffi::OsStr::new("--cached"),
            std::ffi::OsStr::new("--"),
            &spec,
        ])?;
        Ok(!out.is_empty())
    }
}

/// The lock file `build` and `merge` hold in their dist for the whole run
/// (`exec::lock::LOCK_FILE`, spelled again here because `version` sits
/// below `exec`); a crashed run leaves it behind in a dist with nothing
/// else matrix-made in it.
pub(crate) const LOCK_FILE: &str = ".matrix.lock";

/// The `format` a matrix manifest names.
use crate::package::manifest::FORMAT;

/// Whether `rel`, a file in a matrix folder, is one matrix writes there.
fn is_matrix_file(rel: &Path, recorded: &Recorded) -> bool {
    let top = rel.components().next().map(|c| c.as_os_str());
    rel == Path::new("manifest.json")
        || rel == Path::new(LOCK_FILE)
        || recorded.contains(rel)
        || (rel.components().count() > 1
            && top.is_some_and(|t| WORK_DIRS.iter().any(|w| t == std::ffi::OsStr::new(w))))
}

/// If `dir` holds a mark of matrix (its run lock or its manifest), the
/// files its manifest records (none for a lock alone).
fn marker(dir: &Path) -> Option<Recorded> {
    if let Some(recorded) = manifest_records(dir) {
        return Some(recorded);
    }
    let lock = std::fs::symlink_metadata(dir.join(LOCK_FILE));
    lock.is_ok_and(|m| m.file_type().is_file())
        .then(Recorded::new)
}

/// If `dir/manifest.json` is a matrix manifest (a regular file, a link is
/// not followed, not huge, JSON with matrix's format name and the fields
/// every manifest has), the paths its artifacts record.
fn manifest_records(dir: &Path) -> Option<Recorded> {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)] // Parsed to prove the shape, not used.
    struct Marker {
        format: String,
        format_version: u32,
        version: String,
        artifacts: Vec<serde_json::Value>,
    }
    let path = dir.join("manifest.json");
    let is_small_file = std::fs::symlink_metadata(&path)
        .is_ok_and(|m| m.file_type().is_file() && m.len() <= MAX_MARKER_BYTES);
    if !is_small_file {
        return None;
    }
    let bytes = std::fs::read(&path).ok()?;
    let marker = serde_json::from_slice::<Marker>(&bytes).ok()?;
    (marker.format == FORMAT).then(|| {
        marker
            .artifacts
            .iter()
            .filter_map(|a| a.get("path")?.as_str())
            .map(PathBuf::from)
            .collect()
    })
}

/// An ignored path as a path relative to the top of the work tree, so
/// `repo_dir` may be a subdirectory and `ignore` absolute or reached through
/// symlinks; `None` outside the work tree. The whole work tree (a dist at
/// the top) is returned as the empty path.
fn top_relative(repo_dir: &Path, top: &Path, ignore: &Path) -> Option<PathBuf> {
    let base = std::path::absolute(repo_dir).unwrap_or_else(|_| repo_dir.to_path_buf());
    let full = resolve_existing(&normalize(&base.join(ignore)));
    full.strip_prefix(top).ok().map(Path::to_path_buf)
}

/// Removes `.` and `..` without touching the disk (the path may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Canonicalizes the longest existing ancestor of `path` and re-appends the
/// rest, so symlinked temp dirs compare equal to git's resolved top level
/// (and a `--dist` that does not exist yet compares as the kernel will
/// resolve it).
pub(crate) fn resolve_existing(path: &Path) -> PathBuf {
    let mut existing = path;
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return rest.iter().rev().fold(canonical, |p, name| p.join(name));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod lock_name {
    #[test]
    fn the_lock_marker_is_the_lock_exec_takes() {
        assert_eq!(super::LOCK_FILE, crate::exec::lock::LOCK_FILE);
    }

    #[test]
    fn the_work_folders_are_the_ones_merge_accepts() {
        assert_eq!(super::WORK_DIRS, crate::merge::WORK_DIRS);
    }
}
