//! Reading a whole file or stream into memory, never more than a cap.
//!
//! Part of `package`. The manifest, the checksums file, image manifests and
//! repository records are read whole; each has a size no honest file comes
//! near, and a hostile or growing one must not take the memory. This is the
//! one read that enforces it: the caller checks the file's length first
//! when it has one, and this stops one byte past the cap whatever the
//! length said.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The bytes of `reader`, or `None` when it holds more than `cap`. At most
/// `cap + 1` bytes are read; `size_hint` (a file's length) only sizes the
/// buffer.
pub fn read_to_end(reader: impl Read, cap: u64, size_hint: u64) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::with_capacity(usize::try_from(size_hint.min(cap)).unwrap_or(0));
    reader.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= cap).then_some(bytes))
}

/// The most a built binary read whole into a package (deb, rpm, msi) may
/// weigh.
pub const MAX_BINARY: u64 = 4 << 30;

/// A file read whole: an error when it holds more than `cap` bytes
/// ("larger than N KiB/MiB/GiB").
pub fn read(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    read_to_end(file, cap, len)?
        .ok_or_else(|| io::Error::other(format!("larger than {}", size(cap))))
}

/// Like [`read`], for a file an attacker may have placed: a link at
/// `path` is refused (ELOOP), a FIFO does not block the open, and anything
/// but a regular file is an error.
pub fn read_regular(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    read_to_end(file, cap, meta.len())?
        .ok_or_else(|| io::Error::other(format!("larger than {}", size(cap))))
}

/// A text file read whole: an error when it holds more than `cap` bytes
/// ("larger than N KiB/MiB") or is not UTF-8.
pub fn read_text(path: &Path, cap: u64) -> io::Result<String> {
    let bytes = read(path, cap)?;
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// A cap in the largest binary unit it is a whole number of.
fn size(cap: u64) -> String {
    if cap >= 1 << 30 && cap.is_multiple_of(1 << 30) {
        format!("{} GiB", cap >> 30)
    } else if cap >= 1 << 20 && cap.is_multiple_of(1 << 20) {
        format!("{} MiB", cap >> 20)
    } else if cap >= 1 << 10 && cap.is_multiple_of(1 << 10) {
        format!("{} KiB", cap >> 10)
    } else {
        format!("{cap} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_files_are_read_to_the_cap_and_must_be_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        std::fs::write(&path, "héllo").unwrap();
        assert_eq!(read_text(&path, 6).unwrap(), "héllo");
        let e = read_text(&path, 5).unwrap_err();
        assert_eq!(e.to_string(), "larger than 5 bytes");
        std::fs::write(&path, vec![b'x'; (1 << 20) + 1]).unwrap();
        assert_eq!(
            read_text(&path, 1 << 20).unwrap_err().to_string(),
            "larger than 1 MiB"
        );
        assert_eq!(size(16 << 10), "16 KiB");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert_eq!(
            read_text(&path, 10).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn reads_up_to_the_cap_and_refuses_past_it() {
        assert_eq!(
            read_to_end(&b"abc"[..], 3, 0).unwrap(),
            Some(b"abc".to_vec())
        );
        assert_eq!(read_to_end(&b"abcd"[..], 3, 4).unwrap(), None);
        // An endless stream is cut one byte past the cap.
        assert_eq!(read_to_end(io::repeat(7), 1 << 20, 0).unwrap(), None);
    }
}
