//! Go projects for `matrix init`: the module path from go.mod and the main
//! package, at the module root or in `cmd/<name>/`.

use std::path::Path;

use super::InitError;
use super::detect::{self, Build, Facts, Probe};
use super::tables;

pub(super) fn detect(
    dir: &Path,
    bin: Option<&str>,
    probe: &Probe,
    facts: &mut Facts,
) -> Result<(), InitError> {
    let path = dir.join("go.mod");
    let source = detect::read_manifest(&path)?;
    let module = module_path(&source.text).ok_or_else(|| {
        InitError::from(source.error_span(
            Some(0..0),
            "go.mod has no `module` line",
            Some("a Go module starts with `module <path>`, e.g. `module example.org/hello`".into()),
            "here".into(),
        ))
    })?;
    let base = binary_of_module(&module);
    // Candidates: the root's main package (named after the module), then
    // cmd/<name>/ folders holding one, preferring the module's own name.
    let mut candidates: Vec<(String, Option<String>)> = Vec::new();
    if has_main(dir)? {
        candidates.push((base.clone().unwrap_or_else(|| facts.name.clone()), None));
    }
    let cmd = dir.join("cmd");
    if cmd.is_dir() {
        for name in detect::list(&cmd)? {
            let sub = cmd.join(&name);
            if sub.is_dir() && has_main(&sub)? {
                candidates.push((name.clone(), Some(format!("cmd/{name}"))));
            }
        }
    }
    if candidates.is_empty() {
        return Err(InitError::NoBinary {
            path,
            what: "no `package main` at the module root or in cmd/<name>/".into(),
        });
    }
    if let Some(pos) = candidates
        .iter()
        .position(|(n, d)| d.is_some() && Some(n) == base.as_ref())
        && candidates[0].1.is_some()
    {
        let c = candidates.remove(pos);
        candidates.insert(0, c);
    }
    let names: Vec<String> = candidates.iter().map(|(n, _)| n.clone()).collect();
    let chosen = detect::pick(names, bin, &path, facts)?;
    let main_dir = candidates
        .into_iter()
        .find(|(n, _)| *n == chosen)
        .and_then(|(_, d)| d);
    if let Some(name) = base.as_deref().and_then(detect::sanitize_name) {
        facts.name = name;
    }
    facts.binary = chosen;
    facts.found.push(format!(
        "go.mod: module {module}; main package {}",
        main_dir.as_deref().unwrap_or("at the module root")
    ));
    let (unsupported, go_version) = match (probe.go)() {
        Some((list, version)) => (
            tables::go()
                .iter()
                .filter(|p| !list.contains(&format!("{}/{}", p.goos, p.goarch)))
                .map(|p| p.name())
                .collect(),
            Some(version),
        ),
        None => {
            facts.edits.push(
                "Go is not installed here (`go` is not on PATH): install it (apt-get install -y golang-go) before `matrix build`".into(),
            );
            (Vec::new(), None)
        }
    };
    facts.build = Build::Go {
        module,
        dir: main_dir,
        unsupported,
        go_version,
    };
    Ok(())
}

/// The path of go.mod's `module` directive (quoted or not).
pub(super) fn module_path(gomod: &str) -> Option<String> {
    for line in gomod.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("module") else {
            continue;
        };
        if !rest.starts_with(|c: char| c.is_whitespace() || c == '"' || c == '`') {
            continue;
        }
        let path = rest.trim().trim_matches(|c| c == '"' || c == '`').trim();
        if !path.is_empty() {
            return Some(path.to_string());
        }
    }
    None
}

/// The binary `go build` names after a module path: its last element,
/// skipping a major-version suffix (`example.org/tool/v2` is `tool`).
pub(super) fn binary_of_module(module: &str) -> Option<String> {
    let mut parts = module.rsplit('/');
    let last = parts.next()?;
    let is_major =
        last.len() > 1 && last.starts_with('v') && last[1..].chars().all(|c| c.is_ascii_digit());
    let name = if is_major { parts.next()? } else { last };
    detect::is_plain_name(name).then(|| name.to_string())
}

/// Whether `dir` holds a non-test .go file of `package main` that is
/// built (a `//go:build ignore` generator is not).
fn has_main(dir: &Path) -> Result<bool, InitError> {
    for name in detect::list(dir)? {
        if !name.ends_with(".go") || name.ends_with("_test.go") {
            continue;
        }
        let Some(text) = detect::read_text(&dir.join(&name)).ok().flatten() else {
            continue;
        };
        if package_clause(&text) == Some("main") {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The package name of a Go file, or `None` when the file is excluded by
/// an `ignore` build constraint or has no package clause.
pub(super) fn package_clause(text: &str) -> Option<&str> {
    let mut in_block = false;
    for line in text.lines() {
        let line = line.trim();
        if in_block {
            if line.contains("*/") {
                in_block = false;
            }
            continue;
        }
        if line.starts_with("//go:build") || line.starts_with("// +build") {
            if line.split_whitespace().any(|w| w == "ignore") {
                return None;
            }
            continue;
        }
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        if line.starts_with("/*") {
            in_block = !line.contains("*/");
            continue;
        }
        return line
            .strip_prefix("package")
            .filter(|r| r.starts_with(char::is_whitespace))
            .and_then(|r| r.split_whitespace().next());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths() {
        assert_eq!(
            module_path("// c\nmodule example.org/hello // x\n\ngo 1.19\n").as_deref(),
            Some("example.org/hello")
        );
        assert_eq!(
            module_path("module \"example.org/q\"\n").as_deref(),
            Some("example.org/q")
        );
        assert_eq!(module_path("modules x\ngo 1.2\n"), None);
        assert_eq!(
            binary_of_module("github.com/u/tool/v2").as_deref(),
            Some("tool")
        );
        assert_eq!(binary_of_module("hello").as_deref(), Some("hello"));
        assert_eq!(binary_of_module("example.org/v").as_deref(), Some("v"));
        assert_eq!(binary_of_module("example.org/a b"), None);
    }

    #[test]
    fn package_clauses() {
        assert_eq!(
            package_clause("// doc\n/* a\n b */\npackage main\n"),
            Some("main")
        );
        assert_eq!(package_clause("//go:build ignore\n\npackage main\n"), None);
        assert_eq!(
            package_clause("//go:build linux\npackage main\n"),
            Some("main")
        );
        assert_eq!(package_clause("package toml // x\n"), Some("toml"));
        assert_eq!(package_clause("packagemain\n"), None);
    }
}
