//! Toolchain presets: the command and environment each toolchain needs per
//! target, and what a machine must have installed to run it.
//!
//! Used by `plan` (defaults under the user's own settings, which always
//! win) and by `matrix doctor` and `matrix build` (toolchain checks before
//! any job starts, so a missing cross compiler fails at once, not after ten
//! minutes of building). Everything is derived from the `target` knowledge
//! base; nothing here spawns a process except the toolchain probes
//! (through [`crate::process::tool`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::process::{Stream, find_program};
use crate::target::{Platform, is_host};

/// Defined with the config that names it; this module owns what each does.
pub use crate::config::kinds::Preset;

/// What a preset contributes to one target's build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defaults {
    /// Argument vector (templates), if the preset knows the command.
    pub command: Option<Vec<String>>,
    /// Environment (templates), under the user's own `env`.
    pub env: BTreeMap<String, String>,
    /// Where the build leaves the binary (template), if not `{{ out }}/{{ bin }}`.
    pub artifact: Option<String>,
}

/// Something a target's build needs on the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Need {
    /// A program on PATH (or in matrix's tool cache). A name with a `/`
    /// is a file relative to the build's folder.
    Program {
        name: String,
        /// Where `matrix doctor --install` gets it from.
        source: Source,
        /// What to tell a person: `matrix doctor --install`, or the
        /// manual command.
        install: String,
    },
    /// A Rust standard library for a target triple.
    RustTarget { triple: String, install: String },
}

/// Where a missing program comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum Source {
    /// Debian packages, installed with one `apt-get install`.
    Apt { packages: Vec<String> },
    /// zig from PyPI (package ziglang) into matrix's tool cache.
    Zig,
    /// Only by hand; `install` says how.
    Manual,
}

impl Need {
    pub fn what(&self) -> String {
        match self {
            Need::Program { name, .. } => name.clone(),
            Need::RustTarget { triple, .. } => format!("rust std for {triple}"),
        }
    }

    pub fn install(&self) -> &str {
        match self {
            Need::Program { install, .. } | Need::RustTarget { install, .. } => install,
        }
    }

    /// Whether this machine has it (PATH, then matrix's tool cache).
    pub fn is_met(&self) -> bool {
        match self {
            Need::Program { name, .. } => find_program(name).is_some(),
            Need::RustTarget { triple, .. } => rust_target_installed(triple),
        }
    }
}

/// The zig `matrix doctor --install` installs, pinned: a newer zig changes
/// flags and diagnostics under the builds, so this moves on purpose only.
pub const ZIG_VERSION: &str = "0.15.2";

/// A program with its source and the hint that goes with it.
pub fn program(name: &str, source: Source) -> Need {
    let install = match &source {
        Source::Apt { packages } => {
            format!("matrix doctor --install, or: {}", apt_command(packages))
        }
        Source::Zig => format!(
            "matrix doctor --install (zig {ZIG_VERSION} from PyPI into matrix's tool cache), or: pip install ziglang=={ZIG_VERSION} with a `zig` wrapper that runs `python3 -m ziglang`"
        ),
        Source::Manual => String::new(),
    };
    Need::Program {
        name: name.to_string(),
        source,
        install,
    }
}

/// A program only a person can install; `how` is the manual hint.
fn manual(name: &str, how: &str) -> Need {
    Need::Program {
        name: name.to_string(),
        source: Source::Manual,
        install: how.to_string(),
    }
}

/// The command a person would run for `packages` (as root, or with sudo).
pub fn apt_command(packages: &[String]) -> String {
    format!(
        "sudo apt-get install -y --no-install-recommends {}",
        packages.join(" ")
    )
}

fn apt(packages: &[&str]) -> Source {
    Source::Apt {
        packages: packages.iter().map(|p| p.to_string()).collect(),
    }
}

/// On the host, Debian's own `gcc` package provides `<host triple>-gcc`;
/// the cross packages exist only for foreign architectures.
fn gnu_source(p: &Platform) -> Source {
    if is_host(p) {
        apt(&["gcc", "libc6-dev"])
    } else {
        apt(p.gnu_packages)
    }
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Go => "go",
            Preset::Cargo => "cargo",
            Preset::CargoZigbuild => "cargo-zigbuild",
            Preset::GccCross => "gcc-cross",
            Preset::ZigCc => "zig-cc",
        }
    }

    /// Defaults for a platform, or why this preset cannot build it.
    pub fn defaults(self, p: &Platform) -> Result<Defaults, String> {
        let mut d = Defaults::default();
        let env = |d: &mut Defaults, k: &str, v: &str| {
            d.env.insert(k.to_string(), v.to_string());
        };
        match self {
            Preset::Go => {
                d.command = Some(words(&[
                    "go",
                    "build",
                    "-trimpath",
                    "-ldflags",
                    "-s -w -buildid= -X main.version={{ version }}",
                    "-o",
                    "{{ out }}/{{ bin }}",
                    ".",
                ]));
                env(&mut d, "GOOS", p.goos);
                env(&mut d, "GOARCH", p.goarch);
                if let Some(arm) = p.goarm {
                    env(&mut d, "GOARM", arm);
                }
                env(&mut d, "CGO_ENABLED", "0");
                // Go stamps the git state into binaries; releases must not depend on it.
                env(&mut d, "GOFLAGS", "-buildvcs=false");
            }
            Preset::Cargo | Preset::CargoZigbuild => {
                let triple = p
                    .rust_gnu()
                    .ok_or_else(|| format!("Rust has no target triple for {}", p.name()))?;
                let sub = if self == Preset::Cargo {
                    "build"
                } else {
                    "zigbuild"
                };
                d.command = Some(words(&[
                    "cargo",
                    sub,
                    "--release",
                    "--locked",
                    "--target",
                    triple,
                ]));
                // One target folder per target (parallel builds do not wait
                // on each other's cargo lock), in matrix's cache: it
                // survives `--clean`, so a release recompiles what changed.
                env(&mut d, "CARGO_TARGET_DIR", "{{ cache }}/cargo");
                d.artifact = Some(format!(
                    "{{{{ cache }}}}/cargo/{triple}/release/{{{{ bin }}}}"
                ));
                if self == Preset::Cargo && !is_host(p) {
                    let prefix = p.gnu_prefix.ok_or_else(|| {
                        format!(
                            "no GNU cross linker is known for {}; use preset \"cargo-zigbuild\"",
                            p.name()
                        )
                    })?;
                    let upper = triple.to_uppercase().replace('-', "_");
                    let lower = triple.replace('-', "_");
                    env(
                        &mut d,
                        &format!("CARGO_TARGET_{upper}_LINKER"),
                        &format!("{prefix}gcc"),
                    );
                    env(&mut d, &format!("CC_{lower}"), &format!("{prefix}gcc"));
                    env(&mut d, &format!("AR_{lower}"), &format!("{prefix}ar"));
                }
            }
            Preset::GccCross => {
                let prefix = p.gnu_prefix.ok_or_else(|| {
                    format!(
                        "Debian has no GNU cross compiler for {}; use preset \"zig-cc\" for it",
                        p.name()
                    )
                })?;
                env(&mut d, "CC", &format!("{prefix}gcc"));
                env(&mut d, "CXX", &format!("{prefix}g++"));
                env(&mut d, "AR", &format!("{prefix}ar"));
            }
            Preset::ZigCc => {
                let zig = p
                    .zig
                    .ok_or_else(|| format!("zig cannot target {}", p.name()))?;
                env(&mut d, "CC", &format!("zig cc -target {zig}"));
                env(&mut d, "CXX", &format!("zig c++ -target {zig}"));
                env(&mut d, "AR", "zig ar");
            }
        }
        Ok(d)
    }

    /// What building `p` with this preset needs installed.
    pub fn needs(self, p: &Platform) -> Vec<Need> {
        let mut needs = Vec::new();
        match self {
            Preset::Go => needs.push(program("go", apt(&["golang-go"]))),
            Preset::Cargo | Preset::CargoZigbuild => {
                needs.push(manual(
                    "cargo",
                    "install Rust with rustup: https://rustup.rs",
                ));
                if let Some(triple) = p.rust_gnu() {
                    needs.push(Need::RustTarget {
                        triple: triple.to_string(),
                        install: format!("rustup target add {triple}"),
                    });
                }
                if self == Preset::CargoZigbuild {
                    needs.push(manual(
                        "cargo-zigbuild",
                        "cargo install --locked cargo-zigbuild",
                    ));
                    needs.push(program("zig", Source::Zig));
                } else if let (false, Some(prefix)) = (is_host(p), p.gnu_prefix) {
                    needs.push(program(&format!("{prefix}gcc"), gnu_source(p)));
                }
            }
            Preset::GccCross => {
                if let Some(prefix) = p.gnu_prefix {
                    needs.push(program(&format!("{prefix}gcc"), gnu_source(p)));
                }
            }
            Preset::ZigCc => needs.push(program("zig", Source::Zig)),
        }
        needs
    }
}

/// The emulator a smoke run of a foreign Linux binary needs.
pub fn qemu_need(qemu: &str) -> Need {
    program(&format!("qemu-{qemu}-static"), apt(&["qemu-user-static"]))
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| s.to_string()).collect()
}

/// Whether rustc has a standard library for `triple` (what `rustup target
/// add` installs). Asks rustc itself, so toolchains without rustup work too.
fn rust_target_installed(triple: &str) -> bool {
    let Ok(out) = crate::process::tool(
        "rustc",
        ["--print", "target-libdir", "--target", triple],
        &[],
        Stream::Capture,
        Stream::Capture,
    ) else {
        return false;
    };
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    out.status.success()
        && std::fs::read_dir(&dir).is_ok_and(|mut entries| {
            entries.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("libstd-")))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::platform;

    fn p(os: &str, arch: &str) -> &'static Platform {
        platform(os, arch, None).unwrap()
    }

    #[test]
    fn go_sets_goos_goarch_goarm() {
        let d = Preset::Go
            .defaults(platform("linux", "arm", Some("v7")).unwrap())
            .unwrap();
        assert_eq!(d.env["GOOS"], "linux");
        assert_eq!(d.env["GOARCH"], "arm");
        assert_eq!(d.env["GOARM"], "7");
        assert_eq!(d.env["CGO_ENABLED"], "0");
        assert_eq!(d.command.unwrap()[..2], ["go", "build"]);
        let d = Preset::Go.defaults(p("windows", "386")).unwrap();
        assert!(!d.env.contains_key("GOARM"));
    }

    #[test]
    fn cargo_cross_sets_linker_and_cc() {
        let d = Preset::Cargo.defaults(p("linux", "arm64")).unwrap();
        assert_eq!(
            d.command.unwrap(),
            [
                "cargo",
                "build",
                "--release",
                "--locked",
                "--target",
                "aarch64-unknown-linux-gnu"
            ]
        );
        assert_eq!(
            d.env["CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER"],
            "aarch64-linux-gnu-gcc"
        );
        assert_eq!(
            d.env["CC_aarch64_unknown_linux_gnu"],
            "aarch64-linux-gnu-gcc"
        );
        assert_eq!(
            d.artifact.unwrap(),
            "{{ cache }}/cargo/aarch64-unknown-linux-gnu/release/{{ bin }}"
        );
        let err = Preset::Cargo.defaults(p("darwin", "arm64")).unwrap_err();
        assert!(err.contains("cargo-zigbuild"), "{err}");
        assert!(Preset::CargoZigbuild.defaults(p("darwin", "arm64")).is_ok());
    }

    #[test]
    fn c_presets() {
        let d = Preset::GccCross.defaults(p("windows", "386")).unwrap();
        assert_eq!(d.env["CC"], "i686-w64-mingw32-gcc");
        assert_eq!(d.command, None);
        let err = Preset::GccCross.defaults(p("darwin", "amd64")).unwrap_err();
        assert!(err.contains("zig-cc"), "{err}");
        let d = Preset::ZigCc.defaults(p("darwin", "amd64")).unwrap();
        assert_eq!(d.env["CC"], "zig cc -target x86_64-macos");
    }

    #[test]
    fn needs_name_packages() {
        let needs = Preset::GccCross.needs(p("linux", "s390x"));
        assert_eq!(
            needs,
            [Need::Program {
                name: "s390x-linux-gnu-gcc".into(),
                source: Source::Apt {
                    packages: vec!["gcc-s390x-linux-gnu".into(), "libc6-dev-s390x-cross".into()]
                },
                install: "matrix doctor --install, or: sudo apt-get install -y --no-install-recommends gcc-s390x-linux-gnu libc6-dev-s390x-cross".into()
            }]
        );
        let needs = Preset::Cargo.needs(p("linux", "riscv64"));
        let what: Vec<String> = needs.iter().map(Need::what).collect();
        assert_eq!(
            what,
            [
                "cargo",
                "rust std for riscv64gc-unknown-linux-gnu",
                "riscv64-linux-gnu-gcc"
            ]
        );
        assert!(manual("sh", "").is_met());
        assert!(!manual("matrix-no-such-tool", "").is_met());
        // zig comes from PyPI, pinned; every hint names matrix's own installer.
        let zig = &Preset::ZigCc.needs(p("darwin", "arm64"))[0];
        assert!(matches!(
            zig,
            Need::Program {
                source: Source::Zig,
                ..
            }
        ));
        assert!(
            zig.install().starts_with("matrix doctor --install"),
            "{zig:?}"
        );
        assert!(zig.install().contains("ziglang==0.15.2"), "{zig:?}");
        // The host's own compiler comes from `gcc`, a foreign one from the cross packages.
        let host = crate::target::PLATFORMS
            .iter()
            .find(|p| is_host(p))
            .unwrap();
        assert!(matches!(
            &Preset::GccCross.needs(host)[0],
            Need::Program { source: Source::Apt { packages }, .. } if packages == &["gcc", "libc6-dev"]
        ));
        let mingw = Preset::GccCross.needs(p("windows", "amd64"));
        assert!(matches!(
            &mingw[0],
            Need::Program { name, source: Source::Apt { packages }, .. }
                if name == "x86_64-w64-mingw32-gcc" && packages == &["gcc-mingw-w64-x86-64-win32"]
        ));
        assert_eq!(
            qemu_need("aarch64"),
            program("qemu-aarch64-static", apt(&["qemu-user-static"]))
        );
    }
}
