//! The knowledge base of operating systems, architectures and platforms.
//!
//! Sits beside the flow: `plan` asks it whether an `os`/`arch` axis value is
//! a name matrix knows (with a "did you mean" for near misses and for other
//! ecosystems' spellings such as `x86_64` or `aarch64`), how every ecosystem
//! spells a target (Go, Rust, GNU, zig, Debian, Docker, Snap, Homebrew,
//! Chocolatey: the [`Platform`] rows in `platforms.rs`), which toolchain can
//! build it, and what its executable must look like. matrix's own names are
//! Go's GOOS/GOARCH names, the most widely shared spelling among release tools.

mod platforms;

pub use platforms::{PLATFORMS, Platform};

use serde::Serialize;

/// The arch value of a macOS universal binary (darwin/amd64 and
/// darwin/arm64 joined, `[universal] darwin`): no CPU of its own, so no
/// [`Platform`] row.
pub const UNIVERSAL_ARCH: &str = "universal";

/// An operating system matrix knows.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Os {
    pub name: &'static str,
    pub description: &'static str,
    /// Suffix of executables (`.exe` on Windows).
    pub exe_suffix: &'static str,
    /// Other spellings users write for the same OS.
    #[serde(skip)]
    pub aliases: &'static [&'static str],
}

/// A CPU architecture matrix knows.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Arch {
    pub name: &'static str,
    pub description: &'static str,
    pub bits: u8,
    #[serde(skip)]
    pub aliases: &'static [&'static str],
}

pub const OSES: &[Os] = &[
    os("aix", "IBM AIX", "", &[]),
    os("android", "Android", "", &[]),
    os("darwin", "macOS", "", &["macos", "osx", "mac", "apple"]),
    os("dragonfly", "DragonFly BSD", "", &[]),
    os("freebsd", "FreeBSD", "", &[]),
    os("illumos", "illumos", "", &[]),
    os("ios", "iOS", "", &[]),
    os("linux", "Linux", "", &["gnu/linux"]),
    os("netbsd", "NetBSD", "", &[]),
    os("openbsd", "OpenBSD", "", &[]),
    os("solaris", "Oracle Solaris", "", &["sunos"]),
    os("wasip1", "WASI preview 1", ".wasm", &["wasi"]),
    os(
        "windows",
        "Microsoft Windows",
        ".exe",
        &["win", "win32", "win64", "mingw"],
    ),
];

pub const ARCHES: &[Arch] = &[
    arch(
        "386",
        "x86, 32-bit",
        32,
        &["i386", "i486", "i586", "i686", "x86", "ia32"],
    ),
    arch(
        "amd64",
        "x86-64",
        64,
        &["x86_64", "x64", "x86-64", "intel64"],
    ),
    arch(
        "arm",
        "ARM, 32-bit",
        32,
        &["armhf", "armel", "armv6", "armv7", "arm32"],
    ),
    arch("arm64", "ARM, 64-bit", 64, &["aarch64", "armv8", "arm64v8"]),
    arch("loong64", "LoongArch, 64-bit", 64, &["loongarch64"]),
    arch("mips", "MIPS, 32-bit big-endian", 32, &[]),
    arch("mipsle", "MIPS, 32-bit little-endian", 32, &["mipsel"]),
    arch("mips64", "MIPS, 64-bit big-endian", 64, &[]),
    arch("mips64le", "MIPS, 64-bit little-endian", 64, &["mips64el"]),
    arch("ppc64", "POWER, 64-bit big-endian", 64, &["powerpc64"]),
    arch(
        "ppc64le",
        "POWER, 64-bit little-endian",
        64,
        &["ppc64el", "powerpc64le"],
    ),
    arch("riscv64", "RISC-V, 64-bit", 64, &["riscv", "rv64"]),
    arch("s390x", "IBM Z, 64-bit", 64, &["s390", "systemz"]),
    arch("wasm", "WebAssembly", 32, &["wasm32"]),
];

const fn os(
    name: &'static str,
    description: &'static str,
    exe_suffix: &'static str,
    aliases: &'static [&'static str],
) -> Os {
    Os {
        name,
        description,
        exe_suffix,
        aliases,
    }
}

const fn arch(
    name: &'static str,
    description: &'static str,
    bits: u8,
    aliases: &'static [&'static str],
) -> Arch {
    Arch {
        name,
        description,
        bits,
        aliases,
    }
}

pub fn find_os(name: &str) -> Option<&'static Os> {
    OSES.iter().find(|o| o.name == name)
}

pub fn find_arch(name: &str) -> Option<&'static Arch> {
    ARCHES.iter().find(|a| a.name == name)
}

/// Executable format a platform's binaries use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExeFormat {
    Elf,
    MachO,
    Pe,
    Wasm,
}

/// CPU a binary is built for, as its header records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Machine {
    X86,
    X86_64,
    Arm,
    Aarch64,
    PowerPc64,
    S390x,
    RiscV64,
    Mips,
    Mips64,
    LoongArch64,
    Wasm32,
}

impl ExeFormat {
    pub fn name(self) -> &'static str {
        match self {
            ExeFormat::Elf => "elf",
            ExeFormat::MachO => "mach-o",
            ExeFormat::Pe => "pe",
            ExeFormat::Wasm => "wasm",
        }
    }
}

impl Machine {
    /// The usual short name, as `file` and binutils print it.
    pub fn name(self) -> &'static str {
        match self {
            Machine::X86 => "x86",
            Machine::X86_64 => "x86-64",
            Machine::Arm => "arm",
            Machine::Aarch64 => "aarch64",
            Machine::PowerPc64 => "ppc64",
            Machine::S390x => "s390x",
            Machine::RiscV64 => "riscv64",
            Machine::Mips => "mips",
            Machine::Mips64 => "mips64",
            Machine::LoongArch64 => "loongarch64",
            Machine::Wasm32 => "wasm32",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Endian {
    Little,
    Big,
}

/// The platform row for a target's values (`os`, `arch`, optional
/// `variant`); without a variant the first row for the pair is the default
/// (`linux/arm` means ARMv7, as Debian's armhf does).
pub fn platform(os: &str, arch: &str, variant: Option<&str>) -> Option<&'static Platform> {
    PLATFORMS
        .iter()
        .filter(|p| p.os == os && p.arch == arch)
        .find(|p| variant.is_none() || p.variant == variant)
}

/// Whether `p` is the machine matrix runs on: builds for it need no cross
/// tools and its binaries run directly.
pub fn is_host(p: &Platform) -> bool {
    let host_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loong64",
        other => other,
    };
    p.os == std::env::consts::OS && p.arch == host_arch && p.variant.is_none()
}

/// Whether this machine runs `p`'s binaries without an emulator: the host
/// itself, or 32-bit x86 on an x86-64 Linux kernel. (Native matters: Go's
/// 386 binaries crash under qemu-i386 with "bad g in signal handler".)
pub fn runs_natively(p: &Platform) -> bool {
    is_host(p) || (p.os == "linux" && p.arch == "386" && std::env::consts::ARCH == "x86_64")
}

/// Executable suffix for an os value; unknown or absent OS means none.
pub fn exe_suffix(os: Option<&str>) -> &'static str {
    os.and_then(find_os).map_or("", |o| o.exe_suffix)
}

/// Which kind of name an axis holds, for axes matrix validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Os,
    Arch,
}

impl Kind {
    /// The axes whose values are checked against the knowledge base.
    pub fn of_axis(axis: &str) -> Option<Kind> {
        match axis {
            "os" => Some(Kind::Os),
            "arch" => Some(Kind::Arch),
            _ => None,
        }
    }

    fn names(self) -> Vec<(&'static str, &'static [&'static str])> {
        match self {
            Kind::Os => OSES.iter().map(|o| (o.name, o.aliases)).collect(),
            Kind::Arch => ARCHES.iter().map(|a| (a.name, a.aliases)).collect(),
        }
    }

    pub fn is_known(self, value: &str) -> bool {
        self.names().iter().any(|(n, _)| *n == value)
    }

    /// All names of this kind, sorted.
    pub fn all(self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.names().into_iter().map(|(n, _)| n).collect();
        names.sort_unstable();
        names
    }

    /// The name the user most likely meant: an exact alias first (`x86_64`
    /// means `amd64`), then the closest name by edit distance.
    pub fn suggest(self, value: &str) -> Option<&'static str> {
        let lower = value.to_ascii_lowercase();
        let lower = lower.as_str();
        let names = self.names();
        if let Some((name, _)) = names
            .iter()
            .find(|(n, aliases)| *n == lower || aliases.contains(&lower))
        {
            return Some(name);
        }
        names
            .iter()
            .flat_map(|(n, aliases)| {
                std::iter::once(*n)
                    .chain(aliases.iter().copied())
                    .map(move |candidate| (strsim::damerau_levenshtein(lower, candidate), *n))
            })
            .filter(|(distance, _)| *distance <= 2.max(lower.len() / 3))
            .min()
            .map(|(_, n)| n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let cases = [
            (Kind::Os, "darwn", Some("darwin")),
            (Kind::Os, "macos", Some("darwin")),
            (Kind::Os, "Linux", Some("linux")),
            (Kind::Os, "windoze", Some("windows")),
            (Kind::Os, "plan9000", None),
            (Kind::Arch, "x86_64", Some("amd64")),
            (Kind::Arch, "aarch64", Some("arm64")),
            (Kind::Arch, "i686", Some("386")),
            (Kind::Arch, "ppc64el", Some("ppc64le")),
            (Kind::Arch, "riscv46", Some("riscv64")),
            (Kind::Arch, "sparc", None),
        ];
        for (kind, input, want) in cases {
            assert_eq!(kind.suggest(input), want, "{input}");
        }
    }

    #[test]
    fn suffixes() {
        assert_eq!(exe_suffix(Some("windows")), ".exe");
        assert_eq!(exe_suffix(Some("linux")), "");
        assert_eq!(exe_suffix(None), "");
    }

    #[test]
    fn names_are_unique_and_not_aliases_of_each_other() {
        for kind in [Kind::Os, Kind::Arch] {
            let names = kind.names();
            for (i, (n, _)) in names.iter().enumerate() {
                for (j, (m, aliases)) in names.iter().enumerate() {
                    if i != j {
                        assert_ne!(n, m);
                        assert!(!aliases.contains(n), "{n} is an alias of {m}");
                    }
                }
            }
        }
    }
}
