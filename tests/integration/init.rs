//! `matrix init` on real projects: the Go, Rust and C examples without
//! their matrix.toml, and a third-party Go program from Debian's source
//! packages. Each written file must plan in full, match `matrix schema`,
//! and build (a few targets, for time) into archives and checksums after
//! nothing but `git commit`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Project, require, run};

/// Debian's golang-github-ulikunitz-xz-dev: upstream source of the xz
/// module, with its stdlib-only commands gxz and xb in cmd/.
const XZ_SOURCE: &str = "/usr/share/gocode/src/github.com/ulikunitz/xz";

/// A fresh repository with `src` copied in, minus any matrix*.toml, and a
/// .gitignore that does not yet ignore dist/.
fn project_from(src: &Path) -> Project {
    let p = Project::new();
    copy_tree(src, &p.dir);
    p.file(".gitignore", "target/\n");
    p
}

fn example(name: &str) -> Project {
    project_from(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name),
    )
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let text = name.to_string_lossy();
        if text == "dist"
            || text == "target"
            || (text.starts_with("matrix") && text.ends_with(".toml"))
        {
            continue;
        }
        let dest = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// `matrix init`, then the commit a user would make.
fn init_and_commit(p: &Project, extra: &[&str]) -> String {
    let mut args = vec!["init"];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&mut p.matrix(&args));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("wrote matrix.toml"), "{out}");
    assert!(out.contains("added dist/ to .gitignore"), "{out}");
    assert!(out.contains("matrix build --snapshot"), "{out}");
    p.git(&["add", "matrix.toml", ".gitignore"]);
    p.commit();
    out
}

/// The full table as `matrix plan --json` sees it: every target id.
fn planned_targets(p: &Project) -> Vec<String> {
    let (code, out, err) = run(&mut p.matrix(&["plan", "--snapshot", "--json"]));
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

fn validation_python() -> PathBuf {
    let tools = std::env::var_os("MATRIX_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/matrix-tools")
        });
    tools.join("venv-validate/bin/python")
}

/// The written file against `matrix schema`, with Python's jsonschema.
fn check_schema(p: &Project) {
    let python = validation_python();
    let ok = Command::new(&python)
        .args(["-c", "import jsonschema, tomllib"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "{} lacks jsonschema: run scripts/setup.sh",
            python.display()
        );
        eprintln!("SKIP schema check: no validation venv; run scripts/setup.sh");
        return;
    }
    let (code, schema, err) = run(&mut p.matrix(&["schema"]));
    assert_eq!(code, 0, "{err}");
    let schema_path = p.dir.join("..").join("schema.json");
    std::fs::write(&schema_path, schema).unwrap();
    let out = Command::new(&python)
        .args([
            "-c",
            "import json, sys, tomllib, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             jsonschema.validate(tomllib.load(open(sys.argv[2], 'rb')), schema)\n",
        ])
        .arg(&schema_path)
        .arg(p.dir.join("matrix.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "matrix.toml does not match the schema: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `matrix build --snapshot` of `targets`: exit 0, one archive per target,
/// and a checksums file `sha256sum -c` accepts.
fn build(p: &Project, targets: &[&str]) -> Vec<String> {
    let mut args = vec!["build", "--snapshot"];
    for t in targets {
        args.extend(["--target", t]);
    }
    let (code, out, err) = run(&mut p.matrix(&args));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let dist = p.dist();
    let archives = crate::support::archive_names(&dist);
    assert_eq!(archives.len(), targets.len(), "{archives:?}");
    let sums: Vec<String> = std::fs::read_dir(&dist)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("_checksums.txt"))
        .collect();
    assert_eq!(sums.len(), 1, "{sums:?}");
    let check = Command::new("sha256sum")
        .args(["--check", "--strict", &sums[0]])
        .current_dir(&dist)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    archives
}

/// The os/arch pairs of `matrix targets --json`: the whole knowledge base,
/// which is Go's table.
fn go_table_len(p: &Project) -> usize {
    let (code, out, err) = run(&mut p.matrix(&["targets", "--json"]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let pairs: std::collections::BTreeSet<(String, String)> = v["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["os"].as_str().unwrap().into(),
                p["arch"].as_str().unwrap().into(),
            )
        })
        .collect();
    pairs.len()
}

fn gitignore(p: &Project) -> String {
    std::fs::read_to_string(p.dir.join(".gitignore")).unwrap()
}

#[test]
fn go_example_inits_plans_in_full_and_builds() {
    if !require("go", "apt-get install golang-go") {
        return;
    }
    let p = example("hello-go");
    init_and_commit(&p, &[]);
    assert_eq!(gitignore(&p), "target/\ndist/\n");
    let targets = planned_targets(&p);
    for t in [
        "linux/amd64",
        "darwin/arm64",
        "windows/386",
        "freebsd/386",
        "openbsd/arm64",
        "linux/riscv64",
    ] {
        assert!(
            targets.contains(&t.to_string()),
            "{t} missing from {targets:?}"
        );
    }
    // Every platform matrix knows, and Go 1.19 (Debian bookworm) builds them all.
    assert_eq!(targets.len(), go_table_len(&p), "{targets:?}");
    check_schema(&p);
    let archives = build(&p, &["linux/amd64", "windows/amd64", "darwin/arm64"]);
    assert!(
        archives
            .iter()
            .any(|a| a.starts_with("hello_") && a.ends_with("_windows_amd64.zip")),
        "{archives:?}"
    );

    // Again: refused without --force, the file untouched; with it, replaced,
    // and .gitignore still names dist/ once.
    let before = std::fs::read_to_string(p.dir.join("matrix.toml")).unwrap();
    p.file("matrix.toml", "# mine\n");
    let (code, _, err) = run(&mut p.matrix(&["init"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("matrix.toml already exists"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(
        std::fs::read_to_string(p.dir.join("matrix.toml")).unwrap(),
        "# mine\n"
    );
    let (code, out, err) = run(&mut p.matrix(&["init", "--force"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(".gitignore already ignores dist/"), "{out}");
    assert_eq!(
        std::fs::read_to_string(p.dir.join("matrix.toml")).unwrap(),
        before
    );
    assert_eq!(gitignore(&p), "target/\ndist/\n");
}

#[test]
fn rust_example_inits_plans_and_builds_the_host() {
    if !require("cargo", "https://rustup.rs") {
        return;
    }
    let p = example("hello-rust");
    init_and_commit(&p, &[]);
    let targets = planned_targets(&p);
    // The host is always on; the rest depends on this machine's Rust std
    // libraries and linkers (`matrix doctor` says which).
    assert!(targets.contains(&"linux/amd64".to_string()), "{targets:?}");
    let text = std::fs::read_to_string(p.dir.join("matrix.toml")).unwrap();
    for t in ["darwin", "windows"] {
        assert!(
            text.contains(&format!("os = \"{t}\"")),
            "{t} is offered:\n{text}"
        );
    }
    check_schema(&p);
    if cfg!(target_arch = "x86_64") {
        let archives = build(&p, &["linux/amd64"]);
        assert_eq!(archives.len(), 1, "{archives:?}");
    }
}

#[test]
fn c_example_inits_plans_in_full_and_builds() {
    let tools = [
        ("make", "apt-get install make"),
        (
            "x86_64-w64-mingw32-gcc",
            "apt-get install gcc-mingw-w64-x86-64-win32",
        ),
        ("zig", "bash scripts/install-toolchains.sh"),
    ];
    if !tools.iter().all(|(t, i)| require(t, i)) {
        return;
    }
    let p = example("hello-c");
    let out = init_and_commit(&p, &[]);
    assert!(!out.contains("EDIT"), "hello-c needs no edits:\n{out}");
    let targets = planned_targets(&p);
    assert_eq!(targets.len(), 13, "{targets:?}");
    assert!(
        targets.contains(&"darwin/arm64/system".to_string()),
        "{targets:?}"
    );
    assert!(
        targets.contains(&"linux/arm64/musl".to_string()),
        "{targets:?}"
    );
    check_schema(&p);
    let mut wanted = vec![
        "windows/amd64/gnu",
        "darwin/arm64/system",
        "linux/amd64/musl",
    ];
    if cfg!(target_arch = "x86_64") {
        wanted.push("linux/amd64/gnu");
    }
    build(&p, &wanted);
}

#[test]
fn a_third_party_go_program_from_debian() {
    if !Path::new(XZ_SOURCE).join("cmd/gxz").is_dir() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "{XZ_SOURCE} is required in CI: apt-get install golang-github-ulikunitz-xz-dev (or run scripts/setup.sh)"
        );
        eprintln!("SKIP: no {XZ_SOURCE}; apt-get install golang-github-ulikunitz-xz-dev");
        return;
    }
    if !require("go", "apt-get install golang-go") {
        return;
    }
    let p = project_from(Path::new(XZ_SOURCE));
    let out = init_and_commit(&p, &[]);
    assert!(out.contains("main package cmd/gxz"), "{out}");
    assert!(
        out.contains("license: BSD-3-Clause (from LICENSE)"),
        "{out}"
    );
    assert!(
        out.contains("other programs, not released by this file: xb"),
        "{out}"
    );
    let text = std::fs::read_to_string(p.dir.join("matrix.toml")).unwrap();
    assert!(text.contains("name = \"xz\""), "{text}");
    assert!(text.contains("binary = \"gxz\""), "{text}");
    assert_eq!(planned_targets(&p).len(), go_table_len(&p));
    check_schema(&p);
    let archives = build(&p, &["linux/amd64", "windows/arm64", "darwin/arm64"]);
    let linux = archives
        .iter()
        .find(|a| a.ends_with("_linux_amd64.tar.gz"))
        .unwrap();
    let listing = Command::new("tar")
        .args(["-tzf", linux])
        .current_dir(p.dist())
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for f in ["gxz", "LICENSE", "README.md"] {
        assert!(listing.lines().any(|l| l == f), "{f} not in {listing}");
    }
}

#[test]
fn a_dry_run_prints_and_writes_nothing() {
    let p = example("hello-go");
    let (code, out, err) = run(&mut p.matrix(&["init", "--dry-run"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("# matrix.toml for hello"), "{out}");
    assert!(err.contains("go.mod: module example.org/hello"), "{err}");
    assert!(!p.dir.join("matrix.toml").exists());
    assert_eq!(gitignore(&p), "target/\n");
}

#[test]
fn init_elsewhere_with_c_and_errors() {
    let p = Project::new();
    p.file("README.md", "# nothing to build\n");
    let (code, _, err) = run(&mut p.matrix(&["init"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("holds no project matrix init knows"), "{err}");
    // -c puts the file, and reads the project, in another folder.
    p.file("sub/Makefile", "frob: frob.c\n\t$(CC) -o frob frob.c\n");
    let (code, out, err) = run(&mut p.matrix(&["-c", "sub/matrix.toml", "init"]));
    assert_eq!(code, 0, "{err}");
    assert!(p.dir.join("sub/matrix.toml").is_file());
    assert!(out.contains("EDIT before the first build"), "{out}");
    assert!(out.contains("matrix -c sub/matrix.toml plan"), "{out}");
    assert_eq!(
        std::fs::read_to_string(p.dir.join("sub/.gitignore")).unwrap(),
        "dist/\n"
    );
    p.commit();
    let (code, _, err) = run(&mut p.matrix(&["-c", "sub/matrix.toml", "plan", "--snapshot"]));
    assert_eq!(code, 0, "an EDIT file still plans: {err}");
}
