//! Reading files back out of release archives: the executables inside them,
//! for `matrix verify`, for the merge's check of each archive against its
//! target, and for a merge that must rebuild packages (.snap) from the
//! archives the shards made.
//!
//! Part of `package`. Streams: an archive is read once, front to back, and
//! a member's bytes go from the decompressor to the caller's writer through
//! a small buffer, so memory stays flat whatever the size of a member (a
//! 2 GiB binary must not take 2 GiB). No member is ever held whole.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::archive::Format;

/// One regular file of an archive, as its header describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Path inside the archive.
    pub path: String,
    pub executable: bool,
    /// The size its header gives; [`copy_member`] holds it to that.
    pub size: u64,
}

/// A release archive that cannot be read, named with the member at fault.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ExtractError {
    #[error("cannot read {}: {source}", archive.display())]
    #[diagnostic(code(matrix::extract::io))]
    Io {
        archive: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read member {member} of {}: {source}", archive.display())]
    #[diagnostic(code(matrix::extract::member))]
    Member {
        archive: PathBuf,
        member: String,
        source: std::io::Error,
    },
    #[error(
        "member {member} of {}: {found}, but its header gives {size} bytes",
        archive.display()
    )]
    #[diagnostic(
        code(matrix::extract::size),
        help("the archive is damaged or was made to mislead; rebuild it")
    )]
    Size {
        archive: PathBuf,
        member: String,
        size: u64,
        found: String,
    },
}

impl ExtractError {
    fn io(archive: &Path) -> impl FnOnce(std::io::Error) -> ExtractError + '_ {
        move |source| ExtractError::Io {
            archive: archive.to_path_buf(),
            source,
        }
    }

    fn member<'a>(
        archive: &'a Path,
        member: &'a str,
    ) -> impl FnOnce(std::io::Error) -> ExtractError + 'a {
        move |source| ExtractError::Member {
            archive: archive.to_path_buf(),
            member: member.to_string(),
            source,
        }
    }
}

/// Calls `f` with every regular file of `archive` for which `keep` is
/// true, and a reader of its bytes, in archive order. The reader is only
/// valid inside `f`; use [`copy_member`] to take the bytes out. A
/// `Format::Binary` artifact is one executable named after itself.
pub fn visit(
    archive: &Path,
    format: Format,
    mut keep: impl FnMut(&Member) -> bool,
    mut f: impl FnMut(&Member, &mut dyn Read) -> Result<(), ExtractError>,
) -> Result<(), ExtractError> {
    let file = std::fs::File::open(archive).map_err(ExtractError::io(archive))?;
    let reader = std::io::BufReader::new(file);
    match format {
        Format::Binary => {
            let size = reader
                .get_ref()
                .metadata()
                .map_err(ExtractError::io(archive))?
                .len();
            let member = Member {
                path: archive
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                executable: true,
                size,
            };
            if keep(&member) {
                f(&member, &mut reader.take(size))?;
            }
            Ok(())
        }
        Format::TarGz => tar_visit(
            flate2::read::MultiGzDecoder::new(reader),
            archive,
            &mut keep,
            &mut f,
        ),
        Format::TarXz => tar_visit(
            xz2::read::XzDecoder::new(reader),
            archive,
            &mut keep,
            &mut f,
        ),
        Format::TarZst => {
            let dec = zstd::Decoder::new(reader).map_err(ExtractError::io(archive))?;
            tar_visit(dec, archive, &mut keep, &mut f)
        }
        Format::Zip => zip_visit(reader, archive, &mut keep, &mut f),
    }
}

/// Streams one member's bytes into `out`: exactly the size its header
/// gives, never more (a lying header cannot fill the disk), through a
/// fixed buffer. Returns the number of bytes written.
pub fn copy_member(
    archive: &Path,
    member: &Member,
    reader: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<u64, ExtractError> {
    let copied = std::io::copy(&mut reader.take(member.size), out)
        .map_err(ExtractError::member(archive, &member.path))?;
    let size_error = |found| ExtractError::Size {
        archive: archive.to_path_buf(),
        member: member.path.clone(),
        size: member.size,
        found,
    };
    if copied < member.size {
        return Err(size_error(format!("it ends after {copied} bytes")));
    }
    // One more byte means the stream holds more than the header said.
    let mut probe = [0u8; 1];
    let extra = reader
        .read(&mut probe)
        .map_err(ExtractError::member(archive, &member.path))?;
    if extra > 0 {
        return Err(size_error("it holds more".into()));
    }
    Ok(copied)
}

/// Streams the first member `keep` accepts into a new file at `dest`
/// (mode 0755, written under a temporary name and renamed when complete);
/// returns it, or `None` when no member matched.
pub fn extract_to(
    archive: &Path,
    format: Format,
    keep: impl FnMut(&Member) -> bool,
    dest: &Path,
) -> Result<Option<Member>, ExtractError> {
    let mut found = None;
    let mut keep = keep;
    // Only the first match is taken.
    let taken = std::cell::Cell::new(false);
    visit(
        archive,
        format,
        |m| !taken.get() && keep(m),
        |member, reader| {
            let dest_io = |source| ExtractError::Io {
                archive: dest.to_path_buf(),
                source,
            };
            let mut out = super::atomic::AtomicFile::create(dest).map_err(dest_io)?;
            copy_member(archive, member, reader, out.file())?;
            out.set_mode(0o755);
            out.commit().map_err(|source| ExtractError::Io {
                archive: dest.to_path_buf(),
                source,
            })?;
            found = Some(member.clone());
            taken.set(true);
            Ok(())
        },
    )?;
    Ok(found)
}

fn tar_visit(
    reader: impl Read,
    archive: &Path,
    keep: &mut dyn FnMut(&Member) -> bool,
    f: &mut dyn FnMut(&Member, &mut dyn Read) -> Result<(), ExtractError>,
) -> Result<(), ExtractError> {
    let mut tar = tar::Archive::new(reader);
    for entry in tar.entries().map_err(ExtractError::io(archive))? {
        let mut entry = entry.map_err(ExtractError::io(archive))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(ExtractError::io(archive))?
            .to_string_lossy()
            .into_owned();
        let member = Member {
            executable: entry.header().mode().is_ok_and(|m| m & 0o111 != 0),
            size: entry.size(),
            path,
        };
        if keep(&member) {
            f(&member, &mut entry)?;
        }
    }
    Ok(())
}

fn zip_visit(
    reader: impl Read + std::io::Seek,
    archive: &Path,
    keep: &mut dyn FnMut(&Member) -> bool,
    f: &mut dyn FnMut(&Member, &mut dyn Read) -> Result<(), ExtractError>,
) -> Result<(), ExtractError> {
    // A broken zip is bad data in the archive, named by its path.
    let bad = |e: zip::result::ZipError| {
        ExtractError::io(archive)(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    };
    let mut zip = zip::ZipArchive::new(reader).map_err(bad)?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(bad)?;
        if entry.is_dir() || entry.is_symlink() {
            continue;
        }
        let path = entry.name().map_err(bad)?.to_string();
        let member = Member {
            executable: entry.unix_mode().is_some_and(|m| m & 0o111 != 0)
                || path.to_ascii_lowercase().ends_with(".exe"),
            size: entry.size(),
            path,
        };
        if keep(&member) {
            f(&member, &mut entry)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::archive::{ArchiveSpec, write};
    use crate::package::checksum::Algorithm;
    use crate::package::files::Entry;

    fn read_all(
        archive: &Path,
        format: Format,
        keep: impl FnMut(&Member) -> bool,
    ) -> Vec<(Member, Vec<u8>)> {
        let mut out = Vec::new();
        visit(archive, format, keep, |m, r| {
            let mut bytes = Vec::new();
            copy_member(archive, m, r, &mut bytes)?;
            out.push((m.clone(), bytes));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn a_member_longer_or_shorter_than_its_header_is_refused() {
        let member = Member {
            path: "top/hello".into(),
            executable: true,
            size: 4,
        };
        let mut sink = Vec::new();
        let err = copy_member(Path::new("a.zip"), &member, &mut &b"12345"[..], &mut sink)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("member top/hello of a.zip: it holds more, but its header gives 4 bytes"),
            "{err}"
        );
        let err = copy_member(Path::new("a.zip"), &member, &mut &b"123"[..], &mut sink)
            .unwrap_err()
            .to_string();
        assert!(err.contains("it ends after 3 bytes"), "{err}");
    }

    #[test]
    fn members_come_back_from_every_format() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("hello");
        std::fs::write(&exe, b"\x7fELF binary").unwrap();
        let doc = dir.path().join("README.md");
        std::fs::write(&doc, b"# hi\n").unwrap();
        let entries = vec![
            Entry {
                source: doc,
                dest: "README.md".into(),
                executable: false,
            },
            Entry {
                source: exe.clone(),
                dest: "hello".into(),
                executable: true,
            },
        ];
        for format in [Format::TarGz, Format::TarXz, Format::TarZst, Format::Zip] {
            let out = dir.path().join(format!("a{}", format.extension()));
            write(
                &ArchiveSpec {
                    format,
                    entries: &entries,
                    wrap: Some("top"),
                    mtime: 0,
                    algorithm: Algorithm::Sha256,
                    zstd_level: crate::package::archive::ZSTD_DEFAULT_LEVEL,
                },
                &out,
            )
            .unwrap();
            let found = read_all(&out, format, |m| m.executable);
            assert_eq!(found.len(), 1, "{format:?}");
            assert_eq!(found[0].0.path, "top/hello", "{format:?}");
            assert_eq!(found[0].1, b"\x7fELF binary", "{format:?}");
            let all = read_all(&out, format, |_| true);
            assert_eq!(all.len(), 2, "{format:?}");
            let dest = dir.path().join(format!("out-{}", format.extension()));
            let got = extract_to(&out, format, |m| m.path == "top/hello", &dest).unwrap();
            assert_eq!(got.map(|m| m.size), Some(11));
            assert_eq!(std::fs::read(&dest).unwrap(), b"\x7fELF binary");
        }
        let bare = read_all(&exe, Format::Binary, |_| true);
        assert_eq!(bare[0].0.path, "hello");
        assert_eq!(bare[0].1, b"\x7fELF binary");
    }

    /// A tar.gz bigger than one gzip member (1 MiB of input each) comes
    /// back whole, members past the first included.
    #[test]
    fn a_tar_gz_of_several_gzip_members_comes_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("hello");
        let body: Vec<u8> = (0..3_500_000u32)
            .map(|i| ((i % 251) ^ (i / 4096)) as u8)
            .collect();
        std::fs::write(&exe, &body).unwrap();
        let entries = vec![Entry {
            source: exe,
            dest: "hello".into(),
            executable: true,
        }];
        let out = dir.path().join("a.tar.gz");
        let spec = ArchiveSpec {
            format: Format::TarGz,
            entries: &entries,
            wrap: Some("top"),
            mtime: 0,
            algorithm: Algorithm::Sha256,
            zstd_level: crate::package::archive::ZSTD_DEFAULT_LEVEL,
        };
        write(&spec, &out).unwrap();
        // Several members: the first alone holds only part of the tar.
        let z = std::fs::read(&out).unwrap();
        let mut first = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&z[..]), &mut first).unwrap();
        assert!(first.len() < body.len(), "one member only");
        let all = read_all(&out, Format::TarGz, |_| true);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0.path, "top/hello");
        assert!(all[0].1 == body, "content of top/hello");
        let dest = dir.path().join("out");
        let got = extract_to(&out, Format::TarGz, |m| m.path == "top/hello", &dest).unwrap();
        assert_eq!(got.map(|m| m.size), Some(body.len() as u64));
        assert!(std::fs::read(&dest).unwrap() == body);
    }
}
