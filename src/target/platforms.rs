//! One row per platform matrix can name: how each ecosystem spells it, which
//! toolchain builds it, and what its executables look like.
//!
//! Sources of the spellings: Go's `go tool dist list`, Rust's platform support
//! list, Debian's architecture and cross-compiler package names, the OCI
//! image-spec platform list, snapcraft's architectures, Homebrew's
//! `on_intel`/`on_arm`, Chocolatey's 32/64-bit URLs, zig's `-target` triples,
//! qemu-user's binary names. Each row is checked by a unit test.

use serde::Serialize;

use super::{Endian, ExeFormat, Machine};

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Platform {
    pub os: &'static str,
    pub arch: &'static str,
    /// `v7`/`v6` for 32-bit ARM; `None` elsewhere.
    pub variant: Option<&'static str>,
    pub goos: &'static str,
    pub goarch: &'static str,
    pub goarm: Option<&'static str>,
    /// Rust triples, the glibc/default one first, then musl where it exists.
    pub rust: &'static [&'static str],
    /// GNU cross compiler prefix (`aarch64-linux-gnu-`), with `gcc` appended
    /// it names the compiler.
    pub gnu_prefix: Option<&'static str>,
    /// Debian packages that provide the GNU cross compiler and its libc.
    pub gnu_packages: &'static [&'static str],
    /// `zig cc -target` value.
    pub zig: Option<&'static str>,
    pub debian_arch: Option<&'static str>,
    /// OCI platform, `os/arch[/variant]`.
    pub docker_platform: Option<&'static str>,
    pub snap_arch: Option<&'static str>,
    /// Homebrew `on_intel` / `on_arm`.
    pub homebrew_cpu: Option<&'static str>,
    /// Chocolatey `url` (32) or `url64bit` (64).
    pub choco_bitness: Option<u8>,
    pub format: ExeFormat,
    pub machine: Machine,
    pub bits: u8,
    pub endian: Endian,
    /// qemu-user emulator suffix: `qemu-<this>-static` runs the binary.
    pub qemu: Option<&'static str>,
    pub exe_suffix: &'static str,
}

impl Platform {
    /// `linux/arm64`, or `linux/arm/v7` with a variant.
    pub fn name(&self) -> String {
        match self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.arch),
            None => format!("{}/{}", self.os, self.arch),
        }
    }

    pub fn rust_gnu(&self) -> Option<&'static str> {
        self.rust.iter().copied().find(|t| !t.contains("musl"))
    }

    pub fn rust_musl(&self) -> Option<&'static str> {
        self.rust.iter().copied().find(|t| t.contains("musl"))
    }

    /// zig's musl target for a Linux platform (`aarch64-linux-musl`).
    pub fn zig_musl(&self) -> Option<String> {
        let zig = self.zig?;
        let (base, abi) = zig.rsplit_once('-')?;
        (self.os == "linux").then(|| format!("{base}-{}", abi.replacen("gnu", "musl", 1)))
    }
}

/// A row with everything unset but the identity; rows fill in the rest.
const fn base(
    os: &'static str,
    arch: &'static str,
    format: ExeFormat,
    machine: Machine,
    bits: u8,
) -> Platform {
    Platform {
        os,
        arch,
        variant: None,
        goos: os,
        goarch: arch,
        goarm: None,
        rust: &[],
        gnu_prefix: None,
        gnu_packages: &[],
        zig: None,
        debian_arch: None,
        docker_platform: None,
        snap_arch: None,
        homebrew_cpu: None,
        choco_bitness: None,
        format,
        machine,
        bits,
        endian: Endian::Little,
        qemu: None,
        exe_suffix: "",
    }
}

use Endian::Big;
use ExeFormat::{Elf, MachO, Pe};
use Machine::*;

pub const PLATFORMS: &[Platform] = &[
    // Linux: Debian's cross compilers, qemu-user, Docker and Snap all apply.
    Platform {
        rust: &["x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl"],
        gnu_prefix: Some("x86_64-linux-gnu-"),
        gnu_packages: &["gcc-x86-64-linux-gnu", "libc6-dev-amd64-cross"],
        zig: Some("x86_64-linux-gnu"),
        debian_arch: Some("amd64"),
        docker_platform: Some("linux/amd64"),
        snap_arch: Some("amd64"),
        homebrew_cpu: Some("intel"),
        qemu: Some("x86_64"),
        ..base("linux", "amd64", Elf, X86_64, 64)
    },
    Platform {
        rust: &["aarch64-unknown-linux-gnu", "aarch64-unknown-linux-musl"],
        gnu_prefix: Some("aarch64-linux-gnu-"),
        gnu_packages: &["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"],
        zig: Some("aarch64-linux-gnu"),
        debian_arch: Some("arm64"),
        docker_platform: Some("linux/arm64/v8"),
        snap_arch: Some("arm64"),
        homebrew_cpu: Some("arm"),
        qemu: Some("aarch64"),
        ..base("linux", "arm64", Elf, Aarch64, 64)
    },
    Platform {
        rust: &["i686-unknown-linux-gnu", "i686-unknown-linux-musl"],
        gnu_prefix: Some("i686-linux-gnu-"),
        gnu_packages: &["gcc-i686-linux-gnu", "libc6-dev-i386-cross"],
        zig: Some("x86-linux-gnu"),
        debian_arch: Some("i386"),
        docker_platform: Some("linux/386"),
        snap_arch: Some("i386"),
        qemu: Some("i386"),
        ..base("linux", "386", Elf, X86, 32)
    },
    Platform {
        variant: Some("v7"),
        goarm: Some("7"),
        rust: &[
            "armv7-unknown-linux-gnueabihf",
            "armv7-unknown-linux-musleabihf",
        ],
        gnu_prefix: Some("arm-linux-gnueabihf-"),
        gnu_packages: &["gcc-arm-linux-gnueabihf", "libc6-dev-armhf-cross"],
        zig: Some("arm-linux-gnueabihf"),
        debian_arch: Some("armhf"),
        docker_platform: Some("linux/arm/v7"),
        snap_arch: Some("armhf"),
        qemu: Some("arm"),
        ..base("linux", "arm", Elf, Arm, 32)
    },
    Platform {
        variant: Some("v6"),
        goarm: Some("6"),
        rust: &[
            "arm-unknown-linux-gnueabihf",
            "arm-unknown-linux-musleabihf",
        ],
        zig: Some("arm-linux-musleabihf"),
        docker_platform: Some("linux/arm/v6"),
        qemu: Some("arm"),
        ..base("linux", "arm", Elf, Arm, 32)
    },
    Platform {
        rust: &[
            "powerpc64le-unknown-linux-gnu",
            "powerpc64le-unknown-linux-musl",
        ],
        gnu_prefix: Some("powerpc64le-linux-gnu-"),
        gnu_packages: &["gcc-powerpc64le-linux-gnu", "libc6-dev-ppc64el-cross"],
        zig: Some("powerpc64le-linux-gnu"),
        debian_arch: Some("ppc64el"),
        docker_platform: Some("linux/ppc64le"),
        snap_arch: Some("ppc64el"),
        qemu: Some("ppc64le"),
        ..base("linux", "ppc64le", Elf, PowerPc64, 64)
    },
    Platform {
        rust: &["s390x-unknown-linux-gnu", "s390x-unknown-linux-musl"],
        gnu_prefix: Some("s390x-linux-gnu-"),
        gnu_packages: &["gcc-s390x-linux-gnu", "libc6-dev-s390x-cross"],
        zig: Some("s390x-linux-gnu"),
        debian_arch: Some("s390x"),
        docker_platform: Some("linux/s390x"),
        snap_arch: Some("s390x"),
        endian: Big,
        qemu: Some("s390x"),
        ..base("linux", "s390x", Elf, S390x, 64)
    },
    Platform {
        rust: &[
            "riscv64gc-unknown-linux-gnu",
            "riscv64gc-unknown-linux-musl",
        ],
        gnu_prefix: Some("riscv64-linux-gnu-"),
        gnu_packages: &["gcc-riscv64-linux-gnu", "libc6-dev-riscv64-cross"],
        zig: Some("riscv64-linux-gnu"),
        debian_arch: Some("riscv64"),
        docker_platform: Some("linux/riscv64"),
        snap_arch: Some("riscv64"),
        qemu: Some("riscv64"),
        ..base("linux", "riscv64", Elf, RiscV64, 64)
    },
    Platform {
        rust: &[
            "loongarch64-unknown-linux-gnu",
            "loongarch64-unknown-linux-musl",
        ],
        zig: Some("loongarch64-linux-gnu"),
        debian_arch: Some("loong64"),
        docker_platform: Some("linux/loong64"),
        qemu: Some("loongarch64"),
        ..base("linux", "loong64", Elf, LoongArch64, 64)
    },
    // macOS: zig (or Apple's own toolchain) links Mach-O.
    Platform {
        rust: &["x86_64-apple-darwin"],
        zig: Some("x86_64-macos"),
        homebrew_cpu: Some("intel"),
        ..base("darwin", "amd64", MachO, X86_64, 64)
    },
    Platform {
        rust: &["aarch64-apple-darwin"],
        zig: Some("aarch64-macos"),
        homebrew_cpu: Some("arm"),
        ..base("darwin", "arm64", MachO, Aarch64, 64)
    },
    // Windows: mingw-w64 from Debian for x86, zig for arm64.
    Platform {
        rust: &["x86_64-pc-windows-gnu", "x86_64-pc-windows-msvc"],
        gnu_prefix: Some("x86_64-w64-mingw32-"),
        gnu_packages: &["gcc-mingw-w64-x86-64-win32"],
        zig: Some("x86_64-windows-gnu"),
        docker_platform: Some("windows/amd64"),
        choco_bitness: Some(64),
        exe_suffix: ".exe",
        ..base("windows", "amd64", Pe, X86_64, 64)
    },
    Platform {
        rust: &["i686-pc-windows-gnu", "i686-pc-windows-msvc"],
        gnu_prefix: Some("i686-w64-mingw32-"),
        gnu_packages: &["gcc-mingw-w64-i686-win32"],
        zig: Some("x86-windows-gnu"),
        choco_bitness: Some(32),
        exe_suffix: ".exe",
        ..base("windows", "386", Pe, X86, 32)
    },
    Platform {
        rust: &["aarch64-pc-windows-msvc", "aarch64-pc-windows-gnullvm"],
        zig: Some("aarch64-windows-gnu"),
        docker_platform: Some("windows/arm64"),
        // Chocolatey's install helpers pick a 32- or 64-bit x86 download;
        // an arm64 build has no place there.
        exe_suffix: ".exe",
        ..base("windows", "arm64", Pe, Aarch64, 64)
    },
    // BSDs: Go and Rust cross-build them; no Debian cross compiler does.
    Platform {
        rust: &["x86_64-unknown-freebsd"],
        ..base("freebsd", "amd64", Elf, X86_64, 64)
    },
    Platform {
        rust: &["aarch64-unknown-freebsd"],
        ..base("freebsd", "arm64", Elf, Aarch64, 64)
    },
    Platform {
        rust: &["i686-unknown-freebsd"],
        ..base("freebsd", "386", Elf, X86, 32)
    },
    Platform {
        rust: &["x86_64-unknown-openbsd"],
        ..base("openbsd", "amd64", Elf, X86_64, 64)
    },
    Platform {
        rust: &["aarch64-unknown-openbsd"],
        ..base("openbsd", "arm64", Elf, Aarch64, 64)
    },
    Platform {
        rust: &["i686-unknown-openbsd"],
        ..base("openbsd", "386", Elf, X86, 32)
    },
    Platform {
        rust: &["x86_64-unknown-netbsd"],
        ..base("netbsd", "amd64", Elf, X86_64, 64)
    },
    Platform {
        rust: &["aarch64-unknown-netbsd"],
        ..base("netbsd", "arm64", Elf, Aarch64, 64)
    },
];

#[cfg(test)]
mod tests;
