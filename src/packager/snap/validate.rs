//! The rules a snap's metadata must follow, checked before anything is
//! rendered or packed: snapd refuses a snap whose name, version, summary,
//! app or plug names break them, and the store only says so after an upload.
//!
//! Part of `packager::snap`; both `render_snapcraft` and `build_snap` run
//! these checks so neither writes a file snapd would reject.

use std::collections::BTreeSet;

use super::{SnapApp, SnapOptions, channel_error};
use crate::packager::PublishError;
use crate::packager::input::Package;

/// Longest snap version snapd accepts.
const VERSION_MAX: usize = 32;
/// Longest summary snapcraft accepts (its schema's `maxLength`).
const SUMMARY_MAX: usize = 78;
/// Bases whose snapcraft.yaml uses `platforms:` (the syntax rendered here);
/// core22 and older use `architectures:` instead.
const PLATFORM_BASES: [&str; 2] = ["core24", "core26"];

/// Maps a release version (semver without `v`) to a snap version.
///
/// Snap versions are 1 to 32 characters of `a-z A-Z 0-9 . + ~ -`, starting
/// and ending with a letter or digit. Every semver character is already in
/// that set, so the mapping keeps the version as it is where it can, and
/// the snap shows the same version as the tag and the other channels:
///
/// | release version                      | snap version             |
/// |--------------------------------------|--------------------------|
/// | `1.2.3`                              | `1.2.3`                  |
/// | `0.0.2-rc.1` (pre-release)           | `0.0.2-rc.1`             |
/// | `0.0.1-SNAPSHOT-abc1234` (snapshot)  | `0.0.1-SNAPSHOT-abc1234` |
/// | `1.2.3+linux.5` (fits in 32)         | `1.2.3+linux.5`          |
/// | `1.2.3-rc.1+` and 30 more characters | `1.2.3-rc.1`             |
///
/// Build metadata is the only part dropped, and only when the whole would
/// not fit: semver ignores it when ordering versions, so nothing a user
/// compares is lost. A version that still does not fit (a long
/// pre-release), or that ends in `-` (semver allows `1.0.0-rc-`), is an
/// error rather than a silently different version.
pub fn snap_version(channel: &str, version: &str) -> Result<String, PublishError> {
    if valid_version(version) {
        return Ok(version.to_string());
    }
    if let Some((without_build, _)) = version.split_once('+')
        && valid_version(without_build)
    {
        return Ok(without_build.to_string());
    }
    let why = if version.is_empty() {
        "it is empty".to_string()
    } else if let Some(c) = version.chars().find(|c| !version_char(*c)) {
        format!("`{c}` is not allowed")
    } else if version.split('+').next().unwrap_or(version).chars().count() > VERSION_MAX {
        format!("it is longer than {VERSION_MAX} characters even without build metadata")
    } else {
        "it must start and end with a letter or digit".to_string()
    };
    Err(channel_error(
        channel,
        format!("version `{version}` cannot be a snap version: {why}"),
        Some(
            "snap versions are 1 to 32 characters of letters, digits, `.`, `+`, `~` and `-`, \
             starting and ending with a letter or digit; use a shorter pre-release in the tag",
        ),
    ))
}

fn version_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | '-')
}

fn valid_version(v: &str) -> bool {
    let first_last_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    !v.is_empty()
        && v.len() <= VERSION_MAX
        && v.chars().all(version_char)
        && first_last_ok(v.chars().next())
        && first_last_ok(v.chars().last())
}

/// Checks the options against snapd's and snapcraft's rules.
pub(super) fn options(opts: &SnapOptions) -> Result<(), PublishError> {
    let ch = opts.channel.as_str();
    if let Some(why) = name_problem(&opts.name) {
        return Err(channel_error(
            ch,
            format!("snap name `{}` is invalid: {why}", opts.name),
            Some(
                "snap names are 2 to 40 characters of lowercase letters, digits and single \
                 hyphens, with at least one letter and no hyphen at either end",
            ),
        ));
    }
    let summary_len = opts.summary.chars().count();
    if opts.summary.trim().is_empty() {
        return Err(channel_error(
            ch,
            "the snap summary is empty".to_string(),
            Some("set the channel's `summary` (one line, at most 78 characters)"),
        ));
    }
    if summary_len > SUMMARY_MAX || opts.summary.contains('\n') {
        return Err(channel_error(
            ch,
            format!(
                "the snap summary must be one line of at most {SUMMARY_MAX} characters; it has \
                 {summary_len} characters: `{}`",
                opts.summary
            ),
            Some("set a shorter `summary` on the channel"),
        ));
    }
    if opts.description.trim().is_empty() {
        return Err(channel_error(
            ch,
            "the snap description is empty".to_string(),
            Some("set the project's `description` in matrix.toml"),
        ));
    }
    if !PLATFORM_BASES.contains(&opts.base.as_str()) {
        return Err(channel_error(
            ch,
            format!(
                "base `{}` is not supported: the generated snapcraft.yaml uses `platforms:`, \
                 which only {} have",
                opts.base,
                PLATFORM_BASES.join(" and ")
            ),
            Some("set `base = \"core24\"` (or leave it out)"),
        ));
    }
    apps(ch, &opts.apps)
}

/// Each app's name, command and plugs.
fn apps(ch: &str, apps: &[SnapApp]) -> Result<(), PublishError> {
    let mut seen = BTreeSet::new();
    for app in apps {
        if !valid_app_name(&app.name) {
            return Err(channel_error(
                ch,
                format!("app name `{}` is invalid", app.name),
                Some("app names are letters, digits and single hyphens, not at either end"),
            ));
        }
        if !seen.insert(app.name.as_str()) {
            return Err(channel_error(
                ch,
                format!("app `{}` is defined twice", app.name),
                None,
            ));
        }
        if let Some(why) = command_problem(&app.command) {
            return Err(channel_error(
                ch,
                format!(
                    "app `{}`: command `{}` is invalid: {why}",
                    app.name, app.command
                ),
                Some(
                    "the command is a path inside the snap, e.g. `bin/hello`, optionally with arguments",
                ),
            ));
        }
        for plug in &app.plugs {
            if !valid_plug_name(plug) {
                return Err(channel_error(
                    ch,
                    format!("app `{}`: plug `{plug}` is not an interface name", app.name),
                    Some("plugs are interface names such as `network` or `home`"),
                ));
            }
        }
    }
    Ok(())
}

/// Every app must run a file the snap ships: `bin/<binary>` of a package.
pub(super) fn commands_ship(
    opts: &SnapOptions,
    binaries: &BTreeSet<&str>,
) -> Result<(), PublishError> {
    for app in &opts.apps {
        let program = app.command.split(' ').next().unwrap_or_default();
        let ships = program
            .strip_prefix("bin/")
            .is_some_and(|b| binaries.contains(b));
        if !ships {
            let shipped: Vec<String> = binaries.iter().map(|b| format!("bin/{b}")).collect();
            return Err(channel_error(
                &opts.channel,
                format!(
                    "app `{}` runs `{program}`, which the snap does not contain (it ships {})",
                    app.name,
                    shipped.join(", ")
                ),
                Some("point the app's command at the packaged binary, e.g. `bin/<binary>`"),
            ));
        }
    }
    Ok(())
}

/// The snap architecture of a Linux package.
pub(super) fn snap_arch(channel: &str, package: &Package) -> Result<&'static str, PublishError> {
    if package.platform.os != "linux" {
        return Err(channel_error(
            channel,
            format!(
                "package {} is for {}, but snaps are Linux only",
                package.file_name, package.target
            ),
            Some("limit the channel to Linux targets with `when`"),
        ));
    }
    package.platform.snap_arch.ok_or_else(|| {
        channel_error(
            channel,
            format!(
                "package {} is for {}, which has no snap architecture",
                package.file_name, package.target
            ),
            Some("snaps exist for amd64, arm64, armhf, i386, ppc64el, s390x and riscv64 only; limit the channel with `when`"),
        )
    })
}

/// The file name snapd runs: a plain name, nothing path-like.
pub(super) fn binary_name(channel: &str, package: &Package) -> Result<(), PublishError> {
    let b = package.binary.as_str();
    if b.is_empty() || b == "." || b == ".." || b.contains('/') || b.contains('\0') {
        return Err(channel_error(
            channel,
            format!(
                "package {}: binary name `{b}` is not a plain file name",
                package.file_name
            ),
            None,
        ));
    }
    Ok(())
}

fn name_problem(name: &str) -> Option<&'static str> {
    let len = name.chars().count();
    if !(2..=40).contains(&len) {
        return Some("it must be 2 to 40 characters long");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Some("only lowercase letters, digits and `-` are allowed");
    }
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        return Some("it needs at least one letter");
    }
    if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return Some("hyphens may not start or end it, nor follow each other");
    }
    None
}

/// snapd: `^[a-zA-Z0-9](?:-?[a-zA-Z0-9])*$`.
fn valid_app_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// snapd: `^[a-z](?:-?[a-z0-9])*$`.
fn valid_plug_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--")
}

fn command_problem(command: &str) -> Option<&'static str> {
    // snapd's whitelist for `command`: ^[A-Za-z0-9/. _#:$-]*$
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/. _#:$-".contains(c);
    let program = command.split(' ').next().unwrap_or_default();
    if program.is_empty() {
        Some("it is empty")
    } else if !command.chars().all(allowed) {
        Some("only letters, digits, spaces and `/ . _ # : $ -` are allowed")
    } else if program.starts_with('/') || program.split('/').any(|c| c == "..") {
        Some("it must be a relative path inside the snap")
    } else {
        None
    }
}
