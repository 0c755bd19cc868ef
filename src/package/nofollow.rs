//! Path walking that never follows a symbolic link below a root.
//!
//! Part of `package`, for `repo` and `cache`: [`crate::repo`]'s publish
//! reads a release folder and writes a repository, its channels check
//! published files, and none of them
//! may be led elsewhere by a link someone planted: a release file linked to
//! /etc/passwd would be published under an archive's name, and a repository
//! folder linked outside would be written through; [`crate::cache`]'s
//! restore makes an output's folders with [`create_dirs`] for the same
//! reason (a binary restored to `target/...`). The root itself is the
//! folder the user named and may be a link (a repository mounted via
//! /srv/repo -> /data/repo is fine); a path below it must be plain names
//! (no `..`, `.` or root: a walk that checks for links still climbs out
//! through `..`), every component *below* it is checked
//! with `symlink_metadata`, folders are created one component at a time,
//! and files are opened with `O_NOFOLLOW` (and `O_NONBLOCK`, so a FIFO
//! planted under an archive's name cannot hang the run).
//!
//! Checking then opening by path leaves a window in which a component could
//! be swapped by someone who can write below the root while we run; the
//! final open refuses a link regardless, so what such a race can do is make
//! us read or write a *regular* file under a folder of theirs, never read a
//! file a link points at.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::package::Algorithm;
use crate::package::checksum::HashingWriter;

/// Why a path below a root could not be used.
#[derive(Debug)]
pub(crate) enum Refused {
    /// This component is a symbolic link.
    Symlink(PathBuf),
    /// This component should be a folder but is something else.
    NotADirectory(PathBuf),
    /// The file is there but is not a regular file (a FIFO, a device, a
    /// folder).
    NotAFile(PathBuf),
    /// The relative path has a component other than a plain name (`..`,
    /// `.`, a root or a prefix), so it could name something outside.
    NotBelow { root: PathBuf, rel: PathBuf },
    /// Larger than the caller reads whole.
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Symlink(p) => write!(f, "{} is a symbolic link", p.display()),
            Refused::NotADirectory(p) => write!(f, "{} is not a directory", p.display()),
            Refused::NotAFile(p) => write!(f, "{} is not a regular file", p.display()),
            Refused::NotBelow { root, rel } => write!(
                f,
                "{:?} is not a plain path below {}",
                rel.display(),
                root.display()
            ),
            Refused::TooLarge { path, size, limit } => write!(
                f,
                "{} is {size} bytes, more than the {limit} read whole",
                path.display()
            ),
            Refused::Io {
                action,
                path,
                source,
            } => write!(f, "could not {action} {}: {source}", path.display()),
        }
    }
}

impl Refused {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Refused {
        let path = path.to_path_buf();
        move |source| Refused::Io {
            action,
            path,
            source,
        }
    }
}

/// Refuses a `rel` that is not plain names only: `..` would climb out of
/// the root (a folder walk does not stop it) and a root would replace it.
fn plain(root: &Path, rel: &Path) -> Result<(), Refused> {
    if rel
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        Ok(())
    } else {
        Err(Refused::NotBelow {
            root: root.to_path_buf(),
            rel: rel.to_path_buf(),
        })
    }
}

/// What a lookup below a root found.
pub(crate) enum Found<T> {
    Yes(T),
    /// The path, or one of its folders, does not exist.
    Missing,
}

/// Checks that `rel` is plain names only and that every folder of `rel`
/// (relative to `root`, `rel` itself excluded) is a real directory. `Missing` as soon as one does not exist.
pub(crate) fn check_parents(root: &Path, rel: &Path) -> Result<Found<()>, Refused> {
    plain(root, rel)?;
    let Some(parent) = rel.parent() else {
        return Ok(Found::Yes(()));
    };
    let mut path = root.to_path_buf();
    for component in parent.components() {
        path.push(component);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => return Err(Refused::Symlink(path)),
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(Refused::NotADirectory(path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Missing),
            Err(e) => return Err(Refused::io("inspect", &path)(e)),
        }
    }
    Ok(Found::Yes(()))
}

/// The metadata of `root/rel` itself, not of what it might link to, after
/// checking its folders.
pub(crate) fn metadata(root: &Path, rel: &Path) -> Result<Found<std::fs::Metadata>, Refused> {
    if let Found::Missing = check_parents(root, rel)? {
        return Ok(Found::Missing);
    }
    let path = root.join(rel);
    match std::fs::symlink_metadata(&path) {
        Ok(m) => Ok(Found::Yes(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Found::Missing),
        Err(e) => Err(Refused::io("inspect", &path)(e)),
    }
}

/// Whether `root/rel` exists as a real directory (a link to one is refused).
pub(crate) fn is_dir(root: &Path, rel: &Path) -> Result<bool, Refused> {
    match metadata(root, rel)? {
        Found::Missing => Ok(false),
        Found::Yes(m) if m.file_type().is_symlink() => Err(Refused::Symlink(root.join(rel))),
        Found::Yes(m) if m.is_dir() => Ok(true),
        Found::Yes(_) => Err(Refused::NotADirectory(root.join(rel))),
    }
}

/// Opens the regular file `root/rel` for reading without following a link
/// anywhere below `root`.
pub(crate) fn open(root: &Path, rel: &Path) -> Result<Found<(File, std::fs::Metadata)>, Refused> {
    if let Found::Missing = check_parents(root, rel)? {
        return Ok(Found::Missing);
    }
    let path = root.join(rel);
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(&path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Missing),
        // O_NOFOLLOW on a link fails with ELOOP.
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            return Err(Refused::Symlink(path));
        }
        Err(e) => return Err(Refused::io("open", &path)(e)),
    };
    let meta = file
        .metadata()
        .map_err(Refused::io("read the metadata of", &path))?;
    if !meta.is_file() {
        return Err(Refused::NotAFile(path));
    }
    Ok(Found::Yes((file, meta)))
}

/// Reads all of the regular file `root/rel`, refusing links; at most
/// `limit` bytes (a record or manifest, never an archive).
pub(crate) fn read(root: &Path, rel: &Path, limit: u64) -> Result<Found<Vec<u8>>, Refused> {
    let (file, meta) = match open(root, rel)? {
        Found::Yes(f) => f,
        Found::Missing => return Ok(Found::Missing),
    };
    let path = root.join(rel);
    if meta.len() > limit {
        return Err(Refused::TooLarge {
            path,
            size: meta.len(),
            limit,
        });
    }
    match crate::package::capped::read_to_end(file, limit, meta.len())
        .map_err(Refused::io("read", &path))?
    {
        Some(bytes) => Ok(Found::Yes(bytes)),
        // It grew past the limit after its length was read.
        None => Err(Refused::TooLarge {
            path,
            size: limit + 1,
            limit,
        }),
    }
}

/// Hashes the regular file `root/rel` (refusing links): `(hex, size)`.
pub(crate) fn hash(
    root: &Path,
    rel: &Path,
    algorithm: Algorithm,
) -> Result<Found<(String, u64)>, Refused> {
    let (mut file, _) = match open(root, rel)? {
        Found::Yes(f) => f,
        Found::Missing => return Ok(Found::Missing),
    };
    let mut writer = HashingWriter::new(io::sink(), algorithm);
    io::copy(&mut file, &mut writer).map_err(Refused::io("hash", &root.join(rel)))?;
    let (_, hex, size) = writer.finish();
    Ok(Found::Yes((hex, size)))
}

/// Gives the folder matrix just made mode 0755 whatever the umask (a
/// repository is served to others), through a descriptor opened without
/// following a link.
pub(crate) fn dir_mode(path: &Path) -> Result<(), Refused> {
    use std::os::unix::fs::PermissionsExt;
    let dir = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_DIRECTORY | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(nix::libc::ELOOP) => Refused::Symlink(path.to_path_buf()),
            Some(nix::libc::ENOTDIR) => Refused::NotADirectory(path.to_path_buf()),
            _ => Refused::io("open the directory", path)(e),
        })?;
    dir.set_permissions(std::fs::Permissions::from_mode(0o755))
        .map_err(Refused::io("set the mode of", path))
}

/// Creates `root/rel` and every folder on the way, one component at a
/// time (each new one 0755, whatever the umask), refusing a `rel` that is
/// not plain names and a component that is a link or not a directory. `root`
/// itself is created with its parents if missing (the user named it).
pub(crate) fn create_dirs(root: &Path, rel: &Path) -> Result<(), Refused> {
    plain(root, rel)?;
    std::fs::create_dir_all(root).map_err(Refused::io("create the directory", root))?;
    if rel.as_os_str().is_empty() {
        return Ok(());
    }
    let mut path = root.to_path_buf();
    for component in rel.components() {
        path.push(component);
        // Two tries: a concurrent publish may create the folder between our
        // look and our mkdir, which is fine as long as it is a folder.
        for _ in 0..2 {
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(Refused::Symlink(path));
                }
                Ok(m) if m.is_dir() => break,
                Ok(_) => return Err(Refused::NotADirectory(path)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => match std::fs::create_dir(&path) {
                    Ok(()) => {
                        dir_mode(&path)?;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(Refused::io("create the directory", &path)(e)),
                },
                Err(e) => return Err(Refused::io("inspect", &path)(e)),
            }
        }
    }
    // After the loop the last component was seen as a folder or created;
    // check once more so a lost race to a link is not silently accepted.
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() => Err(Refused::Symlink(path)),
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Refused::NotADirectory(path)),
        Err(e) => Err(Refused::io("inspect", &path)(e)),
    }
}
