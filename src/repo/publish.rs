//! [`publish`]: copies a complete release from dist/ into the repository.
//!
//! Part of `repo`. In order, each step failing before the next writes
//! anything a reader could see:
//! 1. read the manifest, refuse a version the repository already records;
//! 2. render every artifact's repository path ([`Layout::paths`]);
//! 3. copy every artifact into a staging directory inside the repository,
//!    hashing while copying, and refuse the release unless every file exists
//!    with the manifest's size and digest (what gets published is the bytes
//!    that were hashed, even if dist/ changes meanwhile);
//! 4. refuse if any destination already holds different bytes;
//! 5. rename the staged files into place, never over an existing file;
//! 6. write `versions/<version>/manifest.json`, then the record.
//!
//! A publish that dies between 5 and 6 leaves files no record claims; the
//! version is not published, and publishing the same release again finishes
//! the job (identical files already in place are accepted as they are).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::{NamedTempFile, TempDir};

use super::{
    Layout, MANIFEST, RepoError, check_version, is_inner_path, parse_digest, record_path,
    staging_dir, version_dir,
};
use crate::package::checksum::{HashingWriter, hash_file};
use crate::package::manifest::{self, Manifest};

/// What [`publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReport {
    pub version: String,
    /// Every artifact, in manifest order.
    pub files: Vec<PublishedFile>,
    /// `<repo>/.matrix/releases/<version>.json`.
    pub record: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedFile {
    /// The artifact's name in the manifest.
    pub name: String,
    /// Its path in the repository, relative to the repository root.
    pub path: String,
    pub size: u64,
    /// Already in place with the same bytes, from an interrupted publish of
    /// this release.
    pub reused: bool,
}

/// A verified copy waiting in staging.
struct Staged {
    file: NamedTempFile,
    dest: PathBuf,
}

/// Publishes the release in `release_dir` (a dist/ directory) into `repo`,
/// placing artifacts where `layout` says. The repository directory is
/// created if missing.
pub fn publish(
    release_dir: &Path,
    repo: &Path,
    layout: &Layout,
) -> Result<PublishReport, RepoError> {
    publish_with(release_dir, repo, layout, false)
}

/// [`publish`], optionally accepting a release that lists missing targets
/// (`matrix publish --allow-partial`: partial on purpose).
pub fn publish_with(
    release_dir: &Path,
    repo: &Path,
    layout: &Layout,
    allow_partial: bool,
) -> Result<PublishReport, RepoError> {
    let manifest_path = release_dir.join(MANIFEST);
    let manifest = Manifest::read(&manifest_path).map_err(|source| RepoError::Manifest {
        path: manifest_path.clone(),
        source,
    })?;
    if manifest.format != manifest::FORMAT {
        return Err(RepoError::NotAManifest {
            path: manifest_path,
            format: manifest.format,
        });
    }
    let version = manifest.version.clone();
    check_version(&version)?;
    let record = record_path(repo, &version);
    if exists(&record)? {
        return Err(RepoError::AlreadyPublished {
            version,
            repo: repo.to_path_buf(),
        });
    }
    let paths = layout.paths(&manifest)?;

    let staging_root = staging_dir(repo);
    std::fs::create_dir_all(&staging_root)
        .map_err(RepoError::io("create the staging directory", &staging_root))?;
    // Inside the repository, so every rename into place stays on one
    // filesystem; dropped (and deleted) whatever happens.
    let staging = tempfile::Builder::new()
        .prefix(&format!("publish-{version}-"))
        .tempdir_in(&staging_root)
        .map_err(RepoError::io(
            "create a staging directory in",
            &staging_root,
        ))?;
    let staged = stage(
        release_dir,
        repo,
        &manifest,
        &paths,
        &staging,
        allow_partial,
    )?;

    // Check every destination before placing any, so a conflict leaves the
    // repository as it was.
    let mut reused = Vec::with_capacity(staged.len());
    for (artifact, s) in manifest.artifacts.iter().zip(&staged) {
        reused.push(matches_existing(&version, &s.dest, &artifact.digest)?);
    }
    for ((artifact, s), &already) in manifest.artifacts.iter().zip(staged).zip(&reused) {
        if !already {
            place(&version, s, &artifact.digest)?;
        }
    }

    // The repository's manifest: the release's, with repository paths.
    let mut copy = manifest.clone();
    for (artifact, (_, path)) in copy.artifacts.iter_mut().zip(&paths) {
        artifact.path = path.clone();
    }
    let bytes = copy.to_json().map_err(|e| RepoError::Io {
        action: "serialise the manifest of",
        path: release_dir.to_path_buf(),
        source: io::Error::other(e),
    })?;
    let version_manifest = version_dir(repo, &version).join(MANIFEST);
    match write_new(&staging, &version_manifest, &bytes)? {
        Written::New => {}
        Written::Exists if read_equals(&version_manifest, &bytes)? => {}
        Written::Exists => {
            return Err(RepoError::Conflict {
                version,
                path: version_manifest,
                detail: "an earlier, unfinished publish of another build".to_owned(),
            });
        }
    }
    // Last: from here on the version is published.
    if let Written::Exists = write_new(&staging, &record, &bytes)? {
        return Err(RepoError::AlreadyPublished {
            version,
            repo: repo.to_path_buf(),
        });
    }
    sync_dir(record.parent());

    let files = manifest
        .artifacts
        .iter()
        .zip(paths)
        .zip(reused)
        .map(|((a, (_, path)), reused)| PublishedFile {
            name: a.name.clone(),
            path,
            size: a.size,
            reused,
        })
        .collect();
    Ok(PublishReport {
        version,
        files,
        record,
    })
}

/// Copies every artifact into staging while hashing it; any missing or
/// differing file makes the release incomplete (all problems reported).
fn stage(
    release_dir: &Path,
    repo: &Path,
    manifest: &Manifest,
    paths: &[(String, String)],
    staging: &TempDir,
    allow_partial: bool,
) -> Result<Vec<Staged>, RepoError> {
    let mut problems = Vec::new();
    // A shard or a partial merge is not a release, whatever its files say.
    if let Some(shard) = &manifest.shard {
        problems.push(format!(
            "it is shard {}/{} of a build, not a release; merge the shards first",
            shard.index, shard.total
        ));
    }
    if !allow_partial {
        for t in &manifest.missing_targets {
            problems.push(format!(
                "{t} is missing (a partial release; --allow-partial publishes it anyway)"
            ));
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for a in &manifest.artifacts {
        if !names.insert(a.name.as_str()) {
            problems.push(format!("{} is listed twice", a.name));
        }
    }
    if !names.contains(manifest.checksum.file.as_str()) {
        problems.push(format!(
            "the checksums file {} is not among the artifacts",
            manifest.checksum.file
        ));
    }
    let mut staged = Vec::with_capacity(manifest.artifacts.len());
    for (a, (_, dest)) in manifest.artifacts.iter().zip(paths) {
        if !is_inner_path(&a.path) {
            problems.push(format!(
                "{} has a path outside the release: {:?}",
                a.name, a.path
            ));
            continue;
        }
        let Some((algorithm, want)) = parse_digest(&a.digest) else {
            problems.push(format!("{} has an unusable digest {:?}", a.name, a.digest));
            continue;
        };
        let source_path = release_dir.join(&a.path);
        let mut source = match File::open(&source_path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                problems.push(format!("{} is missing", a.path));
                continue;
            }
            Err(e) => return Err(RepoError::io("open", &source_path)(e)),
        };
        let meta = source
            .metadata()
            .map_err(RepoError::io("read the metadata of", &source_path))?;
        if !meta.is_file() {
            problems.push(format!("{} is not a regular file", a.path));
            continue;
        }
        if meta.len() != a.size {
            problems.push(format!(
                "{} is {} bytes, the manifest says {}",
                a.path,
                meta.len(),
                a.size
            ));
            continue;
        }
        let mut file = NamedTempFile::new_in(staging.path())
            .map_err(RepoError::io("create a file in", staging.path()))?;
        let mut writer = HashingWriter::new(file.as_file_mut(), algorithm);
        io::copy(&mut source, &mut writer).map_err(RepoError::io("copy", &source_path))?;
        let (_, got, size) = writer.finish();
        if got != want || size != a.size {
            problems.push(format!(
                "{} does not match its digest in the manifest",
                a.path
            ));
            continue;
        }
        // Fixed modes rather than the builder's umask: executables stay
        // executable, everything is readable by whoever serves the repo.
        let mode = if is_executable(&meta) { 0o755 } else { 0o644 };
        set_mode(file.as_file(), mode).map_err(RepoError::io("set the mode of", file.path()))?;
        file.as_file()
            .sync_all()
            .map_err(RepoError::io("sync", file.path()))?;
        staged.push(Staged {
            file,
            dest: repo.join(dest),
        });
    }
    if problems.is_empty() {
        Ok(staged)
    } else {
        Err(RepoError::Incomplete {
            release_dir: release_dir.to_path_buf(),
            problems,
        })
    }
}

/// True if `dest` already holds exactly the artifact (left by an
/// interrupted publish of this release), false if it is free; a conflict
/// otherwise.
fn matches_existing(version: &str, dest: &Path, digest: &str) -> Result<bool, RepoError> {
    let meta = match std::fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        // A parent that is a file: placing will fail the same way; report
        // it as the conflict it is.
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
            return Err(conflict(version, dest, "a parent is not a directory"));
        }
        Err(e) => return Err(RepoError::io("inspect", dest)(e)),
    };
    if !meta.is_file() {
        return Err(conflict(version, dest, "not a regular file"));
    }
    let Some((algorithm, want)) = parse_digest(digest) else {
        return Err(conflict(version, dest, "unusable digest"));
    };
    let (got, _) = hash_file(dest, algorithm).map_err(RepoError::io("hash", dest))?;
    if got == want {
        Ok(true)
    } else {
        Err(conflict(version, dest, "different bytes"))
    }
}

/// Renames a staged file into place without replacing anything; losing a
/// race to an identical file is fine, to a different one a conflict.
fn place(version: &str, staged: Staged, digest: &str) -> Result<(), RepoError> {
    let Staged { file, dest } = staged;
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists | io::ErrorKind::NotADirectory => {
                conflict(version, parent, "a file where a directory is needed")
            }
            _ => RepoError::io("create the directory", parent)(e),
        })?;
    }
    match file.persist_noclobber(&dest) {
        Ok(_) => {
            sync_dir(dest.parent());
            Ok(())
        }
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
            matches_existing(version, &dest, digest)?;
            Ok(())
        }
        Err(e) => Err(RepoError::io("move into place", &dest)(e.error)),
    }
}

enum Written {
    New,
    Exists,
}

/// Writes `bytes` to `dest` (mode 0644) unless something is already there.
fn write_new(staging: &TempDir, dest: &Path, bytes: &[u8]) -> Result<Written, RepoError> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(RepoError::io("create the directory", parent))?;
    }
    let mut file = NamedTempFile::new_in(staging.path())
        .map_err(RepoError::io("create a file in", staging.path()))?;
    file.write_all(bytes)
        .and_then(|()| set_mode(file.as_file(), 0o644))
        .and_then(|()| file.as_file().sync_all())
        .map_err(RepoError::io("write", file.path()))?;
    match file.persist_noclobber(dest) {
        Ok(_) => Ok(Written::New),
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(Written::Exists),
        Err(e) => Err(RepoError::io("move into place", dest)(e.error)),
    }
}

fn read_equals(path: &Path, bytes: &[u8]) -> Result<bool, RepoError> {
    let existing = std::fs::read(path).map_err(RepoError::io("read", path))?;
    Ok(existing == bytes)
}

fn exists(path: &Path) -> Result<bool, RepoError> {
    path.try_exists().map_err(RepoError::io("inspect", path))
}

fn conflict(version: &str, path: &Path, detail: &str) -> RepoError {
    RepoError::Conflict {
        version: version.to_owned(),
        path: path.to_path_buf(),
        detail: detail.to_owned(),
    }
}

fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// Makes renames into `dir` durable. Best effort: some filesystems refuse
/// to sync a directory, and the data itself is already synced.
pub(super) fn sync_dir(dir: Option<&Path>) {
    if let Some(d) = dir.and_then(|d| File::open(d).ok()) {
        let _ = d.sync_all();
    }
}
