//! A job's log file, opened the one way every writer of dist/logs uses.
//!
//! Part of `process`: [`super::run`] and the spawner's forked supervisor
//! make it a job's stdout and stderr, and `exec` writes a job's header and
//! notes through it. dist/ is empty when a run starts, but jobs run while
//! others write their logs there, and a job can plant a link at a log's
//! name: the log is appended to (or created) with `O_NOFOLLOW`, so matrix
//! never writes through a link it did not make, and with `O_NONBLOCK`, so a
//! FIFO planted there fails the open instead of hanging the run. A job can
//! also swap the logs folder itself for a link to a folder elsewhere: the
//! folder is opened with `O_NOFOLLOW | O_DIRECTORY` and the log below it
//! with `openat`, so no log is written anywhere but in the folder matrix
//! made.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::libc;
use nix::sys::stat::Mode;

/// Opens `log` for appending, creating it (0644) if missing; a link, or
/// anything but a regular file, at its name or at its folder's is refused
/// with an error that says so (the caller names the path).
pub fn open_log(log: &Path) -> io::Result<File> {
    let flags = OFlag::O_WRONLY | OFlag::O_APPEND | OFlag::O_CREAT;
    let file = open_below(log, flags)?;
    // Blocking again: the descriptor becomes a job's stdout.
    // SAFETY: F_SETFL on a descriptor this function owns.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, libc::O_APPEND) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// Opens `log` as [`open_log`] does, emptied: a build's log starts afresh
/// with its header, and a restored log replaces what was there.
pub fn open_log_afresh(log: &Path) -> io::Result<File> {
    let file = open_log(log)?;
    file.set_len(0)?;
    Ok(file)
}

/// Opens `log` for reading (the cache stores a job's log), refused as
/// [`open_log`] refuses it.
pub fn read_log(log: &Path) -> io::Result<File> {
    open_below(log, OFlag::O_RDONLY)
}

/// Opens `log` with `flags` (plus `O_NOFOLLOW`, `O_NONBLOCK`, `O_CLOEXEC`)
/// below its folder, itself opened without following a link; only a
/// regular file is returned.
fn open_below(log: &Path, flags: OFlag) -> io::Result<File> {
    let (folder, name) = match (log.parent(), log.file_name()) {
        (Some(folder), Some(name)) if !folder.as_os_str().is_empty() => (folder, name),
        (_, Some(name)) => (Path::new("."), name),
        (_, None) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a log path needs a file name",
            ));
        }
    };
    let folder = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(folder)
        .map_err(|e| match e.raw_os_error() {
            // A link with O_NOFOLLOW | O_DIRECTORY fails as ENOTDIR (or ELOOP).
            Some(libc::ELOOP | libc::ENOTDIR) => {
                let what = if folder.symlink_metadata().is_ok_and(|m| m.is_symlink()) {
                    "a symbolic link"
                } else {
                    "not a folder"
                };
                io::Error::new(
                    e.kind(),
                    format!(
                        "the logs folder is {what}: matrix writes logs only into a folder of its own"
                    ),
                )
            }
            _ => e,
        })?;
    let flags = flags | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let file = nix::fcntl::openat(&folder, name, flags, Mode::from_bits_truncate(0o644))
        .map(File::from)
        .map_err(|errno| {
            let e = io::Error::from(errno);
            match e.raw_os_error() {
                Some(libc::ELOOP) => io::Error::new(
                    e.kind(),
                    "the log is a symbolic link: matrix writes a log only to a file of its own",
                ),
                // No reader on a FIFO.
                Some(libc::ENXIO) => not_a_file(),
                _ => e,
            }
        })?;
    if !file.metadata()?.is_file() {
        return Err(not_a_file());
    }
    Ok(file)
}

fn not_a_file() -> io::Error {
    io::Error::other("the log is not a regular file: matrix writes a log only to a file of its own")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_log_is_appended_to_and_a_link_or_fifo_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("job.log");
        open_log(&log).unwrap().write_all(b"one\n").unwrap();
        open_log(&log).unwrap().write_all(b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "one\ntwo\n");
        let link = dir.path().join("link.log");
        std::os::unix::fs::symlink(&log, &link).unwrap();
        let err = open_log(&link).unwrap_err().to_string();
        assert!(err.contains("the log is a symbolic link"), "{err}");
        let fifo = dir.path().join("fifo.log");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let err = open_log(&fifo).unwrap_err().to_string();
        assert!(err.contains("the log is not a regular file"), "{err}");
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "one\ntwo\n");
    }

    #[test]
    fn a_logs_folder_swapped_for_a_link_or_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let logs = dir.path().join("logs");
        std::os::unix::fs::symlink(&elsewhere, &logs).unwrap();
        let err = open_log(&logs.join("job.log")).unwrap_err().to_string();
        assert!(err.contains("the logs folder is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        std::fs::remove_file(&logs).unwrap();
        std::fs::write(&logs, "").unwrap();
        let err = open_log(&logs.join("job.log")).unwrap_err().to_string();
        assert!(err.contains("the logs folder is not a folder"), "{err}");
    }
}
