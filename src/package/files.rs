//! File selection: from `files = [...]` globs to archive entries.
//!
//! First step of the `package` flow. [`validate_pattern`] is the plan-time
//! syntax check; [`resolve`] runs after the build, walks the project root and
//! returns the exact, sorted list of [`Entry`]s an archive will contain,
//! rejecting anything ambiguous (no match, two sources for one path, paths
//! escaping the archive or the root) before a single byte is written.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use walkdir::WalkDir;

use super::PackageError;
use super::dest::{check_dest, join_dest, normalize_dest};

/// One `files` item of the config.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileSpec {
    /// Glob relative to the root (globset syntax; `*` stays within a
    /// directory, `**` crosses directories).
    pub src: String,
    /// Directory inside the archive to put each match in (by file name);
    /// without it a match keeps its path relative to the root.
    pub dst: Option<String>,
}

/// A file to put in an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where to read it from (the matched path, symlinks not resolved).
    pub source: PathBuf,
    /// `/`-separated, normalized relative path inside the archive.
    pub dest: String,
    /// Any execute bit set on the source; decides 0755 vs 0644.
    pub executable: bool,
}

/// Characters that make a path component a glob rather than a literal.
const GLOB_META: &[char] = &['*', '?', '[', ']', '{', '}', '\\'];

/// Checks a pattern's syntax without touching the disk (used at plan time).
pub fn validate_pattern(pattern: &str) -> Result<(), PackageError> {
    compile(pattern).map(|_| ())
}

/// Drops a leading `./` and trailing `/`, which users write but which would
/// otherwise never match the root-relative paths we compare against.
fn clean_pattern(pattern: &str) -> &str {
    let mut p = pattern;
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p.trim_end_matches('/')
}

fn compile(pattern: &str) -> Result<GlobMatcher, PackageError> {
    let original = pattern;
    let pattern = clean_pattern(pattern);
    let bad = |reason: &str| PackageError::BadPattern {
        pattern: original.to_string(),
        reason: reason.to_string(),
    };
    if original.starts_with('/') || Path::new(original).is_absolute() {
        return Err(bad(
            "absolute paths are not allowed; patterns are relative to the root",
        ));
    }
    if pattern.is_empty() {
        return Err(bad("the pattern is empty"));
    }
    if pattern.split('/').any(|c| c == "..") {
        return Err(bad("`..` would reach outside the root"));
    }
    let glob = GlobBuilder::new(pattern)
        // Shell semantics: `*` never crosses `/`, only `**` does.
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| bad(&e.kind().to_string()))?;
    Ok(glob.compile_matcher())
}

/// A root-relative path as a `/`-separated UTF-8 string.
fn rel_string(rel: &Path, full: &Path) -> Result<String, PackageError> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(os) => {
                parts.push(os.to_str().ok_or_else(|| PackageError::NonUtf8Path {
                    path: full.to_path_buf(),
                })?)
            }
            Component::CurDir => {}
            _ => {
                return Err(PackageError::UnsafeDest {
                    dest: rel.display().to_string(),
                    reason: "it is not inside the root".to_string(),
                });
            }
        }
    }
    Ok(parts.join("/"))
}

/// The leading literal components of a pattern: the only directory that
/// can contain matches, so walking starts there instead of at the root (a
/// project root may hold `target/` or `node_modules/` with 100k files).
fn literal_prefix(pattern: &str) -> PathBuf {
    pattern
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .take_while(|c| !c.contains(GLOB_META))
        .collect()
}

#[cfg(unix)]
fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &fs::Metadata) -> bool {
    // No execute bit to read; archives built on such hosts mark files 0644.
    false
}

/// Shared state of one `resolve` call.
struct Resolver<'a> {
    root: &'a Path,
    canonical_root: PathBuf,
}

impl Resolver<'_> {
    /// Rejects a symlink (or a symlinked walk base) whose target lies outside
    /// the root: packaging it would ship a file the project does not own.
    fn check_inside(&self, path: &Path) -> Result<(), PackageError> {
        let target = fs::canonicalize(path).map_err(PackageError::io(path))?;
        if target.starts_with(&self.canonical_root) {
            Ok(())
        } else {
            Err(PackageError::SymlinkOutsideRoot {
                link: path.to_path_buf(),
                target,
                root: self.root.to_path_buf(),
            })
        }
    }

    fn resolve_spec(&self, spec: &FileSpec, out: &mut Vec<Entry>) -> Result<(), PackageError> {
        let matcher = compile(&spec.src)?;
        let dst = spec.dst.as_deref().map(normalize_dest).transpose()?;
        let base = self.root.join(literal_prefix(&spec.src));
        let before = out.len();
        let no_match = || PackageError::NoMatch {
            pattern: spec.src.clone(),
            root: self.root.to_path_buf(),
        };
        match fs::symlink_metadata(&base) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_match()),
            Err(e) => return Err(PackageError::io(&base)(e)),
        }
        if base != self.root {
            // The literal prefix may itself run through a symlink.
            self.check_inside(&base)?;
        }
        // Symlinks are not followed while searching: a link to `/` or a
        // loop must not be walked just because it sits under the root.
        // Matched links are followed below, after the containment check.
        let mut walk = WalkDir::new(&base)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter();
        while let Some(item) = walk.next() {
            let dent = item.map_err(|source| PackageError::Walk {
                path: base.clone(),
                source,
            })?;
            let path = dent.path();
            let rel_path = path.strip_prefix(self.root).unwrap_or(path);
            // Match on the raw path first: an unrelated file with a
            // non-UTF-8 name must not fail a pattern that does not want it.
            if rel_path.as_os_str().is_empty() || !matcher.is_match(rel_path) {
                continue;
            }
            let rel = rel_string(rel_path, path)?;
            let is_link = dent.path_is_symlink();
            if is_link {
                self.check_inside(path)?;
            }
            let meta = fs::metadata(path).map_err(PackageError::io(path))?;
            if meta.is_dir() {
                let name = rel.rsplit('/').next().unwrap_or(&rel);
                let under = match &dst {
                    Some(d) => join_dest(d, name),
                    None => rel.clone(),
                };
                self.expand_dir(path, &under, out)?;
                if dent.file_type().is_dir() {
                    walk.skip_current_dir();
                }
            } else if meta.is_file() {
                let dest = match &dst {
                    Some(d) => join_dest(d, rel.rsplit('/').next().unwrap_or(&rel)),
                    None => rel,
                };
                out.push(Entry {
                    source: path.to_path_buf(),
                    dest,
                    executable: is_executable(&meta),
                });
            } else {
                return Err(PackageError::SpecialFile {
                    path: path.to_path_buf(),
                });
            }
        }
        if out.len() == before {
            return Err(no_match());
        }
        Ok(())
    }

    /// Adds every file below a matched directory, keeping its structure
    /// under `under` (the directory's own archive path).
    fn expand_dir(
        &self,
        dir: &Path,
        under: &str,
        out: &mut Vec<Entry>,
    ) -> Result<(), PackageError> {
        // Following links is safe here: walkdir reports loops as errors,
        // and each link is checked against the root before it is entered.
        for item in WalkDir::new(dir)
            .follow_links(true)
            .min_depth(1)
            .sort_by_file_name()
        {
            let dent = item.map_err(|source| PackageError::Walk {
                path: dir.to_path_buf(),
                source,
            })?;
            let path = dent.path();
            if dent.path_is_symlink() {
                self.check_inside(path)?;
            }
            let ft = dent.file_type();
            if ft.is_dir() {
                continue;
            }
            if !ft.is_file() {
                return Err(PackageError::SpecialFile {
                    path: path.to_path_buf(),
                });
            }
            let rel = rel_string(path.strip_prefix(dir).unwrap_or(path), path)?;
            let meta = dent.metadata().map_err(|source| PackageError::Walk {
                path: path.to_path_buf(),
                source,
            })?;
            out.push(Entry {
                source: path.to_path_buf(),
                dest: join_dest(under, &rel),
                executable: is_executable(&meta),
            });
        }
        Ok(())
    }
}

/// Resolves `specs` against `root` into the sorted entries of an archive.
///
/// Errors if a spec matches no file, a glob is invalid, a destination is
/// unsafe, two different sources land on one destination (the same file
/// matched twice is kept once), a file's path is another entry's directory,
/// or a symlink leads outside `root`.
pub fn resolve(root: &Path, specs: &[FileSpec]) -> Result<Vec<Entry>, PackageError> {
    let canonical_root = fs::canonicalize(root).map_err(PackageError::io(root))?;
    let resolver = Resolver {
        root,
        canonical_root,
    };
    let mut entries = Vec::new();
    for spec in specs {
        resolver.resolve_spec(spec, &mut entries)?;
    }
    for e in &entries {
        check_dest(&e.dest)?;
    }
    entries.sort_by(|a, b| (a.dest.as_bytes(), &a.source).cmp(&(b.dest.as_bytes(), &b.source)));
    entries.dedup_by(|b, a| a.dest == b.dest && a.source == b.source);
    if let Some(w) = entries.windows(2).find(|w| w[0].dest == w[1].dest) {
        return Err(PackageError::DuplicateDest {
            dest: w[0].dest.clone(),
            first: w[0].source.clone(),
            second: w[1].source.clone(),
        });
    }
    check_no_file_as_dir(&entries)?;
    Ok(entries)
}

/// `a` as a file and `a/b` as another file cannot both be extracted.
fn check_no_file_as_dir(entries: &[Entry]) -> Result<(), PackageError> {
    let files: BTreeMap<&str, &Path> = entries
        .iter()
        .map(|e| (e.dest.as_str(), e.source.as_path()))
        .collect();
    let mut seen_dirs = BTreeSet::new();
    for e in entries {
        let mut end = 0;
        while let Some(i) = e.dest[end..].find('/') {
            end += i;
            let dir = &e.dest[..end];
            if seen_dirs.insert(dir)
                && let Some(file) = files.get(dir)
            {
                return Err(PackageError::DestConflict {
                    dest: dir.to_string(),
                    file: file.to_path_buf(),
                    child: e.dest.clone(),
                });
            }
            end += 1;
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests;
