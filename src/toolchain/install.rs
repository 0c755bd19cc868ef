//! `matrix doctor --install`: what scripts/install-toolchains.sh did, for
//! the targets of the user's own matrix.toml. The Debian packages of every
//! missing program in one `apt-get install`, zig from PyPI (pinned) into
//! matrix's tool cache, qemu's binfmt_misc handlers for a smoke run, and a
//! warm zig cache for the plan's zig targets.
//!
//! Everything is decided first ([`compose`], pure, from the facts of the
//! machine), printed ([`describe`]), and only then run ([`run`]).

mod run;

use std::path::PathBuf;

pub use run::{run, wrapper_text, write_wrapper};

use super::check::TargetNeed;
use crate::plan::Plan;
use crate::preset::{Need, Preset, Source, ZIG_VERSION, apt_command};
use crate::process::{find_program, tools_dir, untrusted};
use run::find_python;

/// Where the kernel's binfmt_misc handlers live.
const BINFMT: &str = "/proc/sys/fs/binfmt_misc";

/// What this machine allows, read once before anything is decided.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub root: bool,
    pub sudo: bool,
    pub apt_get: bool,
    /// A Python that can make a venv with pip in it.
    pub python: Option<PathBuf>,
    /// matrix's tool cache.
    pub tools: Option<PathBuf>,
    /// Why the tool cache cannot be trusted (another user can write to it).
    pub tools_untrusted: Option<String>,
    /// The binfmt_misc handlers that are registered already.
    pub binfmt_registered: Vec<String>,
    /// `MATRIX_BINFMT=0` turns the registration off.
    pub binfmt_enabled: bool,
}

impl Facts {
    pub fn of_this_machine() -> Facts {
        let registered = std::fs::read_dir(BINFMT)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        Facts {
            root: nix::unistd::geteuid().is_root(),
            sudo: find_program("sudo").is_some(),
            apt_get: find_program("apt-get").is_some(),
            python: find_python(),
            tools_untrusted: tools_dir().and_then(|t| untrusted(&t.join("bin").join("zig"))),
            tools: tools_dir(),
            binfmt_registered: registered,
            binfmt_enabled: std::env::var("MATRIX_BINFMT").map_or(true, |v| v != "0"),
        }
    }
}

/// How apt-get can run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Privilege {
    Root,
    /// `sudo -n`: never asks for a password (CI runners allow it).
    Sudo,
    /// Neither root nor sudo: the command is printed for a person to run.
    None,
    /// No apt-get at all (not Debian or Ubuntu).
    NoApt,
}

/// Everything `--install` will do.
#[derive(Debug, Clone, Default)]
pub struct Install {
    /// Debian packages, sorted, each once.
    pub packages: Vec<String>,
    pub privilege: Option<Privilege>,
    /// zig from PyPI, into this tool cache; the Python that makes its
    /// venv (`None`: the one apt-get is about to install).
    pub zig: Option<(PathBuf, Option<PathBuf>)>,
    /// zig is needed but there is nowhere to put it.
    pub zig_problem: Option<String>,
    /// qemu handler names to register (`qemu-aarch64`).
    pub binfmt: Vec<String>,
    /// Why the handlers are left alone, when they are.
    pub binfmt_note: Option<String>,
    /// zig targets to link a tiny C program for, so the first build does
    /// not spend minutes building libc.
    pub warm: Vec<String>,
    /// What only a person can install: (what, how).
    pub manual: Vec<(String, String)>,
}

impl Install {
    /// Whether there is anything to run.
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
            && self.zig.is_none()
            && self.binfmt.is_empty()
            && self.warm.is_empty()
    }
}

/// Decides what to install for the unmet needs.
pub fn compose(needs: &[TargetNeed], warm: Vec<String>, facts: &Facts) -> Install {
    let mut out = Install {
        warm,
        ..Install::default()
    };
    let mut zig = false;
    for n in needs.iter().filter(|n| !n.met) {
        match &n.need {
            Need::Program {
                source: Source::Apt { packages },
                ..
            } => out.packages.extend(packages.iter().cloned()),
            Need::Program {
                source: Source::Zig,
                ..
            } => zig = true,
            other => {
                let item = (other.what(), other.install().to_string());
                if !out.manual.contains(&item) {
                    out.manual.push(item);
                }
            }
        }
    }
    if zig {
        match &facts.tools {
            None => {
                out.zig_problem = Some(
                    "neither MATRIX_TOOLS nor HOME is set, so there is no place for zig's venv: export MATRIX_TOOLS=/some/writable/folder".into(),
                )
            }
            Some(_) if facts.tools_untrusted.is_some() => {
                out.zig_problem = Some(format!(
                    "not installing zig into matrix's tool cache: {}",
                    facts.tools_untrusted.as_deref().unwrap_or_default()
                ))
            }
            Some(tools) if facts.python.is_some() => {
                out.zig = Some((tools.clone(), facts.python.clone()));
            }
            Some(tools) if facts.apt_get => {
                // Debian's python3 has no venv module without this package.
                out.packages.extend(["python3".to_string(), "python3-venv".to_string()]);
                out.zig = Some((tools.clone(), None));
            }
            Some(_) => {
                out.zig_problem = Some(
                    "zig comes from PyPI, which needs a Python with the venv and ensurepip modules; install one (or set MATRIX_PYTHON to it)".into(),
                )
            }
        }
    }
    let qemu: Vec<String> = needs
        .iter()
        .filter(|n| n.by == "smoke")
        .filter_map(|n| {
            let name = n.need.what();
            name.strip_suffix("-static").map(str::to_string)
        })
        .filter(|name| !facts.binfmt_registered.contains(name))
        .collect();
    if !qemu.is_empty() {
        if !facts.binfmt_enabled {
            out.binfmt_note = Some("binfmt: skipped (MATRIX_BINFMT=0)".into());
        } else if facts.root {
            out.binfmt = qemu;
        } else {
            out.binfmt_note = Some(format!(
                "binfmt: {} not registered and not root; matrix runs qemu-<arch>-static itself, so smoke runs work without them",
                qemu.join(", ")
            ));
        }
    }
    out.packages.sort();
    out.packages.dedup();
    out.binfmt.sort();
    out.binfmt.dedup();
    if !out.packages.is_empty() {
        out.privilege = Some(match facts {
            Facts { apt_get: false, .. } => Privilege::NoApt,
            Facts { root: true, .. } => Privilege::Root,
            Facts { sudo: true, .. } => Privilege::Sudo,
            _ => Privilege::None,
        });
    }
    out
}

/// The apt-get command line, or `None` when it cannot run here.
pub fn apt_argv(privilege: &Privilege, packages: &[String]) -> Option<Vec<String>> {
    let mut argv: Vec<String> = match privilege {
        Privilege::Root => Vec::new(),
        Privilege::Sudo => vec!["sudo".into(), "-n".into()],
        Privilege::None | Privilege::NoApt => return None,
    };
    // `env` because sudo resets the environment; the lock timeout waits
    // for unattended-upgrades instead of failing at once.
    argv.extend(
        [
            "env",
            "DEBIAN_FRONTEND=noninteractive",
            "apt-get",
            "-o",
            "DPkg::Lock::Timeout=300",
            "install",
            "-y",
            "--no-install-recommends",
        ]
        .map(String::from),
    );
    argv.extend(packages.iter().cloned());
    Some(argv)
}

/// The zig targets the plan's host builds link for: the `-target` of a
/// `CC = "zig cc -target ..."` the build sets, else the platform's.
pub fn warm_targets(plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = plan
        .targets
        .iter()
        .filter(|t| t.build.container.is_none())
        .filter(|t| matches!(t.build.preset, Some(Preset::ZigCc | Preset::CargoZigbuild)))
        .filter_map(|t| {
            let from_cc = t.build.env.get("CC").and_then(|cc| {
                let mut words = cc.split_whitespace();
                (words.next() == Some("zig")
                    && words.next() == Some("cc")
                    && words.next() == Some("-target"))
                .then(|| words.next().map(str::to_string))
                .flatten()
            });
            from_cc.or_else(|| t.platform.and_then(|p| p.zig).map(str::to_string))
        })
        // A zig target is `arch-os-abi` (with `.version`s): anything else
        // would only reach zig as an argument, but it is also printed, and
        // an escape sequence could hide itself on the terminal.
        .filter(|t| {
            !t.is_empty()
                && !t.starts_with('-')
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The human account of what `run` will do.
pub fn describe(install: &Install) -> String {
    let mut out = String::new();
    if !install.packages.is_empty() {
        let privilege = install.privilege.as_ref().unwrap_or(&Privilege::None);
        match apt_argv(privilege, &install.packages) {
            Some(argv) => {
                out.push_str(&format!("  apt:    {}\n", shell_words::join(&argv)));
                out.push_str("          (if the package lists are missing or stale: apt-get update, then once more)\n");
            }
            None => out.push_str(&format!(
                "  apt:    cannot install {}: {}\n",
                install.packages.join(" "),
                match privilege {
                    Privilege::NoApt =>
                        "there is no apt-get here; install the equivalents of these Debian packages"
                            .to_string(),
                    _ => format!(
                        "not root and no sudo; as root, run: {}",
                        apt_command(&install.packages)
                    ),
                }
            )),
        }
    }
    if let Some((tools, python)) = &install.zig {
        let venv = tools.join("zig-venv");
        let python = python
            .as_ref()
            .map_or("python3".into(), |p| p.display().to_string());
        out.push_str(&format!(
            "  zig:    {python} -m venv --clear {venv}   (only when its Python does not run)\n          {venv}/bin/python -m pip install --no-input -q ziglang=={ZIG_VERSION}\n          write {} (runs {venv}/bin/python -m ziglang)\n",
            tools.join("bin/zig").display(),
            venv = venv.display(),
        ));
    }
    if let Some(problem) = &install.zig_problem {
        out.push_str(&format!("  zig:    cannot install: {problem}\n"));
    }
    if !install.binfmt.is_empty() {
        out.push_str(&format!(
            "  binfmt: register {} in {BINFMT} (optional: matrix runs qemu-<arch>-static itself):\n          mount -t binfmt_misc binfmt_misc {BINFMT} if it is not mounted, update-binfmts --enable <name>,\n          else the line of /usr/lib/binfmt.d/<name>.conf written to {BINFMT}/register\n",
            install.binfmt.join(", ")
        ));
    }
    if let Some(note) = &install.binfmt_note {
        out.push_str(&format!("  note:   {note}\n"));
    }
    if !install.warm.is_empty() {
        out.push_str(&format!(
            "  warm:   zig cc -target <t> -O2 [-static] on a tiny C program, to fill zig's cache, for {}\n",
            install.warm.join(", ")
        ));
    }
    for (what, how) in &install.manual {
        out.push_str(&format!("  by hand: {}: {}\n", visible(what), visible(how)));
    }
    out
}

/// Text from matrix.toml made safe to print before the prompt: control
/// characters (an escape sequence could move the cursor and erase the
/// lines above it) are shown escaped.
fn visible(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let shown: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            shown
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset::{Preset, qemu_need};
    use crate::process::Location;
    use crate::target::platform;
    use crate::toolchain::need_for_program;
    use std::path::Path;

    fn need(target: &str, by: &str, need: Need, met: bool) -> TargetNeed {
        TargetNeed {
            target: target.into(),
            by: by.into(),
            need,
            met,
            location: Some(Location::Missing),
        }
    }

    fn missing() -> Vec<TargetNeed> {
        let arm64 = platform("linux", "arm64", None).unwrap();
        let mut needs: Vec<TargetNeed> = Preset::GccCross
            .needs(arm64)
            .into_iter()
            .map(|n| need("linux/arm64", "gcc-cross", n, false))
            .collect();
        needs.push(need(
            "linux/arm64",
            "command",
            need_for_program("make"),
            false,
        ));
        // Present: contributes nothing.
        needs.push(need("linux/amd64", "command", need_for_program("go"), true));
        needs.push(need("linux/arm64", "smoke", qemu_need("aarch64"), false));
        needs.push(need("linux/riscv64", "smoke", qemu_need("riscv64"), false));
        needs.push(need(
            "darwin/arm64",
            "zig-cc",
            need_for_program("zig"),
            false,
        ));
        needs.push(need(
            "darwin/amd64",
            "zig-cc",
            need_for_program("zig"),
            false,
        ));
        needs.push(need(
            "x",
            "command",
            need_for_program("nonexistent-prog-xyz"),
            false,
        ));
        needs
    }

    fn facts() -> Facts {
        Facts {
            root: true,
            sudo: false,
            apt_get: true,
            python: Some("/usr/bin/python3".into()),
            tools: Some("/t".into()),
            tools_untrusted: None,
            binfmt_registered: vec!["qemu-riscv64".into(), "register".into()],
            binfmt_enabled: true,
        }
    }

    #[test]
    fn one_apt_call_for_every_missing_package() {
        let install = compose(&missing(), vec!["x86_64-macos".into()], &facts());
        assert_eq!(
            install.packages,
            [
                "gcc-aarch64-linux-gnu",
                "libc6-dev-arm64-cross",
                "make",
                "qemu-user-static"
            ]
        );
        assert_eq!(install.privilege, Some(Privilege::Root));
        assert_eq!(
            install.zig,
            Some((PathBuf::from("/t"), Some(PathBuf::from("/usr/bin/python3"))))
        );
        // Only the handler that is not registered yet.
        assert_eq!(install.binfmt, ["qemu-aarch64"]);
        assert_eq!(
            install.manual,
            [(
                "nonexistent-prog-xyz".to_string(),
                "install nonexistent-prog-xyz (matrix does not know its package), or fix [build] command".to_string()
            )]
        );
        let text = describe(&install);
        assert!(
            text.contains("  apt:    env 'DEBIAN_FRONTEND=noninteractive' apt-get -o 'DPkg::Lock::Timeout=300' install -y --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross make qemu-user-static\n"),
            "{text}"
        );
        assert!(
            text.contains("/usr/bin/python3 -m venv --clear /t/zig-venv"),
            "{text}"
        );
        assert!(text.contains("ziglang==0.15.2"), "{text}");
        assert!(text.contains("x86_64-macos"), "{text}");
        // Every command run() may start is named: the mount and
        // update-binfmts of the binfmt step too.
        assert!(text.contains("mount -t binfmt_misc"), "{text}");
        assert!(text.contains("update-binfmts --enable"), "{text}");
        assert!(text.contains("by hand: nonexistent-prog-xyz"), "{text}");
    }

    #[test]
    fn privilege_decides_the_apt_command() {
        let packages = vec!["golang-go".to_string()];
        let sudo = apt_argv(&Privilege::Sudo, &packages).unwrap();
        assert_eq!(sudo[..3], ["sudo", "-n", "env"]);
        assert_eq!(sudo.last().map(String::as_str), Some("golang-go"));
        let root = apt_argv(&Privilege::Root, &packages).unwrap();
        assert_eq!(root[0], "env");
        assert_eq!(apt_argv(&Privilege::None, &packages), None);
        assert_eq!(apt_argv(&Privilege::NoApt, &packages), None);

        let user = Facts {
            root: false,
            sudo: true,
            ..facts()
        };
        let install = compose(&missing(), Vec::new(), &user);
        assert_eq!(install.privilege, Some(Privilege::Sudo));
        // binfmt needs root; a note says why it is left alone.
        assert!(install.binfmt.is_empty());
        assert!(install.binfmt_note.is_some());

        let nobody = Facts {
            root: false,
            sudo: false,
            ..facts()
        };
        let install = compose(&missing(), Vec::new(), &nobody);
        assert_eq!(install.privilege, Some(Privilege::None));
        let text = describe(&install);
        assert!(
            text.contains("not root and no sudo; as root, run: sudo apt-get install -y --no-install-recommends gcc-aarch64-linux-gnu"),
            "{text}"
        );
    }

    #[test]
    fn zig_without_python_brings_python_venv() {
        let no_python = Facts {
            python: None,
            ..facts()
        };
        let install = compose(&missing(), Vec::new(), &no_python);
        assert!(install.packages.contains(&"python3-venv".to_string()));
        assert_eq!(install.zig, Some((PathBuf::from("/t"), None)));
        let nowhere = Facts {
            tools: None,
            ..facts()
        };
        let install = compose(&missing(), Vec::new(), &nowhere);
        assert_eq!(install.zig, None);
        assert!(install.zig_problem.unwrap().contains("MATRIX_TOOLS"));
        // A cache another user can write to is not filled (nor used).
        let shared = Facts {
            tools_untrusted: Some("/t is writable by every user".into()),
            ..facts()
        };
        let install = compose(&missing(), Vec::new(), &shared);
        assert_eq!(install.zig, None);
        assert!(
            install
                .zig_problem
                .unwrap()
                .contains("writable by every user"),
            "the reason is told"
        );
    }

    #[test]
    fn a_program_name_cannot_rewrite_the_printed_plan() {
        // ESC [1A ESC [2K: cursor up, erase the line (the apt line above).
        let evil = "x\u{1b}[1A\u{1b}[2K";
        let needs = vec![need("x", "command", need_for_program(evil), false)];
        let text = describe(&compose(&needs, Vec::new(), &facts()));
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert!(text.contains("by hand: x\\u{1b}[1A"), "{text:?}");
    }

    #[test]
    fn nothing_missing_is_nothing_to_do() {
        let present: Vec<TargetNeed> = missing()
            .into_iter()
            .map(|mut n| {
                n.met = true;
                n
            })
            .collect();
        let registered = Facts {
            binfmt_registered: vec!["qemu-aarch64".into(), "qemu-riscv64".into()],
            ..facts()
        };
        let install = compose(&present, Vec::new(), &registered);
        assert!(install.is_empty(), "{install:?}");
        assert!(install.manual.is_empty());
        assert_eq!(describe(&install), "");
    }

    fn plan_with_cc(cc: &str) -> Plan {
        let text = format!(
            "[project]\nname = \"hello\"\n[matrix]\nos = [\"linux\"]\narch = [\"amd64\", \"arm64\"]\n[build]\npreset = \"zig-cc\"\ncommand = \"make\"\nbinary = \"hello\"\noverrides = [ {{ when = {{ arch = \"arm64\" }}, env = {{ CC = {} }} }} ]\n",
            toml::Value::String(cc.to_string())
        );
        let loaded = crate::config::parse(Path::new("matrix.toml"), text).unwrap();
        let version = crate::version::Version {
            version: "1.2.3".into(),
            tag: "v1.2.3".into(),
            major: 1,
            minor: 2,
            patch: 3,
            prerelease: String::new(),
            commit: "0".repeat(40),
            short_commit: "0000000".into(),
            commit_timestamp: 0,
            commit_date: "1970-01-01T00:00:00Z".into(),
            is_snapshot: true,
            timestamp: 0,
        };
        let request = crate::plan::Request {
            version,
            root: PathBuf::from("/src/hello"),
            dist: PathBuf::from("/src/hello/dist"),
            filters: Vec::new(),
            env: Default::default(),
            push: false,
            oci_archives: false,
            images: false,
            has_changelog: false,
        };
        crate::plan::build(&loaded, &request).unwrap()
    }

    #[test]
    fn warm_targets_are_zig_target_names_only() {
        let plain = warm_targets(&plan_with_cc("zig cc -target aarch64-linux-musl"));
        assert_eq!(plain, ["aarch64-linux-musl", "x86_64-linux-gnu"]);
        // Printed before the prompt and passed to zig: an escape sequence
        // or an option is not a target.
        for cc in [
            "zig cc -target aarch64-linux-musl\u{1b}[2K",
            "zig cc -target --help",
            "zig cc -target a;b",
        ] {
            let warm = warm_targets(&plan_with_cc(cc));
            assert_eq!(warm, ["x86_64-linux-gnu"], "{cc:?}");
        }
    }

    #[test]
    fn the_wrapper_never_writes_through_a_planted_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        let wrapper = tmp.path().join("zig");
        // The temporary name an earlier version used, planted in advance.
        let planted = wrapper.with_extension(format!("tmp{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        write_wrapper(&wrapper, Path::new("/v/bin/python")).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        let meta = wrapper.symlink_metadata().unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o755);
        assert!(
            std::fs::read_to_string(&wrapper)
                .unwrap()
                .contains("/v/bin/python")
        );
    }

    #[test]
    fn the_wrapper_quotes_the_venv_path() {
        let text = wrapper_text(Path::new("/home/o'brien/zig venv/bin/python"));
        assert!(text.starts_with("#!/bin/sh\n"), "{text}");
        let last = text.lines().last().unwrap();
        let words = shell_words::split(last).unwrap();
        assert_eq!(
            words,
            [
                "exec",
                "/home/o'brien/zig venv/bin/python",
                "-m",
                "ziglang",
                "$@"
            ]
        );
    }
}
