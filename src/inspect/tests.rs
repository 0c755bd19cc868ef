//! Real binaries: Go cross-builds for every OS family and gcc host builds.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;
use crate::target::platform;

/// Go is needed to make foreign binaries; in CI its absence is a failure.
fn have_go() -> bool {
    let found = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "go is required in CI: apt-get install golang-go (scripts/setup.sh)"
        );
        eprintln!("SKIP: go not installed (apt-get install golang-go)");
    }
    found
}

/// Builds a one-line Go program for `os/arch` (GOARM from `arm`).
fn go_binary(dir: &Path, os: &str, arch: &str, arm: Option<&str>) -> PathBuf {
    let src = dir.join("main.go");
    if !src.exists() {
        std::fs::write(&src, "package main\nfunc main() { println(\"hi\") }\n").unwrap();
        std::fs::write(dir.join("go.mod"), "module example.org/v\ngo 1.19\n").unwrap();
    }
    let out = dir.join(format!("{os}-{arch}"));
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    let mut cmd = Command::new("go");
    cmd.args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(dir)
        .env("GOOS", os)
        .env("GOARCH", arch)
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-buildvcs=false")
        .env("GOCACHE", format!("{home}/.cache/matrix-go-build"));
    if let Some(arm) = arm {
        cmd.env("GOARM", arm);
    }
    let status = cmd.status().unwrap();
    assert!(status.success(), "go build {os}/{arch}");
    out
}

fn expected(os: &str, arch: &str) -> (String, &'static crate::target::Platform) {
    (format!("{os}/{arch}"), platform(os, arch, None).unwrap())
}

fn check_as(found: &Inspected, os: &str, arch: &str) -> Result<(), VerifyError> {
    let (id, p) = expected(os, arch);
    check(
        found,
        &Expected {
            target: &id,
            os: p.os,
            format: p.format,
            machine: p.machine,
            bits: p.bits,
            endian: p.endian,
        },
    )
}

#[test]
fn go_binaries_are_what_they_say() {
    if !have_go() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // (os, arch, format, machine, bits, endian, declared os)
    let cases = [
        ("linux", "amd64", "elf", "x86-64", 64, "little", None),
        ("linux", "arm64", "elf", "aarch64", 64, "little", None),
        ("linux", "386", "elf", "x86", 32, "little", None),
        ("linux", "arm", "elf", "arm", 32, "little", None),
        ("linux", "ppc64le", "elf", "ppc64", 64, "little", None),
        ("linux", "s390x", "elf", "s390x", 64, "big", None),
        ("linux", "riscv64", "elf", "riscv64", 64, "little", None),
        (
            "freebsd",
            "amd64",
            "elf",
            "x86-64",
            64,
            "little",
            Some("freebsd"),
        ),
        (
            "openbsd",
            "arm64",
            "elf",
            "aarch64",
            64,
            "little",
            Some("openbsd"),
        ),
        (
            "darwin",
            "arm64",
            "mach-o",
            "aarch64",
            64,
            "little",
            Some("darwin"),
        ),
        (
            "darwin",
            "amd64",
            "mach-o",
            "x86-64",
            64,
            "little",
            Some("darwin"),
        ),
        (
            "windows",
            "amd64",
            "pe",
            "x86-64",
            64,
            "little",
            Some("windows"),
        ),
        ("windows", "386", "pe", "x86", 32, "little", Some("windows")),
    ];
    for (os, arch, format, machine, bits, endian, declared) in cases {
        let arm = (arch == "arm").then_some("7");
        let path = go_binary(dir.path(), os, arch, arm);
        let found = inspect(&path).unwrap();
        let got = (
            found.format.as_str(),
            found.machine.as_str(),
            found.bits,
            found.endian.as_str(),
            found.os.as_deref(),
        );
        assert_eq!(
            got,
            (format, machine, bits, endian, declared),
            "{os}/{arch}"
        );
        if format == "elf" && os == "linux" {
            assert_eq!(found.linkage.as_deref(), Some("static"), "{os}/{arch}");
        }
        assert_eq!(found.size, std::fs::metadata(&path).unwrap().len());
        check_as(&found, os, arch).unwrap_or_else(|e| panic!("{os}/{arch}: {e}"));
    }
}

#[test]
fn mismatches_are_reported() {
    if !have_go() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let amd64 = inspect(&go_binary(dir.path(), "linux", "amd64", None)).unwrap();
    let err = check_as(&amd64, "linux", "arm64").unwrap_err();
    assert_eq!(
        err.to_string(),
        "built linux/arm64 but the binary is x86-64 ELF (64-bit, little-endian) (expected aarch64 ELF (64-bit, little-endian))"
    );
    let freebsd = inspect(&go_binary(dir.path(), "freebsd", "amd64", None)).unwrap();
    let err = check_as(&freebsd, "linux", "amd64").unwrap_err();
    assert_eq!(
        err.to_string(),
        "built linux/amd64 but the binary is marked for freebsd, not linux"
    );
    // A Linux-style ELF is not a FreeBSD binary.
    let err = check_as(&amd64, "freebsd", "amd64").unwrap_err();
    assert!(err.to_string().contains("marked for no OS"), "{err}");
    let windows = inspect(&go_binary(dir.path(), "windows", "amd64", None)).unwrap();
    let err = check_as(&windows, "linux", "amd64").unwrap_err();
    assert!(err.to_string().contains("x86-64 PE"), "{err}");
}

#[test]
fn gcc_host_binaries_and_non_executables() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
    for (flags, linkage) in [(vec![], "dynamic"), (vec!["-static"], "static")] {
        let out = dir.path().join(format!("a-{linkage}"));
        let ok = Command::new("gcc")
            .args(&flags)
            .arg(&src)
            .arg("-o")
            .arg(&out)
            .status();
        if !ok.is_ok_and(|s| s.success()) {
            eprintln!("SKIP: gcc cannot build a {linkage} binary here");
            continue;
        }
        let found = inspect(&out).unwrap();
        assert_eq!(found.linkage.as_deref(), Some(linkage));
        if cfg!(target_arch = "x86_64") {
            check_as(&found, "linux", "amd64").unwrap();
        }
    }
    let script = dir.path().join("script.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    assert!(matches!(
        inspect(&script),
        Err(VerifyError::NotAnExecutable { .. })
    ));
    assert!(matches!(
        inspect(&dir.path().join("missing")),
        Err(VerifyError::Io { .. })
    ));
}
