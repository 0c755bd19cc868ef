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
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    /// Builds a small project tree and returns its tempdir.
    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            ("README.md", 0o644),
            ("LICENSE", 0o600),
            ("target/release/app", 0o755),
            ("target/release/app.d", 0o644),
            ("target/release/build/junk", 0o644),
            ("docs/guide.md", 0o644),
            ("docs/api/index.md", 0o644),
            ("docs/api/img/logo.png", 0o644),
            ("completions/app.bash", 0o644),
            ("completions/_app", 0o700),
        ];
        for (path, mode) in files {
            let p = dir.path().join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, path).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        }
        dir
    }

    fn spec(src: &str, dst: Option<&str>) -> FileSpec {
        FileSpec {
            src: src.to_string(),
            dst: dst.map(str::to_string),
        }
    }

    fn dests(entries: &[Entry]) -> Vec<(String, bool)> {
        entries
            .iter()
            .map(|e| (e.dest.clone(), e.executable))
            .collect()
    }

    #[test]
    fn resolve_table() {
        let dir = tree();
        let root = dir.path();
        type Case = (Vec<FileSpec>, Vec<(&'static str, bool)>);
        let cases: Vec<Case> = vec![
            // Literal file keeps its relative path.
            (vec![spec("README.md", None)], vec![("README.md", false)]),
            // dst puts a match under dst by file name.
            (
                vec![spec("target/release/app", Some("bin"))],
                vec![("bin/app", true)],
            ),
            // dst "." or "" means the top level.
            (
                vec![spec("target/release/app", Some("./"))],
                vec![("app", true)],
            ),
            // `*` does not cross directories.
            (
                vec![spec("target/release/*", None)],
                vec![
                    // `build` is a matched directory: its files come along.
                    ("target/release/app", true),
                    ("target/release/app.d", false),
                    ("target/release/build/junk", false),
                ],
            ),
            // A matched directory keeps its structure under dst.
            (
                vec![spec("docs", Some("share/doc"))],
                vec![
                    ("share/doc/docs/api/img/logo.png", false),
                    ("share/doc/docs/api/index.md", false),
                    ("share/doc/docs/guide.md", false),
                ],
            ),
            // ... and its relative path without dst.
            (
                vec![spec("docs/api", None)],
                vec![
                    ("docs/api/img/logo.png", false),
                    ("docs/api/index.md", false),
                ],
            ),
            // `**` crosses directories; result sorted by dest; mode 0700 is executable.
            (
                vec![
                    spec("**/*.md", None),
                    spec("completions/*", Some("complete")),
                ],
                vec![
                    ("README.md", false),
                    ("complete/_app", true),
                    ("complete/app.bash", false),
                    ("docs/api/index.md", false),
                    ("docs/guide.md", false),
                ],
            ),
            // Alternation and classes.
            (
                vec![spec("{README,LICENSE}*", None)],
                vec![("LICENSE", false), ("README.md", false)],
            ),
            // The same file matched twice is kept once.
            (
                vec![spec("README.md", None), spec("*.md", None)],
                vec![("README.md", false)],
            ),
        ];
        for (specs, want) in cases {
            let got = resolve(root, &specs).unwrap_or_else(|e| panic!("{specs:?}: {e}"));
            let want: Vec<(String, bool)> =
                want.into_iter().map(|(d, x)| (d.to_string(), x)).collect();
            assert_eq!(dests(&got), want, "{specs:?}");
            for e in &got {
                assert!(e.source.starts_with(root), "{e:?}");
                assert!(e.source.is_file(), "{e:?}");
            }
        }
    }

    #[test]
    fn resolve_errors_table() {
        let dir = tree();
        let root = dir.path();
        type Check = fn(&PackageError) -> bool;
        let cases: Vec<(Vec<FileSpec>, Check, &str)> = vec![
            (
                vec![spec("nothing*", None)],
                |e| matches!(e, PackageError::NoMatch { .. }),
                "nothing*",
            ),
            (
                vec![spec("missing/dir/*.txt", None)],
                |e| matches!(e, PackageError::NoMatch { .. }),
                "missing/dir/*.txt",
            ),
            (
                vec![spec("a[", None)],
                |e| matches!(e, PackageError::BadPattern { .. }),
                "a[",
            ),
            (
                vec![spec("../etc/passwd", None)],
                |e| matches!(e, PackageError::BadPattern { .. }),
                "..",
            ),
            (
                vec![spec("/etc/passwd", None)],
                |e| matches!(e, PackageError::BadPattern { .. }),
                "absolute",
            ),
            (
                vec![spec("README.md", Some("../up"))],
                |e| matches!(e, PackageError::UnsafeDest { .. }),
                "../up",
            ),
            (
                vec![spec("README.md", Some("/abs"))],
                |e| matches!(e, PackageError::UnsafeDest { .. }),
                "/abs",
            ),
            (
                // Two different sources for `x/app`.
                vec![
                    spec("target/release/app", Some("x")),
                    spec("completions/*", Some("x")),
                    spec("docs/guide.md", Some("x/app")),
                ],
                |e| matches!(e, PackageError::DestConflict { .. }),
                "x/app",
            ),
        ];
        for (specs, check, needle) in cases {
            let err = resolve(root, &specs).expect_err(&format!("{specs:?}"));
            assert!(check(&err), "{specs:?}: wrong error {err:?}");
            assert!(
                err.to_string().contains(needle),
                "{specs:?}: `{err}` lacks `{needle}`"
            );
        }
    }

    #[test]
    fn duplicate_names_both_sources_and_no_match_names_root() {
        let dir = tree();
        let root = dir.path();
        let err = resolve(
            root,
            &[
                spec("README.md", Some("d")),
                spec("docs/api/img/logo.png", None),
                spec("docs/api/index.md", Some("d")),
                spec("docs/guide.md", Some("d/README.md")),
            ],
        );
        // `d/README.md` and `d/README.md/guide.md`: a file used as a directory.
        assert!(
            matches!(err, Err(PackageError::DestConflict { .. })),
            "{err:?}"
        );

        let err = resolve(
            root,
            &[
                spec("README.md", Some("d")),
                spec("docs/../README.md", None),
            ],
        );
        assert!(matches!(err, Err(PackageError::BadPattern { .. })));

        fs::write(root.join("docs/README.md"), "other").unwrap();
        let err = resolve(
            root,
            &[
                spec("README.md", Some("d")),
                spec("docs/README.md", Some("d")),
            ],
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("d/README.md"), "{msg}");
        assert!(
            msg.contains(&root.join("README.md").display().to_string()),
            "{msg}"
        );
        assert!(
            msg.contains(&root.join("docs/README.md").display().to_string()),
            "{msg}"
        );

        let err = resolve(root, &[spec("*.exe", None)]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("*.exe") && msg.contains(&root.display().to_string()),
            "{msg}"
        );
    }

    #[test]
    fn symlinks_followed_inside_rejected_outside() {
        let dir = tree();
        let root = dir.path();
        symlink("target/release/app", root.join("app-link")).unwrap();
        symlink("docs/api", root.join("api-link")).unwrap();
        let got = resolve(
            root,
            &[spec("app-link", Some("bin")), spec("api-link", None)],
        )
        .unwrap();
        assert_eq!(
            dests(&got),
            vec![
                ("api-link/img/logo.png".to_string(), false),
                ("api-link/index.md".to_string(), false),
                ("bin/app-link".to_string(), true),
            ]
        );

        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "s").unwrap();
        symlink(outside.path().join("secret"), root.join("docs/secret")).unwrap();
        for pattern in ["docs/secret", "docs/*", "docs"] {
            let err = resolve(root, &[spec(pattern, None)]).unwrap_err();
            assert!(
                matches!(err, PackageError::SymlinkOutsideRoot { .. }),
                "{pattern}: {err:?}"
            );
            assert!(err.to_string().contains("docs/secret"), "{err}");
        }
        // A link outside that is never matched does no harm.
        let got = resolve(root, &[spec("docs/*.md", None)]).unwrap();
        assert_eq!(dests(&got), vec![("docs/guide.md".to_string(), false)]);

        // A loop is reported, not walked forever.
        symlink("..", root.join("docs/api/loop")).unwrap();
        fs::remove_file(root.join("docs/secret")).unwrap();
        assert!(resolve(root, &[spec("docs", None)]).is_err());
    }

    #[test]
    fn non_utf8_names_fail_only_when_packaged() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let dir = tree();
        let root = dir.path();
        fs::write(root.join(OsStr::from_bytes(b"bad-\xff.bin")), "x").unwrap();
        let got = resolve(root, &[spec("*.md", None)]).unwrap();
        assert_eq!(dests(&got), vec![("README.md".to_string(), false)]);
        let err = resolve(root, &[spec("bad-*", None)]).unwrap_err();
        assert!(matches!(err, PackageError::NonUtf8Path { .. }), "{err:?}");
    }

    #[test]
    fn validate_pattern_table() {
        for ok in [
            "README*",
            "**/*.md",
            "target/{a,b}/app",
            "bin/app[0-9]",
            "a\\*b",
            "./x",
        ] {
            validate_pattern(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["", "a[", "/abs", "a/../b", "..", "{a,b"] {
            assert!(validate_pattern(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn literal_prefix_table() {
        for (pattern, want) in [
            ("target/release/app", "target/release/app"),
            ("target/*/app", "target"),
            ("./docs/**/*.md", "docs"),
            ("*.md", ""),
            ("a/b\\*c", "a"),
        ] {
            assert_eq!(literal_prefix(pattern), PathBuf::from(want), "{pattern}");
        }
    }
}
