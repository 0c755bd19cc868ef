//! The repository's channel links behind `matrix channel`: named symbolic
//! links to published versions (not the package-manager channels of
//! matrix.toml, whose files [`crate::packager`] renders).
//!
//! Part of `repo`, used after [`super::publish`]. `channels/<name>` is a
//! relative link to `../versions/<version>` (relative, so the repository
//! can be moved or mirrored with its links). Switching a channel creates a
//! hidden `.<name>.tmp-XXXXXX` link beside it and renames it over the old
//! one, so a reader sees the old version or the new, never no channel.
//! Only a version whose record exists and whose files all still match it
//! can be linked: a channel never offers an incomplete release. The channel
//! entries are links by design, but nothing they lead to is followed: a
//! version folder, record or published file that is itself a link is
//! refused (see [`super::nofollow`]).

use std::io;
use std::path::{Path, PathBuf};

use super::nofollow::{self, Found, Refused};
use super::publish::sync_dir;
use super::{
    CHANNELS_DIR, MANIFEST, MAX_RECORD_BYTES, RepoError, VERSIONS_DIR, check_version,
    is_inner_path, parse_digest, record_path, version_dir,
};
use crate::package::manifest::Manifest;

/// Points `channel` at the published `version`, replacing where it pointed.
pub fn channel_set(repo: &Path, channel: &str, version: &str) -> Result<(), RepoError> {
    check_channel(channel)?;
    check_version(version)?;
    verify_published(repo, version)?;

    nofollow::create_dirs(repo, Path::new(CHANNELS_DIR))?;
    let dir = repo.join(CHANNELS_DIR);
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
    // A linked channels/ folder would list (and vouch for) someone else's.
    if !nofollow::is_dir(repo, Path::new(CHANNELS_DIR))? {
        return Ok(Vec::new());
    }
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
        let published = match nofollow::metadata(repo, &record_path(&version)) {
            Ok(Found::Yes(m)) => m.is_file(),
            Ok(Found::Missing) => false,
            Err(e) => return Err(broken(e.to_string())),
        };
        if !published {
            return Err(broken(format!("version {version} is not published")));
        }
        // The link itself is ours; where it leads must be the real folder.
        match nofollow::is_dir(repo, &version_dir(&version)) {
            Ok(true) => {}
            Ok(false) => return Err(broken(format!("versions/{version} is missing"))),
            Err(e) => return Err(broken(e.to_string())),
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

/// A version is linkable when its record exists, its version directory is a
/// real directory holding the same manifest, and every file the record lists
/// is a regular file (not a link) with its size and digest.
fn verify_published(repo: &Path, version: &str) -> Result<(), RepoError> {
    let record = record_path(version);
    let bytes = match nofollow::read(repo, &record, MAX_RECORD_BYTES)? {
        Found::Yes(b) => b,
        Found::Missing => {
            return Err(RepoError::NotPublished {
                version: version.to_owned(),
                repo: repo.to_path_buf(),
            });
        }
    };
    let damaged = |problems: Vec<String>| RepoError::Damaged {
        version: version.to_owned(),
        problems,
    };
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        damaged(vec![format!(
            "its record {} is unreadable: {e}",
            repo.join(&record).display()
        )])
    })?;
    let mut problems = Vec::new();
    // Checked first and on its own: the channel will link to this folder.
    match nofollow::is_dir(repo, &version_dir(version)) {
        Ok(_) => {}
        Err(e @ Refused::Io { .. }) => return Err(e.into()),
        Err(refused) => return Err(damaged(vec![refused.to_string()])),
    }
    let copy = version_dir(version).join(MANIFEST);
    match nofollow::read(repo, &copy, MAX_RECORD_BYTES) {
        Ok(Found::Yes(b)) if b == bytes => {}
        Ok(Found::Yes(_)) | Err(Refused::TooLarge { .. }) => problems.push(format!(
            "{} differs from the record",
            repo.join(&copy).display()
        )),
        Ok(Found::Missing) => {
            problems.push(format!("{} is missing", repo.join(&copy).display()));
        }
        Err(e @ Refused::Io { .. }) => return Err(e.into()),
        Err(refused) => problems.push(refused.to_string()),
    }
    for a in &manifest.artifacts {
        let (Some((algorithm, want)), true) = (parse_digest(&a.digest), is_inner_path(&a.path))
        else {
            problems.push(format!("{} has an unusable record entry", a.name));
            continue;
        };
        match nofollow::hash(repo, Path::new(&a.path), algorithm) {
            Ok(Found::Yes((got, size))) if got == want && size == a.size => {}
            Ok(Found::Yes(_)) => problems.push(format!("{} does not match its digest", a.path)),
            Ok(Found::Missing) => problems.push(format!("{} is missing", a.path)),
            Err(e @ Refused::Io { .. }) => return Err(e.into()),
            // A link, a FIFO, a folder: named, with the path in the repo.
            Err(refused) => problems.push(refused.to_string()),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(damaged(problems))
    }
}
