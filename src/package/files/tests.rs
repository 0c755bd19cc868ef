//! Tests of `files` (unix: they set file modes and symlinks).

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
        let want: Vec<(String, bool)> = want.into_iter().map(|(d, x)| (d.to_string(), x)).collect();
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
