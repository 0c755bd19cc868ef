//! The default target tables `matrix init` writes, derived from the
//! knowledge base (`target`) and the presets (`preset`), never listed by
//! hand: a platform matrix learns is offered by `init` too.
//!
//! Each toolchain gets the platforms its presets can build: Go every
//! platform (no cgo), Rust those with a cargo or cargo-zigbuild preset,
//! C Debian's GNU cross compilers plus zig for macOS and musl.

use crate::preset::{Need, Preset};
use crate::target::{PLATFORMS, Platform, platform};

/// Whether `p` is the row matrix picks for its os/arch without a variant
/// (`linux/arm` is ARMv7); other variants need a `variant` axis.
fn is_default_row(p: &Platform) -> bool {
    platform(p.os, p.arch, None).is_some_and(|d| d == p)
}

/// Every platform Go builds with CGO_ENABLED=0: all of matrix's rows.
pub fn go() -> Vec<&'static Platform> {
    PLATFORMS.iter().filter(|p| is_default_row(p)).collect()
}

/// One Rust target of the table: the preset that builds it, and what this
/// machine still lacks for it (empty: it builds here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RustTarget {
    pub platform: &'static Platform,
    pub preset: Preset,
    /// How to install each missing need (each command once).
    pub missing: Vec<String>,
}

/// The preset that can build `p` for Rust: `cargo` where a GNU linker (or
/// the host's) exists, `cargo-zigbuild` where zig links it, else none.
pub fn rust_preset(p: &Platform) -> Option<Preset> {
    if Preset::Cargo.defaults(p).is_ok() {
        return Some(Preset::Cargo);
    }
    // zig links GNU-ABI and Mach-O objects, not MSVC ones.
    let triple = p.rust_gnu()?;
    (p.zig.is_some() && !triple.ends_with("-msvc") && Preset::CargoZigbuild.defaults(p).is_ok())
        .then_some(Preset::CargoZigbuild)
}

/// The Rust table: every platform a cargo preset can build, with what
/// `met` says is missing here; and the platforms no preset can build.
pub fn rust(met: &dyn Fn(&Need) -> bool) -> (Vec<RustTarget>, Vec<&'static Platform>) {
    let mut table = Vec::new();
    let mut none = Vec::new();
    for p in PLATFORMS.iter().filter(|p| is_default_row(p)) {
        match rust_preset(p) {
            Some(preset) => table.push(RustTarget {
                platform: p,
                preset,
                missing: preset
                    .needs(p)
                    .into_iter()
                    .filter(|n| !met(n))
                    .map(|n| short_need(&n))
                    .fold(Vec::new(), |mut seen: Vec<String>, i| {
                        if !seen.contains(&i) {
                            seen.push(i);
                        }
                        seen
                    }),
            }),
            None => none.push(p),
        }
    }
    (table, none)
}

/// What a missing need takes, short enough for one comment line: the
/// Debian packages or zig (both of which `matrix doctor --install` brings),
/// else the command a person runs.
fn short_need(n: &Need) -> String {
    match n {
        Need::Program {
            source: crate::preset::Source::Apt { packages },
            ..
        } => packages.join(" "),
        Need::Program {
            source: crate::preset::Source::Zig,
            ..
        } => "zig".to_string(),
        other => other.install().to_string(),
    }
}

/// C with Debian's GNU cross compilers (and MinGW-w64): the `gcc-cross` rows.
pub fn c_gnu() -> Vec<&'static Platform> {
    PLATFORMS
        .iter()
        .filter(|p| is_default_row(p) && Preset::GccCross.defaults(p).is_ok())
        .collect()
}

/// C with zig for macOS, which no Debian cross compiler targets.
pub fn c_darwin() -> Vec<&'static Platform> {
    PLATFORMS
        .iter()
        .filter(|p| p.os == "darwin" && is_default_row(p) && Preset::ZigCc.defaults(p).is_ok())
        .collect()
}

/// C for Linux with musl (static binaries that run on any distribution),
/// built with zig: the two architectures most asked for.
pub fn c_musl() -> Vec<&'static Platform> {
    PLATFORMS
        .iter()
        .filter(|p| {
            p.os == "linux"
                && matches!(p.arch, "amd64" | "arm64")
                && is_default_row(p)
                && p.zig_musl().is_some()
        })
        .collect()
}

/// An os x arch table: the oses and arches in knowledge-base order, and per
/// os the arches to exclude so that exactly `platforms` remain.
pub struct Grid {
    pub oses: Vec<&'static str>,
    pub arches: Vec<&'static str>,
    pub exclude: Vec<(&'static str, Vec<&'static str>)>,
}

pub fn grid(platforms: &[&'static Platform]) -> Grid {
    let mut oses: Vec<&'static str> = Vec::new();
    let mut arches: Vec<&'static str> = Vec::new();
    for p in platforms {
        if !oses.contains(&p.os) {
            oses.push(p.os);
        }
        if !arches.contains(&p.arch) {
            arches.push(p.arch);
        }
    }
    let exclude = oses
        .iter()
        .map(|os| {
            let missing: Vec<&'static str> = arches
                .iter()
                .copied()
                .filter(|a| !platforms.iter().any(|p| p.os == *os && p.arch == *a))
                .collect();
            (*os, missing)
        })
        .filter(|(_, m)| !m.is_empty())
        .collect();
    Grid {
        oses,
        arches,
        exclude,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(ps: &[&Platform]) -> Vec<String> {
        ps.iter().map(|p| p.name()).collect()
    }

    #[test]
    fn go_takes_every_os_arch_pair_once() {
        let go = names(&go());
        assert!(go.contains(&"linux/arm/v7".to_string()));
        assert!(go.contains(&"darwin/arm64".to_string()));
        assert!(go.contains(&"netbsd/amd64".to_string()));
        assert!(!go.iter().any(|n| n.ends_with("/v6")));
        let mut unique = go.clone();
        unique.dedup();
        assert_eq!(unique.len(), go.len());
    }

    #[test]
    fn rust_picks_a_preset_per_platform() {
        let (table, none) = rust(&|_| true);
        let preset = |name: &str| {
            table
                .iter()
                .find(|t| t.platform.name() == name)
                .map(|t| t.preset)
        };
        assert_eq!(preset("linux/arm64"), Some(Preset::Cargo));
        assert_eq!(preset("windows/386"), Some(Preset::Cargo));
        assert_eq!(preset("darwin/arm64"), Some(Preset::CargoZigbuild));
        // No linker is known for the BSDs, and zig does not link MSVC.
        assert_eq!(preset("freebsd/amd64"), None);
        assert_eq!(preset("windows/arm64"), None);
        assert!(names(&none).contains(&"freebsd/amd64".to_string()));
        assert!(table.iter().all(|t| t.missing.is_empty()));
        let (table, _) = rust(&|n| !matches!(n, Need::RustTarget { .. }));
        let arm = table
            .iter()
            .find(|t| t.platform.name() == "linux/arm64")
            .unwrap();
        assert_eq!(arm.missing, ["rustup target add aarch64-unknown-linux-gnu"]);
    }

    #[test]
    fn c_tables_split_gnu_and_zig() {
        let gnu = names(&c_gnu());
        assert!(gnu.contains(&"windows/386".to_string()));
        assert!(gnu.contains(&"linux/s390x".to_string()));
        assert!(!gnu.contains(&"darwin/amd64".to_string()));
        assert_eq!(names(&c_darwin()), ["darwin/amd64", "darwin/arm64"]);
        assert_eq!(names(&c_musl()), ["linux/amd64", "linux/arm64"]);
    }

    #[test]
    fn a_grid_excludes_exactly_the_missing_pairs() {
        let ps: Vec<&Platform> = ["linux/amd64", "linux/arm64", "windows/amd64"]
            .iter()
            .map(|n| {
                let (os, arch) = n.split_once('/').unwrap();
                platform(os, arch, None).unwrap()
            })
            .collect();
        let g = grid(&ps);
        assert_eq!(g.oses, ["linux", "windows"]);
        assert_eq!(g.arches, ["amd64", "arm64"]);
        assert_eq!(g.exclude, [("windows", vec!["arm64"])]);
    }
}
