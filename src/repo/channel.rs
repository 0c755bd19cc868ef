//! Release channels: named symbolic links to published versions.
//!
//! Part of `repo`, used after [`super::publish`]. `channels/<name>` is a
//! relative link to `../versions/<version>` (relative, so the repository
//! can be moved or mirrored with its links). Switching a channel creates a
//! hidden `.<name>.tmp-XXXXXX` link beside it and renames it over the old
//! one, so a reader sees the old version or the new, never no channel.
//! Only a version whose record exists and whose files all still match it
//! can be linked: a channel never offers an incomplete release.

use std::io;
use std::path::{Path, PathBuf};

use super::publish::sync_dir;
use super::{
    CHANNELS_DIR, MANIFEST, RepoError, VERSIONS_DIR, check_version, is_inner_path, parse_digest,
    record_path, version_dir,
};
use crate::package::checksum::hash_file;
use crate::package::manifest::Manifest;

/// Points `channel` at the published `version`, replacing where it pointed.
pub fn channel_set(repo: &Path, channel: &str, version: &str) -> Result<(), RepoError> {
    check_channel(channel)?;
    check_version(version)?;
    verify_published(repo, version)?;

    let dir = repo.join(CHANNELS_DIR);
    std::fs::create_dir_all(&dir).map_err(RepoError::io("create the directory", &dir))?;
    let target = link_target(version);
    let link = tempfile::Builder::new()
        .prefix(&format!(".{channel}.tmp-"))
        .rand_bytes(6)
        .make_in(&dir, |path| std::os::unix::fs::symlink(&target, path))
        .map_err(RepoError::io("create a link in", &dir))?;
    let dest = dir.join(channel);
    // rename(2) replaces the old link in one step; on failure the temporary
    // link is removed when `link` drops.
    link.persist(&dest)
        .map_err(|e| RepoError::io("switch the channel link", &dest)(e.error))?;
    sync_dir(Some(&dir));
    Ok(())
}

/// Every channel and the version it points at, sorted by channel name.
pub fn channel_list(repo: &Path) -> Result<Vec<(String, String)>, RepoError> {
    let dir = repo.join(CHANNELS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RepoError::io("list", &dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(RepoError::io("list", &dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Hidden: a switch in progress (or an editor's file), not a channel.
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let broken = |detail: String| RepoError::BrokenChannel {
            name: name.clone(),
            path: path.clone(),
            detail,
        };
        if check_channel(&name).is_err() {
            return Err(broken("its name is not a channel name".to_owned()));
        }
        let target = match std::fs::read_link(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                return Err(broken("it is not a symbolic link".to_owned()));
            }
            Err(e) => return Err(RepoError::io("read the link", &path)(e)),
        };
        let version = version_of(&target)
            .ok_or_else(|| broken(format!("it points at {}", target.display())))?;
        if !record_path(repo, &version)
            .try_exists()
            .map_err(RepoError::io("inspect", record_path(repo, &version)))?
        {
            return Err(broken(format!("version {version} is not published")));
        }
        out.push((name, version));
    }
    out.sort();
    Ok(out)
}

/// Channel names: 1 to 64 of `[A-Za-z0-9._-]`, starting with a letter or
/// digit (so never hidden, never taken for an option or a temporary link).
fn check_channel(name: &str) -> Result<(), RepoError> {
    let valid = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(RepoError::InvalidChannel {
            name: name.to_owned(),
        })
    }
}

/// `../versions/<version>`, relative to `channels/`.
fn link_target(version: &str) -> PathBuf {
    Path::new("..").join(VERSIONS_DIR).join(version)
}

/// The version a link target names, if it is one [`channel_set`] writes.
fn version_of(target: &Path) -> Option<String> {
    let version = target
        .strip_prefix(Path::new("..").join(VERSIONS_DIR))
        .ok()?;
    let version = version.to_str()?;
    check_version(version).ok()?;
    Some(version.to_owned())
}

/// A version is linkable when its record exists, its version directory holds
/// the same manifest, and every file the record lists is there with its
/// size and digest.
fn verify_published(repo: &Path, version: &str) -> Result<(), RepoError> {
    let record = record_path(repo, version);
    let bytes = match std::fs::read(&record) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(RepoError::NotPublished {
                version: version.to_owned(),
                repo: repo.to_path_buf(),
            });
        }
        Err(e) => return Err(RepoError::io("read", &record)(e)),
    };
    let damaged = |problems: Vec<String>| RepoError::Damaged {
        version: version.to_owned(),
        problems,
    };
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        damaged(vec![format!(
            "its record {} is unreadable: {e}",
            record.display()
        )])
    })?;
    let mut problems = Vec::new();
    let copy = version_dir(repo, version).join(MANIFEST);
    match std::fs::read(&copy) {
        Ok(b) if b == bytes => {}
        Ok(_) => problems.push(format!("{} differs from the record", copy.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            problems.push(format!("{} is missing", copy.display()));
        }
        Err(e) => return Err(RepoError::io("read", &copy)(e)),
    }
    for a in &manifest.artifacts {
        let (Some((algorithm, want)), true) = (parse_digest(&a.digest), is_inner_path(&a.path))
        else {
            problems.push(format!("{} has an unusable record entry", a.name));
            continue;
        };
        let path = repo.join(&a.path);
        match hash_file(&path, algorithm) {
            Ok((got, size)) if got == want && size == a.size => {}
            Ok(_) => problems.push(format!("{} does not match its digest", a.path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                problems.push(format!("{} is missing", a.path));
            }
            Err(e) => return Err(RepoError::io("hash", &path)(e)),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(damaged(problems))
    }
}
