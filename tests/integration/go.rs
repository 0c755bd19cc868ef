//! The real thing: examples/hello-go cross-compiled with Go for the whole
//! Glide table (16 targets), packaged, checked with the system's tools, and
//! rebuilt to prove the release is reproducible.

use std::path::Path;
use std::process::Command;

use crate::support::{Project, require, run};

const TARGETS: [&str; 16] = [
    "darwin/amd64",
    "darwin/arm64",
    "linux/amd64",
    "linux/arm64",
    "linux/386",
    "linux/ppc64le",
    "linux/s390x",
    "linux/riscv64",
    "freebsd/amd64",
    "freebsd/arm64",
    "freebsd/386",
    "openbsd/amd64",
    "openbsd/arm64",
    "openbsd/386",
    "windows/amd64",
    "windows/386",
];

/// A git repository holding a copy of examples/hello-go, tagged v1.2.3.
fn example() -> Project {
    let p = Project::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello-go");
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), p.dir.join(entry.file_name())).unwrap();
        }
    }
    p.commit();
    p.git(&["tag", "v1.2.3"]);
    p
}

fn stdout_of(program: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .expect(program);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn hello_go_full_table() {
    if !require("go", "apt-get install golang-go") {
        return;
    }
    let p = example();
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let dist = p.dist();

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dist.join("manifest.json")).unwrap()).unwrap();
    let ids: Vec<&str> = manifest["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, TARGETS);

    let sums = "hello_1.2.3_checksums.txt";
    let checked = stdout_of("sha256sum", &["--check", "--strict", sums], &dist);
    // 16 archives, plus the channel files and notes the example renders.
    assert_eq!(
        checked
            .lines()
            .filter(|l| l.starts_with("hello_1.2.3_") && l.ends_with(": OK"))
            .count(),
        16,
        "{checked}"
    );
    assert!(checked.lines().all(|l| l.ends_with(": OK")), "{checked}");

    for id in TARGETS {
        let (os, arch) = id.split_once('/').unwrap();
        let base = format!("hello_1.2.3_{os}_{arch}");
        let listing = if os == "windows" {
            stdout_of("unzip", &["-Z1", &format!("{base}.zip")], &dist)
        } else {
            stdout_of("tar", &["-tzf", &format!("{base}.tar.gz")], &dist)
        };
        let bin = if os == "windows" {
            "hello.exe"
        } else {
            "hello"
        };
        assert_eq!(
            listing.lines().collect::<Vec<_>>(),
            ["LICENSE", "README.md", bin],
            "{id}"
        );
    }

    // The host binary runs and carries the release version.
    let host = dist.join("build/linux-amd64/hello");
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        let out = stdout_of(host.to_str().unwrap(), &["--version"], &dist);
        assert_eq!(out.trim(), "1.2.3");
    }

    // Rebuild from scratch: byte-identical archives.
    let first = std::fs::read_to_string(dist.join(sums)).unwrap();
    let (code, _, err) = run(&mut p.matrix(&["build", "--clean", "-q"]));
    assert_eq!(code, 0, "{err}");
    let second = std::fs::read_to_string(dist.join(sums)).unwrap();
    assert_eq!(
        first, second,
        "a second build must give identical checksums"
    );
}
