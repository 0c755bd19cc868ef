//! The one loop both passes of [`super::unpack`] share: every entry of
//! a tar, tar.gz or zip shard archive with its kind, header and bytes,
//! counted against the entry and expansion limits as it goes.
//!
//! Part of `merge::unpack`; split out to keep each file to one concept.

use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;

use super::{Kind, UnpackError, Walker};
use crate::package::extract::Member;

/// One entry of either archive kind, as the walker sees it.
pub(super) enum EntryKind {
    File,
    Dir,
    /// Carries no file (a pax global header): skipped.
    Meta,
    Refused(&'static str),
}

/// What a pass does with each entry (its raw name, kind, header and
/// bytes); `Ok(false)` ends the walk early.
pub(super) type Visit<'f> =
    dyn FnMut(&str, EntryKind, &Member, &mut dyn Read) -> Result<bool, UnpackError> + 'f;

/// Counts the decompressed bytes of a tar stream and stops it once they
/// pass the expansion limit; `tripped` tells the error apart from I/O.
struct Capped<R> {
    inner: R,
    left: u64,
    tripped: Rc<Cell<bool>>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            self.tripped.set(true);
            return Err(std::io::Error::other("expanded past the limit"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

impl Walker<'_> {
    /// Calls `f` with every entry (its raw name, kind, size and a reader),
    /// counting entries and decompressed bytes against the limits.
    pub(super) fn walk(&self, f: &mut Visit<'_>) -> Result<(), UnpackError> {
        let file = std::fs::File::open(self.archive).map_err(|source| UnpackError::Io {
            path: self.archive.to_path_buf(),
            source,
        })?;
        let reader = std::io::BufReader::new(file);
        match self.kind {
            Kind::Tar => self.walk_tar(reader, f),
            Kind::TarGz => self.walk_tar(flate2::read::MultiGzDecoder::new(reader), f),
            Kind::Zip => self.walk_zip(reader, f),
        }
    }

    fn walk_tar(&self, reader: impl Read, f: &mut Visit<'_>) -> Result<(), UnpackError> {
        let tripped = Rc::new(Cell::new(false));
        let capped = Capped {
            inner: reader,
            left: self.limits.expanded,
            tripped: tripped.clone(),
        };
        let mut last = String::from("(the first header)");
        let read_err = |last: &str, e: std::io::Error| {
            if tripped.get() {
                self.expanded(last)
            } else {
                self.member(last, format!("cannot read the archive: {e}"))
            }
        };
        let mut tar = tar::Archive::new(capped);
        let entries = tar.entries().map_err(|e| read_err(&last, e))?;
        for (count, entry) in entries.enumerate() {
            // Advancing reads the rest of the previous member: a cap
            // that fires here is that member's doing.
            let mut entry = entry.map_err(|e| {
                if tripped.get() {
                    self.expanded(&last)
                } else {
                    read_err(&format!("after {last}"), e)
                }
            })?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            last = name.clone();
            if count as u64 >= self.limits.entries {
                return Err(self.too_many(&name));
            }
            let t = entry.header().entry_type();
            let kind = if t.is_file() && !t.is_contiguous() {
                EntryKind::File
            } else if t.is_dir() {
                EntryKind::Dir
            } else if t.is_pax_global_extensions() {
                EntryKind::Meta
            } else if t.is_symlink() {
                EntryKind::Refused("a symbolic link")
            } else if t.is_hard_link() {
                EntryKind::Refused("a hard link")
            } else if t.is_character_special() || t.is_block_special() {
                EntryKind::Refused("a device")
            } else if t.is_fifo() {
                EntryKind::Refused("a named pipe")
            } else {
                EntryKind::Refused("not a regular file or folder")
            };
            let member = Member {
                executable: entry.header().mode().is_ok_and(|m| m & 0o111 != 0),
                size: entry.size(),
                path: name.clone(),
            };
            match f(&name, kind, &member, &mut entry) {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                // The cap fires inside the member's own read.
                Err(_) if tripped.get() => return Err(self.expanded(&name)),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn walk_zip(
        &self,
        reader: std::io::BufReader<std::fs::File>,
        f: &mut Visit<'_>,
    ) -> Result<(), UnpackError> {
        let bad = |member: &str, e: zip::result::ZipError| {
            self.member(member, format!("cannot read the archive: {e}"))
        };
        let mut zip = zip::ZipArchive::new(reader).map_err(|e| bad("(the directory)", e))?;
        let mut expanded: u64 = 0;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(|e| bad(&format!("#{i}"), e))?;
            let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
            if i as u64 >= self.limits.entries {
                return Err(self.too_many(&name));
            }
            // Declared sizes first: a bomb is refused before it is inflated.
            expanded = expanded.saturating_add(entry.size());
            if expanded > self.limits.expanded {
                return Err(self.expanded(&name));
            }
            const TYPE: u32 = 0o170000;
            let kind = match entry.unix_mode().map(|m| m & TYPE) {
                _ if entry.is_symlink() => EntryKind::Refused("a symbolic link"),
                _ if entry.is_dir() => EntryKind::Dir,
                None | Some(0) | Some(0o100000) => EntryKind::File,
                Some(0o040000) => EntryKind::Dir,
                Some(0o020000) | Some(0o060000) => EntryKind::Refused("a device"),
                Some(0o010000) => EntryKind::Refused("a named pipe"),
                Some(_) => EntryKind::Refused("not a regular file or folder"),
            };
            let member = Member {
                executable: entry.unix_mode().is_some_and(|m| m & 0o111 != 0),
                size: entry.size(),
                path: name.clone(),
            };
            if !f(&name, kind, &member, &mut entry)? {
                return Ok(());
            }
        }
        Ok(())
    }
}
