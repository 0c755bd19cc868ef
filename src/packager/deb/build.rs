//! Builds one .deb in memory, natively: `ar` (the `ar` crate) of
//! `debian-binary`, `control.tar.gz` and `data.tar.xz` (the `tar` crate,
//! GNU format, gzip by flate2 and xz by xz2, fixed levels). Every entry is
//! root-owned, carries the release's timestamp, and comes in sorted order,
//! so a release gives the same bytes on any host.

use std::io::Write;

use md5::Digest;

use super::common::{self, Entry, LinuxStep};
use crate::packager::PublishError;
use crate::packager::input::{Package, Release};

/// The .deb of `package`: its file name and bytes.
pub fn build_deb(
    step: &LinuxStep,
    release: &Release,
    package: &Package,
) -> Result<(String, Vec<u8>), PublishError> {
    let ch = step.channel.as_str();
    let invalid = |message: String| PublishError::Invalid {
        channel: ch.to_string(),
        message,
        help: None,
    };
    let (arch, version) = common::arch_and_version(ch, package, release, common::deb_arch)?;
    let full_version = match step.epoch {
        Some(e) => format!("{e}:{version}"),
        None => version.clone(),
    };
    let mtime = u64::try_from(release.timestamp).unwrap_or(0);
    let mut docs = vec![copyright(step, release.timestamp)];
    let changelog_text = changelog(step, &full_version, release.timestamp).map_err(invalid)?;
    docs.push((
        format!("/usr/share/doc/{}/changelog.gz", step.name),
        common::gzip(changelog_text.as_bytes()),
    ));
    let entries = common::entries(step, package, docs)?;
    let scripts = common::scripts(step)?;
    let dirs = common::parent_dirs(&entries);

    let installed_kib: u64 = entries
        .iter()
        .map(|e| (e.bytes.len() as u64).div_ceil(1024))
        .sum::<u64>()
        + dirs.len() as u64;
    let control = control(step, &full_version, arch, installed_kib);
    let md5sums: String = entries
        .iter()
        .map(|e| format!("{}  {}\n", hex::encode(md5(&e.bytes)), &e.path[1..]))
        .collect();
    let conffiles: String = entries
        .iter()
        .filter(|e| e.config)
        .map(|e| format!("{}\n", e.path))
        .collect();

    let mut control_files: Vec<(String, Vec<u8>, u32)> = vec![
        ("control".into(), control.into_bytes(), 0o644),
        ("md5sums".into(), md5sums.into_bytes(), 0o644),
    ];
    if !conffiles.is_empty() {
        control_files.push(("conffiles".into(), conffiles.into_bytes(), 0o644));
    }
    for (name, bytes) in scripts {
        control_files.push((name.to_string(), bytes, 0o755));
    }
    control_files.sort_by(|a, b| a.0.cmp(&b.0));

    let io = |e: std::io::Error| PublishError::Io {
        channel: ch.to_string(),
        path: format!("{}/{}", step.dir, package.file_name).into(),
        source: e,
    };
    // control.tar.gz
    let mut tar = tar::Builder::new(Vec::new());
    dir_entry(&mut tar, "./", mtime).map_err(io)?;
    for (name, bytes, mode) in &control_files {
        file_entry(&mut tar, &format!("./{name}"), bytes, *mode, mtime).map_err(io)?;
    }
    let control_tar = common::gzip(&tar.into_inner().map_err(io)?);

    let data_tar = data_tar(&entries, &dirs, mtime).map_err(io)?;
    let deb = ar_deb(&control_tar, &data_tar, mtime).map_err(io)?;
    Ok((file_name(step, release, package)?, deb))
}

/// The .deb's file name, `<name>_<version>_<arch>.deb` (the version
/// without its epoch), or why `package` makes no .deb.
pub fn file_name(
    step: &LinuxStep,
    release: &Release,
    package: &Package,
) -> Result<String, PublishError> {
    let ch = step.channel.as_str();
    let (arch, version) = common::arch_and_version(ch, package, release, common::deb_arch)?;
    Ok(format!("{}_{version}_{arch}.deb", step.name))
}

/// data.tar.xz: the folders and files, sorted, with the release's time.
fn data_tar(entries: &[Entry], dirs: &[String], mtime: u64) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    dir_entry(&mut tar, "./", mtime)?;
    let mut items: Vec<(&str, Option<&Entry>)> = dirs.iter().map(|d| (d.as_str(), None)).collect();
    items.extend(entries.iter().map(|e| (e.path.as_str(), Some(e))));
    items.sort_by(|a, b| a.0.cmp(b.0));
    for (path, entry) in items {
        match entry {
            None => dir_entry(&mut tar, &format!(".{path}/"), mtime)?,
            Some(e) => file_entry(&mut tar, &format!(".{path}"), &e.bytes, e.mode, mtime)?,
        }
    }
    let data = tar.into_inner()?;
    let mut xz = xz2::write::XzEncoder::new(Vec::new(), 6);
    xz.write_all(&data)?;
    xz.finish()
}

/// The .deb: an ar archive of debian-binary, control.tar.gz and
/// data.tar.xz, owned by root, with the release's time.
fn ar_deb(control_tar: &[u8], data_tar: &[u8], mtime: u64) -> std::io::Result<Vec<u8>> {
    let mut ar = ar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("debian-binary", &b"2.0\n"[..]),
        ("control.tar.gz", control_tar),
        ("data.tar.xz", data_tar),
    ] {
        let mut header = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mode(0o100644);
        ar.append(&header, bytes)?;
    }
    ar.into_inner()
}

fn md5(bytes: &[u8]) -> Vec<u8> {
    md5::Md5::digest(bytes).to_vec()
}

/// The control file: fields in dpkg's order, the long description folded
/// into continuation lines (an empty line as ` .`).
fn control(step: &LinuxStep, version: &str, arch: &str, installed_kib: u64) -> String {
    let mut out = String::new();
    let mut field = |name: &str, value: &str| {
        if !value.is_empty() {
            out.push_str(&format!("{name}: {value}\n"));
        }
    };
    let deps = |list: &[common::Dep]| {
        list.iter()
            .map(|d| d.debian())
            .collect::<Vec<_>>()
            .join(", ")
    };
    field("Package", &step.name);
    field("Version", version);
    field("Architecture", arch);
    field("Maintainer", step.maintainer.as_deref().unwrap_or(""));
    field("Installed-Size", &installed_kib.to_string());
    field("Depends", &deps(&step.depends));
    field("Recommends", &deps(&step.recommends));
    field("Conflicts", &deps(&step.conflicts));
    field("Provides", &deps(&step.provides));
    field("Section", &step.section);
    field("Priority", "optional");
    field("Homepage", &step.homepage);
    out.push_str(&format!("Description: {}\n", step.summary.trim()));
    for line in long_lines(&step.description) {
        if line.is_empty() {
            out.push_str(" .\n");
        } else {
            out.push_str(&format!(" {line}\n"));
        }
    }
    out
}

/// The long description's lines, each at most 79 characters (words are
/// wrapped), empty lines between paragraphs, none at either end.
pub(super) fn long_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for raw in text.trim().lines() {
        let raw = raw.trim_end();
        if raw.trim().is_empty() {
            if lines.last().is_some_and(|l: &String| !l.is_empty()) {
                lines.push(String::new());
            }
            continue;
        }
        let mut line = String::new();
        for word in raw.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > 79 {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

/// /usr/share/doc/<name>/changelog.gz's text: one entry for this version,
/// dated with the release's timestamp (Debian requires a changelog in
/// every binary package).
fn changelog(step: &LinuxStep, version: &str, timestamp: i64) -> Result<String, String> {
    let date = time::OffsetDateTime::from_unix_timestamp(timestamp)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .ok_or_else(|| format!("release timestamp {timestamp} is not a date"))?;
    Ok(format!(
        "{} ({version}) unstable; urgency=medium\n\n  * Release {version}.\n\n -- {}  {date}\n",
        step.name,
        step.maintainer.as_deref().unwrap_or("")
    ))
}

fn year(timestamp: i64) -> i32 {
    time::OffsetDateTime::from_unix_timestamp(timestamp).map_or(1970, |t| t.year())
}

/// /usr/share/doc/<name>/copyright in Debian's machine-readable format
/// (a project file installed there instead wins).
fn copyright(step: &LinuxStep, timestamp: i64) -> (String, Vec<u8>) {
    let mut out = String::from(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n",
    );
    out.push_str(&format!("Upstream-Name: {}\n", step.name));
    if !step.homepage.is_empty() {
        out.push_str(&format!("Source: {}\n", step.homepage));
    }
    let holder = step.maintainer.as_deref().unwrap_or(&step.name);
    let license = if step.license.is_empty() {
        "UNKNOWN"
    } else {
        &step.license
    };
    out.push_str(&format!(
        "\nFiles: *\nCopyright: {} {holder}\nLicense: {license}\n",
        year(timestamp)
    ));
    (
        format!("/usr/share/doc/{}/copyright", step.name),
        out.into_bytes(),
    )
}

fn header(mode: u32, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    let _ = h.set_username("root");
    let _ = h.set_groupname("root");
    h
}

fn dir_entry(tar: &mut tar::Builder<Vec<u8>>, path: &str, mtime: u64) -> std::io::Result<()> {
    let mut h = header(0o755, mtime);
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    tar.append_data(&mut h, path, std::io::empty())
}

fn file_entry(
    tar: &mut tar::Builder<Vec<u8>>,
    path: &str,
    bytes: &[u8],
    mode: u32,
    mtime: u64,
) -> std::io::Result<()> {
    let mut h = header(mode, mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(bytes.len() as u64);
    tar.append_data(&mut h, path, bytes)
}
