//! A shard handed over as an archive (`.tar`, `.tar.gz`, `.tgz`, `.zip`, as
//! CI systems upload folders), unpacked into a temporary folder with
//! limits, before [`super::read_shard`] and [`super::check`] look at it.
//!
//! Part of `merge`. The archive comes from outside and may be hostile, so
//! it is read twice: a first pass finds its `manifest.json` (bounded like
//! any manifest) and derives the limits from the sizes the shard records;
//! the second pass unpacks under those limits:
//!
//! - total bytes written: the recorded artifacts plus a margin for the
//!   manifest, logs and image blobs ([`MARGIN_BYTES`]);
//! - entries: the recorded artifacts plus [`MARGIN_ENTRIES`];
//! - expansion: the bytes decompressed may be at most [`DEFAULT_RATIO`]
//!   times the archive's size (past [`RATIO_FLOOR`]), which also bounds
//!   the time the first pass takes;
//!
//! each of which `matrix merge --max-unpack-*` can raise. Only regular
//! files and folders are unpacked; a link, a device, an absolute path or a
//! `..` is refused by its member name. The shard's `build/` folder (the
//! executables again, which the merge takes from the archives) is not
//! written. On any error the folder is emptied: nothing half-unpacked
//! stays behind.

use std::path::{Component, Path, PathBuf};

use crate::package::extract::{ExtractError, copy_member};
use crate::package::manifest::Manifest;
use walk::EntryKind;

/// Room for what a shard holds besides its recorded artifacts: the
/// manifest, one log per job and the image blobs of its platforms.
pub const MARGIN_BYTES: u64 = 256 << 20;
/// Room for entries besides the recorded artifacts: folders, logs, blobs.
pub const MARGIN_ENTRIES: u64 = 1_000;
/// Decompressed bytes per archive byte. A shard holds archives, which are
/// compressed already (about 1:1); deflate's own maximum is about 1032:1.
pub const DEFAULT_RATIO: u64 = 100;
/// The ratio is not held against small archives, where a few kilobytes of
/// logs and JSON legitimately compress well.
pub const RATIO_FLOOR: u64 = 32 << 20;
/// Entries the first pass reads while it looks for manifest.json.
const SCAN_ENTRIES: u64 = 100_000;

/// What `--max-unpack-bytes`, `--max-unpack-entries` and
/// `--max-unpack-ratio` ask for; each only ever raises the derived limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Raise {
    pub bytes: Option<u64>,
    pub entries: Option<u64>,
    pub ratio: Option<u64>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum UnpackError {
    #[error("{}: {source}", path.display())]
    #[diagnostic(code(matrix::merge::unpack::io))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {what}", archive.display())]
    #[diagnostic(
        code(matrix::merge::unpack::not_a_shard),
        help("pass a .tar, .tar.gz, .tgz or .zip of a folder `matrix build --shard i/N` wrote")
    )]
    NotAShard { archive: PathBuf, what: String },
    #[error("{}: member {member}: {what}", archive.display())]
    #[diagnostic(
        code(matrix::merge::unpack::member),
        help(
            "a shard archive holds regular files and folders with relative paths only; rebuild and re-upload the shard"
        )
    )]
    Member {
        archive: PathBuf,
        member: String,
        what: String,
    },
    #[error("{}: member {member}: {what}", archive.display())]
    #[diagnostic(
        code(matrix::merge::unpack::limit),
        help(
            "the limits come from the sizes the shard's manifest records; if this shard is genuine, raise them with {flag}"
        )
    )]
    Limit {
        archive: PathBuf,
        member: String,
        what: String,
        limit: u64,
        flag: &'static str,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Extract(#[from] ExtractError),
}

/// Unpacks `archive` into the empty folder `into` and returns the shard
/// folder: `into` itself, or its one top-level folder when the archive
/// was made of the folder. On error `into` is left empty.
pub fn unpack(archive: &Path, into: &Path, raise: Raise) -> Result<PathBuf, UnpackError> {
    unpack_with(archive, into, raise, Margins::DEFAULT)
}

/// The fixed parts of the limits; tests shrink them to stay small.
#[derive(Debug, Clone, Copy)]
struct Margins {
    bytes: u64,
    entries: u64,
    floor: u64,
}

impl Margins {
    const DEFAULT: Margins = Margins {
        bytes: MARGIN_BYTES,
        entries: MARGIN_ENTRIES,
        floor: RATIO_FLOOR,
    };
}

fn unpack_with(
    archive: &Path,
    into: &Path,
    raise: Raise,
    margins: Margins,
) -> Result<PathBuf, UnpackError> {
    let result = unpack_inner(archive, into, raise, margins);
    if result.is_err() {
        empty(into);
    }
    result
}

/// Removes everything below `dir` (best effort: this runs on the way out
/// of an error, which is the one to report).
fn empty(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = match entry.file_type() {
                Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
                _ => std::fs::remove_file(&path),
            };
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Tar,
    TarGz,
    Zip,
}

/// The limits one archive is unpacked under.
#[derive(Debug, Clone, Copy)]
struct Limits {
    bytes: u64,
    entries: u64,
    /// Decompressed bytes the whole archive may give: `ratio` times its
    /// size, and at least [`RATIO_FLOOR`].
    expanded: u64,
    ratio: u64,
}

fn unpack_inner(
    archive: &Path,
    into: &Path,
    raise: Raise,
    margins: Margins,
) -> Result<PathBuf, UnpackError> {
    let name = archive.to_string_lossy().to_ascii_lowercase();
    let kind = if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Kind::TarGz
    } else if name.ends_with(".tar") {
        Kind::Tar
    } else if name.ends_with(".zip") {
        Kind::Zip
    } else {
        return Err(UnpackError::NotAShard {
            archive: archive.to_path_buf(),
            what: "not a folder, .tar, .tar.gz, .tgz or .zip".into(),
        });
    };
    let io = |source| UnpackError::Io {
        path: archive.to_path_buf(),
        source,
    };
    let meta = std::fs::symlink_metadata(archive).map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(UnpackError::NotAShard {
            archive: archive.to_path_buf(),
            what: "not a regular file (matrix follows no symbolic link)".into(),
        });
    }
    let ratio = raise.ratio.unwrap_or(0).max(DEFAULT_RATIO);
    let expanded = meta.len().saturating_mul(ratio).max(margins.floor);
    let scan = Limits {
        bytes: 0,
        entries: raise.entries.unwrap_or(0).max(SCAN_ENTRIES),
        expanded,
        ratio,
    };
    let mut walker = Walker {
        archive,
        kind,
        limits: scan,
    };
    let (root, manifest) = walker.find_manifest()?;
    let recorded: u64 = manifest
        .artifacts
        .iter()
        .fold(0u64, |sum, a| sum.saturating_add(a.size));
    walker.limits = Limits {
        bytes: recorded
            .saturating_add(margins.bytes)
            .max(raise.bytes.unwrap_or(0)),
        entries: (manifest.artifacts.len() as u64)
            .saturating_add(margins.entries)
            .max(raise.entries.unwrap_or(0)),
        expanded,
        ratio,
    };
    walker.unpack(into, root.as_deref())?;
    Ok(match root {
        Some(top) => into.join(top),
        None => into.to_path_buf(),
    })
}

struct Walker<'a> {
    archive: &'a Path,
    kind: Kind,
    limits: Limits,
}

impl Walker<'_> {
    fn limit(&self, member: &str, what: String, limit: u64, flag: &'static str) -> UnpackError {
        UnpackError::Limit {
            archive: self.archive.to_path_buf(),
            member: member.to_string(),
            what,
            limit,
            flag,
        }
    }

    fn member(&self, member: &str, what: impl Into<String>) -> UnpackError {
        UnpackError::Member {
            archive: self.archive.to_path_buf(),
            member: member.to_string(),
            what: what.into(),
        }
    }

    fn expanded(&self, member: &str) -> UnpackError {
        self.limit(
            member,
            format!(
                "the archive expands past {} bytes, the limit of {} times its size",
                self.limits.expanded, self.limits.ratio
            ),
            self.limits.expanded,
            "--max-unpack-ratio",
        )
    }

    fn too_many(&self, member: &str) -> UnpackError {
        self.limit(
            member,
            format!(
                "the archive has more entries than the limit of {}",
                self.limits.entries
            ),
            self.limits.entries,
            "--max-unpack-entries",
        )
    }

    /// First pass: the shard's manifest, at the top or in the one folder
    /// the archive was made of.
    fn find_manifest(&self) -> Result<(Option<String>, Manifest), UnpackError> {
        let mut found: Option<(Option<String>, Manifest)> = None;
        let mut nested: Option<(String, Manifest)> = None;
        self.walk(&mut |name, kind, _, reader| {
            let Some(parts) = clean(name) else {
                return Ok(true);
            };
            if !matches!(kind, EntryKind::File) {
                return Ok(true);
            }
            let slot = match parts.as_slice() {
                [m] if m == crate::plan::MANIFEST => None,
                [top, m] if m == crate::plan::MANIFEST => Some(top.clone()),
                _ => return Ok(true),
            };
            let manifest = Manifest::from_reader(reader)
                .map_err(|e| self.member(name, format!("not a shard manifest: {e}")))?;
            match slot {
                None => {
                    found = Some((None, manifest));
                    // The top-level manifest decides; no need to read on.
                    return Ok(false);
                }
                Some(top) => {
                    if let Some((other, _)) = &nested
                        && other != &top
                    {
                        return Err(self.member(
                            name,
                            format!("a second shard manifest (the first is in {other}/)"),
                        ));
                    }
                    nested = Some((top, manifest));
                }
            }
            Ok(true)
        })?;
        if let Some(found) = found {
            return Ok(found);
        }
        match nested {
            Some((top, manifest)) => Ok((Some(top), manifest)),
            None => Err(UnpackError::NotAShard {
                archive: self.archive.to_path_buf(),
                what: format!(
                    "no {} at its top or in its one top-level folder",
                    crate::plan::MANIFEST
                ),
            }),
        }
    }

    /// Second pass: every member written under `into`, within the limits.
    fn unpack(&self, into: &Path, root: Option<&str>) -> Result<(), UnpackError> {
        let mut written: u64 = 0;
        self.walk(&mut |name, kind, member, reader| {
            let parts = match clean(name) {
                Some(p) => p,
                None if name.starts_with('/') => {
                    return Err(self.member(name, "its path is absolute"));
                }
                None => {
                    return Err(self.member(
                        name,
                        "its path has a `..`, a backslash or a control character",
                    ));
                }
            };
            let what = match kind {
                EntryKind::Meta => return Ok(true),
                EntryKind::Refused(what) => {
                    return Err(self.member(name, format!("it is {what}")));
                }
                k => k,
            };
            // `./`: the shard folder itself.
            if parts.is_empty() && matches!(what, EntryKind::Dir) {
                return Ok(true);
            }
            let inside = match root {
                None => &parts[..],
                Some(top) => match parts.split_first() {
                    Some((first, rest)) if first == top => rest,
                    _ => {
                        return Err(
                            self.member(name, format!("it is outside the shard folder {top}/"))
                        );
                    }
                },
            };
            // The executables again, as the build left them: the merge
            // takes them from the archives, so they are not written.
            if inside.first().is_some_and(|p| p == crate::plan::BUILD_DIR) {
                return Ok(true);
            }
            let path = parts.iter().fold(into.to_path_buf(), |p, c| p.join(c));
            let io = |source| UnpackError::Io {
                path: path.clone(),
                source,
            };
            if matches!(what, EntryKind::Dir) {
                std::fs::create_dir_all(&path).map_err(io)?;
                return Ok(true);
            }
            if written.saturating_add(member.size) > self.limits.bytes {
                return Err(self.limit(
                    name,
                    format!(
                        "unpacking its {} bytes would pass the limit of {} bytes (what the shard records, plus room for logs and images)",
                        member.size, self.limits.bytes
                    ),
                    self.limits.bytes,
                    "--max-unpack-bytes",
                ));
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            // create_new: a member given twice is refused, not overwritten;
            // O_NOFOLLOW: nothing here is a link, and nothing is followed.
            use std::os::unix::fs::OpenOptionsExt;
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(if member.executable { 0o755 } else { 0o644 })
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(&path)
                .map_err(|e| {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        self.member(name, "it is in the archive twice")
                    } else {
                        io(e)
                    }
                })?;
            written += copy_member(self.archive, member, reader, &mut out)?;
            Ok(true)
        })
    }
}

/// A size for `--max-unpack-bytes`: a number of bytes, or one with a
/// binary unit (`512M`, `8GiB`, `1T`; K, M, G, T, with or without `iB`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 4294967296, 512M, 8GiB)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        "t" | "tib" => 40,
        _ => {
            return Err(format!(
                "{text:?}: the unit must be K, M, G or T (KiB, MiB, GiB, TiB)"
            ));
        }
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// The parts of a member's path, without `.` parts and trailing slashes
/// (empty for `./`, the folder itself); `None` when it is absolute, climbs
/// with `..`, or has a backslash or a control character.
fn clean(name: &str) -> Option<Vec<String>> {
    if name.contains('\\') || name.chars().any(char::is_control) {
        return None;
    }
    let mut parts = Vec::new();
    for c in Path::new(name).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) | Component::ParentDir => return None,
        }
    }
    Some(parts)
}

#[cfg(test)]
mod tests;
mod walk;
