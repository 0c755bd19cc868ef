//! A job's log file, opened the one way every writer of dist/logs uses.
//!
//! Part of `process`: [`super::run`] and the spawner's forked supervisor
//! make it a job's stdout and stderr, and `exec` writes a job's header and
//! notes through it. dist/ is empty when a run starts, but jobs run while
//! others write their logs there, and a job can plant a link at a log's
//! name: the log is appended to (or created) with `O_NOFOLLOW`, so matrix
//! never writes through a link it did not make, and with `O_NONBLOCK`, so a
//! FIFO planted there fails the open instead of hanging the run.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::libc;

/// Opens `log` for appending, creating it (0644) if missing; a link, or
/// anything but a regular file, at its name is refused with an error that
/// says so (the caller names the path).
pub fn open_log(log: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(log)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => io::Error::new(
                e.kind(),
                "the log is a symbolic link: matrix writes a log only to a file of its own",
            ),
            // No reader on a FIFO.
            Some(libc::ENXIO) => not_a_file(),
            _ => e,
        })?;
    if !file.metadata()?.is_file() {
        return Err(not_a_file());
    }
    // Blocking again: the descriptor becomes a job's stdout.
    // SAFETY: F_SETFL on a descriptor this function owns.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, libc::O_APPEND) } < 0 {
        return Err(io::Error::last_os_error());
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
}
