//! What `matrix init` finds in a project folder: the toolchain (go.mod,
//! Cargo.toml, a Makefile / CMakeLists.txt / meson.build), the binary, and
//! the files a release carries (LICENSE, README, CHANGELOG, Dockerfile).
//!
//! Every file is treated as hostile: reads are capped, only regular files
//! are read, names that are not plain file names are skipped, and parse
//! errors name the file, line and column. The machine's toolchains are
//! asked only through [`Probe`], so rendering stays pure.

use std::collections::BTreeSet;
use std::path::Path;

use super::InitError;
use super::tables::{self, RustTarget};
use super::text;
use crate::config::Source;
use crate::preset::Need;
use crate::process::{Stream, tool};

/// Largest project file `init` reads (a go.mod, a Cargo.toml, a README).
const MAX_READ: u64 = 1024 * 1024;

/// Everything `render` needs to write matrix.toml.
#[derive(Debug, Clone)]
pub struct Facts {
    pub name: String,
    pub description: Option<String>,
    pub license: License,
    pub homepage: Option<String>,
    /// Files for every archive: licenses, README, changelog.
    pub files: Vec<String>,
    pub changelog: Option<String>,
    pub dockerfile: Option<String>,
    pub build: Build,
    pub binary: String,
    /// Other programs the project has, not released by this file.
    pub other_binaries: Vec<String>,
    /// What was found, one line each, for the report.
    pub found: Vec<String>,
    /// What must change before a build can work, one line each.
    pub edits: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum License {
    /// An SPDX id, and the file (or manifest key) it came from.
    Known {
        spdx: String,
        from: String,
    },
    /// License files whose text is not one matrix recognises (or several).
    Unclear {
        note: String,
    },
    None,
}

#[derive(Debug, Clone)]
pub enum Build {
    Go {
        module: String,
        /// The main package's folder, when not the module root.
        dir: Option<String>,
        /// The platforms this machine's Go cannot build (`go tool dist list`).
        unsupported: Vec<String>,
        go_version: Option<String>,
    },
    Rust {
        targets: Vec<RustTarget>,
        /// Platforms no cargo preset builds.
        unbuildable: Vec<String>,
        /// Cargo.toml declares workspace members (cargo builds them all).
        workspace: bool,
    },
    C(CBuild),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CBuild {
    /// A Makefile; `out`: it writes the binary to `$(OUT)`.
    Make {
        file: String,
        out: bool,
        version: bool,
        sets_cc: bool,
    },
    CMake,
    Meson,
}

/// How `detect` asks the machine: which toolchain needs are met, which
/// GOOS/GOARCH pairs the installed Go supports.
pub struct Probe<'a> {
    pub met: &'a dyn Fn(&Need) -> bool,
    /// `go tool dist list` and `go version`, when Go is installed.
    pub go: &'a dyn Fn() -> Option<(BTreeSet<String>, String)>,
}

impl Probe<'_> {
    /// This machine.
    pub fn host() -> Probe<'static> {
        Probe {
            met: &|n: &Need| n.is_met(),
            go: &go_dist_list,
        }
    }
}

fn go_dist_list() -> Option<(BTreeSet<String>, String)> {
    let run = |args: &[&str]| {
        tool(
            "go",
            args,
            &[("GOFLAGS", "")],
            Stream::Capture,
            Stream::Capture,
        )
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let list = run(&["tool", "dist", "list"])?;
    let version = run(&["env", "GOVERSION"])?.trim().to_string();
    Some((
        list.lines().map(|l| l.trim().to_string()).collect(),
        version,
    ))
}

/// Looks at the project in `dir`. `bin` picks the binary among several.
pub fn detect(dir: &Path, bin: Option<&str>, probe: &Probe) -> Result<Facts, InitError> {
    let entries = list(dir)?;
    let has = |name: &str| entries.iter().any(|e| e == name);
    let folder = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let mut facts = Facts {
        name: sanitize_name(&folder).unwrap_or_else(|| "app".into()),
        description: None,
        license: License::None,
        homepage: None,
        files: Vec::new(),
        changelog: None,
        dockerfile: None,
        // Each toolchain's detector below sets the build it found.
        build: Build::C(CBuild::CMake),
        binary: String::new(),
        other_binaries: Vec::new(),
        found: Vec::new(),
        edits: Vec::new(),
    };
    if has("go.mod") {
        super::go::detect(dir, bin, probe, &mut facts)?;
    } else if has("Cargo.toml") {
        super::cargo::detect(dir, bin, probe, &mut facts)?;
    } else if let Some(file) = ["GNUmakefile", "Makefile", "makefile"]
        .into_iter()
        .find(|f| has(f))
    {
        super::c::make(dir, file, bin, &mut facts)?;
    } else if has("CMakeLists.txt") {
        super::c::cmake(dir, bin, &mut facts)?;
    } else if has("meson.build") {
        super::c::meson(dir, bin, &mut facts)?;
    } else {
        return Err(InitError::NoProject {
            dir: dir.to_path_buf(),
        });
    }
    for other in [
        "go.mod",
        "Cargo.toml",
        "Makefile",
        "CMakeLists.txt",
        "meson.build",
    ] {
        if has(other) && !facts.found.iter().any(|f| f.starts_with(other)) {
            facts
                .found
                .push(format!("{other}: present, not used for the build"));
        }
    }
    extras(dir, &entries, &mut facts);
    Ok(facts)
}

/// LICENSE/COPYING, README, CHANGELOG and a Dockerfile. Only regular
/// files count: a symlink could put any file of the machine into every
/// archive.
fn extras(dir: &Path, entries: &[String], facts: &mut Facts) {
    let entries: Vec<String> = entries
        .iter()
        .filter(|e| dir.join(e).symlink_metadata().is_ok_and(|m| m.is_file()))
        .cloned()
        .collect();
    let entries = entries.as_slice();
    let upper = |e: &str| e.to_ascii_uppercase();
    let licenses: Vec<&String> = entries
        .iter()
        .filter(|e| {
            let u = upper(e);
            ["LICENSE", "LICENCE", "COPYING", "UNLICENSE"]
                .iter()
                .any(|p| {
                    u == *p || u.starts_with(&format!("{p}.")) || u.starts_with(&format!("{p}-"))
                })
        })
        .collect();
    let mut ids: Vec<(String, String)> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for l in &licenses {
        facts.files.push((*l).clone());
        match read_text(&dir.join(l))
            .ok()
            .flatten()
            .and_then(|t| text::spdx_of(&t))
        {
            Some(id) => ids.push((id.to_string(), (*l).clone())),
            None => unknown.push((*l).clone()),
        }
    }
    if matches!(facts.license, License::None) && !licenses.is_empty() {
        let distinct: BTreeSet<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
        facts.license = if distinct.len() == 1 && unknown.is_empty() {
            License::Known {
                spdx: ids[0].0.clone(),
                from: ids
                    .iter()
                    .map(|(_, f)| f.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        } else {
            let mut parts: Vec<String> = ids
                .iter()
                .map(|(id, f)| format!("{f} looks like {id}"))
                .collect();
            parts.extend(
                unknown
                    .iter()
                    .map(|f| format!("{f} is not a license text matrix recognises")),
            );
            License::Unclear {
                note: parts.join("; "),
            }
        };
    }
    match &facts.license {
        License::Known { spdx, from } => facts.found.push(format!("license: {spdx} (from {from})")),
        License::Unclear { note } => facts.found.push(format!("license: unclear ({note})")),
        License::None => facts
            .found
            .push("license: no LICENSE or COPYING file".into()),
    }
    let readme = [
        "README.md",
        "README",
        "README.txt",
        "README.rst",
        "README.markdown",
    ]
    .iter()
    .find_map(|r| entries.iter().find(|e| upper(e) == upper(r)))
    .or_else(|| entries.iter().find(|e| upper(e).starts_with("README")));
    if let Some(readme) = readme {
        facts.files.push(readme.clone());
        if facts.description.is_none() {
            facts.description = read_text(&dir.join(readme))
                .ok()
                .flatten()
                .and_then(|t| text::description_of(&t));
        }
        facts.found.push(format!("readme: {readme}"));
    }
    let changelog = [
        "CHANGELOG.md",
        "CHANGELOG",
        "CHANGELOG.txt",
        "CHANGELOG.markdown",
    ]
    .iter()
    .find_map(|c| entries.iter().find(|e| upper(e) == upper(c)))
    .or_else(|| entries.iter().find(|e| upper(e).starts_with("CHANGELOG")));
    if let Some(c) = changelog {
        facts.files.push(c.clone());
        facts.changelog = Some(c.clone());
        facts.found.push(format!("changelog: {c}"));
    }
    if let Some(d) = entries
        .iter()
        .find(|e| *e == "Dockerfile" || *e == "Containerfile")
    {
        facts.dockerfile = Some(d.clone());
        facts.found.push(format!(
            "{d}: an [images] section is written, commented out"
        ));
    }
}

/// The plain file names in `dir`, sorted: names a glob or a TOML string
/// could misread (wildcards, control characters) are left out.
pub(super) fn list(dir: &Path) -> Result<Vec<String>, InitError> {
    let read = std::fs::read_dir(dir).map_err(|e| InitError::io(dir, e))?;
    let mut names = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| InitError::io(dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if is_plain_name(&name) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Letters, digits and `.`, `_`, `-`, `+`, not starting with a dot: what a
/// file name, a binary name or a glob can hold without quoting.
pub(super) fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        // A command (`cargo build --bin`, `make`, `cp`) would take it for
        // an option; the plan refuses such a binary name.
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
}

/// A project name matrix accepts (letters, digits, `.`, `_`, `-`).
pub(super) fn sanitize_name(name: &str) -> Option<String> {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches(|c| c == '-' || c == '.').to_string();
    (!s.is_empty()).then_some(s)
}

/// The text of a regular file, at most [`MAX_READ`] bytes; `None` when it
/// is not a regular file or not UTF-8 (a directory or FIFO is never read).
pub(super) fn read_text(path: &Path) -> Result<Option<String>, InitError> {
    use std::io::Read;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(InitError::io(path, e)),
    };
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.len() > MAX_READ {
        return Err(InitError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_READ,
        });
    }
    let file = std::fs::File::open(path).map_err(|e| InitError::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_READ + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InitError::io(path, e))?;
    if bytes.len() as u64 > MAX_READ {
        return Err(InitError::TooLarge {
            path: path.to_path_buf(),
            limit: MAX_READ,
        });
    }
    Ok(String::from_utf8(bytes).ok())
}

/// A manifest the build depends on: must exist, be UTF-8 and fit the cap.
pub(super) fn read_manifest(path: &Path) -> Result<Source, InitError> {
    match read_text(path)? {
        Some(text) => Ok(Source::new(path, text)),
        None => Err(InitError::Unreadable {
            path: path.to_path_buf(),
        }),
    }
}

/// Picks the binary to release among `candidates` (in preference order):
/// `--bin`, else the first. The others are noted.
pub(super) fn pick(
    candidates: Vec<String>,
    bin: Option<&str>,
    manifest: &Path,
    facts: &mut Facts,
) -> Result<String, InitError> {
    if candidates.is_empty() {
        return Err(InitError::NoBinary {
            path: manifest.to_path_buf(),
            what: "no program (binary target)".into(),
        });
    }
    let chosen = match bin {
        Some(b) if candidates.iter().any(|c| c == b) => b.to_string(),
        Some(b) => {
            return Err(InitError::UnknownBin {
                bin: b.to_string(),
                candidates: candidates.join(", "),
            });
        }
        None => candidates[0].clone(),
    };
    facts.other_binaries = candidates.into_iter().filter(|c| *c != chosen).collect();
    Ok(chosen)
}

/// The rust table for this machine.
pub(super) fn rust_build(probe: &Probe, workspace: bool) -> Build {
    let (targets, none) = tables::rust(probe.met);
    Build::Rust {
        targets,
        unbuildable: none.iter().map(|p| p.name()).collect(),
        workspace,
    }
}
