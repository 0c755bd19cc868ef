//! OCI image structures and the on-disk image layout.
//!
//! Every image matrix builds or imports ends up here: as content-addressed
//! blobs in an OCI image layout folder (`oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`), from which multi-platform indexes are assembled
//! without a daemon, `<name>.oci.tar` archives are written to dist/, and the
//! registry client pushes. This module owns the serde types (field names as
//! in the image-spec, optional fields skipped so the JSON is canonical), the
//! [`Layout`] store, and [`write_archive`].

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest as _, Sha256};
use tempfile::NamedTempFile;

use super::error::ImageError;

mod archive;
mod layer;

pub use archive::write_archive;
pub use layer::{LayerWriter, diff_id};

pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_TYPE_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_TYPE_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Annotation naming an image (its tag) in a layout's `index.json`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_VERSION: &str = "1.0.0";
const INDEX_FILE: &str = "index.json";
/// Prefix of temporary files; [`write_archive`] skips names starting with `.`.
pub(crate) const PARTIAL_PREFIX: &str = ".partial-";

/// A reference to a blob: what it is, its digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    /// `sha256:<64 lowercase hex>`.
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The platform an image runs on, in OCI/Go spelling (`amd64`, `arm64`,
/// `arm` + `v7`, `386`, `ppc64le`, `s390x`, `riscv64`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Platform {
            architecture: architecture.to_string(),
            os: os.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    /// Parses `os/arch[/variant]`, as in `docker build --platform`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('/');
        let os = parts.next().filter(|s| !s.is_empty())?;
        let arch = parts.next().filter(|s| !s.is_empty())?;
        let variant = parts.next();
        if parts.next().is_some() || variant == Some("") {
            return None;
        }
        Some(Platform::new(os, arch, variant))
    }

    /// The variant an engine assumes when none is given: images for arm64
    /// are v8 and for arm v7 whether or not their config says so, so two
    /// platforms differing only by that are the same.
    fn effective_variant(&self) -> Option<&str> {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            ("arm64", None) => Some("v8"),
            ("arm", None) => Some("v7"),
            (_, v) => v,
        }
    }

    /// Whether both name the same platform (see [`Self::effective_variant`]).
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && self.effective_variant() == other.effective_variant()
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An image manifest: one platform's config and layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ImageManifest {
    pub fn new(config: Descriptor, layers: Vec<Descriptor>) -> Self {
        ImageManifest {
            schema_version: 2,
            media_type: MEDIA_TYPE_MANIFEST.to_string(),
            config,
            layers,
            annotations: BTreeMap::new(),
        }
    }
}

/// An image index: a multi-platform image, or a layout's `index.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ImageIndex {
    pub fn new(manifests: Vec<Descriptor>) -> Self {
        ImageIndex {
            schema_version: 2,
            media_type: MEDIA_TYPE_INDEX.to_string(),
            manifests,
            annotations: BTreeMap::new(),
        }
    }
}

/// An image config. Unknown fields (docker writes many) are ignored when
/// reading; imported configs are copied byte for byte, never re-serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub config: RuntimeConfig,
    pub rootfs: RootFs,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub history: Vec<History>,
}

impl ImageConfig {
    pub fn platform(&self) -> Platform {
        Platform::new(&self.os, &self.architecture, self.variant.as_deref())
    }
}

/// How a container of the image runs (the config's `config` object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    #[serde(
        rename = "User",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub user: String,
    #[serde(
        rename = "ExposedPorts",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub exposed_ports: BTreeMap<String, Empty>,
    #[serde(
        rename = "Env",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<String>,
    #[serde(
        rename = "Entrypoint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(
        rename = "WorkingDir",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub working_dir: String,
    #[serde(
        rename = "Labels",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
}

/// The `{}` value of an `ExposedPorts` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// sha256 of each *uncompressed* layer tar, bottom first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub diff_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// Docker writes `null` for empty lists and maps; read it as empty.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The hex part of a digest, checked so it can safely name a file.
pub fn digest_hex(digest: &str) -> Result<&str, ImageError> {
    let bad = || ImageError::BadDigest {
        digest: digest.to_string(),
    };
    let hex = digest.strip_prefix("sha256:").ok_or_else(bad)?;
    let valid = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if valid { Ok(hex) } else { Err(bad()) }
}

/// Serialises a value the one way matrix does (compact, field order fixed by
/// the types, maps sorted), so equal values give equal digests.
pub fn canonical_json<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>, ImageError> {
    serde_json::to_vec(value).map_err(|source| ImageError::Json {
        what: what.to_string(),
        source,
    })
}

/// An OCI image layout folder.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Creates the layout (or completes an existing one): `oci-layout`,
    /// `blobs/sha256/` and an empty `index.json` if there is none yet.
    pub fn create(dir: &Path) -> Result<Layout, ImageError> {
        let blobs = dir.join("blobs").join("sha256");
        fs::create_dir_all(&blobs).map_err(|e| ImageError::io(&blobs, e))?;
        let marker = dir.join(LAYOUT_FILE);
        let content = format!("{{\"imageLayoutVersion\":\"{LAYOUT_VERSION}\"}}");
        if fs::read_to_string(&marker).ok().as_deref() != Some(content.as_str()) {
            write_atomic(&marker, content.as_bytes())?;
        }
        let layout = Layout {
            root: dir.to_path_buf(),
        };
        if !dir.join(INDEX_FILE).exists() {
            layout.write_index(&[])?;
        }
        Ok(layout)
    }

    /// Opens an existing layout, checking its `oci-layout` marker.
    pub fn open(dir: &Path) -> Result<Layout, ImageError> {
        let marker = dir.join(LAYOUT_FILE);
        let not_layout = |reason: String| ImageError::NotALayout {
            path: dir.to_path_buf(),
            reason,
        };
        let text =
            fs::read(&marker).map_err(|e| not_layout(format!("cannot read {LAYOUT_FILE}: {e}")))?;
        #[derive(Deserialize)]
        struct Marker {
            #[serde(rename = "imageLayoutVersion")]
            version: String,
        }
        let parsed: Marker = serde_json::from_slice(&text)
            .map_err(|e| not_layout(format!("{LAYOUT_FILE} is not valid: {e}")))?;
        if parsed.version != LAYOUT_VERSION {
            return Err(not_layout(format!(
                "layout version {:?} (matrix reads {LAYOUT_VERSION})",
                parsed.version
            )));
        }
        if !dir.join("blobs").join("sha256").is_dir() {
            return Err(not_layout("blobs/sha256 is missing".to_string()));
        }
        Ok(Layout {
            root: dir.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    /// Where the blob with this digest lives (whether or not it exists).
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        Ok(self.blobs_dir().join(digest_hex(digest)?))
    }

    /// Stores bytes as a blob. A blob already present is not rewritten, so
    /// layouts can be shared by the builds of several platforms.
    pub fn put_bytes(&self, media_type: &str, bytes: &[u8]) -> Result<Descriptor, ImageError> {
        let digest = sha256_digest(bytes);
        let path = self.blob_path(&digest)?;
        let present = fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64);
        if !present {
            let mut writer = self.blob_writer(media_type)?;
            writer
                .write_all(bytes)
                .map_err(|e| ImageError::io(&path, e))?;
            writer.finish()?;
        }
        Ok(descriptor(media_type, digest, bytes.len() as u64))
    }

    /// Stores a value as canonical JSON.
    pub fn put_json<T: Serialize>(
        &self,
        media_type: &str,
        value: &T,
    ) -> Result<Descriptor, ImageError> {
        self.put_bytes(media_type, &canonical_json(value, media_type)?)
    }

    /// A writer that hashes what it is given and becomes a blob on
    /// [`BlobWriter::finish`]; dropped unfinished, it leaves nothing behind.
    pub fn blob_writer(&self, media_type: &str) -> Result<BlobWriter, ImageError> {
        let dir = self.blobs_dir();
        let temp = tempfile::Builder::new()
            .prefix(PARTIAL_PREFIX)
            .tempfile_in(&dir)
            .map_err(|e| ImageError::io(&dir, e))?;
        Ok(BlobWriter {
            out: BufWriter::new(temp),
            hasher: Sha256::new(),
            size: 0,
            media_type: media_type.to_string(),
            dir,
        })
    }

    /// Reads a blob, checking it still matches its digest.
    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.blob_path(digest)?;
        let bytes = fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ImageError::BlobMissing {
                digest: digest.to_string(),
                layout: self.root.clone(),
            },
            _ => ImageError::io(&path, e),
        })?;
        let actual = sha256_digest(&bytes);
        if actual != digest {
            return Err(ImageError::Corrupt {
                path,
                expected: digest.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Reads and parses a JSON blob (manifest, index, config).
    pub fn read_json<T: DeserializeOwned>(&self, digest: &str) -> Result<T, ImageError> {
        let bytes = self.read_blob(digest)?;
        serde_json::from_slice(&bytes).map_err(|source| ImageError::Json {
            what: format!("blob {digest}"),
            source,
        })
    }

    /// Writes `index.json` listing these manifests (or indexes), in the
    /// given order. Name them with [`ANNOTATION_REF_NAME`].
    pub fn write_index(&self, manifests: &[Descriptor]) -> Result<(), ImageError> {
        let index = ImageIndex::new(manifests.to_vec());
        write_atomic(
            &self.root.join(INDEX_FILE),
            &canonical_json(&index, INDEX_FILE)?,
        )
    }

    pub fn read_index(&self) -> Result<ImageIndex, ImageError> {
        let path = self.root.join(INDEX_FILE);
        let bytes = fs::read(&path).map_err(|e| ImageError::io(&path, e))?;
        serde_json::from_slice(&bytes).map_err(|source| ImageError::Json {
            what: path.display().to_string(),
            source,
        })
    }

    /// Stores a multi-platform image index over per-platform manifests.
    /// Manifests are sorted by platform so that the index digest does not
    /// depend on the order in which platforms finished (or which shard built
    /// them).
    pub fn put_image_index(&self, manifests: &[Descriptor]) -> Result<Descriptor, ImageError> {
        self.put_attested_index(manifests, &[])
    }

    /// [`Self::put_image_index`] with attestation manifests
    /// ([`super::attestation`]) listed after every platform, in the order
    /// of the platforms they are about, as BuildKit lists them.
    pub fn put_attested_index(
        &self,
        manifests: &[Descriptor],
        attestations: &[Descriptor],
    ) -> Result<Descriptor, ImageError> {
        let mut sorted = Vec::with_capacity(manifests.len());
        for m in manifests {
            let platform = m
                .platform
                .clone()
                .ok_or_else(|| ImageError::MissingPlatform {
                    digest: m.digest.clone(),
                })?;
            sorted.push((platform, m.clone()));
        }
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for pair in sorted.windows(2) {
            if pair[0].0.matches(&pair[1].0) {
                return Err(ImageError::DuplicatePlatform {
                    platform: pair[0].0.to_string(),
                    first: pair[0].1.digest.clone(),
                    second: pair[1].1.digest.clone(),
                });
            }
        }
        let mut listed: Vec<Descriptor> = sorted.into_iter().map(|(_, d)| d).collect();
        let mut attached: Vec<(usize, &Descriptor)> = attestations
            .iter()
            .map(|a| {
                let about = super::attestation::attests(a).unwrap_or_default();
                let at = listed.iter().position(|m| m.digest == about);
                at.map(|i| (i, a)).ok_or_else(|| ImageError::Attestation {
                    what: a.digest.clone(),
                    reason: format!("it is about {about:?}, which is not a manifest of the index"),
                })
            })
            .collect::<Result<_, _>>()?;
        attached.sort_by_key(|(i, _)| *i);
        listed.extend(attached.into_iter().map(|(_, a)| a.clone()));
        let index = ImageIndex::new(listed);
        self.put_json(MEDIA_TYPE_INDEX, &index)
    }
}

fn descriptor(media_type: &str, digest: String, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest,
        size,
        platform: None,
        annotations: BTreeMap::new(),
    }
}

/// See [`Layout::blob_writer`].
pub struct BlobWriter {
    out: BufWriter<NamedTempFile>,
    hasher: Sha256,
    size: u64,
    media_type: String,
    dir: PathBuf,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl BlobWriter {
    /// Renames the finished blob to its digest and describes it.
    pub fn finish(self) -> Result<Descriptor, ImageError> {
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        let dest = self.dir.join(digest_hex(&digest)?);
        let temp = self
            .out
            .into_inner()
            .map_err(|e| ImageError::io(&dest, e.into_error()))?;
        commit(temp, &dest)?;
        Ok(descriptor(&self.media_type, digest, self.size))
    }
}

/// Makes a finished temporary file visible under its real name, with the
/// fixed mode 0644 (tempfile creates 0600).
pub(crate) fn commit(temp: NamedTempFile, dest: &Path) -> Result<(), ImageError> {
    temp.as_file()
        .sync_all()
        .map_err(|e| ImageError::io(dest, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o644))
            .map_err(|e| ImageError::io(dest, e))?;
    }
    temp.persist(dest)
        .map_err(|e| ImageError::io(dest, e.error))?;
    Ok(())
}

/// Writes a whole file atomically (temporary name in the same folder, then
/// rename), so no reader ever sees half of it.
pub(crate) fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let dir = parent_dir(dest);
    let mut temp = tempfile::Builder::new()
        .prefix(PARTIAL_PREFIX)
        .tempfile_in(dir)
        .map_err(|e| ImageError::io(dir, e))?;
    temp.write_all(bytes).map_err(|e| ImageError::io(dest, e))?;
    commit(temp, dest)
}

pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests;
