//! Packs one architecture's .snap natively: a staging folder with
//! `meta/snap.yaml` and `bin/<binary>`, squashed by mksquashfs with every
//! timestamp, owner and mode fixed, so the same release gives the same
//! bytes on any host.
//!
//! Part of `packager::snap`. The .snap appears under its final name only
//! when mksquashfs has finished: it is written to a hidden
//! `.<name>.partial-XXXXXX` file beside it and renamed.
//!
//! Each snap is packed by a package job of its own; its mksquashfs runs
//! on the threads the job is given (`-processors`), so snaps packed side
//! by side do not oversubscribe the machine. mksquashfs's output does not
//! depend on that count: a snap's bytes are the same whether it was packed
//! alone or beside others.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{SnapOptions, channel_error, render_snap_yaml, snap_version, validate};
use crate::packager::PublishError;
use crate::packager::input::{Package, Release};

pub(super) const MKSQUASHFS: &str = "mksquashfs";

/// Writes `<out_dir>/<name>_<version>_<snap arch>.snap` for `package` (a
/// Linux package) and returns its path. mksquashfs may use every thread of
/// rayon's pool.
pub fn build_snap(
    release: &Release,
    opts: &SnapOptions,
    package: &Package,
    out_dir: &Path,
) -> Result<PathBuf, PublishError> {
    let processors = rayon::current_num_threads();
    build_with(MKSQUASHFS, release, opts, package, out_dir, processors)
}

/// [`build_snap`] with the mksquashfs program named, so tests can point it
/// at a program that does not exist, and its thread count.
pub(super) fn build_with(
    mksquashfs: &str,
    release: &Release,
    opts: &SnapOptions,
    package: &Package,
    out_dir: &Path,
    processors: usize,
) -> Result<PathBuf, PublishError> {
    let ch = opts.channel.as_str();
    validate::options(opts)?;
    let arch = validate::snap_arch(ch, package)?;
    validate::binary_name(ch, package)?;
    validate::commands_ship(opts, &[package.binary.as_str()].into())?;
    let version = snap_version(ch, &release.version)?;
    // squashfs stores times as unsigned 32-bit seconds.
    let time = u32::try_from(release.timestamp).map_err(|_| {
        channel_error(
            ch,
            format!(
                "release timestamp {} does not fit a squashfs time (0 to 2^32-1)",
                release.timestamp
            ),
            Some("set SOURCE_DATE_EPOCH to a time after 1970 and before 2106"),
        )
    })?;
    let snap_yaml = render_snap_yaml(opts, &version, arch)?;

    fs::create_dir_all(out_dir).map_err(PublishError::io(ch, out_dir))?;
    let staging = tempfile::Builder::new()
        .prefix("matrix-snap-")
        .tempdir()
        .map_err(PublishError::io(ch, std::env::temp_dir()))?;
    stage(ch, staging.path(), &snap_yaml, package)?;

    let file_name = file_name(opts, release, package)?;
    let dest = out_dir.join(&file_name);
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{file_name}.partial-"))
        .tempfile_in(out_dir)
        .map_err(PublishError::io(ch, out_dir))?
        .into_temp_path();
    squash(ch, mksquashfs, staging.path(), &partial, time, processors)?;
    // The temporary file was created 0600; a .snap is an ordinary
    // world-readable file like everything else in dist/.
    fs::set_permissions(&partial, fs::Permissions::from_mode(0o644))
        .map_err(PublishError::io(ch, &*partial))?;
    partial.persist(&dest).map_err(|e| PublishError::Io {
        channel: ch.to_string(),
        path: dest.clone(),
        source: e.error,
    })?;
    Ok(dest)
}

/// The .snap's file name, `<name>_<version>_<snap arch>.snap`, or why
/// `package` makes no snap.
pub(super) fn file_name(
    opts: &SnapOptions,
    release: &Release,
    package: &Package,
) -> Result<String, PublishError> {
    let ch = opts.channel.as_str();
    let arch = validate::snap_arch(ch, package)?;
    let version = snap_version(ch, &release.version)?;
    Ok(format!("{}_{version}_{arch}.snap", opts.name))
}

/// Lays out the snap's tree. Modes are set explicitly, not left to the
/// umask (mksquashfs records them, and the temporary root is 0700, which
/// would make the snap unreadable to anyone but root).
fn stage(
    channel: &str,
    root: &Path,
    snap_yaml: &str,
    package: &Package,
) -> Result<(), PublishError> {
    let meta = root.join("meta");
    let bin = root.join("bin");
    for dir in [&meta, &bin] {
        fs::create_dir(dir).map_err(PublishError::io(channel, dir))?;
    }
    let yaml_path = meta.join("snap.yaml");
    fs::write(&yaml_path, snap_yaml).map_err(PublishError::io(channel, &yaml_path))?;
    let exe = bin.join(&package.binary);
    fs::copy(&package.binary_file, &exe).map_err(|source| PublishError::Io {
        channel: channel.to_string(),
        path: package.binary_file.clone(),
        source,
    })?;
    for (path, mode) in [
        (root, 0o755),
        (&meta, 0o755),
        (&bin, 0o755),
        (&yaml_path, 0o644),
        (&exe, 0o755),
    ] {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(PublishError::io(channel, path))?;
    }
    Ok(())
}

/// Runs mksquashfs with the options snapcraft packs snaps with (xz,
/// no fragments, no xattrs, root-owned: the store re-packs uploads with
/// them to compare) plus fixed times. `processors` (at least 1) changes
/// how long it takes, never the bytes, so it stays out of the command
/// shown in errors like the other output-neutral flags.
fn squash(
    channel: &str,
    program: &str,
    staging: &Path,
    out: &Path,
    time: u32,
    processors: usize,
) -> Result<(), PublishError> {
    let time = time.to_string();
    let mut args: Vec<&std::ffi::OsStr> = vec![staging.as_os_str(), out.as_os_str()];
    let flags = [
        "-noappend",
        "-comp",
        "xz",
        "-no-fragments",
        "-no-xattrs",
        "-all-root",
    ];
    let times = ["-mkfs-time", &time, "-all-time", &time];
    args.extend(flags.iter().chain(&times).map(std::ffi::OsStr::new));
    let command = std::iter::once(std::ffi::OsStr::new(program))
        .chain(args.iter().copied())
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let processors = processors.max(1).to_string();
    args.extend([
        OsStr::new("-quiet"),
        OsStr::new("-no-progress"),
        OsStr::new("-processors"),
        OsStr::new(&processors),
    ]);
    let tool_error = |detail: String| PublishError::Tool {
        channel: channel.to_string(),
        command: command.clone(),
        detail,
        program: MKSQUASHFS.to_string(),
        package: "squashfs-tools".to_string(),
    };
    // mksquashfs 4.5 refuses -mkfs-time/-all-time when SOURCE_DATE_EPOCH
    // is set ("can't be used at the same time"), and matrix's own runs
    // usually have it set.
    let output = crate::process::tool_without(
        program,
        &args,
        &[],
        &["SOURCE_DATE_EPOCH"],
        crate::process::Stream::Capture,
        crate::process::Stream::Capture,
    )
    .map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            tool_error(format!("{program} is not installed (not found on PATH)"))
        } else {
            tool_error(e.to_string())
        }
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let text = if stderr.trim().is_empty() {
            stdout
        } else {
            stderr
        };
        return Err(tool_error(format!("{}: {}", output.status, text.trim())));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
