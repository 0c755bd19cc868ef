//! `manifest.json`: the machine-readable record of a release.
//!
//! Written last by the manifest job, only when every other job succeeded, so
//! its presence means the release in dist/ is complete. Later commands
//! (merge, publish, channel renderers) read it instead of re-deriving
//! anything. The format is versioned by `format_version`; additions keep the
//! version, removals or changes of meaning bump it. Lists are sorted.

use std::io::Read;
use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::archive::Format;
use super::atomic::write_atomic;
use super::checksum::Algorithm;

/// The value of the `format` field, so a reader can tell what it holds.
pub const FORMAT: &str = "matrix-manifest";

/// The manifest's file name in dist/.
pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub project: Project,
    pub version: String,
    pub tag: String,
    pub commit: String,
    pub commit_date: String,
    /// The timestamp every archive entry carries (SOURCE_DATE_EPOCH or commit time).
    pub timestamp: i64,
    pub is_snapshot: bool,
    pub config_sha256: String,
    pub checksum: ChecksumFile,
    pub targets: Vec<Target>,
    pub artifacts: Vec<Artifact>,
    /// Container images, one per variant, in plan order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    /// Set in a shard's manifest (`matrix build --shard i/N`): which slice
    /// of the plan's targets this folder holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// In a shard's manifest: the image platforms it built (their blobs are
    /// in its `images/oci/<variant>/` folder), for the merge's indexes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_parts: Vec<ImagePart>,
    /// Set by `matrix merge --allow-partial`: the targets this release
    /// lacks. A release with this field is not complete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_targets: Vec<String>,
    pub jobs: Vec<Job>,
}

/// One platform image a shard built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImagePart {
    /// The variant's id, e.g. `debian`.
    pub variant: String,
    pub platform: String,
    pub descriptor: crate::image::oci::Descriptor,
    pub native: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_tag: Option<String>,
}

/// The slice of a plan one shard built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// 1-based.
    pub index: usize,
    pub total: usize,
    /// Ids of the targets this shard built, in plan order. The merge never
    /// believes it: it recomputes the split and compares.
    pub targets: Vec<String>,
    /// The weight of every target of the plan the split was computed with
    /// (`build --shard i/N --history ...`), by target id; absent when every
    /// target weighed the same. The merge recomputes the split from them
    /// and requires every shard to carry the same ones, so the shards of
    /// one merge always partition the plan's targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<std::collections::BTreeMap<String, f64>>,
}

/// One multi-platform image of the release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// The variant, e.g. `debian`.
    pub id: String,
    pub values: IndexMap<String, String>,
    pub repositories: Vec<String>,
    pub tags: Vec<String>,
    /// Digest of the OCI image index every tag points at.
    pub digest: String,
    /// The OCI layout archive in dist/, when written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    pub platforms: Vec<ImagePlatform>,
    /// `repository:tag@digest` for every push done.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pushed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImagePlatform {
    pub platform: String,
    /// Digest of the platform's image manifest.
    pub digest: String,
    /// Assembled by matrix without an engine.
    pub native: bool,
    /// Its single-platform tag in the engine, for engine builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub name: String,
    pub description: String,
    pub homepage: String,
    pub license: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecksumFile {
    pub algorithm: Algorithm,
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub id: String,
    pub values: IndexMap<String, String>,
    /// `[build] verify`: false when the target's artifact is not an
    /// executable, so `matrix verify` checks its bytes but looks for no
    /// binary in it. Written only when false.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub verify: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    /// A per-target archive (tar.gz, zip, ...).
    Archive,
    /// A per-target bare binary (`format = "binary"`).
    Binary,
    /// The release's checksums file.
    Checksums,
    /// A container image as an OCI image layout archive (`--oci-dir`).
    Image,
    /// A rendered channel file (formula, snapcraft.yaml, nuspec, ...).
    Channel,
    /// A channel package matrix built (.snap, .nupkg).
    Package,
    /// The release notes.
    Notes,
    /// A per-target SBOM (CycloneDX or SPDX JSON, `[sbom]`).
    Sbom,
    /// A detached signature of another artifact (`[sign]`).
    Signature,
    /// The public key the signatures verify with (`[sign]`).
    Key,
    /// The release's signed in-toto provenance (`[sign]`, minisign).
    Provenance,
}

impl ArtifactKind {
    /// What a target's archive job records for an output of `format`: the
    /// build and the merge decide it here, once.
    pub fn of_target_output(format: Format) -> ArtifactKind {
        if format == Format::Binary {
            ArtifactKind::Binary
        } else {
            ArtifactKind::Archive
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// File name, unique in the release.
    pub name: String,
    /// Path relative to dist/.
    pub path: String,
    pub kind: ArtifactKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// Target id for per-target artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub size: u64,
    /// `<algorithm>:<hex>`, e.g. `sha256:9f86...`.
    pub digest: String,
    /// For per-target artifacts: what the verified binary inside is
    /// (format, machine, bits, OS, static/dynamic, size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<crate::inspect::Inspected>,
}

impl Artifact {
    /// The record of a release-wide file (`name` is also its path in
    /// dist/) whose bytes are in hand.
    pub fn of_bytes(
        name: &str,
        bytes: &[u8],
        kind: ArtifactKind,
        algorithm: Algorithm,
    ) -> Artifact {
        let mut h = super::checksum::Hasher::new(algorithm);
        h.update(bytes);
        Artifact::release_file(name, kind, algorithm, h.finalize_hex(), bytes.len() as u64)
    }

    /// The record of a release-wide file already written to `path`, hashed
    /// by streaming it.
    pub fn of_file(
        name: &str,
        path: &Path,
        kind: ArtifactKind,
        algorithm: Algorithm,
    ) -> std::io::Result<Artifact> {
        let (hex, size) = super::checksum::hash_file(path, algorithm)?;
        Ok(Artifact::release_file(name, kind, algorithm, hex, size))
    }

    fn release_file(
        name: &str,
        kind: ArtifactKind,
        algorithm: Algorithm,
        hex: String,
        size: u64,
    ) -> Artifact {
        Artifact {
            name: name.to_string(),
            path: name.to_string(),
            kind,
            format: None,
            target: None,
            size,
            digest: format!("{}:{hex}", algorithm.name()),
            binary: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub status: String,
    pub duration_ms: u64,
    /// Restored from the action cache instead of run (absent when run).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restored: bool,
}

impl Manifest {
    /// Sorts every list so the file only changes when the release does.
    pub fn normalize(&mut self) {
        self.artifacts.sort_by(|a, b| a.name.cmp(&b.name));
        // Targets and jobs keep plan order, which is itself deterministic.
    }

    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let bytes = self.to_json().map_err(std::io::Error::other)?;
        write_atomic(path, &bytes)
    }

    /// Reads a manifest of at most [`MAX_BYTES`]: the length is checked
    /// before anything is read, and the read itself is bounded, so a huge
    /// (or growing) file is refused without being loaded.
    pub fn read(path: &Path) -> std::io::Result<Manifest> {
        Manifest::from_reader(open_bounded(path)?)
    }

    /// Reads a manifest from a stream (an archive member, say), refusing it
    /// once it passes [`MAX_BYTES`].
    pub fn from_reader(reader: impl Read) -> std::io::Result<Manifest> {
        let bytes = super::capped::read_to_end(reader, MAX_BYTES, 0)?
            .ok_or_else(|| too_big(&format!("more than {MAX_BYTES} bytes")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

/// The largest manifest.json matrix reads. A 16-target release's weighs
/// 13 KiB (about 800 bytes a target: its record, its archive's, its
/// jobs'), so a thousand targets stay under 1 MiB; 64 MiB leaves room for
/// any real release (images and channels add a few records each) and
/// stops a hostile file from taking the memory.
pub const MAX_BYTES: u64 = 64 << 20;

/// Opens a manifest.json (the release's, or `--history`'s) after checking
/// its length against [`MAX_BYTES`]; read it with [`Manifest::from_reader`]
/// or another bounded reader.
pub fn open_bounded(path: &Path) -> std::io::Result<std::io::Take<std::fs::File>> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > MAX_BYTES {
        return Err(too_big(&format!("{len} bytes")));
    }
    // A file still growing is cut one byte past the cap, and refused.
    Ok(file.take(MAX_BYTES + 1))
}

fn too_big(size: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::FileTooLarge,
        format!(
            "{} is {size}; a manifest may have at most {MAX_BYTES} bytes (64 MiB)",
            MANIFEST
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sorts() {
        let artifact = |name: &str| Artifact {
            name: name.into(),
            path: name.into(),
            kind: ArtifactKind::Archive,
            format: Some(Format::TarGz),
            target: Some("linux/amd64".into()),
            size: 3,
            digest: "sha256:00".into(),
            binary: None,
        };
        let mut m = Manifest {
            format: FORMAT.into(),
            format_version: 1,
            project: Project {
                name: "hello".into(),
                description: String::new(),
                homepage: String::new(),
                license: "MIT".into(),
            },
            version: "1.0.0".into(),
            tag: "v1.0.0".into(),
            commit: "abc".into(),
            commit_date: "2026-01-01T00:00:00Z".into(),
            timestamp: 0,
            is_snapshot: false,
            config_sha256: "00".into(),
            checksum: ChecksumFile {
                algorithm: Algorithm::Sha256,
                file: "sums.txt".into(),
            },
            targets: vec![],
            artifacts: vec![artifact("b.tar.gz"), artifact("a.tar.gz")],
            images: vec![],
            shard: None,
            image_parts: vec![],
            missing_targets: vec![],
            jobs: vec![],
        };
        m.normalize();
        assert_eq!(m.artifacts[0].name, "a.tar.gz");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        m.write(&path).unwrap();
        assert_eq!(Manifest::read(&path).unwrap(), m);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with("}\n"));
        assert!(text.contains("\"format\": \"tar.gz\""));
    }

    #[test]
    fn an_oversized_manifest_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        // Sparse: 65 MiB of length, no data written, nothing to load.
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(MAX_BYTES + (1 << 20)).unwrap();
        let err = Manifest::read(&path).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::FileTooLarge);
        assert!(
            err.to_string()
                .contains("manifest.json is 68157440 bytes; a manifest may have at most"),
            "{err}"
        );
        // A stream (an archive member) is cut at the cap, not read whole.
        let endless = std::io::repeat(b' ');
        let err = Manifest::from_reader(endless).unwrap_err();
        assert!(
            err.to_string().contains("more than 67108864 bytes"),
            "{err}"
        );
        // Not JSON: the parser's line and column.
        let err = Manifest::from_reader(&b"{\n  oops"[..]).unwrap_err();
        assert!(err.to_string().contains("line 2 column 3"), "{err}");
    }
}
