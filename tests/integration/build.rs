//! `matrix build` end to end with tiny shell builds: archives, checksums,
//! manifest, logs, reproducibility. (The Go example is in `go.rs`.)

use std::path::Path;
use std::process::Command;

use crate::support::{Project, WRITE_BINARY, require, run, script_config};

const AXES: &str = "os = [\"linux\", \"windows\"]\narch = [\"amd64\", \"arm64\"]";

fn tool_output(program: &str, args: &[&str], dir: &Path) -> String {
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

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn builds_archives_checksums_and_manifest() {
    let p = Project::with_config(&script_config(AXES, WRITE_BINARY));
    let (code, out, err) = run(&mut p.matrix(&["build", "-j", "2"]));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let dist = p.dist();
    assert_eq!(
        names_in(&dist),
        [
            "build",
            "hello_1.2.3_checksums.txt",
            "hello_1.2.3_linux_amd64.tar.gz",
            "hello_1.2.3_linux_arm64.tar.gz",
            "hello_1.2.3_windows_amd64.zip",
            "hello_1.2.3_windows_arm64.zip",
            "logs",
            "manifest.json",
        ]
    );
    // The summary lists every target in plan order.
    let rows: Vec<&str> = out
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        rows,
        [
            "linux/amd64",
            "linux/arm64",
            "windows/amd64",
            "windows/arm64",
            "(checksums)",
            "(manifest)"
        ]
    );
    assert!(
        out.lines()
            .skip(1)
            .take_while(|l| !l.is_empty())
            .all(|l| l.split_whitespace().nth(1) == Some("ok")),
        "{out}"
    );

    if require("sha256sum", "apt-get install coreutils") {
        let check = tool_output(
            "sha256sum",
            &["--check", "--strict", "hello_1.2.3_checksums.txt"],
            &dist,
        );
        assert_eq!(check.lines().count(), 4, "{check}");
    }
    let sums = std::fs::read_to_string(dist.join("hello_1.2.3_checksums.txt")).unwrap();
    let names: Vec<&str> = sums
        .lines()
        .map(|l| l.split("  ").nth(1).unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "checksums are sorted by file name");

    if require("tar", "apt-get install tar") {
        let listing = tool_output(
            "tar",
            &["--numeric-owner", "-tvzf", "hello_1.2.3_linux_arm64.tar.gz"],
            &dist,
        );
        let entries: Vec<(String, String, String)> = listing
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (
                    f[0].to_string(),
                    f[1].to_string(),
                    f[f.len() - 1].to_string(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("-rw-r--r--".into(), "0/0".into(), "LICENSE".into()),
                ("-rw-r--r--".into(), "0/0".into(), "README.md".into()),
                ("-rwxr-xr-x".into(), "0/0".into(), "hello".into()),
            ]
        );
        // Fixed mtime: the commit time (2026-01-02 03:04:05 UTC).
        assert!(listing.contains("2026-01-02"), "{listing}");
    }
    if require("unzip", "apt-get install unzip") {
        let listing = tool_output("unzip", &["-Z1", "hello_1.2.3_windows_amd64.zip"], &dist);
        assert_eq!(
            listing.lines().collect::<Vec<_>>(),
            ["LICENSE", "README.md", "hello.exe"]
        );
    }

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dist.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "matrix-manifest");
    assert_eq!(manifest["version"], "1.2.3");
    assert_eq!(manifest["tag"], "v1.2.3");
    assert_eq!(manifest["commit"], p.git(&["rev-parse", "HEAD"]).trim());
    let artifacts = manifest["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 5);
    for a in artifacts {
        let path = dist.join(a["path"].as_str().unwrap());
        assert_eq!(
            a["size"].as_u64().unwrap(),
            std::fs::metadata(&path).unwrap().len()
        );
        assert!(a["digest"].as_str().unwrap().starts_with("sha256:"));
    }
    let zip = artifacts
        .iter()
        .find(|a| a["name"] == "hello_1.2.3_windows_amd64.zip")
        .unwrap();
    assert_eq!(zip["kind"], "archive");
    assert_eq!(zip["format"], "zip");
    assert_eq!(zip["target"], "windows/amd64");
    let jobs = manifest["jobs"].as_array().unwrap();
    assert_eq!(
        jobs.len(),
        4 * 2 + 1,
        "every job before the manifest itself"
    );
    assert!(jobs.iter().all(|j| j["status"] == "ok"));
    assert!(dist.join("logs/build-linux-amd64.log").is_file());
    // Nothing half-written is left behind.
    assert!(names_in(&dist).iter().all(|n| !n.starts_with('.')));
}

#[test]
fn same_commit_gives_identical_bytes() {
    let p = Project::with_config(&script_config(AXES, WRITE_BINARY));
    let (code, _, err) = run(&mut p.matrix(&["build", "-q"]));
    assert_eq!(code, 0, "{err}");
    let first = std::fs::read(p.dist().join("hello_1.2.3_checksums.txt")).unwrap();
    // Different file modes and mtimes in the sources must not matter.
    std::fs::write(p.dir.join("LICENSE"), "MIT License\n").unwrap();
    let (code, _, err) = run(p
        .matrix(&["build", "--clean", "-j", "1"])
        .env("TZ", "Asia/Tokyo"));
    assert_eq!(code, 0, "{err}");
    let second = std::fs::read(p.dist().join("hello_1.2.3_checksums.txt")).unwrap();
    assert_eq!(
        String::from_utf8(first).unwrap(),
        String::from_utf8(second).unwrap()
    );
}

#[test]
fn archive_formats_wrap_and_sha512() {
    let config = script_config(AXES, WRITE_BINARY)
        .replace(
            "format-overrides = [ { when = { os = \"windows\" }, format = \"zip\" } ]",
            "format = \"tar.xz\"\nwrap-in-directory = true\nformat-overrides = [\n  { when = { arch = \"arm64\" }, format = \"tar.zst\" },\n  { when = { os = \"windows\", arch = \"amd64\" }, format = \"binary\" },\n]",
        )
        .replace("files = [\"LICENSE\", \"README.md\"]", "files = [\"LICENSE\", { src = \"docs/*.md\", dst = \"doc\" }]")
        + "\n[checksum]\nalgorithm = \"sha512\"\n";
    let p = Project::with_config(&config);
    p.file("docs/usage.md", "usage\n");
    p.file("docs/faq.md", "faq\n");
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let dist = p.dist();
    let names = names_in(&dist);
    for want in [
        "hello_1.2.3_linux_amd64.tar.xz",
        "hello_1.2.3_linux_arm64.tar.zst",
        "hello_1.2.3_windows_amd64.exe",
        "hello_1.2.3_windows_arm64.tar.zst",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    if require("sha512sum", "apt-get install coreutils") {
        tool_output(
            "sha512sum",
            &["--check", "--strict", "hello_1.2.3_checksums.txt"],
            &dist,
        );
    }
    if require("tar", "apt-get install tar") && require("xz", "apt-get install xz-utils") {
        let listing = tool_output("tar", &["-tJf", "hello_1.2.3_linux_amd64.tar.xz"], &dist);
        assert_eq!(
            listing.lines().collect::<Vec<_>>(),
            [
                "hello_1.2.3_linux_amd64/",
                "hello_1.2.3_linux_amd64/LICENSE",
                "hello_1.2.3_linux_amd64/doc/",
                "hello_1.2.3_linux_amd64/doc/faq.md",
                "hello_1.2.3_linux_amd64/doc/usage.md",
                "hello_1.2.3_linux_amd64/hello",
            ]
        );
    }
    if require("zstd", "apt-get install zstd") {
        let listing = tool_output(
            "tar",
            &["--zstd", "-tf", "hello_1.2.3_linux_arm64.tar.zst"],
            &dist,
        );
        assert!(
            listing.contains("hello_1.2.3_linux_arm64/hello"),
            "{listing}"
        );
    }
    let exe = std::fs::read_to_string(dist.join("hello_1.2.3_windows_amd64.exe")).unwrap();
    assert!(exe.contains("echo hello windows/amd64"));
}

#[test]
fn missing_file_glob_fails_the_archive_job() {
    let config = script_config(AXES, WRITE_BINARY).replace("\"README.md\"]", "\"CHANGES.md\"]");
    let p = Project::with_config(&config);
    let (code, _, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("CHANGES.md"), "{err}");
    assert!(!p.dist().join("manifest.json").exists());
    assert!(!p.dist().join("hello_1.2.3_checksums.txt").exists());
}
