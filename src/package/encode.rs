//! Member encoding: how the sorted member list of an archive becomes tar
//! or zip bytes.
//!
//! Used by [`super::archive::write`], which owns the compressors, the
//! hashing and the atomic output; this file owns the framing and the
//! per-member metadata rules (fixed mode, mtime, owner), the deflate level
//! and the one copy loop every member's data goes through, so no file is
//! ever read whole.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use tar::{EntryType, Header};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, System, ZipWriter};

use super::PackageError;
use super::files::Entry;

/// The deflate level of zip members (tar.gz uses libdeflate, see
/// `archive`'s `GZIP_LEVEL`). zlib-rs follows zlib-ng's
/// faster strategies below 7: its level 6 gives output about 3% larger
/// than GNU `gzip -6` on executables. Level 9 is smaller than `gzip -6`
/// and still as fast (measured on 40 MiB of ELF files: 17.13 MB in 1.95 s
/// against gzip -6's 17.25 MB in 2.04 s), so release archives are never
/// bigger than the classic tool's. On 40 MB of Go binaries (Go 1.19's
/// go, compile, link, vet and cgo) deflated in 1 MiB blocks, levels 6, 7 and 8 all lose to `gzip -6` (16.39, 16.28, 16.26 MB
/// against 16.15 MB) and only 9 wins (16.03 MB). (Kept here, not in
/// `archive`, so this module needs nothing from the one that uses it.)
pub(super) const DEFLATE_LEVEL: u32 = 9;
/// The same deflate level for zip-based packages (nupkg).
pub(crate) const ZIP_DEFLATE_LEVEL: i64 = DEFLATE_LEVEL as i64;
pub(super) const DIR_MODE: u32 = 0o755;
pub(super) const EXEC_MODE: u32 = 0o755;
pub(super) const FILE_MODE: u32 = 0o644;
const TAR_BLOCK: u64 = 512;
const GNU_LONG_LINK: &[u8] = b"././@LongLink";

/// One archive member: a directory, or a file with its source.
#[derive(Debug, Clone, Copy)]
pub(super) enum Item<'a> {
    Dir,
    File(&'a Entry),
}

fn mode_of(entry: &Entry) -> u32 {
    if entry.executable {
        EXEC_MODE
    } else {
        FILE_MODE
    }
}

/// Opens a source and takes its size from the open handle, so the size in
/// the header and the bytes copied refer to the same file.
pub(super) fn open_source(entry: &Entry) -> Result<(File, u64), PackageError> {
    let file = File::open(&entry.source).map_err(PackageError::io(&entry.source))?;
    let meta = file.metadata().map_err(PackageError::io(&entry.source))?;
    if !meta.is_file() {
        return Err(PackageError::SpecialFile {
            path: entry.source.clone(),
        });
    }
    Ok((file, meta.len()))
}

/// Copies exactly `len` bytes of `src` to `out` through `buf`, attributing
/// read errors to the source and write errors to `dest`. A source that is
/// shorter or longer than `len` is an error: its header already promised
/// `len` bytes.
pub(super) fn copy_exact<W: Write + ?Sized>(
    entry: &Entry,
    src: &mut File,
    len: u64,
    out: &mut W,
    buf: &mut [u8],
    dest: &Path,
) -> Result<(), PackageError> {
    // Both sizes go in the error: the one promised and the one found now.
    let changed = |src: &File, counted: u64| PackageError::SourceChanged {
        path: entry.source.clone(),
        expected: len,
        found: src.metadata().map_or(counted, |m| m.len()),
    };
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match src.read(&mut buf[..want]) {
            Ok(0) => return Err(changed(src, len - left)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(PackageError::io(&entry.source)(e)),
        };
        out.write_all(&buf[..n]).map_err(PackageError::io(dest))?;
        left -= n as u64;
    }
    let mut probe = [0u8; 1];
    match src.read(&mut probe) {
        Ok(0) => Ok(()),
        Ok(_) => Err(changed(src, len + 1)),
        Err(e) => Err(PackageError::io(&entry.source)(e)),
    }
}

fn tar_base_header(kind: EntryType, size: u64, mode: u32, mtime: u64) -> Header {
    // new_gnu() zeroes user/group names, atime/ctime and device numbers.
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h
}

fn tar_pad<W: Write + ?Sized>(out: &mut W, len: u64) -> io::Result<()> {
    let rem = (len % TAR_BLOCK) as usize;
    if rem != 0 {
        out.write_all(&[0u8; TAR_BLOCK as usize][..TAR_BLOCK as usize - rem])?;
    }
    Ok(())
}

/// Writes one tar header; a name over the 100-byte field is preceded by a
/// GNU long-name record (the same framing GNU tar uses), whose own header is
/// fixed (mode 0644, mtime 0) so it cannot leak host data either.
fn tar_header<W: Write + ?Sized>(
    out: &mut W,
    name: &str,
    kind: EntryType,
    size: u64,
    mode: u32,
    mtime: u64,
) -> io::Result<()> {
    let bytes = name.as_bytes();
    let mut header = tar_base_header(kind, size, mode, mtime);
    let field = &mut header.as_old_mut().name;
    if bytes.len() > field.len() {
        let long_len = bytes.len() as u64 + 1;
        let mut long = tar_base_header(EntryType::GNULongName, long_len, FILE_MODE, 0);
        long.as_old_mut().name[..GNU_LONG_LINK.len()].copy_from_slice(GNU_LONG_LINK);
        long.set_cksum();
        out.write_all(long.as_bytes())?;
        out.write_all(bytes)?;
        out.write_all(&[0])?;
        tar_pad(out, long_len)?;
    }
    let n = bytes.len().min(field.len());
    field[..n].copy_from_slice(&bytes[..n]);
    header.set_cksum();
    out.write_all(header.as_bytes())
}

pub(super) fn write_tar<W: Write>(
    out: &mut W,
    items: &BTreeMap<String, Item<'_>>,
    mtime: u64,
    buf: &mut [u8],
    dest: &Path,
) -> Result<(), PackageError> {
    for (path, item) in items {
        match item {
            Item::Dir => {
                tar_header(
                    out,
                    &format!("{path}/"),
                    EntryType::Directory,
                    0,
                    DIR_MODE,
                    mtime,
                )
                .map_err(PackageError::io(dest))?;
            }
            Item::File(entry) => {
                let (mut src, len) = open_source(entry)?;
                tar_header(out, path, EntryType::Regular, len, mode_of(entry), mtime)
                    .map_err(PackageError::io(dest))?;
                copy_exact(entry, &mut src, len, out, buf, dest)?;
                tar_pad(out, len).map_err(PackageError::io(dest))?;
            }
        }
    }
    // End of archive: two zero blocks.
    out.write_all(&[0u8; 2 * TAR_BLOCK as usize])
        .map_err(PackageError::io(dest))
}

/// Whether an entry of `len` bytes needs Zip64 sizes. Decided up front
/// because a streamed local header cannot be patched afterwards; the margin
/// covers deflate's worst-case growth on incompressible data.
fn needs_zip64(len: u64) -> bool {
    len.saturating_add(len / 1024 + 64 * 1024) >= u64::from(u32::MAX)
}

/// `mtime` as a DOS timestamp (UTC), clamped to the range DOS can express.
pub(crate) fn dos_time(mtime: u64) -> zip::DateTime {
    let secs = i64::try_from(mtime).unwrap_or(i64::MAX);
    let max = zip::DateTime::from_date_and_time(2107, 12, 31, 23, 59, 58);
    let at = time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            zip::DateTime::from_date_and_time(
                u16::try_from(t.year()).ok()?,
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
            )
            .ok()
        });
    match at {
        Some(t) => t,
        // 1980 is the DOS epoch: anything before it (SOURCE_DATE_EPOCH=0
        // is common) becomes its first second.
        None if secs < 315_532_800 => zip::DateTime::default(),
        None => max.unwrap_or_default(),
    }
}

pub(super) fn write_zip<W: Write>(
    sink: W,
    items: &BTreeMap<String, Item<'_>>,
    mtime: u64,
    buf: &mut [u8],
    dest: &Path,
) -> Result<W, PackageError> {
    let zip_err = |source| PackageError::Zip {
        path: dest.to_path_buf(),
        source,
    };
    // Stream mode: no seeking back, so the archive can go through the
    // hashing writer; sizes and CRCs go in data descriptors.
    let mut zip = ZipWriter::new_stream(sink);
    // Pinned `system`: the zip crate would otherwise pick DOS on Windows hosts.
    let base = SimpleFileOptions::default()
        .system(System::Unix)
        .last_modified_time(dos_time(mtime));
    for (path, item) in items {
        match item {
            Item::Dir => zip
                .add_directory(path.as_str(), base.unix_permissions(DIR_MODE))
                .map_err(zip_err)?,
            Item::File(entry) => {
                let (mut src, len) = open_source(entry)?;
                let options = base
                    .compression_method(CompressionMethod::Deflated)
                    .compression_level(Some(ZIP_DEFLATE_LEVEL))
                    .unix_permissions(mode_of(entry))
                    .large_file(needs_zip64(len));
                zip.start_file(path.as_str(), options).map_err(zip_err)?;
                copy_exact(entry, &mut src, len, &mut zip, buf, dest)?;
            }
        }
    }
    let stream = zip.finish().map_err(zip_err)?;
    Ok(stream.into_inner())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::package::archive::layout;
    use std::os::unix::fs::PermissionsExt;

    fn entry(source: &Path, dest: &str, executable: bool) -> Entry {
        Entry {
            source: source.to_path_buf(),
            dest: dest.to_string(),
            executable,
        }
    }

    #[test]
    fn dos_time_table() {
        let table = [
            (0, "1980-01-01 00:00:00"),
            (315_532_799, "1980-01-01 00:00:00"),
            (315_532_800, "1980-01-01 00:00:00"),
            // Odd seconds round down: DOS time has 2-second steps.
            (1_700_000_001, "2023-11-14 22:13:20"),
            (u64::MAX, "2107-12-31 23:59:58"),
        ];
        for (mtime, want) in table {
            let t = dos_time(mtime);
            let got = format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            assert_eq!(got, want, "{mtime}");
        }
    }

    #[test]
    fn zip64_only_when_needed() {
        for (len, want) in [
            (0, false),
            (1 << 30, false),
            (4_000_000_000, false),
            (u64::from(u32::MAX) - 1, true),
            (5 << 30, true),
            (u64::MAX, true),
        ] {
            assert_eq!(needs_zip64(len), want, "{len}");
        }
    }

    #[test]
    fn tar_headers_are_normalized_and_long_names_work() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"hello").unwrap();
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o600)).unwrap();
        let long = format!("{}/{}.txt", "d".repeat(90), "n".repeat(120));
        let entries = [entry(&src, &long, false), entry(&src, "bin/tool", true)];
        let items = layout(&entries, Some("w")).unwrap();
        let mut bytes = Vec::new();
        let mut buf = vec![0u8; 7]; // tiny buffer: many copy iterations
        write_tar(
            &mut bytes,
            &items,
            1_700_000_000,
            &mut buf,
            Path::new("out"),
        )
        .unwrap();
        assert_eq!(bytes.len() % 512, 0);

        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            assert!(h.as_gnu().is_some(), "{path}: not a GNU header");
            assert_eq!(h.mtime().unwrap(), 1_700_000_000, "{path}");
            assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0), "{path}");
            assert_eq!(h.username_bytes(), Some(&b""[..]), "{path}");
            assert_eq!(h.groupname_bytes(), Some(&b""[..]), "{path}");
            let mut content = Vec::new();
            e.read_to_end(&mut content).unwrap();
            seen.push((path, h.mode().unwrap(), h.entry_type(), content));
        }
        let file = EntryType::Regular;
        let dir_t = EntryType::Directory;
        assert_eq!(
            seen,
            vec![
                // Directory names carry the trailing `/`, as GNU tar writes them.
                ("w/".to_string(), 0o755, dir_t, vec![]),
                ("w/bin/".to_string(), 0o755, dir_t, vec![]),
                ("w/bin/tool".to_string(), 0o755, file, b"hello".to_vec()),
                (format!("w/{}/", "d".repeat(90)), 0o755, dir_t, vec![]),
                (format!("w/{long}"), 0o644, file, b"hello".to_vec()),
            ]
        );
    }

    #[test]
    fn copy_exact_detects_a_changed_source() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::write(&src, b"0123456789").unwrap();
        let e = entry(&src, "x", false);
        let mut buf = vec![0u8; 4];
        for (len, ok) in [(10, true), (9, false), (11, false)] {
            let mut out = Vec::new();
            let mut f = File::open(&src).unwrap();
            let res = copy_exact(&e, &mut f, len, &mut out, &mut buf, Path::new("d"));
            assert_eq!(res.is_ok(), ok, "{len}: {res:?}");
            if !ok {
                let err = res.unwrap_err();
                assert!(
                    matches!(err, PackageError::SourceChanged { expected, found, .. } if expected == len && found == 10)
                );
                // Both sizes in the message.
                let text = err.to_string();
                assert!(
                    text.contains(&format!("expected {len} bytes, found 10")),
                    "{text}"
                );
            }
        }
    }
}
