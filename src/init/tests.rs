use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::detect::{Build, License};
use super::*;
use crate::preset::Need;

/// A machine with cargo and the host's Rust std only, and a Go that builds
/// every platform: the same answers everywhere, for snapshots.
fn probe() -> Probe<'static> {
    Probe {
        met: &|n: &Need| match n {
            Need::Program { name, .. } => name == "cargo",
            Need::RustTarget { triple, .. } => triple == "x86_64-unknown-linux-gnu",
        },
        go: &|| {
            let all = tables::go()
                .iter()
                .map(|p| format!("{}/{}", p.goos, p.goarch))
                .collect();
            Some((all, "go1.22.0".into()))
        },
    }
}

/// An example project copied without its matrix.toml, into a folder of
/// the example's name (a C project is named after its folder).
struct Example {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Example {
    fn path(&self) -> &Path {
        &self.dir
    }
}

fn example(name: &str) -> Example {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    copy_tree(&src, &dir);
    std::fs::remove_file(dir.join("matrix.toml")).unwrap();
    Example { _tmp: tmp, dir }
}

fn copy_tree(src: &Path, dst: &Path) {
    for e in walkdir::WalkDir::new(src) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(src).unwrap();
        if rel.starts_with("target") {
            continue;
        }
        let to = dst.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

fn file(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn opts(dir: &Path) -> Options {
    Options {
        config: dir.join("matrix.toml"),
        force: false,
        dry_run: false,
        bin: None,
    }
}

/// Renders the project and checks the text is a valid matrix.toml.
fn rendered(dir: &Path, bin: Option<&str>) -> (Facts, String) {
    let facts = detect::detect(dir, bin, &probe()).unwrap();
    let text = render::render(&facts, "0.0.0-test");
    if let Err(e) = crate::config::parse(Path::new("matrix.toml"), text.clone()) {
        panic!("{:?}\n{text}", miette::Report::new(e));
    }
    (facts, text)
}

#[test]
fn go_example() {
    let tmp = example("hello-go");
    let (facts, text) = rendered(tmp.path(), None);
    assert_eq!(facts.binary, "hello");
    assert_eq!(facts.name, "hello");
    assert_eq!(
        facts.license,
        License::Known {
            spdx: "MIT".into(),
            from: "LICENSE".into()
        }
    );
    assert_eq!(facts.changelog.as_deref(), Some("CHANGELOG.md"));
    insta::assert_snapshot!(text);
}

#[test]
fn rust_example() {
    let tmp = example("hello-rust");
    let (facts, text) = rendered(tmp.path(), None);
    assert_eq!(facts.binary, "hello");
    assert!(facts.edits.is_empty(), "{:?}", facts.edits);
    insta::assert_snapshot!(text);
}

#[test]
fn c_example() {
    let tmp = example("hello-c");
    let (facts, text) = rendered(tmp.path(), None);
    assert_eq!(facts.binary, "hello");
    assert!(facts.edits.is_empty(), "{:?}", facts.edits);
    assert!(matches!(
        facts.build,
        Build::C(detect::CBuild::Make {
            out: true,
            version: true,
            sets_cc: false,
            ..
        })
    ));
    insta::assert_snapshot!(text);
}

#[test]
fn go_cmd_folders_and_a_dockerfile() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    file(d, "go.mod", "module github.com/someone/xz/v2\n\ngo 1.19\n");
    file(d, "lib.go", "package xz\n");
    file(d, "gen.go", "//go:build ignore\n\npackage main\n");
    file(d, "cmd/gxz/main.go", "// Command gxz.\npackage main\n");
    file(d, "cmd/xb/main.go", "package main\n");
    file(d, "cmd/xz/main.go", "package main\n");
    file(d, "cmd/lib/lib.go", "package lib\n");
    file(d, "Dockerfile", "FROM scratch\n");
    file(
        d,
        "COPYING",
        "Redistribution and use in source and binary forms ... Redistributions of source code must retain ...\n",
    );
    let (facts, text) = rendered(d, None);
    // The module's own name wins among cmd/ folders; `/v2` is not a name.
    assert_eq!(facts.binary, "xz");
    assert_eq!(facts.other_binaries, ["gxz", "xb"]);
    assert_eq!(facts.name, "xz");
    assert!(text.contains("dir = \"cmd/xz\""), "{text}");
    assert!(text.contains("# [images]"), "{text}");
    assert!(text.contains("license = \"BSD-2-Clause\""), "{text}");
    let (facts, text) = rendered(d, Some("xb"));
    assert_eq!(facts.binary, "xb");
    assert!(text.contains("dir = \"cmd/xb\""), "{text}");
    let err = detect::detect(d, Some("nope"), &probe()).unwrap_err();
    assert!(matches!(err, InitError::UnknownBin { .. }), "{err}");
}

#[test]
fn go_leaves_out_what_the_local_go_cannot_build() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    file(d, "go.mod", "module tool\n");
    file(d, "main.go", "package main\nfunc main() {}\n");
    let old_go = Probe {
        met: &|_| true,
        go: &|| {
            let list: BTreeSet<String> = ["linux/amd64", "windows/amd64"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            Some((list, "go1.4".into()))
        },
    };
    let facts = detect::detect(d, None, &old_go).unwrap();
    let text = render::render(&facts, "0");
    assert!(text.contains("os = [\"linux\", \"windows\"]"), "{text}");
    assert!(
        text.contains("Left out because go1.4 cannot build them"),
        "{text}"
    );
    let no_go = Probe {
        met: &|_| true,
        go: &|| None,
    };
    let facts = detect::detect(d, None, &no_go).unwrap();
    assert!(
        facts.edits.iter().any(|e| e.contains("golang-go")),
        "{:?}",
        facts.edits
    );
}

#[test]
fn a_go_module_without_a_program_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    file(tmp.path(), "go.mod", "module example.org/lib\n");
    file(tmp.path(), "lib.go", "package lib\n");
    let err = detect::detect(tmp.path(), None, &probe()).unwrap_err();
    assert!(matches!(err, InitError::NoBinary { .. }), "{err}");
    file(tmp.path(), "go.mod", "go 1.19\n");
    let err = detect::detect(tmp.path(), None, &probe()).unwrap_err();
    assert!(
        err.to_string()
            .contains("go.mod:1:1: go.mod has no `module` line"),
        "{err}"
    );
}

#[test]
fn a_bad_cargo_toml_is_named_with_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    file(
        tmp.path(),
        "Cargo.toml",
        "[package]\nname = \"x\"\nversion = 1.0.0\n",
    );
    let err = detect::detect(tmp.path(), None, &probe()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Cargo.toml:3:"), "{text}");
}

#[test]
fn a_cargo_workspace_names_its_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    file(d, "Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n");
    file(d, "crates/core/Cargo.toml", "[package]\nname = \"core\"\n");
    file(d, "crates/core/src/lib.rs", "");
    file(d, "crates/cli/Cargo.toml", "[package]\nname = \"frob\"\n");
    file(d, "crates/cli/src/main.rs", "fn main() {}");
    file(
        d,
        "LICENSE-MIT",
        "Permission is hereby granted, free of charge, ... The above copyright notice and this permission notice shall be included in all copies",
    );
    file(
        d,
        "LICENSE-APACHE",
        "Apache License Version 2.0, January 2004 TERMS AND CONDITIONS FOR USE",
    );
    let (facts, text) = rendered(d, None);
    assert_eq!(facts.binary, "frob");
    assert!(
        text.contains("A workspace: cargo builds every member"),
        "{text}"
    );
    assert!(
        facts.edits.iter().any(|e| e.contains("Cargo.lock")),
        "{:?}",
        facts.edits
    );
    // Two license texts: the expression is the user's to write.
    assert!(
        matches!(facts.license, License::Unclear { .. }),
        "{:?}",
        facts.license
    );
    assert!(
        text.contains("LICENSE-APACHE looks like Apache-2.0"),
        "{text}"
    );
    file(d, "crates/core/src/lib.rs", "");
    std::fs::remove_file(d.join("crates/cli/src/main.rs")).unwrap();
    let err = detect::detect(d, None, &probe()).unwrap_err();
    assert!(matches!(err, InitError::NoBinary { .. }), "{err}");
}

#[test]
fn c_without_an_out_variable_asks_for_an_edit() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    file(
        d,
        "Makefile",
        "CC = gcc\nfrob: frob.c\n\t$(CC) -o frob frob.c\n",
    );
    let (facts, text) = rendered(d, None);
    assert_eq!(facts.binary, "frob");
    assert_eq!(facts.edits.len(), 2, "{:?}", facts.edits);
    assert!(
        text.contains("# EDIT: Makefile does not take its output file from OUT"),
        "{text}"
    );
    file(d, "Makefile", "");
    std::fs::remove_file(d.join("Makefile")).unwrap();
    file(
        d,
        "CMakeLists.txt",
        "project(frobnicate C)\nadd_executable(frob main.c)\n",
    );
    let (facts, text) = rendered(d, None);
    assert_eq!(
        (facts.name.as_str(), facts.binary.as_str()),
        ("frobnicate", "frob")
    );
    assert!(text.contains("EDIT: a starting point. CMake"), "{text}");
}

#[test]
fn hostile_values_stay_inside_their_strings() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    file(
        d,
        "Cargo.toml",
        "[package]\nname = \"x\"\ndescription = \"a\\\"\\n[build]\\nshell = true\"\nlicense = \"MIT\\n[evil]\"\n",
    );
    file(d, "src/main.rs", "fn main() {}");
    file(d, "Cargo.lock", "");
    let (_, text) = rendered(d, None);
    let loaded = crate::config::parse(Path::new("matrix.toml"), text.clone()).unwrap();
    assert!(!loaded.config.build.shell);
    assert_eq!(loaded.config.project.license, "MIT\n[evil]");
    assert!(text.lines().all(|l| !l.starts_with("[evil]")), "{text}");
}

#[test]
fn only_regular_files_go_into_archives() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    file(d, "go.mod", "module tool\n");
    file(d, "main.go", "package main\n");
    file(d, "LICENSE.d/x", "");
    std::os::unix::fs::symlink("/etc/hostname", d.join("README.md")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", d.join("COPYING")).unwrap();
    file(d, "CHANGELOG.md", "# Changelog\n");
    let (facts, _) = rendered(d, None);
    assert_eq!(facts.files, ["CHANGELOG.md"]);
    assert_eq!(facts.license, License::None);
}

#[test]
fn nothing_to_build_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    file(tmp.path(), "README.md", "# hi\n");
    let err = run(&opts(tmp.path()), &probe()).unwrap_err();
    assert!(matches!(err, InitError::NoProject { .. }), "{err}");
}

#[test]
fn writes_once_and_refuses_to_overwrite() {
    let tmp = example("hello-go");
    let d = tmp.path();
    let o = opts(d);
    let first = run(&o, &probe()).unwrap();
    assert_eq!(first.gitignore, Some(GitIgnore::Created));
    let written = std::fs::read_to_string(d.join("matrix.toml")).unwrap();
    assert_eq!(written, first.text);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join("matrix.toml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    std::fs::write(d.join("matrix.toml"), "mine").unwrap();
    let err = run(&o, &probe()).unwrap_err();
    assert!(matches!(err, InitError::Exists { .. }), "{err}");
    assert_eq!(
        std::fs::read_to_string(d.join("matrix.toml")).unwrap(),
        "mine"
    );
    // A dangling symlink is something too.
    std::fs::remove_file(d.join("matrix.toml")).unwrap();
    std::os::unix::fs::symlink(d.join("nowhere"), d.join("matrix.toml")).unwrap();
    assert!(matches!(run(&o, &probe()), Err(InitError::Exists { .. })));
    let forced = run(
        &Options {
            force: true,
            ..o.clone()
        },
        &probe(),
    )
    .unwrap();
    assert_eq!(forced.gitignore, Some(GitIgnore::AlreadyIgnored));
    assert!(
        !d.join("nowhere").exists(),
        "the symlink was replaced, not followed"
    );
    assert_eq!(
        std::fs::read_to_string(d.join(".gitignore")).unwrap(),
        "dist/\n"
    );
    let leftovers: Vec<PathBuf> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".matrix-init-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_dry_run_writes_nothing() {
    let tmp = example("hello-go");
    let d = tmp.path();
    let out = run(
        &Options {
            dry_run: true,
            ..opts(d)
        },
        &probe(),
    )
    .unwrap();
    assert!(out.text.contains("preset = \"go\""));
    assert_eq!(out.gitignore, None);
    assert!(!d.join("matrix.toml").exists());
    assert!(!d.join(".gitignore").exists());
}

#[test]
fn gitignore_gets_dist_once() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(".gitignore");
    std::fs::write(&path, "target").unwrap();
    assert_eq!(ignore_dist(&path).unwrap(), GitIgnore::Appended);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "target\ndist/\n");
    assert_eq!(ignore_dist(&path).unwrap(), GitIgnore::AlreadyIgnored);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "target\ndist/\n");
    std::fs::write(&path, "/dist\n!dist/\n").unwrap();
    assert_eq!(ignore_dist(&path).unwrap(), GitIgnore::Appended);
    std::fs::write(&path, "subdir/dist/\n").unwrap();
    assert_eq!(ignore_dist(&path).unwrap(), GitIgnore::Appended);
}

#[test]
fn a_gitignore_symlink_is_neither_read_nor_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::write(&outside, "secret line\n").unwrap();
    let project = tmp.path().join("p");
    std::fs::create_dir(&project).unwrap();
    let path = project.join(".gitignore");
    std::os::unix::fs::symlink(&outside, &path).unwrap();
    assert_eq!(
        ignore_dist(&path).unwrap(),
        GitIgnore::LeftAlone("it is a symlink")
    );
    assert!(path.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "secret line\n");
    // Dangling: left alone too, not an error after matrix.toml is written.
    std::fs::remove_file(&outside).unwrap();
    assert_eq!(
        ignore_dist(&path).unwrap(),
        GitIgnore::LeftAlone("it is a symlink")
    );
    assert!(!outside.exists());
    // Not UTF-8: left alone rather than an error.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"\xff\xfe\n").unwrap();
    assert_eq!(
        ignore_dist(&path).unwrap(),
        GitIgnore::LeftAlone("it is not UTF-8")
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"\xff\xfe\n");
}

#[test]
fn a_binary_name_like_an_option_is_not_taken() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("tool");
    std::fs::create_dir(&d).unwrap();
    file(
        &d,
        "CMakeLists.txt",
        "project(tool C)\nadd_executable(--help main.c)\n",
    );
    file(&d, "main.c", "int main(void) { return 0; }\n");
    let (facts, text) = rendered(&d, None);
    assert_eq!(facts.binary, "tool");
    assert!(!text.contains("--help"), "{text}");
}
