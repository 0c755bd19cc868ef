//! The Snapcraft channel: dist/snap/snapcraft.yaml for building the snap in
//! snapcraft from the released archives, and (in `build`) the .snap itself,
//! packed natively with mksquashfs from the built executable.
//!
//! Part of `packager`: a pure function of the [`ChannelInput`] (the release's
//! own records: URLs, sha256 digests, archive layouts) and [`SnapOptions`].
//! It owns the snap naming and version rules (`validate`), the mapping of
//! a release archive to a snapcraft `dump` part, and the two embedded
//! templates under `templates/`.

mod build;
mod config;
mod plan;
mod validate;
mod write;

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub(super) use super::registry::{no_check as check, no_url_check as check_urls};
pub use build::build_snap;
pub use config::SnapConfig;
pub use plan::SnapStep;
pub(super) use plan::{PACKAGER, plan};
pub use validate::snap_version;
pub(super) use write::{package_file, per_target, write, write_package};

use super::PublishError;
use super::input::{ChannelInput, Package, Release};
use crate::package::archive::Format;

const SNAPCRAFT_TEMPLATE: &str = include_str!("templates/snapcraft.yaml.j2");
const SNAP_YAML_TEMPLATE: &str = include_str!("templates/snap.yaml.j2");

/// Snap release grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Grade {
    Stable,
    Devel,
}

/// Snap confinement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Confinement {
    Strict,
    Classic,
    Devmode,
}

/// One command the snap exposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SnapApp {
    pub name: String,
    /// Path inside the snap, optionally with arguments, e.g. `bin/hello`.
    pub command: String,
    /// Interfaces the app plugs, e.g. `network`.
    pub plugs: Vec<String>,
}

/// What the Snapcraft channel needs beyond the release.
#[derive(Debug, Clone, Serialize)]
pub struct SnapOptions {
    /// The channel's name in matrix.toml, for errors.
    pub channel: String,
    /// Snap name: 2 to 40 of `a-z 0-9 -`, at least one letter.
    pub name: String,
    /// One line, at most 78 characters.
    pub summary: String,
    pub description: String,
    pub grade: Grade,
    pub confinement: Confinement,
    /// `core24` (the default) or `core26`.
    pub base: String,
    pub apps: Vec<SnapApp>,
}

/// One snap architecture: its `platforms:` entry and its `dump` part.
#[derive(Debug, Serialize)]
struct PlatformContext {
    arch: &'static str,
    part: String,
    url: String,
    /// snapcraft `source-type`; explicit so the URL's shape does not matter.
    source_type: &'static str,
    sha256: String,
    binary: String,
    /// Where the executable lands after snapcraft unpacks the archive, when
    /// that is not already `bin/<binary>`.
    organize_from: Option<String>,
}

/// The variables snapcraft.yaml.j2 (or the user's template) sees.
#[derive(Debug, Serialize)]
struct SnapcraftContext<'a> {
    release: &'a Release,
    packages: &'a [Package],
    name: &'a str,
    version: String,
    summary: &'a str,
    description: &'a str,
    base: &'a str,
    grade: Grade,
    confinement: Confinement,
    license: &'a str,
    website: &'a str,
    platforms: Vec<PlatformContext>,
    apps: &'a [SnapApp],
}

/// The variables meta/snap.yaml is rendered from.
#[derive(Debug, Serialize)]
struct SnapYamlContext<'a> {
    name: &'a str,
    version: &'a str,
    summary: &'a str,
    description: &'a str,
    base: &'a str,
    grade: Grade,
    confinement: Confinement,
    arch: &'a str,
    apps: &'a [SnapApp],
}

/// Renders dist/snap/snapcraft.yaml (core24 syntax): one platform and one
/// checksum-verified `dump` part per Linux package, keyed by its snap
/// architecture; `template` replaces the embedded template.
pub fn render_snapcraft(
    input: &ChannelInput,
    opts: &SnapOptions,
    template: Option<&str>,
) -> Result<String, PublishError> {
    validate::options(opts)?;
    let ch = opts.channel.as_str();
    let version = snap_version(ch, &input.release.version)?;
    if input.packages.is_empty() {
        return Err(channel_error(
            ch,
            "no Linux package to build the snap from".to_string(),
            Some("the channel's `when` selects no target; add a Linux target"),
        ));
    }
    let mut platforms = Vec::with_capacity(input.packages.len());
    let mut binaries = BTreeSet::new();
    for package in &input.packages {
        let arch = validate::snap_arch(ch, package)?;
        validate::binary_name(ch, package)?;
        if platforms.iter().any(|p: &PlatformContext| p.arch == arch) {
            return Err(channel_error(
                ch,
                format!(
                    "two packages are for snap architecture {arch} (one is {})",
                    package.file_name
                ),
                Some("a snap has one build per architecture; select one of them with `when`"),
            ));
        }
        binaries.insert(package.binary.as_str());
        platforms.push(platform_context(ch, &opts.name, arch, package)?);
    }
    validate::commands_ship(opts, &binaries)?;
    // Sorted by architecture so the file does not depend on plan order.
    platforms.sort_by(|a, b| a.arch.cmp(b.arch));

    let ctx = SnapcraftContext {
        release: &input.release,
        packages: &input.packages,
        name: &opts.name,
        version,
        summary: &opts.summary,
        description: &opts.description,
        base: &opts.base,
        grade: opts.grade,
        confinement: opts.confinement,
        license: &input.release.license,
        website: &input.release.homepage,
        platforms,
        apps: &opts.apps,
    };
    let (name, source) = match template {
        Some(text) => ("user snapcraft.yaml template", text),
        None => ("snapcraft.yaml.j2", SNAPCRAFT_TEMPLATE),
    };
    render(ch, name, source, &ctx)
}

/// meta/snap.yaml of the snap `build_snap` packs.
fn render_snap_yaml(opts: &SnapOptions, version: &str, arch: &str) -> Result<String, PublishError> {
    let ctx = SnapYamlContext {
        name: &opts.name,
        version,
        summary: &opts.summary,
        description: &opts.description,
        base: &opts.base,
        grade: opts.grade,
        confinement: opts.confinement,
        arch,
        apps: &opts.apps,
    };
    render(&opts.channel, "snap.yaml.j2", SNAP_YAML_TEMPLATE, &ctx)
}

fn render(
    channel: &str,
    name: &str,
    source: &str,
    ctx: &impl Serialize,
) -> Result<String, PublishError> {
    // YAML: values are quoted with `yaml_quote`, never escaped.
    let mut env =
        super::render::environment().map_err(|e| PublishError::template(channel, name, &e))?;
    env.add_filter("yaml_quote", yaml_quote);
    super::render::render(&env, channel, name, source, ctx)
}

/// A YAML double-quoted scalar. A JSON string is one (YAML's escapes are a
/// superset of JSON's), so any text, newlines and quotes included, and words
/// YAML 1.1 would read as booleans or null (`on`, `no`, `null`) stay strings.
fn yaml_quote(value: String) -> String {
    serde_json::Value::String(value).to_string()
}

fn platform_context(
    channel: &str,
    snap_name: &str,
    arch: &'static str,
    package: &Package,
) -> Result<PlatformContext, PublishError> {
    let source_type = match package.format {
        Format::TarGz | Format::TarXz => "tar",
        Format::Zip => "zip",
        Format::Binary => "file",
        // snapcraft unpacks tarballs with Python's tarfile, which reads no
        // zstd before Python 3.14 (core24 has 3.12).
        Format::TarZst => {
            return Err(channel_error(
                channel,
                format!(
                    "package {}: snapcraft cannot unpack tar.zst archives",
                    package.file_name
                ),
                Some("give the Linux targets a tar.gz, tar.xz or zip archive (or a bare binary)"),
            ));
        }
    };
    let unpacked = unpacked_path(package);
    let target = format!("bin/{}", package.binary);
    Ok(PlatformContext {
        arch,
        part: format!("{snap_name}-{arch}"),
        url: package.url.clone(),
        source_type,
        sha256: package.sha256.clone(),
        binary: package.binary.clone(),
        organize_from: (unpacked != target).then_some(unpacked),
    })
}

/// Where the executable is in the part's build directory once snapcraft
/// has fetched and unpacked the package's source.
///
/// A file source is saved under the URL's last segment. A zip is unpacked
/// as it is. A tarball loses the directory every member shares (craft-parts'
/// tar source strips the common prefix of all member names, directory
/// entries included), so `hello_1.2.3_linux_amd64/hello` becomes `hello`.
fn unpacked_path(package: &Package) -> String {
    match package.format {
        Format::Binary => package
            .url
            .rsplit('/')
            .next()
            .unwrap_or(&package.url)
            .to_string(),
        Format::Zip => package.binary_in_archive.clone(),
        Format::TarGz | Format::TarXz | Format::TarZst => {
            let members = tar_members(package);
            let common = tar_common_dir(&members);
            match package
                .binary_in_archive
                .strip_prefix(&format!("{common}/"))
            {
                Some(rest) if !common.is_empty() => rest.to_string(),
                _ => package.binary_in_archive.clone(),
            }
        }
    }
}

/// The tarball's member names with whether each is a directory: every file
/// and, as matrix's archives contain them, a directory entry for each
/// parent.
fn tar_members(package: &Package) -> Vec<(String, bool)> {
    let mut members: Vec<(String, bool)> = Vec::new();
    let files = std::iter::once(&package.binary_in_archive).chain(&package.files);
    for file in files {
        let mut parent = file.as_str();
        while let Some((dir, _)) = parent.rsplit_once('/') {
            if !members.iter().any(|(m, _)| m == dir) {
                members.push((dir.to_string(), true));
            }
            parent = dir;
        }
        members.push((file.clone(), false));
    }
    members
}

/// The prefix craft-parts strips: the character-wise common prefix of all
/// names, taken one level up when it is not a whole directory name.
fn tar_common_dir(members: &[(String, bool)]) -> String {
    let Some((first, _)) = members.first() else {
        return String::new();
    };
    let mut common: String = first.clone();
    for (name, _) in &members[1..] {
        let shared = common
            .char_indices()
            .zip(name.chars())
            .find(|((_, a), b)| a != b)
            .map_or(common.len().min(name.len()), |((i, _), _)| i);
        common.truncate(shared);
    }
    let whole_dir = members.iter().all(|(name, is_dir)| {
        name.starts_with(&format!("{common}/")) || (*is_dir && *name == common)
    });
    if whole_dir {
        common
    } else {
        common
            .rsplit_once('/')
            .map(|(dir, _)| dir.to_string())
            .unwrap_or_default()
    }
}

fn channel_error(channel: &str, message: String, help: Option<&str>) -> PublishError {
    PublishError::Invalid {
        channel: channel.to_string(),
        message,
        help: help.map(str::to_string),
    }
}

#[cfg(test)]
pub(crate) mod tests;
