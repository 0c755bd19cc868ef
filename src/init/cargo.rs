//! Rust projects for `matrix init`: the package and its binary targets
//! from Cargo.toml, or a workspace's members' binaries.

use std::path::Path;

use super::InitError;
use super::detect::{self, Facts, License, Probe};

/// Most workspace members `init` reads.
const MAX_MEMBERS: usize = 200;

pub(super) fn detect(
    dir: &Path,
    bin: Option<&str>,
    probe: &Probe,
    facts: &mut Facts,
) -> Result<(), InitError> {
    let path = dir.join("Cargo.toml");
    let root = parse(&path)?;
    let mut candidates: Vec<String> = Vec::new();
    let package = root.get("package").and_then(|p| p.as_table());
    if let Some(pkg) = package {
        candidates.extend(binaries(dir, &root));
        let text = |k: &str| pkg.get(k).and_then(|v| v.as_str()).map(str::to_string);
        if let Some(name) = text("name").as_deref().and_then(detect::sanitize_name) {
            facts.name = name;
        }
        facts.description = text("description")
            .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|d| !d.is_empty());
        facts.homepage = text("homepage").or_else(|| text("repository"));
        if let Some(spdx) = text("license").filter(|l| !l.trim().is_empty()) {
            facts.license = License::Known {
                spdx,
                from: "Cargo.toml".into(),
            };
        }
    }
    let members = members(dir, &root)?;
    let workspace = !members.is_empty();
    for member in &members {
        let member_dir = dir.join(member);
        let manifest = member_dir.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let table = parse(&manifest)?;
        if table.get("package").is_some() {
            for b in binaries(&member_dir, &table) {
                if !candidates.contains(&b) {
                    candidates.push(b);
                }
            }
        }
    }
    // The package's own name first: it is what `cargo install` would pick.
    if let Some(pos) = candidates.iter().position(|c| *c == facts.name) {
        let c = candidates.remove(pos);
        candidates.insert(0, c);
    }
    facts.binary = detect::pick(candidates, bin, &path, facts)?;
    facts.found.push(match (package.is_some(), workspace) {
        (true, false) => format!(
            "Cargo.toml: package {}, binary {}",
            facts.name, facts.binary
        ),
        (_, true) => format!(
            "Cargo.toml: a workspace of {} member(s); cargo builds them all, the archives carry {}",
            members.len(),
            facts.binary
        ),
        (false, false) => format!("Cargo.toml: binary {}", facts.binary),
    });
    if !dir.join("Cargo.lock").is_file() {
        facts.edits.push(
            "there is no Cargo.lock: the cargo presets build with --locked, so run `cargo generate-lockfile` and commit Cargo.lock".into(),
        );
    }
    facts.build = detect::rust_build(probe, workspace);
    Ok(())
}

fn parse(path: &Path) -> Result<toml::Table, InitError> {
    let source = detect::read_manifest(path)?;
    toml::from_str::<toml::Table>(&source.text).map_err(|e| {
        source
            .error_span(
                e.span(),
                format!(
                    "{} is not valid TOML: {}",
                    path.display(),
                    e.message().trim()
                ),
                Some("fix the manifest so that `cargo metadata` reads it".into()),
                "here".into(),
            )
            .into()
    })
}

/// A package's binaries as cargo finds them: `[[bin]]` names, then
/// src/main.rs (named after the package) and src/bin/*.rs and
/// src/bin/*/main.rs unless `autobins = false`.
fn binaries(dir: &Path, manifest: &toml::Table) -> Vec<String> {
    let pkg = manifest.get("package").and_then(|p| p.as_table());
    let package_name = pkg.and_then(|p| p.get("name")).and_then(|n| n.as_str());
    let mut out: Vec<String> = Vec::new();
    let mut push = |name: &str| {
        if detect::is_plain_name(name) && !out.iter().any(|o| o == name) {
            out.push(name.to_string());
        }
    };
    if let Some(bins) = manifest.get("bin").and_then(|b| b.as_array()) {
        for b in bins {
            if let Some(name) = b.get("name").and_then(|n| n.as_str()) {
                push(name);
            }
        }
    }
    let autobins = pkg
        .and_then(|p| p.get("autobins"))
        .and_then(|a| a.as_bool())
        .unwrap_or(true);
    if !autobins {
        return out;
    }
    if let Some(name) = package_name
        && dir.join("src/main.rs").is_file()
    {
        push(name);
    }
    if let Ok(entries) = detect::list(&dir.join("src/bin")) {
        for e in entries {
            if let Some(stem) = e.strip_suffix(".rs") {
                push(stem);
            } else if dir.join("src/bin").join(&e).join("main.rs").is_file() {
                push(&e);
            }
        }
    }
    out
}

/// `[workspace] members`, with a trailing `/*` expanded to the folders
/// that hold a Cargo.toml; paths leaving the project are ignored.
fn members(dir: &Path, root: &toml::Table) -> Result<Vec<String>, InitError> {
    let list = root
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for m in list.iter().filter_map(|m| m.as_str()) {
        if m.starts_with('/') || m.split('/').any(|c| c == "..") {
            continue;
        }
        if let Some(parent) = m.strip_suffix("/*") {
            if parent.contains(['*', '?', '[']) {
                continue;
            }
            for e in detect::list(&dir.join(parent)).unwrap_or_default() {
                if dir.join(parent).join(&e).join("Cargo.toml").is_file() {
                    out.push(format!("{parent}/{e}"));
                }
            }
        } else if !m.contains(['*', '?', '[']) {
            out.push(m.to_string());
        }
        if out.len() > MAX_MEMBERS {
            out.truncate(MAX_MEMBERS);
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_targets_and_autobins() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::create_dir_all(d.join("src/bin/multi")).unwrap();
        std::fs::write(d.join("src/main.rs"), "fn main(){}").unwrap();
        std::fs::write(d.join("src/bin/extra.rs"), "fn main(){}").unwrap();
        std::fs::write(d.join("src/bin/multi/main.rs"), "fn main(){}").unwrap();
        let m: toml::Table = toml::from_str(
            "[package]\nname = \"pkg\"\n[[bin]]\nname = \"tool\"\npath = \"x.rs\"\n",
        )
        .unwrap();
        assert_eq!(binaries(d, &m), ["tool", "pkg", "extra", "multi"]);
        let m: toml::Table =
            toml::from_str("[package]\nname = \"pkg\"\nautobins = false\n").unwrap();
        assert!(binaries(d, &m).is_empty());
    }

    #[test]
    fn members_stay_inside_the_project() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        for m in ["crates/a", "crates/b", "tools/c"] {
            std::fs::create_dir_all(d.join(m)).unwrap();
            std::fs::write(d.join(m).join("Cargo.toml"), "").unwrap();
        }
        std::fs::create_dir_all(d.join("crates/no-manifest")).unwrap();
        let root: toml::Table = toml::from_str(
            "[workspace]\nmembers = [\"crates/*\", \"tools/c\", \"../escape\", \"/abs\", \"x/*/y\"]\n",
        )
        .unwrap();
        assert_eq!(
            members(d, &root).unwrap(),
            ["crates/a", "crates/b", "tools/c"]
        );
    }
}
