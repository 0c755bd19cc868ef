//! Reproducible archive writing: entries in, one artifact in `dist/` out.
//!
//! Second step of the `package` flow, after [`super::files::resolve`]. Owns
//! the formats, the member layout and the compressors (the tar/zip framing
//! itself is in the private `encode` module), and the rules that make the
//! same inputs give the same bytes on any host:
//!
//! - entries sorted by path (byte order), a 0755 directory entry for every
//!   parent (the `wrap` directory included) before its children;
//! - every entry gets the fixed `mtime`, uid/gid 0 and empty user/group
//!   names; modes are exactly 0755 (executables, directories) or 0644,
//!   never the source's own mode, owner, times or the umask;
//! - tar: GNU headers throughout, long paths through GNU long-name records;
//!   gzip by libdeflate at level [`GZIP_LEVEL`], without file name and
//!   header mtime 0, one gzip member per fixed block, deflated on every
//!   core (the private `pargz` module: the bytes never depend on the
//!   number of threads); xz level 6; zstd at the configured
//!   level (default [`ZSTD_DEFAULT_LEVEL`]) with zstd's own worker threads
//!   in a fixed mode whose output does not depend on their number; zip:
//!   deflate level 9, a DOS timestamp from
//!   `mtime` (clamped to 1980..=2107), unix permissions, no extra timestamp
//!   fields, Zip64 only for an entry that needs it.
//!
//! Everything streams through fixed buffers: the archive goes through a
//! [`HashingWriter`] into an [`AtomicFile`], so digest and size come out of
//! the single write pass and a half-written archive never gets its name.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry as MapEntry;
use std::fmt;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::PackageError;
use super::atomic::AtomicFile;
use super::checksum::{Algorithm, HashingWriter};
use super::dest::{check_dest, normalize_dest};
use super::encode::{EXEC_MODE, FILE_MODE, Item, copy_exact, open_source, write_tar, write_zip};
use super::files::Entry;
use super::pargz::ParGzWriter;

/// Size of the copy buffer and of the output buffer in front of the file.
const BUF: usize = 256 * 1024;
/// libdeflate's level for tar.gz (its scale is 0..=12). Measured in
/// 1 MiB members against `gzip -6 -n` on 40 MiB of ELF files from /usr
/// and on Go 1.19's go + compile (26 MiB): 1.5% and 0.6% smaller, in a
/// quarter of the CPU time (0.41 s against 1.70 s, 0.28 s against
/// 1.17 s). Levels 7..=9 save another 0.6-0.8% for 1.4-3x the time;
/// level 5 is already 0.04% bigger than `gzip -6` on the Go binaries.
pub(super) const GZIP_LEVEL: i32 = 6;
const XZ_LEVEL: u32 = 6;
/// zstd's own default: about as small as `gzip -9` at several times its
/// speed. Higher levels cost much more CPU for a few percent of size.
pub const ZSTD_DEFAULT_LEVEL: i32 = 3;
/// The levels `[archive] zstd-level` accepts (20..=22 need big windows).
pub const ZSTD_LEVELS: std::ops::RangeInclusive<i64> = 1..=19;
/// zstd worker threads. Any count >= 1 selects zstd's multithreaded mode,
/// whose output is the same for every count (it cuts jobs by size, not by
/// workers), so this is a speed setting only; archives of other targets
/// run beside it on rayon.
const ZSTD_WORKERS: u32 = 2;

/// Artifact format of a target.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum Format {
    #[serde(rename = "tar.gz")]
    TarGz,
    #[serde(rename = "tar.xz")]
    TarXz,
    #[serde(rename = "tar.zst")]
    TarZst,
    #[serde(rename = "zip")]
    Zip,
    /// The bare executable, no archive.
    #[serde(rename = "binary")]
    Binary,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::TarGz,
        Format::TarXz,
        Format::TarZst,
        Format::Zip,
        Format::Binary,
    ];

    /// File name suffix, with the dot; empty for a bare binary.
    pub fn extension(self) -> &'static str {
        match self {
            Format::TarGz => ".tar.gz",
            Format::TarXz => ".tar.xz",
            Format::TarZst => ".tar.zst",
            Format::Zip => ".zip",
            Format::Binary => "",
        }
    }

    /// The mode of the file [`write`] makes: a bare binary is executable,
    /// an archive is not, on every host (and when restored from the cache,
    /// whatever its entry says).
    pub fn mode(self) -> u32 {
        match self {
            Format::Binary => EXEC_MODE,
            _ => FILE_MODE,
        }
    }

    /// The spelling used in `matrix.toml` and manifests.
    pub fn name(self) -> &'static str {
        match self {
            Format::TarGz => "tar.gz",
            Format::TarXz => "tar.xz",
            Format::TarZst => "tar.zst",
            Format::Zip => "zip",
            Format::Binary => "binary",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = PackageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| PackageError::UnknownFormat {
                value: s.to_string(),
                allowed: Format::ALL.map(Format::name).join(", "),
            })
    }
}

/// What to write.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveSpec<'a> {
    pub format: Format,
    /// Usually straight from [`super::files::resolve`]; order does not matter.
    pub entries: &'a [Entry],
    /// Top-level directory every entry is placed under (ignored for binary).
    pub wrap: Option<&'a str>,
    /// Seconds since the epoch stamped on every entry (SOURCE_DATE_EPOCH).
    pub mtime: u64,
    pub algorithm: Algorithm,
    /// tar.zst's level, in [`ZSTD_LEVELS`]; ignored by other formats.
    pub zstd_level: i32,
}

/// The artifact that was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub size: u64,
    /// Hex digest in `spec.algorithm`.
    pub digest: String,
}

/// The compressor (or container) of a non-binary format.
#[derive(Debug, Clone, Copy)]
enum Codec {
    TarGz,
    TarXz,
    TarZst,
    Zip,
}

impl Format {
    fn codec(self) -> Option<Codec> {
        match self {
            Format::TarGz => Some(Codec::TarGz),
            Format::TarXz => Some(Codec::TarXz),
            Format::TarZst => Some(Codec::TarZst),
            Format::Zip => Some(Codec::Zip),
            Format::Binary => None,
        }
    }
}

/// Writes the archive (or binary) atomically to `dest`, whose directory
/// must exist.
pub fn write(spec: &ArchiveSpec<'_>, dest: &Path) -> Result<Written, PackageError> {
    let mut buf = vec![0u8; BUF];
    let Some(codec) = spec.format.codec() else {
        return write_binary(spec, dest, &mut buf);
    };
    let items = layout(spec.entries, spec.wrap)?;
    let mut out = AtomicFile::create(dest).map_err(PackageError::io(dest))?;
    out.set_mode(spec.format.mode());
    let hashing = HashingWriter::new(out.file(), spec.algorithm);
    // Buffer between compressor and hasher: the compressors emit small
    // chunks, hashing and write(2) want big ones.
    let sink = BufWriter::with_capacity(BUF, hashing);
    let sink = match codec {
        Codec::TarGz => {
            let mut enc = ParGzWriter::new(sink, GZIP_LEVEL).map_err(PackageError::io(dest))?;
            write_tar(&mut enc, &items, spec.mtime, &mut buf, dest)?;
            enc.finish().map_err(PackageError::io(dest))?
        }
        Codec::TarXz => {
            let mut enc = xz2::write::XzEncoder::new(sink, XZ_LEVEL);
            write_tar(&mut enc, &items, spec.mtime, &mut buf, dest)?;
            enc.finish().map_err(PackageError::io(dest))?
        }
        Codec::TarZst => {
            let mut enc = zstd_encoder(sink, spec.zstd_level, ZSTD_WORKERS)
                .map_err(PackageError::io(dest))?;
            write_tar(&mut enc, &items, spec.mtime, &mut buf, dest)?;
            enc.finish().map_err(PackageError::io(dest))?
        }
        Codec::Zip => write_zip(sink, &items, spec.mtime, &mut buf, dest)?,
    };
    let hashing = sink
        .into_inner()
        .map_err(|e| PackageError::io(dest)(e.into_error()))?;
    let (_, digest, size) = hashing.finish();
    out.commit().map_err(PackageError::io(dest))?;
    Ok(Written {
        path: dest.to_path_buf(),
        size,
        digest,
    })
}

/// A zstd encoder at `level` in multithreaded mode (see [`ZSTD_WORKERS`]).
fn zstd_encoder<W: std::io::Write>(
    sink: W,
    level: i32,
    workers: u32,
) -> std::io::Result<zstd::Encoder<'static, W>> {
    let mut enc = zstd::Encoder::new(sink, level)?;
    enc.multithread(workers)?;
    Ok(enc)
}

/// A bare binary: copied (never read whole) with mode 0755.
fn write_binary(
    spec: &ArchiveSpec<'_>,
    dest: &Path,
    buf: &mut [u8],
) -> Result<Written, PackageError> {
    let [entry] = spec.entries else {
        return Err(PackageError::BinaryNeedsOneEntry {
            count: spec.entries.len(),
            dests: spec.entries.iter().map(|e| e.dest.clone()).collect(),
        });
    };
    let (mut src, len) = open_source(entry)?;
    let mut out = AtomicFile::create(dest).map_err(PackageError::io(dest))?;
    let mut hashing = HashingWriter::new(out.file(), spec.algorithm);
    copy_exact(entry, &mut src, len, &mut hashing, buf, dest)?;
    let (_, digest, size) = hashing.finish();
    out.set_mode(spec.format.mode());
    out.commit().map_err(PackageError::io(dest))?;
    Ok(Written {
        path: dest.to_path_buf(),
        size,
        digest,
    })
}

/// Full member list in archive order: every entry under `wrap`, plus a
/// directory item for each parent. A `BTreeMap<String, _>` iterates in byte
/// order, in which a directory always precedes its children (a prefix sorts
/// first).
pub(super) fn layout<'a>(
    entries: &'a [Entry],
    wrap: Option<&str>,
) -> Result<BTreeMap<String, Item<'a>>, PackageError> {
    let prefix = match wrap {
        Some(w) => {
            let p = normalize_dest(w)?;
            if p.is_empty() {
                return Err(PackageError::UnsafeDest {
                    dest: w.to_string(),
                    reason: "the wrap directory name is empty".to_string(),
                });
            }
            p
        }
        None => String::new(),
    };
    let mut items: BTreeMap<String, Item<'a>> = BTreeMap::new();
    if !prefix.is_empty() {
        add_parents(&mut items, &format!("{prefix}/"))?;
    }
    for entry in entries {
        check_dest(&entry.dest)?;
        let path = if prefix.is_empty() {
            entry.dest.clone()
        } else {
            format!("{prefix}/{}", entry.dest)
        };
        add_parents(&mut items, &path)?;
        let child = items
            .range(format!("{path}/")..)
            .next()
            .filter(|(k, _)| k.starts_with(&format!("{path}/")))
            .map(|(k, _)| k.clone());
        match items.entry(path) {
            MapEntry::Vacant(v) => {
                v.insert(Item::File(entry));
            }
            MapEntry::Occupied(o) => {
                return Err(match o.get() {
                    Item::File(first) => PackageError::DuplicateDest {
                        dest: o.key().clone(),
                        first: first.source.clone(),
                        second: entry.source.clone(),
                    },
                    Item::Dir => PackageError::DestConflict {
                        dest: o.key().clone(),
                        file: entry.source.clone(),
                        child: child.unwrap_or_default(),
                    },
                });
            }
        }
    }
    Ok(items)
}

/// Inserts a directory item for every proper parent of `path`.
fn add_parents(items: &mut BTreeMap<String, Item<'_>>, path: &str) -> Result<(), PackageError> {
    for (i, _) in path.match_indices('/') {
        let dir = &path[..i];
        match items.get(dir) {
            Some(Item::Dir) => {}
            Some(Item::File(e)) => {
                return Err(PackageError::DestConflict {
                    dest: dir.to_string(),
                    file: e.source.clone(),
                    child: path.to_string(),
                });
            }
            None => {
                items.insert(dir.to_string(), Item::Dir);
            }
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::package::checksum::hash_file;
    use std::os::unix::fs::PermissionsExt;

    fn entry(source: &Path, dest: &str, executable: bool) -> Entry {
        Entry {
            source: source.to_path_buf(),
            dest: dest.to_string(),
            executable,
        }
    }

    #[test]
    fn format_names_parse_and_serde() {
        let table = [
            (Format::TarGz, "tar.gz", ".tar.gz"),
            (Format::TarXz, "tar.xz", ".tar.xz"),
            (Format::TarZst, "tar.zst", ".tar.zst"),
            (Format::Zip, "zip", ".zip"),
            (Format::Binary, "binary", ""),
        ];
        assert_eq!(Format::ALL.to_vec(), table.map(|t| t.0).to_vec());
        for (format, name, ext) in table {
            assert_eq!(format.name(), name);
            assert_eq!(format.to_string(), name);
            assert_eq!(format.extension(), ext);
            assert_eq!(name.parse::<Format>().unwrap(), format);
            let json = serde_json::to_string(&format).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Format>(&json).unwrap(), format);
        }
        let err = "tgz".parse::<Format>().unwrap_err().to_string();
        assert!(err.contains("`tgz`"), "{err}");
        assert!(
            err.contains("tar.gz, tar.xz, tar.zst, zip, binary"),
            "{err}"
        );
    }

    #[test]
    fn zstd_bytes_do_not_depend_on_workers() {
        use std::io::Write;
        // Several of zstd's jobs (a few MiB each at level 3), compressible.
        let data: Vec<u8> = (0..24u32 << 20)
            .map(|i| ((i / 3) ^ (i >> 11)).wrapping_mul(2_654_435_761) as u8 & 0x3f)
            .collect();
        let zst = |level, workers| {
            let mut enc = zstd_encoder(Vec::new(), level, workers).unwrap();
            for piece in data.chunks(100_000) {
                enc.write_all(piece).unwrap();
            }
            enc.finish().unwrap()
        };
        let want = zst(ZSTD_DEFAULT_LEVEL, 1);
        for workers in [2, 4] {
            assert!(zst(ZSTD_DEFAULT_LEVEL, workers) == want, "{workers}");
        }
        assert_eq!(zstd::decode_all(want.as_slice()).unwrap(), data);
        // The level is honoured: 1 writes other bytes than 3.
        assert!(zst(1, 2) != want);
    }

    #[test]
    fn layout_adds_sorted_parents_and_wrap() {
        let src = Path::new("/src/f");
        let entries = [
            entry(src, "b/x", false),
            entry(src, "a", true),
            entry(src, "b/c/d", false),
            entry(src, "b-sibling", false),
        ];
        let names = |wrap| -> Vec<(String, bool)> {
            layout(&entries, wrap)
                .unwrap()
                .into_iter()
                .map(|(k, v)| (k, matches!(v, Item::Dir)))
                .collect()
        };
        let want = |prefix: &str| -> Vec<(String, bool)> {
            let mut v = vec![];
            if !prefix.is_empty() {
                v.push((prefix.trim_end_matches('/').to_string(), true));
            }
            for (p, dir) in [
                ("a", false),
                ("b", true),
                ("b-sibling", false),
                ("b/c", true),
                ("b/c/d", false),
                ("b/x", false),
            ] {
                v.push((format!("{prefix}{p}"), dir));
            }
            v
        };
        assert_eq!(names(None), want(""));
        assert_eq!(names(Some("app-1.0")), want("app-1.0/"));
        // Lenient spelling of wrap is normalized; a nested wrap gets all parents.
        assert_eq!(names(Some("./app-1.0/")), want("app-1.0/"));
        let nested = names(Some("x/y"));
        assert_eq!(
            &nested[..2],
            &[("x".to_string(), true), ("x/y".to_string(), true)]
        );
        // No entries but a wrap: just the directory.
        assert_eq!(layout(&[], Some("w")).unwrap().len(), 1);
    }

    #[test]
    fn layout_errors_table() {
        let one = Path::new("/src/one");
        let two = Path::new("/src/two");
        type Check = fn(&PackageError) -> bool;
        let cases: Vec<(Vec<Entry>, Option<&str>, Check)> = vec![
            (vec![entry(one, "a", false)], Some("../up"), |e| {
                matches!(e, PackageError::UnsafeDest { .. })
            }),
            (vec![entry(one, "a", false)], Some("/"), |e| {
                matches!(e, PackageError::UnsafeDest { .. })
            }),
            (vec![entry(one, "a", false)], Some("."), |e| {
                matches!(e, PackageError::UnsafeDest { .. })
            }),
            (vec![entry(one, "./a", false)], None, |e| {
                matches!(e, PackageError::UnsafeDest { .. })
            }),
            (vec![entry(one, "a/../b", false)], None, |e| {
                matches!(e, PackageError::UnsafeDest { .. })
            }),
            (vec![entry(one, "/etc/x", false)], None, |e| {
                matches!(e, PackageError::UnsafeDest { .. })
            }),
            (
                vec![entry(one, "a/b", false), entry(two, "a/b", false)],
                None,
                |e| matches!(e, PackageError::DuplicateDest { first, second, .. } if first.ends_with("one") && second.ends_with("two")),
            ),
            (
                vec![entry(one, "a", false), entry(two, "a/b", false)],
                None,
                |e| matches!(e, PackageError::DestConflict { dest, child, .. } if dest == "a" && child == "a/b"),
            ),
            (
                vec![entry(two, "a/b", false), entry(one, "a", false)],
                None,
                |e| matches!(e, PackageError::DestConflict { dest, child, .. } if dest == "a" && child == "a/b"),
            ),
        ];
        for (entries, wrap, check) in cases {
            let err = layout(&entries, wrap).expect_err(&format!("{entries:?} {wrap:?}"));
            assert!(check(&err), "{entries:?} {wrap:?}: {err:?}");
        }
    }

    #[test]
    fn gzip_header_has_no_name_and_zero_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("f");
        std::fs::write(&src, b"x").unwrap();
        let entries = [entry(&src, "f", false)];
        let dest = dir.path().join("o.tar.gz");
        let spec = ArchiveSpec {
            format: Format::TarGz,
            entries: &entries,
            wrap: None,
            mtime: 1_700_000_000,
            algorithm: Algorithm::Sha256,
            zstd_level: ZSTD_DEFAULT_LEVEL,
        };
        write(&spec, &dest).unwrap();
        let bytes = std::fs::read(&dest).unwrap();
        // magic, deflate, no flags (so no FNAME), mtime 0, xfl 0 (neither
        // the fastest nor the slowest level), OS unknown.
        assert_eq!(&bytes[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    }

    #[test]
    fn binary_copies_one_file_with_mode_0755() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("app");
        let data: Vec<u8> = (0..(BUF * 3 + 5)).map(|i| (i * 7 % 256) as u8).collect();
        std::fs::write(&src, &data).unwrap();
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o700)).unwrap();
        let dest = dir.path().join("app-linux-amd64");
        let entries = [entry(&src, "app", true)];
        let spec = ArchiveSpec {
            format: Format::Binary,
            entries: &entries,
            wrap: Some("ignored"),
            mtime: 0,
            algorithm: Algorithm::Sha512,
            zstd_level: ZSTD_DEFAULT_LEVEL,
        };
        let written = write(&spec, &dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o755);
        assert_eq!(written.size, data.len() as u64);
        assert_eq!(
            written.digest,
            hash_file(&dest, Algorithm::Sha512).unwrap().0
        );

        for entries in [
            vec![],
            vec![entry(&src, "a", true), entry(&src, "b", false)],
        ] {
            let spec = ArchiveSpec {
                entries: &entries,
                ..spec
            };
            let err = write(&spec, &dir.path().join("other")).unwrap_err();
            assert!(
                matches!(err, PackageError::BinaryNeedsOneEntry { count, .. } if count == entries.len()),
                "{err:?}"
            );
        }
    }

    #[test]
    fn failed_write_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("dist");
        std::fs::create_dir(&out_dir).unwrap();
        let good = dir.path().join("good");
        std::fs::write(&good, b"ok").unwrap();
        let missing = dir.path().join("missing");
        let entries = [entry(&good, "a", false), entry(&missing, "b", false)];
        for format in Format::ALL {
            let spec = ArchiveSpec {
                format,
                entries: &entries,
                wrap: None,
                mtime: 0,
                algorithm: Algorithm::Sha256,
                zstd_level: ZSTD_DEFAULT_LEVEL,
            };
            let dest = out_dir.join(format!("x{}", format.extension()));
            let err = write(&spec, &dest).unwrap_err();
            match format {
                Format::Binary => assert!(matches!(err, PackageError::BinaryNeedsOneEntry { .. })),
                _ => assert!(
                    matches!(&err, PackageError::Io { path, .. } if path == &missing),
                    "{format}: {err:?}"
                ),
            }
            let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
            assert!(left.is_empty(), "{format}: {left:?}");
        }
    }
}
