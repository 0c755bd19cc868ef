//! Reading an OCI image layout for a push: which blobs and manifests a root
//! descriptor needs, in the order the registry must receive them.
//!
//! Called by the registry client before any network traffic, so a broken
//! layout (missing blob, wrong size or digest, unknown media type) fails
//! early with the file named.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::Digest as _;

use super::{
    DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, Descriptor, OCI_INDEX, OCI_MANIFEST, RegistryError,
    reference,
};

/// Everything to push, in order: distinct blobs, then manifests post-order.
pub(super) struct PushPlan {
    pub(super) blobs: Vec<Descriptor>,
    pub(super) manifests: Vec<(Descriptor, Vec<u8>)>,
}

#[derive(Deserialize)]
struct IndexDoc {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct ManifestDoc {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

pub(super) fn plan_push(layout_dir: &Path, root: &Descriptor) -> Result<PushPlan, RegistryError> {
    let mut plan = PushPlan {
        blobs: Vec::new(),
        manifests: Vec::new(),
    };
    let mut seen = BTreeSet::new();
    visit(layout_dir, root, &mut plan, &mut seen)?;
    Ok(plan)
}

fn visit(
    layout_dir: &Path,
    desc: &Descriptor,
    plan: &mut PushPlan,
    seen: &mut BTreeSet<String>,
) -> Result<(), RegistryError> {
    if !seen.insert(desc.digest.clone()) {
        return Ok(());
    }
    let path = blob_path(layout_dir, &desc.digest)?;
    let bytes = std::fs::read(&path).map_err(|source| RegistryError::LayoutIo {
        path: path.clone(),
        source,
    })?;
    if bytes.len() as u64 != desc.size {
        return Err(RegistryError::SizeMismatch {
            path,
            expected: desc.size,
            actual: bytes.len() as u64,
        });
    }
    // Manifests are small, so hash them: a wrong digest here would make the
    // registry store the index under a name nobody asked for.
    let algorithm = desc.digest.split(':').next().unwrap_or("sha256");
    let actual = digest_of(algorithm, &bytes);
    if actual != desc.digest {
        return Err(RegistryError::ContentDigest {
            path,
            expected: desc.digest.clone(),
            actual,
        });
    }
    let parse_err = |source| RegistryError::ManifestJson {
        path: path.clone(),
        source,
    };
    match desc.media_type.as_str() {
        OCI_INDEX | DOCKER_MANIFEST_LIST => {
            let index: IndexDoc = serde_json::from_slice(&bytes).map_err(parse_err)?;
            for child in &index.manifests {
                visit(layout_dir, child, plan, seen)?;
            }
        }
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let manifest: ManifestDoc = serde_json::from_slice(&bytes).map_err(parse_err)?;
            for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
                if !seen.insert(blob.digest.clone()) {
                    continue;
                }
                let blob_file = blob_path(layout_dir, &blob.digest)?;
                let meta =
                    std::fs::metadata(&blob_file).map_err(|source| RegistryError::LayoutIo {
                        path: blob_file.clone(),
                        source,
                    })?;
                if meta.len() != blob.size {
                    return Err(RegistryError::SizeMismatch {
                        path: blob_file,
                        expected: blob.size,
                        actual: meta.len(),
                    });
                }
                plan.blobs.push(blob.clone());
            }
        }
        other => {
            return Err(RegistryError::UnsupportedMediaType {
                digest: desc.digest.clone(),
                media_type: other.to_owned(),
            });
        }
    }
    plan.manifests.push((desc.clone(), bytes));
    Ok(())
}

/// `blobs/<algorithm>/<hex>` inside the layout; the digest is validated
/// first so it cannot name a path outside the layout.
pub(super) fn blob_path(layout_dir: &Path, digest: &str) -> Result<PathBuf, RegistryError> {
    reference::check_digest(digest).map_err(|problem| RegistryError::BadDigest {
        context: format!("the layout {}", layout_dir.display()),
        problem,
    })?;
    let (algorithm, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    Ok(layout_dir.join("blobs").join(algorithm).join(hex))
}

pub(super) fn digest_of(algorithm: &str, bytes: &[u8]) -> String {
    match algorithm {
        "sha512" => format!("sha512:{}", hex::encode(sha2::Sha512::digest(bytes))),
        _ => format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_walk_rejects_bad_content() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let blobs = root.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let manifest = br#"{"schemaVersion":2,"config":{"mediaType":"c","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[]}"#;
        let digest = digest_of("sha256", manifest);
        std::fs::write(blobs.join(&digest[7..]), manifest).unwrap();
        let desc = |media_type: &str, digest: &str, size: u64| Descriptor {
            media_type: media_type.into(),
            digest: digest.into(),
            size,
        };
        let size = manifest.len() as u64;
        // Config blob missing from the layout.
        assert!(matches!(
            plan_push(root, &desc(OCI_MANIFEST, &digest, size)),
            Err(RegistryError::LayoutIo { .. })
        ));
        assert!(matches!(
            plan_push(root, &desc(OCI_MANIFEST, &digest, size + 1)),
            Err(RegistryError::SizeMismatch { .. })
        ));
        assert!(matches!(
            plan_push(root, &desc("text/plain", &digest, size)),
            Err(RegistryError::UnsupportedMediaType { .. })
        ));
        assert!(matches!(
            plan_push(root, &desc(OCI_MANIFEST, "sha256:../../etc", 1)),
            Err(RegistryError::BadDigest { .. })
        ));
        let wrong = format!("sha256:{}", "1".repeat(64));
        std::fs::write(blobs.join("1".repeat(64)), manifest).unwrap();
        assert!(matches!(
            plan_push(root, &desc(OCI_MANIFEST, &wrong, size)),
            Err(RegistryError::ContentDigest { .. })
        ));
        std::fs::write(blobs.join("0".repeat(64)), "{}").unwrap();
        let plan = plan_push(root, &desc(OCI_MANIFEST, &digest, size)).ok();
        assert_eq!(
            plan.map(|p| (p.blobs.len(), p.manifests.len())),
            Some((1, 1))
        );
    }
}
