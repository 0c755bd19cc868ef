//! The install.sh channel: renders a POSIX sh installer for the release.
//!
//! Part of `packager`; a pure function of [`ChannelInput`]. This file owns
//! what the script needs to know (each `uname -s` / `uname -m` spelling of
//! the platforms matrix builds, the glibc / musl choice when a release has
//! both, where each archive's checksums file is) and the template context;
//! the script itself is `templates/install.sh.j2`, which a user may
//! replace. The script downloads the archive and the checksums file with
//! curl or wget, checks the archive's sha256 against both the checksums
//! file and its own copy (a script is made for one release), unpacks it
//! into a temporary folder and copies the executable into a prefix.
//!
//! Variables a template sees: `release`, `packages` (the ones it ships),
//! `name`, `version`, `homepage`, `script` (its file name), `env` (the
//! variable that sets the install folder, `HELLO_INSTALL_DIR`), `systems`
//! (`{uname, os}`), `arches` (`{uname: [..], arch}`; `arch` is `arm/v7`
//! for 32-bit ARM), `builds` (`{patterns, target, file, url,
//! checksums_url, sha256, format, member, binary}`, `patterns` matching
//! `os/arch/libc`), `platforms` (the builds, for messages), `formats`,
//! `libc` (whether the script tells glibc from musl), `rosetta` (whether
//! it has a darwin/arm64 build to prefer under Rosetta 2), `https` (every
//! URL is https, so curl may refuse anything else). Filter: `sh` (a
//! single-quoted shell word).

use minijinja::Environment;
use serde::Serialize;

mod config;
mod plan;
mod write;

use super::error::PublishError;
use super::input::{ChannelInput, Package, Release};
use crate::package::archive::Format;

pub(super) use super::registry::{
    no_package as write_package, no_package_file as package_file, no_packages as per_target,
};
pub use config::ShellConfig;
pub use plan::ShellStep;
pub(super) use plan::{PACKAGER, check, check_urls, plan};
pub(super) use write::write;

#[cfg(test)]
mod tests;

/// The embedded installer template.
pub const TEMPLATE: &str = include_str!("templates/install.sh.j2");
const TEMPLATE_NAME: &str = "install.sh.j2";
const USER_TEMPLATE_NAME: &str = "user template";

/// The default file name of the script.
pub const SCRIPT: &str = "install.sh";

/// Settings of one install.sh channel.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ShellOptions {
    /// The channel's name in matrix.toml, for errors.
    pub channel: String,
    /// The script's file name.
    pub script: String,
    /// The checksums file's name in the release.
    pub checksums: String,
    /// Where the script downloads the checksums file; by default next to
    /// each archive.
    pub checksums_url: Option<String>,
}

/// `uname -s` of each operating system an installer can ship.
pub(crate) const SYSTEMS: [(&str, &str); 5] = [
    ("Linux", "linux"),
    ("Darwin", "darwin"),
    ("FreeBSD", "freebsd"),
    ("OpenBSD", "openbsd"),
    ("NetBSD", "netbsd"),
];

/// Every `uname -m` spelling of each architecture (with its ARM variant).
pub(crate) const ARCHES: [(&str, &[&str]); 9] = [
    ("amd64", &["x86_64", "amd64", "x64"]),
    ("arm64", &["aarch64", "arm64"]),
    ("386", &["i386", "i486", "i586", "i686", "i86pc", "x86"]),
    ("arm/v7", &["armv7l", "armv7", "armv7hl", "armv8l", "armhf"]),
    ("arm/v6", &["armv6l", "armv6"]),
    ("ppc64le", &["ppc64le"]),
    ("s390x", &["s390x"]),
    ("riscv64", &["riscv64"]),
    ("loong64", &["loongarch64", "loong64"]),
];

/// A platform's architecture as the script names it: `arm/v7` for 32-bit
/// ARM, else matrix's arch.
pub(crate) fn arch_name(os: &str, arch: &str, variant: Option<&str>) -> Option<String> {
    let name = match variant {
        Some(v) => format!("{arch}/{v}"),
        None => arch.to_string(),
    };
    let known = SYSTEMS.iter().any(|(_, o)| *o == os) && ARCHES.iter().any(|(a, _)| *a == name);
    known.then_some(name)
}

/// Renders the script, with the embedded template or `template` (the text
/// of a user's template).
pub fn render(
    input: &ChannelInput,
    opts: &ShellOptions,
    template: Option<&str>,
) -> Result<String, PublishError> {
    let context = context(input, opts)?;
    let (name, source) = match template {
        Some(text) => (USER_TEMPLATE_NAME, text),
        None => (TEMPLATE_NAME, TEMPLATE),
    };
    let env = environment().map_err(|e| PublishError::template(&opts.channel, name, &e))?;
    super::render::render(&env, &opts.channel, name, source, &context)
}

#[derive(Debug, Serialize)]
struct Context<'a> {
    release: &'a Release,
    packages: Vec<&'a Package>,
    name: &'a str,
    version: &'a str,
    homepage: String,
    script: &'a str,
    env: String,
    systems: Vec<SystemRow>,
    arches: Vec<ArchRow>,
    builds: Vec<Build>,
    platforms: String,
    formats: Vec<&'static str>,
    libc: bool,
    rosetta: bool,
    https: bool,
}

#[derive(Debug, Serialize)]
struct SystemRow {
    uname: &'static str,
    os: &'static str,
}

#[derive(Debug, Serialize)]
struct ArchRow {
    uname: &'static [&'static str],
    arch: &'static str,
}

/// One archive the script can install.
#[derive(Debug, Serialize)]
struct Build {
    /// `case` patterns of `os/arch/libc` it is installed for.
    patterns: Vec<String>,
    target: String,
    /// `linux/amd64`, with ` (musl)` when the libc tells two apart.
    platform: String,
    file: String,
    url: String,
    checksums_url: String,
    sha256: String,
    format: &'static str,
    /// The executable's path inside the archive.
    member: String,
    /// The executable's name where it is installed.
    binary: String,
}

/// The libc a target id names (`linux/amd64/musl`): `gnu` or `musl`.
fn libc_of(target: &str) -> Option<&'static str> {
    target.split('/').find_map(|part| match part {
        "musl" => Some("musl"),
        "gnu" | "glibc" => Some("gnu"),
        _ => None,
    })
}

/// Whether two targets of one platform are its glibc and its musl build,
/// which the script tells apart.
pub fn libc_apart(a: &str, b: &str) -> bool {
    matches!((libc_of(a), libc_of(b)), (Some(x), Some(y)) if x != y)
}

/// `os`, `arch` (`arm/v7`) and libc of a build.
type Key = (String, String, Option<&'static str>);

/// `os/arch` of a package (`linux/arm/v7`), and its libc when its target
/// id names one (`linux/amd64/musl`).
fn key(p: &Package) -> Key {
    let arch = match &p.variant {
        Some(v) => format!("{}/{v}", p.arch),
        None => p.arch.clone(),
    };
    (p.os.clone(), arch, libc_of(&p.target))
}

/// A channel error of install.sh's, with what to do about it.
fn invalid(opts: &ShellOptions, message: String, help: Option<&str>) -> PublishError {
    PublishError::Invalid {
        channel: opts.channel.clone(),
        message,
        help: help.map(str::to_string),
    }
}

/// The packages install.sh installs, each with its platform key: every
/// one on a platform the script knows, no two it could not choose between.
fn shipped<'a>(
    input: &'a ChannelInput,
    opts: &ShellOptions,
) -> Result<Vec<(&'a Package, Key)>, PublishError> {
    let mut shipped: Vec<(&Package, Key)> = Vec::new();
    for p in &input.packages {
        let k = key(p);
        if arch_name(&k.0, &k.1, None).is_none() {
            return Err(invalid(
                opts,
                format!(
                    "{}: install.sh cannot install on {}",
                    p.target,
                    p.platform.name()
                ),
                Some("narrow the channel's `when` to Linux, macOS and the BSDs"),
            ));
        }
        if let Some((other, _)) = shipped
            .iter()
            .find(|(o, ok)| ok.0 == k.0 && ok.1 == k.1 && !libc_apart(&o.target, &p.target))
        {
            return Err(invalid(
                opts,
                format!(
                    "{} and {} are both builds for {}/{}, and install.sh could not choose between them",
                    other.file_name, p.file_name, k.0, k.1
                ),
                Some(
                    "narrow the channel's `when` to one target per platform (or one glibc and one musl build)",
                ),
            ));
        }
        shipped.push((p, k));
    }
    if shipped.is_empty() {
        return Err(invalid(
            opts,
            "the channel selects no package install.sh can install".into(),
            Some("build a Linux, macOS or BSD target"),
        ));
    }
    Ok(shipped)
}

/// Every download and checksums URL is one curl and wget fetch.
fn check_download_urls(builds: &[Build], opts: &ShellOptions) -> Result<(), PublishError> {
    for b in builds {
        for url in [&b.url, &b.checksums_url] {
            if !(url.starts_with("https://") || url.starts_with("http://"))
                || url.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                return Err(invalid(
                    opts,
                    format!(
                        "{}: {url:?} is not an http(s) URL curl and wget can download",
                        b.target
                    ),
                    Some("set [release] url (or the channel's `url`) to an https:// URL"),
                ));
            }
        }
    }
    Ok(())
}

fn context<'a>(
    input: &'a ChannelInput,
    opts: &'a ShellOptions,
) -> Result<Context<'a>, PublishError> {
    let release = &input.release;
    let shipped = shipped(input, opts)?;
    // Platforms with two builds (glibc and musl) are told apart by the
    // libc the script finds; the others match whatever it finds.
    let twice = |k: &Key| {
        shipped
            .iter()
            .filter(|(_, o)| o.0 == k.0 && o.1 == k.1)
            .count()
            > 1
    };
    let mut builds = Vec::with_capacity(shipped.len());
    for (p, k) in &shipped {
        let (os, arch, libc) = k;
        let both = twice(k);
        let libc_pattern = match libc {
            Some(l) if both => *l,
            _ => "*",
        };
        let mut patterns = vec![format!("{os}/{arch}/{libc_pattern}")];
        // A 32-bit ARMv7 system runs ARMv6 builds.
        let has_v7 = shipped.iter().any(|(_, o)| o.0 == *os && o.1 == "arm/v7");
        if arch == "arm/v6" && !has_v7 {
            patterns.push(format!("{os}/arm/v7/{libc_pattern}"));
        }
        let platform = match libc {
            Some(l) if both => format!("{os}/{arch} ({l})"),
            _ => format!("{os}/{arch}"),
        };
        builds.push(Build {
            patterns,
            target: p.target.clone(),
            platform,
            file: p.file_name.clone(),
            url: p.url.clone(),
            checksums_url: checksums_url(p, opts).map_err(|(m, h)| invalid(opts, m, Some(h)))?,
            sha256: p.sha256.clone(),
            format: p.format.name(),
            // A bare executable is the download itself, whatever
            // `binary_in_archive` says of a wrapping folder.
            member: match p.format {
                Format::Binary => p.file_name.clone(),
                _ => p.binary_in_archive.clone(),
            },
            binary: p.binary.clone(),
        });
    }
    check_download_urls(&builds, opts)?;
    let libc = shipped.iter().any(|(_, k)| twice(k) && k.2.is_some());
    let mut formats: Vec<&'static str> = Vec::new();
    for b in &builds {
        if !formats.contains(&b.format) {
            formats.push(b.format);
        }
    }
    let https = builds
        .iter()
        .all(|b| b.url.starts_with("https://") && b.checksums_url.starts_with("https://"));
    let rosetta = builds.iter().any(|b| b.platform == "darwin/arm64");
    Ok(Context {
        release,
        packages: shipped.iter().map(|(p, _)| *p).collect(),
        name: &release.name,
        version: &release.version,
        homepage: one_line(&release.homepage),
        script: &opts.script,
        env: env_name(&release.name),
        systems: SYSTEMS
            .iter()
            .map(|(uname, os)| SystemRow { uname, os })
            .collect(),
        arches: ARCHES
            .iter()
            .map(|(arch, uname)| ArchRow { uname, arch })
            .collect(),
        platforms: builds
            .iter()
            .map(|b| b.platform.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        builds,
        formats,
        libc,
        rosetta,
        https,
    })
}

/// Where the script finds the checksums file that lists `p`'s archive:
/// the channel's `checksums-url`, else the archive's URL with the
/// checksums file's name in place of the archive's.
fn checksums_url(p: &Package, opts: &ShellOptions) -> Result<String, (String, &'static str)> {
    if let Some(url) = &opts.checksums_url {
        return Ok(url.clone());
    }
    match p.url.strip_suffix(p.file_name.as_str()) {
        Some(folder) if folder.ends_with('/') => Ok(format!("{folder}{}", opts.checksums)),
        _ => Err((
            format!(
                "{}: the download URL {} does not end with the archive's name {}, so the checksums file's URL is unknown",
                p.target, p.url, p.file_name
            ),
            "set `checksums-url` on the channel to the URL of the release's checksums file",
        )),
    }
}

/// The variable that sets the install folder: `HELLO_INSTALL_DIR` for
/// `hello`, `MY_TOOL_INSTALL_DIR` for `my-tool`.
pub fn env_name(project: &str) -> String {
    let mut name: String = project
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert(0, '_');
    }
    name.push_str("_INSTALL_DIR");
    name
}

/// Text for a comment line: control characters become spaces.
fn one_line(text: &str) -> String {
    text.trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = super::render::environment()?;
    env.add_filter("sh", |s: String| sh_quote(&s));
    Ok(env)
}

/// `s` as one shell word: single-quoted, each `'` written `'\''`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
