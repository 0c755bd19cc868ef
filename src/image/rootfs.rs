//! What a platform image holds: its layers read in order into one file
//! tree (whiteouts applied), each regular file with its size, sha256 and
//! sha1, and the bytes of the few files a caller asks to keep (dpkg's
//! status and status.d, os-release).
//!
//! Used by the image attestations (`exec` hands the result to the image
//! SBOM). A layer is hostile input, so everything is bounded: the bytes
//! and entries read ([`Limits`]), the bytes of all kept files together
//! (hard links to them included), the length of a path; a path that climbs out of the root (`..`) is refused, as the
//! engines refuse it; every blob is checked against its digest as it is
//! read.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};

use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use super::error::ImageError;
use super::oci::{ImageManifest, Layout};

/// How much of an image is read before giving up.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Uncompressed bytes of file content, all layers together.
    pub max_bytes: u64,
    /// Tar entries, all layers together.
    pub max_entries: usize,
    /// Bytes of the kept files' content held at once, all of them
    /// together (a hard link to a kept file holds a copy: it counts
    /// again); more is an error.
    pub max_kept: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 16 << 30,
            max_entries: 1_000_000,
            max_kept: 64 << 20,
        }
    }
}

/// A path longer than this is not a file anyone installed.
const MAX_PATH: usize = 4096;

/// A regular file of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
    pub sha1: String,
}

/// The image's file tree, as a container of it would see it.
#[derive(Debug, Default)]
pub struct RootFs {
    /// Regular files (hard links as the file they name) by path, without a
    /// leading `/`, sorted.
    pub files: BTreeMap<String, FileFacts>,
    /// The content of the files `keep` chose, by path.
    pub kept: BTreeMap<String, Vec<u8>>,
}

#[derive(Debug, Clone)]
enum Node {
    File(FileFacts),
    /// A folder: what lower layers had in it stays.
    Dir,
    /// Symbolic links, devices, fifos: like a file they hide what lower
    /// layers had at their path and below it, but hold no content.
    Other,
}

/// The content of kept files by path, and the bytes it holds.
#[derive(Debug, Default)]
struct Kept {
    files: BTreeMap<String, Vec<u8>>,
    bytes: u64,
}

impl Kept {
    fn get(&self, path: &str) -> Option<&Vec<u8>> {
        self.files.get(path)
    }

    fn insert(&mut self, path: String, content: Vec<u8>) {
        self.bytes += content.len() as u64;
        if let Some(old) = self.files.insert(path, content) {
            self.bytes -= old.len() as u64;
        }
    }

    fn remove(&mut self, path: &str) {
        if let Some(old) = self.files.remove(path) {
            self.bytes -= old.len() as u64;
        }
    }

    fn remove_under(&mut self, dir: &str) {
        for old in remove_under(&mut self.files, dir) {
            self.bytes -= old.len() as u64;
        }
    }

    fn extend(&mut self, other: Kept) {
        for (path, content) in other.files {
            self.insert(path, content);
        }
    }
}

/// Reads `manifest`'s layers from `layout`, bottom first. `keep` says
/// which paths' content to keep (at most `limits.max_kept` bytes in all).
pub fn read(
    layout: &Layout,
    manifest: &ImageManifest,
    keep: &dyn Fn(&str) -> bool,
    limits: Limits,
) -> Result<RootFs, ImageError> {
    let mut state = State {
        tree: BTreeMap::new(),
        kept: Kept::default(),
        bytes: 0,
        entries: 0,
        limits,
    };
    for layer in &manifest.layers {
        let fail = |reason: String| ImageError::Layer {
            digest: layer.digest.clone(),
            reason,
        };
        let path = layout.blob_path(&layer.digest)?;
        let file = File::open(&path).map_err(|e| ImageError::io(&path, e))?;
        let mut hashed = HashingReader {
            inner: BufReader::new(file),
            hash: Sha256::new(),
            read: 0,
        };
        {
            let stream: Box<dyn Read + '_> = match compression(&layer.media_type) {
                Some(Compression::None) => Box::new(&mut hashed),
                Some(Compression::Gzip) => Box::new(flate2::read::MultiGzDecoder::new(&mut hashed)),
                Some(Compression::Zstd) => Box::new(
                    zstd::stream::read::Decoder::new(&mut hashed)
                        .map_err(|e| fail(format!("zstd: {e}")))?,
                ),
                None => {
                    return Err(fail(format!(
                        "its media type {:?} is not a layer matrix reads",
                        layer.media_type
                    )));
                }
            };
            state.layer(stream, keep).map_err(|e| match e {
                LayerProblem::Io(e) => fail(e.to_string()),
                LayerProblem::Bad(reason) => fail(reason),
            })?;
        }
        // The rest of the blob (tar padding, gzip trailer) counts too.
        io::copy(&mut hashed, &mut io::sink()).map_err(|e| ImageError::io(&path, e))?;
        let actual = format!("sha256:{}", hex::encode(hashed.hash.finalize()));
        if actual != layer.digest || hashed.read != layer.size {
            return Err(ImageError::Corrupt {
                path,
                expected: layer.digest.clone(),
                actual,
            });
        }
    }
    let files = state
        .tree
        .into_iter()
        .filter_map(|(p, n)| match n {
            Node::File(f) => Some((p, f)),
            Node::Dir | Node::Other => None,
        })
        .collect::<BTreeMap<_, _>>();
    let kept = state
        .kept
        .files
        .into_iter()
        .filter(|(p, _)| files.contains_key(p))
        .collect();
    Ok(RootFs { files, kept })
}

enum Compression {
    None,
    Gzip,
    Zstd,
}

fn compression(media_type: &str) -> Option<Compression> {
    match media_type {
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => Some(Compression::None),
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip" => Some(Compression::Gzip),
        "application/vnd.oci.image.layer.v1.tar+zstd"
        | "application/vnd.docker.image.rootfs.diff.tar.zstd" => Some(Compression::Zstd),
        _ => None,
    }
}

struct HashingReader<R> {
    inner: R,
    hash: Sha256,
    read: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

enum LayerProblem {
    Io(io::Error),
    Bad(String),
}

impl From<io::Error> for LayerProblem {
    fn from(e: io::Error) -> Self {
        LayerProblem::Io(e)
    }
}

struct State {
    tree: BTreeMap<String, Node>,
    kept: Kept,
    bytes: u64,
    entries: usize,
    limits: Limits,
}

impl State {
    /// Applies one layer: its whiteouts remove what lower layers had, then
    /// its entries go on top.
    fn layer(
        &mut self,
        stream: impl Read,
        keep: &dyn Fn(&str) -> bool,
    ) -> Result<(), LayerProblem> {
        let mut added: BTreeMap<String, Node> = BTreeMap::new();
        let mut added_kept = Kept::default();
        let mut removed: Vec<String> = Vec::new();
        let mut opaque: Vec<String> = Vec::new();
        let mut archive = tar::Archive::new(stream);
        for entry in archive.entries()? {
            let mut entry = entry?;
            self.entries += 1;
            if self.entries > self.limits.max_entries {
                return Err(LayerProblem::Bad(format!(
                    "the image has more than {} entries",
                    self.limits.max_entries
                )));
            }
            let raw = entry.path_bytes();
            let Some(path) = clean(&raw)? else {
                continue;
            };
            let (dir, base) = match path.rsplit_once('/') {
                Some((d, b)) => (Some(d), b),
                None => (None, path.as_str()),
            };
            if base == ".wh..wh..opq" {
                opaque.push(dir.unwrap_or("").to_string());
                continue;
            }
            if let Some(hidden) = base.strip_prefix(".wh.") {
                removed.push(match dir {
                    Some(d) => format!("{d}/{hidden}"),
                    None => hidden.to_string(),
                });
                continue;
            }
            let kind = entry.header().entry_type();
            let node = if kind.is_file() {
                let size = entry.header().size()?;
                self.bytes = self.bytes.saturating_add(size);
                if self.bytes > self.limits.max_bytes {
                    return Err(LayerProblem::Bad(format!(
                        "the image holds more than {} GiB of files",
                        self.limits.max_bytes >> 30
                    )));
                }
                let keeping = keep(&path);
                if keeping && size > self.limits.max_kept {
                    return Err(LayerProblem::Bad(format!(
                        "{path} is {size} bytes, more than the {} MiB read of it",
                        self.limits.max_kept >> 20
                    )));
                }
                if keeping {
                    self.may_keep(&added_kept, &path, size)?;
                }
                let (facts, content) = hash_entry(&mut entry, keeping)?;
                if let Some(c) = content {
                    added_kept.insert(path.clone(), c);
                }
                Node::File(facts)
            } else if kind == tar::EntryType::Link {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| LayerProblem::Bad(format!("{path}: a hard link to nothing")))?;
                let Some(target) = clean(&target)? else {
                    return Err(LayerProblem::Bad(format!(
                        "{path}: a hard link to the root"
                    )));
                };
                let node = added
                    .get(&target)
                    .or_else(|| self.tree.get(&target))
                    .cloned()
                    .unwrap_or(Node::Other);
                if let Some(c) = added_kept.get(&target).or_else(|| self.kept.get(&target))
                    && keep(&path)
                {
                    let c = c.clone();
                    self.may_keep(&added_kept, &path, c.len() as u64)?;
                    added_kept.insert(path.clone(), c);
                }
                // A hard link to a folder is no folder (engines refuse it).
                match node {
                    Node::Dir => Node::Other,
                    n => n,
                }
            } else if matches!(
                kind,
                tar::EntryType::XGlobalHeader
                    | tar::EntryType::XHeader
                    | tar::EntryType::GNULongName
                    | tar::EntryType::GNULongLink
            ) {
                continue;
            } else if kind == tar::EntryType::Directory {
                Node::Dir
            } else {
                Node::Other
            };
            added.insert(path, node);
        }
        for dir in opaque {
            remove_under(&mut self.tree, &dir);
            self.kept.remove_under(&dir);
        }
        for path in removed {
            self.tree.remove(&path);
            self.kept.remove(&path);
            remove_under(&mut self.tree, &path);
            self.kept.remove_under(&path);
        }
        for (path, node) in added {
            // A folder keeps what is in it; anything else (a file, a
            // symbolic link, a device) replaces a whole folder.
            if !matches!(node, Node::Dir) {
                remove_under(&mut self.tree, &path);
                self.kept.remove_under(&path);
            }
            self.kept.remove(&path);
            self.tree.insert(path, node);
        }
        self.kept.extend(added_kept);
        Ok(())
    }

    /// Refuses to keep `size` more bytes (for `path`) when the kept files,
    /// lower layers' and this one's together, would pass the limit.
    fn may_keep(&self, added: &Kept, path: &str, size: u64) -> Result<(), LayerProblem> {
        let total = self
            .kept
            .bytes
            .saturating_add(added.bytes)
            .saturating_add(size);
        if total > self.limits.max_kept {
            return Err(LayerProblem::Bad(format!(
                "{path} brings the files matrix reads whole (dpkg's status, os-release) to \
                 {total} bytes, more than the {} MiB kept of them in all",
                self.limits.max_kept >> 20
            )));
        }
        Ok(())
    }
}

/// Removes everything below folder `dir` (`""`: the root); returns what
/// it removed.
fn remove_under<V>(map: &mut BTreeMap<String, V>, dir: &str) -> Vec<V> {
    if dir.is_empty() {
        return std::mem::take(map).into_values().collect();
    }
    let from = format!("{dir}/");
    // '0' follows '/' in ASCII: the range is exactly the names under dir/.
    let to = format!("{dir}0");
    let doomed: Vec<String> = map.range(from..to).map(|(k, _)| k.clone()).collect();
    doomed.into_iter().filter_map(|k| map.remove(&k)).collect()
}

/// A tar member's name as a path below the root, without `./` or a
/// leading `/`; `None` for the root itself; an error when it climbs out.
fn clean(raw: &[u8]) -> Result<Option<String>, LayerProblem> {
    let text = String::from_utf8_lossy(raw);
    if text.len() > MAX_PATH {
        return Err(LayerProblem::Bad(format!(
            "a path of {} bytes (at most {MAX_PATH})",
            text.len()
        )));
    }
    let mut parts = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(LayerProblem::Bad(format!(
                    "the path {text:?} climbs out of the image's root"
                )));
            }
            p => parts.push(p),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

/// The digests of a member's content, and the content when it is kept.
fn hash_entry(entry: &mut impl Read, keeping: bool) -> io::Result<(FileFacts, Option<Vec<u8>>)> {
    let mut sha256 = Sha256::new();
    let mut sha1 = Sha1::new();
    let mut size = 0u64;
    let mut kept = keeping.then(Vec::new);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = entry.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha256.update(&buf[..n]);
        sha1.update(&buf[..n]);
        size += n as u64;
        if let Some(k) = &mut kept {
            k.extend_from_slice(&buf[..n]);
        }
    }
    Ok((
        FileFacts {
            size,
            sha256: hex::encode(sha256.finalize()),
            sha1: hex::encode(sha1.finalize()),
        },
        kept,
    ))
}

#[cfg(test)]
mod tests;
