//! Tests of `platforms`.

use super::super::{find_arch, find_os, platform};
use super::*;

/// Every row, spelled out: (name, goos/goarch/goarm, rust gnu, rust musl,
/// gnu prefix, zig, debian, docker, snap, brew, choco, format, machine, bits).
#[test]
fn every_row() {
    // Two halves: Rust compares and prints tuples of up to 12 fields.
    type Names = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );
    type Facts = (
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<u8>,
        ExeFormat,
        Machine,
        u8,
    );
    type Row = (Names, Facts);
    let rows: Vec<Row> = vec![
        (
            (
                "linux/amd64",
                "linux/amd64",
                Some("x86_64-unknown-linux-gnu"),
                Some("x86_64-unknown-linux-musl"),
                Some("x86_64-linux-gnu-"),
                Some("x86_64-linux-gnu"),
                Some("amd64"),
            ),
            (
                Some("linux/amd64"),
                Some("amd64"),
                Some("intel"),
                None,
                Elf,
                X86_64,
                64,
            ),
        ),
        (
            (
                "linux/arm64",
                "linux/arm64",
                Some("aarch64-unknown-linux-gnu"),
                Some("aarch64-unknown-linux-musl"),
                Some("aarch64-linux-gnu-"),
                Some("aarch64-linux-gnu"),
                Some("arm64"),
            ),
            (
                Some("linux/arm64/v8"),
                Some("arm64"),
                Some("arm"),
                None,
                Elf,
                Aarch64,
                64,
            ),
        ),
        (
            (
                "linux/386",
                "linux/386",
                Some("i686-unknown-linux-gnu"),
                Some("i686-unknown-linux-musl"),
                Some("i686-linux-gnu-"),
                Some("x86-linux-gnu"),
                Some("i386"),
            ),
            (Some("linux/386"), Some("i386"), None, None, Elf, X86, 32),
        ),
        (
            (
                "linux/arm/v7",
                "linux/arm/7",
                Some("armv7-unknown-linux-gnueabihf"),
                Some("armv7-unknown-linux-musleabihf"),
                Some("arm-linux-gnueabihf-"),
                Some("arm-linux-gnueabihf"),
                Some("armhf"),
            ),
            (
                Some("linux/arm/v7"),
                Some("armhf"),
                None,
                None,
                Elf,
                Arm,
                32,
            ),
        ),
        (
            (
                "linux/arm/v6",
                "linux/arm/6",
                Some("arm-unknown-linux-gnueabihf"),
                Some("arm-unknown-linux-musleabihf"),
                None,
                Some("arm-linux-musleabihf"),
                None,
            ),
            (Some("linux/arm/v6"), None, None, None, Elf, Arm, 32),
        ),
        (
            (
                "linux/ppc64le",
                "linux/ppc64le",
                Some("powerpc64le-unknown-linux-gnu"),
                Some("powerpc64le-unknown-linux-musl"),
                Some("powerpc64le-linux-gnu-"),
                Some("powerpc64le-linux-gnu"),
                Some("ppc64el"),
            ),
            (
                Some("linux/ppc64le"),
                Some("ppc64el"),
                None,
                None,
                Elf,
                PowerPc64,
                64,
            ),
        ),
        (
            (
                "linux/s390x",
                "linux/s390x",
                Some("s390x-unknown-linux-gnu"),
                Some("s390x-unknown-linux-musl"),
                Some("s390x-linux-gnu-"),
                Some("s390x-linux-gnu"),
                Some("s390x"),
            ),
            (
                Some("linux/s390x"),
                Some("s390x"),
                None,
                None,
                Elf,
                S390x,
                64,
            ),
        ),
        (
            (
                "linux/riscv64",
                "linux/riscv64",
                Some("riscv64gc-unknown-linux-gnu"),
                Some("riscv64gc-unknown-linux-musl"),
                Some("riscv64-linux-gnu-"),
                Some("riscv64-linux-gnu"),
                Some("riscv64"),
            ),
            (
                Some("linux/riscv64"),
                Some("riscv64"),
                None,
                None,
                Elf,
                RiscV64,
                64,
            ),
        ),
        (
            (
                "linux/loong64",
                "linux/loong64",
                Some("loongarch64-unknown-linux-gnu"),
                Some("loongarch64-unknown-linux-musl"),
                None,
                Some("loongarch64-linux-gnu"),
                Some("loong64"),
            ),
            (
                Some("linux/loong64"),
                None,
                None,
                None,
                Elf,
                LoongArch64,
                64,
            ),
        ),
        (
            (
                "darwin/amd64",
                "darwin/amd64",
                Some("x86_64-apple-darwin"),
                None,
                None,
                Some("x86_64-macos"),
                None,
            ),
            (None, None, Some("intel"), None, MachO, X86_64, 64),
        ),
        (
            (
                "darwin/arm64",
                "darwin/arm64",
                Some("aarch64-apple-darwin"),
                None,
                None,
                Some("aarch64-macos"),
                None,
            ),
            (None, None, Some("arm"), None, MachO, Aarch64, 64),
        ),
        (
            (
                "windows/amd64",
                "windows/amd64",
                Some("x86_64-pc-windows-gnu"),
                None,
                Some("x86_64-w64-mingw32-"),
                Some("x86_64-windows-gnu"),
                None,
            ),
            (Some("windows/amd64"), None, None, Some(64), Pe, X86_64, 64),
        ),
        (
            (
                "windows/386",
                "windows/386",
                Some("i686-pc-windows-gnu"),
                None,
                Some("i686-w64-mingw32-"),
                Some("x86-windows-gnu"),
                None,
            ),
            (None, None, None, Some(32), Pe, X86, 32),
        ),
        (
            (
                "windows/arm64",
                "windows/arm64",
                Some("aarch64-pc-windows-msvc"),
                None,
                None,
                Some("aarch64-windows-gnu"),
                None,
            ),
            (Some("windows/arm64"), None, None, None, Pe, Aarch64, 64),
        ),
        (
            (
                "freebsd/amd64",
                "freebsd/amd64",
                Some("x86_64-unknown-freebsd"),
                None,
                None,
                None,
                None,
            ),
            (None, None, None, None, Elf, X86_64, 64),
        ),
        (
            (
                "freebsd/arm64",
                "freebsd/arm64",
                Some("aarch64-unknown-freebsd"),
                None,
                None,
                None,
                None,
            ),
            (None, None, None, None, Elf, Aarch64, 64),
        ),
        (
            (
                "freebsd/386",
                "freebsd/386",
                Some("i686-unknown-freebsd"),
                None,
                None,
                None,
                None,
            ),
            (None, None, None, None, Elf, X86, 32),
        ),
        (
            (
                "openbsd/amd64",
                "openbsd/amd64",
                Some("x86_64-unknown-openbsd"),
                None,
                None,
                None,
                None,
            ),
            (None, None, None, None, Elf, X86_64, 64),
        ),
        (
            (
                "openbsd/arm64",
                "openbsd/arm64",
                Some("aarch64-unknown-openbsd"),
                None,
                None,
                None,
                None,
            ),
            (None, None, None, None, Elf, Aarch64, 64),
        ),
        (
            (
                "openbsd/386",
                "openbsd/386",
                Some("i686-unknown-openbsd"),
                None,
                None,
                None,
                None,
            ),
            (None, None, None, None, Elf, X86, 32),
        ),
        (
            (
                "netbsd/amd64",
                "netbsd/amd64",
                Some("x86_64-unknown-netbsd"),
                None,
                None,
                None,
                None,
            ),
            (None, None, None, None, Elf, X86_64, 64),
        ),
        (
            (
                "netbsd/arm64",
                "netbsd/arm64",
                Some("aarch64-unknown-netbsd"),
                None,
                None,
                None,
                None,
            ),
            (None, None, None, None, Elf, Aarch64, 64),
        ),
    ];
    assert_eq!(
        rows.len(),
        PLATFORMS.len(),
        "a row without a test, or a test without a row"
    );
    for (row, p) in rows.iter().zip(PLATFORMS) {
        let go = match p.goarm {
            Some(arm) => format!("{}/{}/{arm}", p.goos, p.goarch),
            None => format!("{}/{}", p.goos, p.goarch),
        };
        assert_eq!(go, row.0.1, "{}", row.0.0);
        let names: Names = (
            row.0.0,
            row.0.1,
            p.rust_gnu(),
            p.rust_musl(),
            p.gnu_prefix,
            p.zig,
            p.debian_arch,
        );
        let facts: Facts = (
            p.docker_platform,
            p.snap_arch,
            p.homebrew_cpu,
            p.choco_bitness,
            p.format,
            p.machine,
            p.bits,
        );
        assert_eq!(p.name(), row.0.0);
        assert_eq!((names, facts), *row, "{}", row.0.0);
    }
}

#[test]
fn rows_use_known_names_and_consistent_facts() {
    for p in PLATFORMS {
        assert!(find_os(p.os).is_some(), "{}", p.name());
        assert!(find_arch(p.arch).is_some(), "{}", p.name());
        assert_eq!(
            find_arch(p.arch).map(|a| a.bits),
            Some(p.bits),
            "{}",
            p.name()
        );
        assert_eq!(
            p.exe_suffix,
            super::super::exe_suffix(Some(p.os)),
            "{}",
            p.name()
        );
        // A GNU prefix always comes with the packages that provide it.
        assert_eq!(
            p.gnu_prefix.is_some(),
            !p.gnu_packages.is_empty(),
            "{}",
            p.name()
        );
        assert_eq!(p.format == ExeFormat::Pe, p.os == "windows", "{}", p.name());
        assert_eq!(
            p.format == ExeFormat::MachO,
            p.os == "darwin",
            "{}",
            p.name()
        );
        if let Some(docker) = p.docker_platform {
            assert!(docker.starts_with(&format!("{}/", p.os)), "{}", p.name());
        }
    }
}

#[test]
fn zig_musl_targets() {
    let musl = |os, arch| platform(os, arch, None).and_then(Platform::zig_musl);
    assert_eq!(musl("linux", "amd64").as_deref(), Some("x86_64-linux-musl"));
    assert_eq!(
        musl("linux", "arm").as_deref(),
        Some("arm-linux-musleabihf")
    );
    assert_eq!(musl("darwin", "arm64"), None);
}

#[test]
fn lookup_defaults_to_the_first_variant() {
    assert_eq!(
        platform("linux", "arm", None).map(|p| p.variant),
        Some(Some("v7"))
    );
    assert_eq!(
        platform("linux", "arm", Some("v6")).map(|p| p.goarm),
        Some(Some("6"))
    );
    assert!(platform("linux", "arm", Some("v5")).is_none());
    assert!(platform("darwin", "386", None).is_none());
    assert_eq!(
        platform("linux", "s390x", None).map(|p| p.endian),
        Some(Endian::Big)
    );
}
