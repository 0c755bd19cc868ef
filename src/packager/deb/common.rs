//! What the deb and rpm channels share: their settings with defaults
//! decided at plan time, the checks of those settings (each a located
//! plan error), the version and architecture mappings, the dependency
//! syntax, and reading the project's files without following symlinks.
//!
//! Part of `packager::deb`; `packager::rpm` uses it too.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::config::LinuxConfig;
use crate::packager::PublishError;
use crate::packager::input::Package;
use crate::packager::registry::{At, PlanInput, Problem};
use crate::target::Platform;

/// The most bytes matrix reads of one project file (man page, completion,
/// config file, script).
pub const MAX_FILE: u64 = 16 << 20;
/// The most entries `files` and `config-files` take together.
pub const MAX_FILES: usize = 1000;

/// A deb or rpm channel, planned.
#[derive(Debug, Clone, Serialize)]
pub struct LinuxStep {
    pub channel: String,
    pub name: String,
    pub maintainer: Option<String>,
    pub summary: String,
    /// The long description, possibly empty.
    pub description: String,
    pub license: String,
    pub homepage: String,
    pub epoch: Option<u32>,
    pub section: String,
    pub depends: Vec<Dep>,
    pub recommends: Vec<Dep>,
    pub conflicts: Vec<Dep>,
    pub provides: Vec<Dep>,
    pub bin_dir: String,
    /// Installed path → project file, sorted by installed path.
    pub files: Vec<(String, PathBuf)>,
    /// The same, for configuration files.
    pub config_files: Vec<(String, PathBuf)>,
    /// (Debian script name, project file).
    pub scripts: Vec<(&'static str, PathBuf)>,
    /// The project folder (nothing is read from outside it).
    pub root: PathBuf,
    /// The folder under dist/.
    pub dir: String,
}

/// One dependency: alternatives, each a name with an optional relation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Dep(pub Vec<Rel>);

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Rel {
    pub name: String,
    /// (`<<`, `<=`, `=`, `>=`, `>>`, version).
    pub version: Option<(String, String)>,
}

impl Dep {
    /// Debian syntax: `a (>= 1) | b`.
    pub fn debian(&self) -> String {
        self.0
            .iter()
            .map(|r| match &r.version {
                Some((op, v)) => format!("{} ({op} {v})", r.name),
                None => r.name.clone(),
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// Parses one entry of `depends` (and the others) in Debian syntax.
pub fn parse_dep(text: &str, alternatives: bool, only_eq: bool) -> Result<Dep, String> {
    let mut out = Vec::new();
    for part in text.split('|') {
        let part = part.trim();
        let (name, rest) = match part.find(['(', ' ']) {
            Some(i) => (&part[..i], part[i..].trim()),
            None => (part, ""),
        };
        if !is_package_name(name) {
            return Err(format!(
                "{name:?} is not a package name (lowercase letters, digits, `+`, `-`, `.`, at least two, starting with a letter or digit)"
            ));
        }
        let version = if rest.is_empty() {
            None
        } else {
            let inner = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("{rest:?}: a version relation is written `(>= 1.2)`"))?
                .trim();
            let op_len = inner
                .find(|c: char| !matches!(c, '<' | '>' | '='))
                .unwrap_or(inner.len());
            let (op, version) = (&inner[..op_len], inner[op_len..].trim());
            if !matches!(op, "<<" | "<=" | "=" | ">=" | ">>") {
                return Err(format!(
                    "{op:?} is not a version relation (one of <<, <=, =, >=, >>)"
                ));
            }
            if only_eq && op != "=" {
                return Err(format!("provides takes `=` only, not {op:?}"));
            }
            if version.is_empty()
                || !version.starts_with(|c: char| c.is_ascii_digit())
                || !version
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | '-' | ':'))
            {
                return Err(format!(
                    "{version:?} is not a version (a digit, then letters, digits, `.+~-:`)"
                ));
            }
            Some((op.to_string(), version.to_string()))
        };
        out.push(Rel {
            name: name.to_string(),
            version,
        });
    }
    if out.len() > 1 && !alternatives {
        return Err("alternatives (`a | b`) are for depends and recommends of a deb only".into());
    }
    Ok(Dep(out))
}

/// Debian's package name rule (RPM takes a superset).
pub fn is_package_name(name: &str) -> bool {
    name.len() >= 2
        && name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'))
}

/// The release's version in deb and rpm syntax (without epoch or
/// release): a SemVer pre-release sorts before the release with `~`
/// (`1.2.3-rc.1` → `1.2.3~rc.1`, its `-` become `.`), build metadata
/// (`+...`) is dropped, a calendar version stays as it is.
pub fn package_version(version: &str) -> Result<String, String> {
    let core = version.split_once('+').map_or(version, |(v, _)| v);
    let mapped = match core.split_once('-') {
        Some((release, pre)) => format!("{release}~{}", pre.replace('-', ".")),
        None => core.to_string(),
    };
    if mapped.starts_with(|c: char| c.is_ascii_digit())
        && mapped
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '~'))
    {
        Ok(mapped)
    } else {
        Err(format!(
            "version {version:?} maps to {mapped:?}, which is not a package version (a digit, then letters, digits, `.`, `~`)"
        ))
    }
}

/// dpkg's version rule (`dpkg --validate-version`, Debian policy 5.6.12):
/// `[epoch:]upstream[-revision]`, the epoch digits, the upstream version
/// starting with a digit and made of letters, digits, `.`, `+`, `~` and
/// `-` (only when there is a revision), the revision of letters, digits,
/// `.`, `+` and `~`. Colons only after an epoch. At most 256 bytes.
pub fn is_dpkg_version(version: &str) -> bool {
    let (epoch, rest) = version.split_once(':').unwrap_or(("0", version));
    let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, "0"));
    let chars = |s: &str, extra: &[char]| {
        s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~') || extra.contains(&c)
        })
    };
    version.len() <= 256
        && !epoch.is_empty()
        && epoch.bytes().all(|b| b.is_ascii_digit())
        && upstream.starts_with(|c: char| c.is_ascii_digit())
        && chars(upstream, &['-'])
        && !revision.is_empty()
        && chars(revision, &[])
}

/// dpkg's architecture rule: lowercase letters, digits and `-`, at most
/// 64 bytes, starting with a letter or digit (`amd64`, `all`,
/// `musl-linux-arm64`).
pub fn is_dpkg_arch(arch: &str) -> bool {
    arch.len() <= 64
        && arch.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && arch
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Debian architecture of the platforms the deb and rpm channels ship.
pub fn deb_arch(p: &Platform) -> Option<&'static str> {
    if p.os != "linux" {
        return None;
    }
    p.debian_arch.filter(|a| {
        matches!(
            *a,
            "amd64" | "arm64" | "i386" | "ppc64el" | "s390x" | "riscv64" | "armhf"
        )
    })
}

/// RPM architecture of the same platforms.
pub fn rpm_arch(p: &Platform) -> Option<&'static str> {
    Some(match deb_arch(p)? {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "i386" => "i686",
        "ppc64el" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "armhf" => "armv7hl",
        _ => return None,
    })
}

/// The package's architecture (by `arch`), or why it has none.
pub fn arch_of(
    channel: &str,
    package: &Package,
    arch: fn(&Platform) -> Option<&'static str>,
) -> Result<&'static str, PublishError> {
    arch(package.platform).ok_or_else(|| PublishError::Invalid {
        channel: channel.to_string(),
        message: format!("{} has no package architecture", package.target),
        help: Some(
            "deb and rpm ship linux amd64, arm64, 386, arm/v7, ppc64le, s390x and riscv64".into(),
        ),
    })
}

/// The package's architecture (by `arch`) and its package version (the
/// release's, see [`package_version`]), or why it has none.
pub fn arch_and_version(
    channel: &str,
    package: &Package,
    release: &crate::packager::input::Release,
    arch: fn(&Platform) -> Option<&'static str>,
) -> Result<(&'static str, String), PublishError> {
    let arch = arch_of(channel, package, arch)?;
    let version = package_version(&release.version).map_err(|message| PublishError::Invalid {
        channel: channel.to_string(),
        message,
        help: None,
    })?;
    Ok((arch, version))
}

fn problem(key: &'static str, message: String, help: &str) -> Problem {
    Problem {
        at: At::Channel(Some(key)),
        message,
        help: Some(help.to_string()),
    }
}

/// Every check of a deb or rpm channel's settings, before any build.
pub fn check(cx: &PlanInput, c: &LinuxConfig, kind: &str) -> Result<(), Problem> {
    identity(cx, c, kind)?;
    texts(cx, c)?;
    let ch = cx.channel;
    deps(cx, c, kind)?;
    if let Some(dir) = &c.bin_dir {
        installed_path(dir).map_err(|e| {
            problem(
                "bin-dir",
                format!("channel {ch}: bin-dir {dir:?}: {e}"),
                "an absolute path such as \"/usr/bin\"",
            )
        })?;
    }
    installed_files(cx, c)
}

/// The package name, version and maintainer.
fn identity(cx: &PlanInput, c: &LinuxConfig, kind: &str) -> Result<(), Problem> {
    let ch = cx.channel;
    let name = cx.package();
    if !is_package_name(name) {
        let at = match cx.name {
            Some(_) => At::Channel(Some("name")),
            None => At::Project(Some("name")),
        };
        return Err(Problem {
            at,
            message: format!("channel {ch}: {name:?} is not a {kind} package name"),
            help: Some("use lowercase letters, digits, `+`, `-` and `.` (at least two, starting with a letter or digit); set the channel's `name`".into()),
        });
    }
    if let Err(e) = package_version(cx.version) {
        return Err(Problem {
            at: At::Channel(None),
            message: format!("channel {ch}: {e}"),
            help: Some("release a SemVer or calendar version".into()),
        });
    }
    match &c.maintainer {
        None if kind == "deb" => {
            return Err(Problem {
                at: At::Channel(None),
                message: format!("channel {ch}: a Debian package needs a maintainer"),
                help: Some("set maintainer = \"Your Name <you@example.org>\"".into()),
            });
        }
        Some(m) if !(is_one_line(m) && m.contains('<') && m.ends_with('>')) => {
            return Err(problem(
                "maintainer",
                format!("channel {ch}: maintainer {m:?} is not one line of `Name <email>`"),
                "write maintainer = \"Your Name <you@example.org>\"",
            ));
        }
        _ => {}
    }
    Ok(())
}

/// The one-line fields: summary, license, homepage, section.
fn texts(cx: &PlanInput, c: &LinuxConfig) -> Result<(), Problem> {
    let ch = cx.channel;
    let summary = c.summary.as_deref().unwrap_or(cx.description);
    if !is_one_line(summary) || summary.chars().count() > 80 {
        let at = match c.summary {
            Some(_) => At::Channel(Some("summary")),
            None => At::Project(Some("description")),
        };
        return Err(Problem {
            at,
            message: format!(
                "channel {ch}: the summary must be one non-empty line of at most 80 characters, not {summary:?}"
            ),
            help: Some("set the channel's `summary`".into()),
        });
    }
    for (key, value) in [("license", &c.license), ("homepage", &c.homepage)] {
        if let Some(v) = value
            && !is_one_line(v)
        {
            return Err(problem(
                key,
                format!("channel {ch}: {key} must be one non-empty line"),
                "write it on one line",
            ));
        }
    }
    if let Some(section) = &c.section
        && (section.is_empty()
            || !section.chars().all(|ch| {
                ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '/' | '-')
            }))
    {
        return Err(problem(
            "section",
            format!("channel {ch}: section {section:?} is not a section name"),
            "e.g. section = \"utils\" (lowercase letters, digits, `-`, `/`)",
        ));
    }
    Ok(())
}

/// `files`, `config-files` and `scripts`: installed paths and the
/// project files they come from.
fn installed_files(cx: &PlanInput, c: &LinuxConfig) -> Result<(), Problem> {
    let ch = cx.channel;
    let root = (cx.path)(".");
    let mut all = std::collections::BTreeSet::new();
    let count =
        c.files.as_ref().map_or(0, |f| f.len()) + c.config_files.as_ref().map_or(0, |f| f.len());
    if count > MAX_FILES {
        return Err(problem(
            "files",
            format!("channel {ch}: {count} files; at most {MAX_FILES}"),
            "package fewer files",
        ));
    }
    for (key, map) in [("files", &c.files), ("config-files", &c.config_files)] {
        for (dest, src) in map.iter().flatten() {
            let clean = installed_path(dest).map_err(|e| {
                problem(
                    key,
                    format!("channel {ch}: {key} entry {dest:?}: {e}"),
                    "installed paths are absolute, e.g. \"/usr/share/man/man1/hello.1\"",
                )
            })?;
            if key == "config-files" && !clean.starts_with("/etc/") {
                return Err(problem(
                    key,
                    format!("channel {ch}: config file {dest:?} is not under /etc"),
                    "configuration files (conffiles, %config) live under /etc",
                ));
            }
            if !all.insert(clean.clone()) {
                return Err(problem(
                    key,
                    format!("channel {ch}: {dest:?} is installed twice"),
                    "give each installed path one file",
                ));
            }
            project_file(&root, src).map_err(|e| {
                problem(
                    key,
                    format!("channel {ch}: {key} entry {dest:?} = {src:?}: {e}"),
                    "name a regular file inside the project (relative to matrix.toml), not a symlink",
                )
            })?;
        }
    }
    for (script, src) in c.scripts.iter().flat_map(|s| s.set()) {
        project_file(&root, src).map_err(|e| {
            problem(
                "scripts",
                format!("channel {ch}: scripts.{script} = {src:?}: {e}"),
                "name a regular file inside the project (relative to matrix.toml), not a symlink",
            )
        })?;
    }
    Ok(())
}

fn deps(cx: &PlanInput, c: &LinuxConfig, kind: &str) -> Result<(), Problem> {
    for (key, list) in [
        ("depends", &c.depends),
        ("recommends", &c.recommends),
        ("conflicts", &c.conflicts),
        ("provides", &c.provides),
    ] {
        for text in list.iter().flatten() {
            let alternatives = kind == "deb" && matches!(key, "depends" | "recommends");
            parse_dep(text, alternatives, key == "provides").map_err(|e| {
                problem(
                    key,
                    format!("channel {}: {key} entry {text:?}: {e}", cx.channel),
                    "write a dependency as `name`, `name (>= 1.2)` or (deb) `a | b`",
                )
            })?;
        }
    }
    Ok(())
}

fn is_one_line(text: &str) -> bool {
    !text.trim().is_empty() && !text.contains(['\n', '\r']) && !text.chars().any(char::is_control)
}

/// An installed path, checked: absolute, no `.`, `..` or empty parts, no
/// trailing `/`, printable, not `/` itself.
pub fn installed_path(path: &str) -> Result<String, String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("not an absolute path".into());
    };
    if rest.is_empty()
        || path.len() > 1024
        || rest
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Err("has an empty, `.` or `..` part (or is `/`)".into());
    }
    if path
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return Err("has a space, a backslash or a control character".into());
    }
    Ok(path.to_string())
}

/// A project file, relative to `root`: inside it, each part a real folder
/// or (the last) a regular file, none a symlink.
pub fn project_file(root: &Path, rel: &str) -> Result<PathBuf, String> {
    let rel_path = Path::new(rel);
    if rel.is_empty()
        || rel_path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err("is outside the project (absolute, or with `..`)".into());
    }
    let mut path = root.to_path_buf();
    let parts: Vec<_> = rel_path.components().collect();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let meta =
            std::fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.file_type().is_symlink() {
            return Err(format!(
                "{} is a symlink (matrix never follows one)",
                path.display()
            ));
        }
        let last = i + 1 == parts.len();
        if last && !meta.is_file() {
            return Err("is not a regular file".into());
        }
    }
    Ok(path)
}

/// Reads a project file checked by [`project_file`] again now (the tree may
/// have changed since the plan), without following a symlink, at most
/// [`MAX_FILE`] bytes. Gives its bytes and whether it is executable.
pub fn read_project_file(
    channel: &str,
    root: &Path,
    path: &Path,
) -> Result<(Vec<u8>, bool), PublishError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let invalid = |message: String| PublishError::Invalid {
        channel: channel.to_string(),
        message,
        help: Some("name a regular file inside the project, not a symlink".into()),
    };
    let rel = path
        .strip_prefix(root)
        .map_err(|_| invalid(format!("{} is outside the project", path.display())))?;
    project_file(root, &rel.to_string_lossy())
        .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(PublishError::io(channel, path))?;
    let meta = file.metadata().map_err(PublishError::io(channel, path))?;
    if !meta.is_file() {
        return Err(invalid(format!("{} is not a regular file", path.display())));
    }
    if meta.len() > MAX_FILE {
        return Err(invalid(format!(
            "{} is larger than {MAX_FILE} bytes",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(PublishError::io(channel, path))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(invalid(format!(
            "{} is larger than {MAX_FILE} bytes",
            path.display()
        )));
    }
    Ok((bytes, meta.permissions().mode() & 0o111 != 0))
}

/// The planned step of a deb or rpm channel (its config already checked).
pub fn plan(cx: &PlanInput, c: &LinuxConfig, dir: &str, default_section: &str) -> LinuxStep {
    let root = (cx.path)(".");
    let deps = |list: &Option<Vec<String>>, alternatives: bool, only_eq: bool| -> Vec<Dep> {
        list.iter()
            .flatten()
            .filter_map(|t| parse_dep(t, alternatives, only_eq).ok())
            .collect()
    };
    let files = |map: &Option<std::collections::BTreeMap<String, String>>| {
        map.iter()
            .flatten()
            .map(|(dest, src)| (dest.clone(), (cx.path)(src)))
            .collect()
    };
    LinuxStep {
        channel: cx.channel.to_string(),
        name: cx.package().to_string(),
        maintainer: c.maintainer.clone(),
        summary: c
            .summary
            .clone()
            .unwrap_or_else(|| cx.description.to_string()),
        description: c.description.clone().unwrap_or_default(),
        license: c.license.clone().unwrap_or_else(|| cx.license.to_string()),
        homepage: c
            .homepage
            .clone()
            .unwrap_or_else(|| cx.homepage.to_string()),
        epoch: c.epoch,
        section: c
            .section
            .clone()
            .unwrap_or_else(|| default_section.to_string()),
        depends: deps(&c.depends, true, false),
        recommends: deps(&c.recommends, true, false),
        conflicts: deps(&c.conflicts, false, false),
        provides: deps(&c.provides, false, true),
        bin_dir: c.bin_dir.clone().unwrap_or_else(|| "/usr/bin".into()),
        files: files(&c.files),
        config_files: files(&c.config_files),
        scripts: c
            .scripts
            .iter()
            .flat_map(|s| s.set())
            .map(|(n, src)| (n, (cx.path)(src)))
            .collect(),
        root,
        dir: dir.to_string(),
    }
}

/// One file of the package, ready to write.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Installed path, absolute.
    pub path: String,
    pub bytes: Vec<u8>,
    pub mode: u32,
    pub config: bool,
}

/// Every file the package installs, sorted by path: the binary, the
/// project's files (man pages gzipped), the configuration files, and
/// `generated` (deb: copyright, changelog), each unless the project gives
/// a file of that path.
pub fn entries(
    step: &LinuxStep,
    package: &Package,
    generated: Vec<(String, Vec<u8>)>,
) -> Result<Vec<Entry>, PublishError> {
    let ch = step.channel.as_str();
    let invalid = |message: String| PublishError::Invalid {
        channel: ch.to_string(),
        message,
        help: None,
    };
    if package.binary.is_empty() || package.binary.contains('/') || package.binary.starts_with('.')
    {
        return Err(invalid(format!(
            "binary name {:?} cannot be installed",
            package.binary
        )));
    }
    let binary =
        crate::package::capped::read(&package.binary_file, crate::package::capped::MAX_BINARY)
            .map_err(PublishError::io(ch, &package.binary_file))?;
    let mut out = vec![Entry {
        path: format!("{}/{}", step.bin_dir.trim_end_matches('/'), package.binary),
        bytes: binary,
        mode: 0o755,
        config: false,
    }];
    for (list, config) in [(&step.files, false), (&step.config_files, true)] {
        for (dest, src) in list {
            let (bytes, exec) = read_project_file(ch, &step.root, src)?;
            let (path, bytes) = if dest.starts_with("/usr/share/man/") && !dest.ends_with(".gz") {
                (format!("{dest}.gz"), gzip(&bytes))
            } else {
                (dest.clone(), bytes)
            };
            out.push(Entry {
                path,
                bytes,
                mode: if exec && !config { 0o755 } else { 0o644 },
                config,
            });
        }
    }
    for (path, bytes) in generated {
        if !out.iter().any(|e| e.path == path) {
            out.push(Entry {
                path,
                bytes,
                mode: 0o644,
                config: false,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    if let Some(w) = out.windows(2).find(|w| w[0].path == w[1].path) {
        return Err(invalid(format!("{} is installed twice", w[0].path)));
    }
    // A file may not also be a folder of another (`/usr/bin` and `/usr/bin/x`).
    for e in &out {
        if out
            .iter()
            .any(|o| o.path.starts_with(&format!("{}/", e.path)))
        {
            return Err(invalid(format!("{} is both a file and a folder", e.path)));
        }
    }
    Ok(out)
}

/// The maintainer scripts' bytes, by Debian name.
pub fn scripts(step: &LinuxStep) -> Result<Vec<(&'static str, Vec<u8>)>, PublishError> {
    step.scripts
        .iter()
        .map(|(name, src)| Ok((*name, read_project_file(&step.channel, &step.root, src)?.0)))
        .collect()
}

/// gzip with no name and no time, at the best level: the same bytes
/// everywhere.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

/// Every folder above the installed paths (without `/`), sorted.
pub fn parent_dirs(entries: &[Entry]) -> Vec<String> {
    let mut dirs = std::collections::BTreeSet::new();
    for e in entries {
        let mut p = e.path.as_str();
        while let Some((dir, _)) = p.rsplit_once('/') {
            if dir.is_empty() {
                break;
            }
            dirs.insert(dir.to_string());
            p = dir;
        }
    }
    dirs.into_iter().collect()
}
