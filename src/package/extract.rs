//! Reading files back out of release archives: the executables inside them,
//! for `matrix verify` and for a merge that must rebuild packages (.snap)
//! from the archives the shards made.
//!
//! Part of `package`. Streams: an archive is read once, and only the
//! members asked for are kept in memory.

use std::io::Read;
use std::path::Path;

use super::PackageError;
use super::archive::Format;

/// One regular file of an archive.
#[derive(Debug, Clone)]
pub struct Member {
    /// Path inside the archive.
    pub path: String,
    pub executable: bool,
    pub bytes: Vec<u8>,
}

/// The regular files of `archive` for which `keep(path, executable)` is
/// true. A `Format::Binary` artifact is one executable named after itself.
pub fn members(
    archive: &Path,
    format: Format,
    keep: impl Fn(&str, bool) -> bool,
) -> Result<Vec<Member>, PackageError> {
    let io = PackageError::io(archive);
    let file = std::fs::File::open(archive).map_err(PackageError::io(archive))?;
    let reader = std::io::BufReader::new(file);
    match format {
        Format::Binary => {
            let name = archive
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !keep(&name, true) {
                return Ok(Vec::new());
            }
            let bytes = std::fs::read(archive).map_err(io)?;
            Ok(vec![Member {
                path: name,
                executable: true,
                bytes,
            }])
        }
        Format::TarGz => tar_members(flate2::read::GzDecoder::new(reader), archive, &keep),
        Format::TarXz => tar_members(xz2::read::XzDecoder::new(reader), archive, &keep),
        Format::TarZst => {
            let dec = zstd::Decoder::new(reader).map_err(PackageError::io(archive))?;
            tar_members(dec, archive, &keep)
        }
        Format::Zip => {
            // A broken zip is bad data in the archive, named by its path.
            let bad = |e: zip::result::ZipError| {
                PackageError::io(archive)(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            };
            let mut zip = zip::ZipArchive::new(reader).map_err(bad)?;
            let mut out = Vec::new();
            for i in 0..zip.len() {
                let mut entry = zip.by_index(i).map_err(bad)?;
                if entry.is_dir() {
                    continue;
                }
                let path = entry.name().map_err(bad)?.to_string();
                let executable = entry.unix_mode().is_some_and(|m| m & 0o111 != 0)
                    || path.to_ascii_lowercase().ends_with(".exe");
                if !keep(&path, executable) {
                    continue;
                }
                let mut bytes = Vec::new();
                entry
                    .read_to_end(&mut bytes)
                    .map_err(PackageError::io(archive))?;
                out.push(Member {
                    path,
                    executable,
                    bytes,
                });
            }
            Ok(out)
        }
    }
}

fn tar_members(
    reader: impl Read,
    archive: &Path,
    keep: &impl Fn(&str, bool) -> bool,
) -> Result<Vec<Member>, PackageError> {
    let mut tar = tar::Archive::new(reader);
    let mut out = Vec::new();
    for entry in tar.entries().map_err(PackageError::io(archive))? {
        let mut entry = entry.map_err(PackageError::io(archive))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(PackageError::io(archive))?
            .to_string_lossy()
            .into_owned();
        let executable = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
        if !keep(&path, executable) {
            continue;
        }
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(PackageError::io(archive))?;
        out.push(Member {
            path,
            executable,
            bytes,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::archive::{ArchiveSpec, write};
    use crate::package::checksum::Algorithm;
    use crate::package::files::Entry;

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
                },
                &out,
            )
            .unwrap();
            let found = members(&out, format, |_, executable| executable).unwrap();
            assert_eq!(found.len(), 1, "{format:?}");
            assert_eq!(found[0].path, "top/hello", "{format:?}");
            assert_eq!(found[0].bytes, b"\x7fELF binary", "{format:?}");
            let all = members(&out, format, |_, _| true).unwrap();
            assert_eq!(all.len(), 2, "{format:?}");
        }
        let bare = members(&exe, Format::Binary, |_, _| true).unwrap();
        assert_eq!(bare[0].path, "hello");
    }
}
