//! [`publish`]: copies a complete release from dist/ into the repository.
//!
//! Part of `repo`. In order, each step failing before the next writes
//! anything a reader could see:
//! 1. read the manifest, refuse a version the repository already records;
//! 2. render every artifact's repository path ([`Layout::paths`]);
//! 3. check the manifest itself (not a shard, not partial, paths inside the
//!    release), then run the whole of `matrix verify` on the release folder
//!    and refuse it on any problem;
//! 4. copy every artifact into a staging directory inside the repository,
//!    hashing while copying, and refuse the release unless every file exists
//!    with the manifest's size and digest (what gets published is the bytes
//!    that were hashed, even if dist/ changes meanwhile);
//! 5. refuse if any destination already holds different bytes;
//! 6. rename the staged files into place, never over an existing file;
//! 7. write `versions/<version>/manifest.json`, then the record.
//!
//! No symbolic link is followed below the release folder or the repository
//! root (see [`super::nofollow`]): a linked release file is a problem of the
//! release, a linked repository folder an error naming it.
//!
//! A publish that dies between 6 and 7 leaves files no record claims; the
//! version is not published, and publishing the same release again finishes
//! the job (identical files already in place are accepted as they are).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::{NamedTempFile, TempDir};

use super::nofollow::{self, Found, Refused};
use super::{
    Layout, MANIFEST, RepoError, check_version, is_inner_path, parse_digest, record_path,
    staging_dir, version_dir,
};
use crate::package::checksum::HashingWriter;
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
    publish_then(release_dir, repo, layout, allow_partial, || Ok(()))
}

/// The checks [`publish_with`] and [`preview`] open with: the manifest,
/// the version not yet published, the layout's paths, then the whole of
/// `matrix verify`.
fn open_release(
    release_dir: &Path,
    repo: &Path,
    layout: &Layout,
    allow_partial: bool,
) -> Result<(Manifest, Vec<(String, String)>), RepoError> {
    let manifest = read_manifest(release_dir)?;
    let record = record_path(&manifest.version);
    if let Found::Yes(_) = nofollow::metadata(repo, &record)? {
        return Err(RepoError::AlreadyPublished {
            version: manifest.version,
            repo: repo.to_path_buf(),
        });
    }
    let paths = layout.paths(&manifest)?;
    check_manifest(release_dir, &manifest, allow_partial)?;
    verify(release_dir, allow_partial)?;
    Ok((manifest, paths))
}

/// [`publish_with`], running `before_record` once every file is in place
/// and before the record that makes the version published is written
/// (the apt index): if it fails the version is not published, and
/// publishing the same release again reuses the placed files and retries.
pub fn publish_then(
    release_dir: &Path,
    repo: &Path,
    layout: &Layout,
    allow_partial: bool,
    before_record: impl FnOnce() -> Result<(), RepoError>,
) -> Result<PublishReport, RepoError> {
    let (manifest, paths) = open_release(release_dir, repo, layout, allow_partial)?;
    let version = manifest.version.clone();
    let record = record_path(&version);

    let staging_root = staging_dir();
    nofollow::create_dirs(repo, &staging_root)?;
    let staging_root = repo.join(staging_root);
    // Inside the repository, so every rename into place stays on one
    // filesystem; dropped (and deleted) whatever happens.
    let staging = tempfile::Builder::new()
        .prefix(&format!("publish-{version}-"))
        .tempdir_in(&staging_root)
        .map_err(RepoError::io(
            "create a staging directory in",
            &staging_root,
        ))?;
    let staged = stage(release_dir, &manifest, &paths, &staging)?;

    // Check every destination before placing any, so a conflict leaves the
    // repository as it was.
    let mut reused = Vec::with_capacity(staged.len());
    for (artifact, s) in manifest.artifacts.iter().zip(&staged) {
        reused.push(matches_existing(&version, repo, &s.dest, &artifact.digest)?);
    }
    for ((artifact, s), &already) in manifest.artifacts.iter().zip(staged).zip(&reused) {
        if !already {
            place(&version, repo, s, &artifact.digest)?;
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
    let version_manifest = version_dir(&version).join(MANIFEST);
    match write_new(&staging, repo, &version_manifest, &bytes)? {
        Written::New => {}
        Written::Exists if read_equals(repo, &version_manifest, &bytes)? => {}
        Written::Exists => {
            return Err(RepoError::Conflict {
                version,
                path: repo.join(version_manifest),
                detail: "an earlier, unfinished publish of another build".to_owned(),
            });
        }
    }
    before_record()?;
    // Last: from here on the version is published.
    if let Written::Exists = write_new(&staging, repo, &record, &bytes)? {
        return Err(RepoError::AlreadyPublished {
            version,
            repo: repo.to_path_buf(),
        });
    }
    let record = repo.join(record);
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

/// The release's manifest, read without following a link, with a version
/// that can name files.
pub fn read_manifest(release_dir: &Path) -> Result<Manifest, RepoError> {
    let manifest_path = release_dir.join(MANIFEST);
    // A linked manifest would publish someone else's release description.
    if let Found::Yes(meta) = nofollow::metadata(release_dir, Path::new(MANIFEST))? {
        if meta.file_type().is_symlink() {
            return Err(RepoError::Symlink {
                path: manifest_path,
            });
        }
        if !meta.is_file() {
            return Err(RepoError::NotAFile {
                path: manifest_path,
            });
        }
    }
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
    check_version(&manifest.version)?;
    Ok(manifest)
}

/// What [`publish`] would place where, checked as it would check it (the
/// manifest, then the whole of `matrix verify`), without writing anything:
/// `matrix publish --dry-run`.
pub fn preview(
    release_dir: &Path,
    repo: &Path,
    layout: &Layout,
    allow_partial: bool,
) -> Result<PublishReport, RepoError> {
    let (manifest, paths) = open_release(release_dir, repo, layout, allow_partial)?;
    let version = manifest.version.clone();
    let files = manifest
        .artifacts
        .iter()
        .zip(paths)
        .map(|(a, (_, path))| PublishedFile {
            name: a.name.clone(),
            path,
            size: a.size,
            reused: false,
        })
        .collect();
    Ok(PublishReport {
        version,
        files,
        record: repo.join(record_path(&manifest.version)),
    })
}

/// What the manifest alone says is wrong: a shard or partial merge, names
/// listed twice, the checksums file unlisted, paths leaving the release,
/// unusable digests. Checked before anything reads the release's files, so
/// a tampered manifest cannot point `verify` or the copy elsewhere.
pub(super) fn check_manifest(
    release_dir: &Path,
    manifest: &Manifest,
    allow_partial: bool,
) -> Result<(), RepoError> {
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
    for a in &manifest.artifacts {
        if !is_inner_path(&a.path) {
            problems.push(format!(
                "{} has a path outside the release: {:?}",
                a.name, a.path
            ));
        } else if parse_digest(&a.digest).is_none() {
            problems.push(format!("{} has an unusable digest {:?}", a.name, a.digest));
        }
    }
    incomplete(release_dir, problems)
}

/// The whole of `matrix verify`: sizes, digests, the checksums file, every
/// target's archive and the binaries inside it.
pub(super) fn verify(release_dir: &Path, allow_partial: bool) -> Result<(), RepoError> {
    let report = crate::dist_check::release_with(release_dir, allow_partial).map_err(|e| {
        RepoError::Unverified {
            release_dir: release_dir.to_path_buf(),
            problems: vec![e.to_string()],
        }
    })?;
    if report.ok() {
        Ok(())
    } else {
        Err(RepoError::Unverified {
            release_dir: release_dir.to_path_buf(),
            problems: report.problems,
        })
    }
}

fn incomplete(release_dir: &Path, problems: Vec<String>) -> Result<(), RepoError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RepoError::Incomplete {
            release_dir: release_dir.to_path_buf(),
            problems,
        })
    }
}

/// Copies every artifact into staging while hashing it; any missing or
/// differing file makes the release incomplete (all problems reported).
/// `verify` passed already; this copy is what gets published, so it is
/// checked again against the manifest as it is read. No link is followed.
fn stage(
    release_dir: &Path,
    manifest: &Manifest,
    paths: &[(String, String)],
    staging: &TempDir,
) -> Result<Vec<Staged>, RepoError> {
    let mut problems = Vec::new();
    let mut staged = Vec::with_capacity(manifest.artifacts.len());
    for (a, (_, dest)) in manifest.artifacts.iter().zip(paths) {
        // Both checked by `check_manifest`.
        let (true, Some((algorithm, want))) = (is_inner_path(&a.path), parse_digest(&a.digest))
        else {
            problems.push(format!("{} has an unusable record", a.name));
            continue;
        };
        let source_path = release_dir.join(&a.path);
        let (mut source, meta) = match nofollow::open(release_dir, Path::new(&a.path)) {
            Ok(Found::Yes(f)) => f,
            Ok(Found::Missing) => {
                problems.push(format!("{} is missing", a.path));
                continue;
            }
            Err(Refused::Io { source, .. }) => {
                return Err(RepoError::io("open", &source_path)(source));
            }
            Err(refused) => {
                problems.push(refused_in_release(release_dir, &refused));
                continue;
            }
        };
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
            dest: PathBuf::from(dest),
        });
    }
    incomplete(release_dir, problems)?;
    Ok(staged)
}

/// A release-side refusal as a problem, with the path relative to the
/// release folder (the error names the folder).
fn refused_in_release(release_dir: &Path, refused: &Refused) -> String {
    let rel = |p: &Path| {
        p.strip_prefix(release_dir)
            .unwrap_or(p)
            .display()
            .to_string()
    };
    match refused {
        Refused::Symlink(p) => format!(
            "{} is a symbolic link (matrix never publishes through a link)",
            rel(p)
        ),
        Refused::NotADirectory(p) => format!("{} is not a directory", rel(p)),
        Refused::NotAFile(p) => format!("{} is not a regular file", rel(p)),
        Refused::Io { .. } | Refused::TooLarge { .. } | Refused::NotBelow { .. } => {
            refused.to_string()
        }
    }
}

/// True if `repo/dest` already holds exactly the artifact (left by an
/// interrupted publish of this release), false if it is free; a conflict
/// otherwise. A link on the way or in its place is refused, never followed.
fn matches_existing(
    version: &str,
    repo: &Path,
    dest: &Path,
    digest: &str,
) -> Result<bool, RepoError> {
    let full = repo.join(dest);
    let meta = match nofollow::metadata(repo, dest) {
        Ok(Found::Yes(m)) => m,
        Ok(Found::Missing) => return Ok(false),
        // A parent that is a file: placing would fail the same way; report
        // it as the conflict it is.
        Err(Refused::NotADirectory(parent)) => {
            return Err(conflict(
                version,
                &parent,
                "a file where a directory is needed",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    if meta.file_type().is_symlink() {
        return Err(RepoError::Symlink { path: full });
    }
    if !meta.is_file() {
        return Err(conflict(version, &full, "not a regular file"));
    }
    let Some((algorithm, want)) = parse_digest(digest) else {
        return Err(conflict(version, &full, "unusable digest"));
    };
    match nofollow::hash(repo, dest, algorithm)? {
        Found::Yes((got, _)) if got == want => Ok(true),
        Found::Yes(_) => Err(conflict(version, &full, "different bytes")),
        // Removed meanwhile: free again.
        Found::Missing => Ok(false),
    }
}

/// Renames a staged file into place without replacing anything; losing a
/// race to an identical file is fine, to a different one a conflict.
fn place(version: &str, repo: &Path, staged: Staged, digest: &str) -> Result<(), RepoError> {
    let Staged { file, dest } = staged;
    if let Some(parent) = dest.parent() {
        nofollow::create_dirs(repo, parent).map_err(|e| match e {
            Refused::NotADirectory(p) => {
                conflict(version, &p, "a file where a directory is needed")
            }
            other => other.into(),
        })?;
    }
    let full = repo.join(&dest);
    match file.persist_noclobber(&full) {
        Ok(_) => {
            sync_dir(full.parent());
            Ok(())
        }
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
            if matches_existing(version, repo, &dest, digest)? {
                Ok(())
            } else {
                Err(conflict(version, &full, "removed while publishing"))
            }
        }
        Err(e) => Err(RepoError::io("move into place", &full)(e.error)),
    }
}

enum Written {
    New,
    Exists,
}

/// Writes `bytes` to `repo/dest` (mode 0644) unless something is already
/// there; the folders on the way are created, never followed if links.
fn write_new(
    staging: &TempDir,
    repo: &Path,
    dest: &Path,
    bytes: &[u8],
) -> Result<Written, RepoError> {
    if let Some(parent) = dest.parent() {
        nofollow::create_dirs(repo, parent)?;
    }
    let mut file = NamedTempFile::new_in(staging.path())
        .map_err(RepoError::io("create a file in", staging.path()))?;
    file.write_all(bytes)
        .and_then(|()| set_mode(file.as_file(), 0o644))
        .and_then(|()| file.as_file().sync_all())
        .map_err(RepoError::io("write", file.path()))?;
    let full = repo.join(dest);
    match file.persist_noclobber(&full) {
        Ok(_) => Ok(Written::New),
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(Written::Exists),
        Err(e) => Err(RepoError::io("move into place", &full)(e.error)),
    }
}

/// Whether `repo/path` holds exactly `bytes` (a link there is refused).
fn read_equals(repo: &Path, path: &Path, bytes: &[u8]) -> Result<bool, RepoError> {
    let limit = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    match nofollow::read(repo, path, limit) {
        Ok(Found::Yes(existing)) => Ok(existing == bytes),
        Ok(Found::Missing) => Ok(false),
        // Longer than ours: different.
        Err(Refused::TooLarge { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
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
