//! One run per dist folder: an exclusive lock held for a whole `build` or
//! `merge`.
//!
//! Part of `exec`, taken by the CLI before it empties or fills dist/. The
//! lock is flock(2) on `<dist>/.matrix.lock`: the kernel drops it when the
//! holder dies, so a crashed run never blocks the next one, and the file
//! descriptor is close-on-exec, so no job (and no orphan of a job) inherits
//! it. The file lives inside dist/ rather than beside it so that it never
//! shows up in the project's working tree; `--clean` empties dist/ around it
//! instead of removing the folder. It is unlinked when the run ends, so a
//! finished release never contains it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The lock file's name inside dist/. Never part of a release.
pub const LOCK_FILE: &str = ".matrix.lock";

/// Attempts to lock a file that another run unlinked while we opened it.
const ATTEMPTS: usize = 8;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LockError {
    #[error("{} is in use by another matrix run: {holder}", dist.display())]
    #[diagnostic(
        code(matrix::dist::locked),
        help("wait for that run to end (or stop it), or give this run its own folder with --dist")
    )]
    Held { dist: PathBuf, holder: String },
    // The OS error is in the message, not a `source`: said once.
    #[error("cannot lock {}: {cause}", path.display())]
    #[diagnostic(
        code(matrix::dist::lock_io),
        help(
            "dist/ must be a writable folder on a local file system, and {LOCK_FILE} a regular file"
        )
    )]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// Held for the whole run; dropping it unlinks the file and unlocks.
#[derive(Debug)]
pub struct DistLock {
    file: File,
    path: PathBuf,
}

impl DistLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DistLock {
    fn drop(&mut self) {
        // Unlink while still holding the lock: a run that opened this inode
        // meanwhile notices it is no longer at the path and starts over.
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("cannot remove {}: {e}", self.path.display());
        }
        let _ = self.file.unlock();
    }
}

/// Creates dist/ if needed and locks it, or says who holds it.
pub fn acquire(dist: &Path) -> Result<DistLock, LockError> {
    let path = dist.join(LOCK_FILE);
    let io = |cause| LockError::Io {
        path: path.clone(),
        cause,
    };
    std::fs::create_dir_all(dist).map_err(|cause| LockError::Io {
        path: dist.to_path_buf(),
        cause,
    })?;
    for _ in 0..ATTEMPTS {
        let file = open(&path).map_err(io)?;
        match lock_opened(file, &path, dist)? {
            Some(lock) => return Ok(lock),
            None => continue,
        }
    }
    Err(io(std::io::Error::other(
        "the lock file kept being replaced by other runs",
    )))
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        // A symlink planted at the lock's name must not redirect it.
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
}

/// Locks an opened lock file. None: the file is no longer the one at
/// `path` (its holder unlinked it between our open and lock), so the
/// lock would guard nothing and the caller must open the path again.
fn lock_opened(mut file: File, path: &Path, dist: &Path) -> Result<Option<DistLock>, LockError> {
    let io = |cause| LockError::Io {
        path: path.to_path_buf(),
        cause,
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(LockError::Held {
                dist: dist.to_path_buf(),
                holder: holder(&mut file),
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    let ours = file.metadata().map_err(io)?;
    match std::fs::symlink_metadata(path) {
        Ok(now) if now.dev() == ours.dev() && now.ino() == ours.ino() => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    }
    let me = format!(
        "pid {}\ncommand {}\n",
        std::process::id(),
        command_line(std::process::id()).unwrap_or_default()
    );
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(me.as_bytes()).map_err(io)?;
    Ok(Some(DistLock {
        file,
        path: path.to_path_buf(),
    }))
}

/// "pid 123 (`matrix build --dist out`)": from the kernel's lock table,
/// which is right even before the holder wrote its pid, else from the file.
fn holder(file: &mut File) -> String {
    let pid = file
        .metadata()
        .ok()
        .and_then(|m| pid_in_proc_locks(m.ino()))
        .or_else(|| {
            let mut text = String::new();
            file.take(4096).read_to_string(&mut text).ok()?;
            text.lines()
                .find_map(|l| l.strip_prefix("pid ")?.trim().parse().ok())
        });
    match pid {
        Some(pid) => match command_line(pid) {
            Some(cmd) if !cmd.is_empty() => format!("pid {pid} (`{cmd}`)"),
            _ => format!("pid {pid}"),
        },
        None => "a process matrix cannot name".into(),
    }
}

/// `/proc/locks` lines read `1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`.
fn pid_in_proc_locks(ino: u64) -> Option<u32> {
    let text = std::fs::read_to_string("/proc/locks").ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // A blocked waiter's line has a `->` field; skip those.
        if fields.get(1) != Some(&"FLOCK") || fields.contains(&"->") {
            return None;
        }
        let inode = fields.get(5)?.rsplit(':').next()?.parse::<u64>().ok()?;
        (inode == ino)
            .then(|| fields.get(4)?.parse().ok())
            .flatten()
    })
}

/// A process's argv joined like a shell line, bounded.
fn command_line(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let words: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    let mut line = shell_words::join(&words);
    if line.len() > 300 {
        let mut cut = 300;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push_str("...");
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let dist = dir.path().join("dist");
        let lock = acquire(&dist).unwrap();
        assert!(lock.path().is_file());
        let err = acquire(&dist).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, LockError::Held { .. }), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(lock);
        assert!(!dist.join(LOCK_FILE).exists(), "the lock file stays behind");
        let again = acquire(&dist).unwrap();
        drop(again);
    }

    /// The race the inode check closes: B opens the lock file, A (the
    /// holder) unlinks it and unlocks, C creates a new one and locks it;
    /// B's lock on the orphan must not count.
    #[test]
    fn a_lock_on_an_unlinked_file_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let dist = dir.path();
        let path = dist.join(LOCK_FILE);
        let a = acquire(dist).unwrap();
        let b_file = open(&path).unwrap();
        drop(a);
        let c = acquire(dist).unwrap();
        let b = lock_opened(b_file, &path, dist).unwrap();
        assert!(b.is_none(), "two holders: the orphan's lock counted");
        drop(c);
    }

    /// Lock, unlink, unlock, over and over from many threads (flock
    /// conflicts between open files, so threads stand in for runs): never
    /// two holders at once, even around the unlink.
    #[test]
    fn never_two_holders() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let dist = dir.path().to_path_buf();
        let holders = AtomicUsize::new(0);
        let wins = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..200 {
                        if let Ok(lock) = acquire(&dist) {
                            assert_eq!(holders.fetch_add(1, Ordering::SeqCst), 0);
                            wins.fetch_add(1, Ordering::SeqCst);
                            std::thread::yield_now();
                            holders.fetch_sub(1, Ordering::SeqCst);
                            drop(lock);
                        }
                    }
                });
            }
        });
        assert!(wins.load(Ordering::SeqCst) > 0);
    }

    #[test]
    fn a_stale_lock_file_does_not_block() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "pid 999999\n").unwrap();
        let lock = acquire(dir.path()).unwrap();
        let text = std::fs::read_to_string(lock.path()).unwrap();
        assert!(
            text.starts_with(&format!("pid {}\n", std::process::id())),
            "{text}"
        );
    }

    #[test]
    fn a_symlink_at_the_lock_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, "keep").unwrap();
        let dist = dir.path().join("dist");
        std::fs::create_dir(&dist).unwrap();
        std::os::unix::fs::symlink(&elsewhere, dist.join(LOCK_FILE)).unwrap();
        let err = acquire(&dist).unwrap_err();
        assert!(matches!(err, LockError::Io { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("Too many levels of symbolic links"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "keep");
    }
}
