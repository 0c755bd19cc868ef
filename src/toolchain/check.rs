//! The toolchain check before any job runs: every program each host target
//! needs (its preset's tools, its own command's program, qemu for a smoke
//! run), found or not, and where.

use std::ffi::OsStr;
use std::path::PathBuf;

use serde::Serialize;

use super::command::{need_for_program, program_of};
use crate::plan::Plan;
use crate::preset::{Need, qemu_need};
use crate::process::{Location, locate};
use crate::target::runs_natively;

/// One thing one target needs, for `matrix doctor` and the pre-build check.
#[derive(Debug, Clone, Serialize)]
pub struct TargetNeed {
    pub target: String,
    /// The preset, "command" for the program of the target's own command,
    /// or "smoke" for the emulator a smoke run needs.
    pub by: String,
    pub need: Need,
    pub met: bool,
    /// Where a program was found (or lies unused off PATH); none for a
    /// Rust standard library.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl TargetNeed {
    /// What to do about it when it is missing: where it lies unused, or
    /// how to install it.
    pub fn advice(&self) -> String {
        match &self.location {
            Some(Location::OffPath(p)) => {
                let dir = p.parent().unwrap_or(p).display().to_string();
                // A line to paste into a shell: a folder with `"`, `$` or
                // a backquote in it is single-quoted, so it stays a name.
                let export = if dir
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-+@%,=".contains(c))
                {
                    format!("export PATH=\"{dir}:$PATH\"")
                } else {
                    format!("export PATH={}:\"$PATH\"", shell_words::quote(&dir))
                };
                format!(
                    "installed at {} but that folder is not on PATH; add it: {export}",
                    p.display()
                )
            }
            _ => self.need.install().to_string(),
        }
    }

    /// One indented line naming the target, what is missing, for what, and
    /// the advice: the list `build` refuses with and `doctor --install`
    /// leaves.
    pub fn missing_line(&self) -> String {
        format!(
            "  {}: {} (for {}): {}",
            self.target,
            self.need.what(),
            self.by,
            self.advice()
        )
    }
}

/// Everything the plan's host targets need installed, checked against this
/// machine. Targets that build in a container are checked in their image
/// instead (`check_images`).
pub fn check_plan(plan: &Plan, smoke: bool) -> Vec<TargetNeed> {
    let mut out = Vec::new();
    for t in &plan.targets {
        let mut needs: Vec<(String, Need)> = Vec::new();
        let on_host = t.build.container.is_none();
        if let (Some(preset), Some(p), true) = (t.build.preset, t.platform, on_host) {
            needs.extend(
                preset
                    .needs(p)
                    .into_iter()
                    .map(|n| (preset.name().to_string(), n)),
            );
        }
        if on_host
            && let Some(prog) = program_of(&t.build)
            && !needs.iter().any(|(_, n)| n.what() == prog)
        {
            needs.push(("command".into(), need_for_program(&prog)));
        }
        if let Some(p) = t.platform
            && smoke
            && t.build.smoke.is_some()
            && p.os == "linux"
            && !runs_natively(p)
            && let Some(q) = p.qemu
        {
            needs.push(("smoke".into(), qemu_need(q)));
        }
        let path = t.build.env.get("PATH").map(OsStr::new);
        for (by, need) in needs {
            let (met, location) = match &need {
                Need::Program { name, .. } => {
                    let at = locate(name, &t.build.dir, path);
                    (at.is_usable(), Some(at))
                }
                Need::RustTarget { .. } => (need.is_met(), None),
            };
            out.push(TargetNeed {
                target: t.id.clone(),
                by,
                need,
                met,
                location,
            });
        }
    }
    out
}

/// When a program was found only in matrix's tool cache, the host build
/// jobs get the cache's `bin` folder at the end of their PATH, so `zig`
/// (and `CC="zig cc ..."` inside a Makefile) works without the user
/// touching PATH. Returns the folder when it was added.
pub fn use_tool_cache(plan: &mut Plan, needs: &[TargetNeed]) -> Option<PathBuf> {
    let bin = needs.iter().find_map(|n| match &n.location {
        Some(Location::ToolCache(p)) => p.parent().map(PathBuf::from),
        _ => None,
    })?;
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    for t in plan
        .targets
        .iter_mut()
        .filter(|t| t.build.container.is_none())
    {
        let current: Vec<PathBuf> = match t.build.env.get("PATH") {
            Some(p) => std::env::split_paths(p).collect(),
            None => std::env::split_paths(&inherited).collect(),
        };
        if current.contains(&bin) {
            continue;
        }
        let joined = std::env::join_paths(current.into_iter().chain([bin.clone()]));
        // A PATH entry with a `:` cannot be joined; such a job keeps its PATH.
        if let Ok(joined) = joined {
            t.build
                .env
                .insert("PATH".into(), joined.to_string_lossy().into_owned());
        }
    }
    Some(bin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolchain::need_for_program;

    fn off_path(path: &str) -> String {
        TargetNeed {
            target: "linux/amd64".into(),
            by: "command".into(),
            need: need_for_program("tool"),
            met: false,
            location: Some(Location::OffPath(PathBuf::from(path))),
        }
        .advice()
    }

    #[test]
    fn the_export_line_keeps_a_strange_folder_one_word() {
        assert!(
            off_path("/home/me/go/bin/tool").ends_with("export PATH=\"/home/me/go/bin:$PATH\""),
            "plain folders stay readable"
        );
        let advice = off_path("/home/a\"$(touch x)`id`/go/bin/tool");
        let line = advice.split("add it: ").nth(1).unwrap();
        let words = shell_words::split(line.strip_prefix("export ").unwrap()).unwrap();
        assert_eq!(
            words,
            ["PATH=/home/a\"$(touch x)`id`/go/bin:$PATH"],
            "{line}"
        );
        assert!(line.contains("'/home/a\"$(touch x)`id`/go/bin'"), "{line}");
    }
}
