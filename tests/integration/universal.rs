//! Universal macOS binaries: hello-go's darwin builds (Go cross-compiles
//! darwin without a C toolchain) joined by matrix's fat Mach-O writer and
//! read back by the real tools: llvm-lipo (Debian's `llvm` package names it
//! `llvm-lipo-<version>`) and file(1).

use std::path::{Path, PathBuf};
use std::process::Command;

use matrix::package::macho_fat::{self, DEFAULT_CAP};

use crate::support::{require, run, which};

const LIPO_HINT: &str = "sudo apt-get install -y --no-install-recommends llvm";

/// llvm-lipo under any of the names Debian gives it, or `None` (a skip on
/// a dev machine, a failure in CI).
fn lipo() -> Option<PathBuf> {
    if let Some(found) = which("llvm-lipo") {
        return Some(found);
    }
    // Debian's `llvm` installs llvm-config, whose bindir holds the
    // unversioned llvm-lipo whatever the LLVM version.
    let bindir = Command::new("llvm-config").arg("--bindir").output();
    if let Ok(out) = bindir
        && out.status.success()
    {
        let found = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("llvm-lipo");
        if found.is_file() {
            return Some(found);
        }
    }
    require("llvm-config", LIPO_HINT);
    None
}

/// hello-go built for darwin/`arch` into `dir`.
fn go_darwin(dir: &Path, arch: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello-go");
    let out = dir.join(format!("hello-{arch}"));
    let (code, _, err) = run(Command::new("go")
        .args([
            "build",
            "-trimpath",
            "-buildvcs=false",
            "-ldflags=-s -w -buildid=",
            "-o",
        ])
        .arg(&out)
        .arg(".")
        .current_dir(&root)
        .env("GOOS", "darwin")
        .env("GOARCH", arch)
        .env("CGO_ENABLED", "0"));
    assert_eq!(code, 0, "go build darwin/{arch}: {err}");
    out
}

fn tool(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("run tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn hello_go_darwin_builds_merge_into_a_universal_binary_lipo_reads() {
    if !require("go", "sudo apt-get install -y golang-go")
        || !require("file", "sudo apt-get install -y file")
    {
        return;
    }
    let Some(lipo) = lipo() else { return };
    let dir = tempfile::tempdir().unwrap();
    let amd64 = go_darwin(dir.path(), "amd64");
    let arm64 = go_darwin(dir.path(), "arm64");
    let x = macho_fat::read_thin(&amd64, DEFAULT_CAP).unwrap();
    let a = macho_fat::read_thin(&arm64, DEFAULT_CAP).unwrap();
    let fat = macho_fat::write_fat(&[a.clone(), x.clone()]).unwrap();
    // Two writes, either input order: the same bytes.
    assert_eq!(fat, macho_fat::write_fat(&[x.clone(), a.clone()]).unwrap());
    let universal = dir.path().join("hello-universal");
    std::fs::write(&universal, &fat).unwrap();

    let info = String::from_utf8(tool(Command::new(&lipo).arg("-info").arg(&universal))).unwrap();
    assert!(info.contains("are: x86_64 arm64"), "{info}");
    let desc = String::from_utf8(tool(Command::new("file").arg("-b").arg(&universal))).unwrap();
    assert!(
        desc.starts_with("Mach-O universal binary with 2 architectures"),
        "{desc}"
    );
    for (arch, thin) in [("x86_64", &amd64), ("arm64", &arm64)] {
        let out = dir.path().join(format!("thin-{arch}"));
        tool(
            Command::new(&lipo)
                .arg(&universal)
                .args(["-thin", arch, "-output"])
                .arg(&out),
        );
        assert_eq!(
            std::fs::read(&out).unwrap(),
            std::fs::read(thin).unwrap(),
            "the {arch} slice differs from its thin binary"
        );
    }
    // Byte for byte what llvm-lipo -create writes.
    let created = dir.path().join("lipo-created");
    tool(
        Command::new(&lipo)
            .arg("-create")
            .arg(&amd64)
            .arg(&arm64)
            .arg("-output")
            .arg(&created),
    );
    assert!(
        std::fs::read(&created).unwrap() == fat,
        "differs from llvm-lipo -create"
    );

    // Not Mach-O, same arch: clear errors naming the inputs.
    let err = macho_fat::write_fat(&[x.clone(), x])
        .unwrap_err()
        .to_string();
    assert!(err.contains("are both x86_64"), "{err}");
    let err = macho_fat::read_thin(&universal, DEFAULT_CAP)
        .unwrap_err()
        .to_string();
    assert!(err.contains("already a universal binary"), "{err}");
    let elf = dir.path().join("elf");
    std::fs::write(&elf, b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0").unwrap();
    let err = macho_fat::read_thin(&elf, DEFAULT_CAP)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is not a thin Mach-O file (magic 0x7f454c46)"),
        "{err}"
    );
}
