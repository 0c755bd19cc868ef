//! The image attestations inside a release's OCI archives (`--oci-dir`,
//! with `[sbom]`): every attestation manifest of a variant's index must be
//! about one of the index's platform manifests, and every in-toto
//! statement in it must have that manifest's digest as its subject.
//!
//! Part of `matrix verify` ([`super::release`]). The archive is read like
//! any file a stranger hands over: its members are only listed (at most
//! [`MAX_MEMBERS`]), and only the JSON blobs the walk needs are read, each
//! capped and checked against its digest.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::Report;
use crate::image::attestation::{self, MEDIA_TYPE_IN_TOTO};
use crate::image::oci::{Descriptor, ImageIndex, ImageManifest, MEDIA_TYPE_INDEX};
use crate::package::manifest::{ArtifactKind, Manifest};

/// Members an OCI archive may have.
const MAX_MEMBERS: usize = 1_000_000;
/// An index or manifest larger than this is not read.
const MAX_MANIFEST: u64 = 4 << 20;
/// A statement (an image's SBOM lists every file) larger than this is not
/// read: the Debian base image's SPDX statement is 2.5 MB; this leaves room
/// for images with twenty-five times its files. Only the subject is kept.
const MAX_STATEMENT: u64 = 64 << 20;

/// The one part of an in-toto statement the check reads; serde skips the
/// predicate (the SBOM, most of the bytes) without building it.
#[derive(serde::Deserialize)]
struct Statement {
    #[serde(default)]
    subject: Vec<Subject>,
}

#[derive(serde::Deserialize)]
struct Subject {
    #[serde(default)]
    digest: SubjectDigest,
}

#[derive(Default, serde::Deserialize)]
struct SubjectDigest {
    #[serde(default)]
    sha256: String,
}

pub(super) fn check(dir: &Path, manifest: &Manifest, report: &mut Report) {
    for a in manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Image && a.path.ends_with(".oci.tar"))
    {
        if let Err(why) = check_archive(&dir.join(&a.path)) {
            report.problems.push(format!("{}: {why}", a.path));
        }
    }
}

/// An OCI archive's members: name to (offset, size).
struct Members {
    file: File,
    at: BTreeMap<String, (u64, u64)>,
}

impl Members {
    fn open(path: &Path) -> Result<Members, String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let mut archive = tar::Archive::new(file);
        let mut at = BTreeMap::new();
        for entry in archive.entries_with_seek().map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| format!("not a tar archive: {e}"))?;
            if at.len() >= MAX_MEMBERS {
                return Err(format!("more than {MAX_MEMBERS} members"));
            }
            let name = String::from_utf8_lossy(&entry.path_bytes())
                .trim_start_matches("./")
                .to_string();
            at.insert(name, (entry.raw_file_position(), entry.size()));
        }
        let file = archive.into_inner();
        Ok(Members { file, at })
    }

    /// A member's bytes, at most `max` of them.
    fn read(&mut self, name: &str, max: u64) -> Result<Vec<u8>, String> {
        let &(offset, size) = self
            .at
            .get(name)
            .ok_or_else(|| format!("{name} is missing"))?;
        if size > max {
            return Err(format!("{name} is {size} bytes, more than the {max} read"));
        }
        self.file
            .seek(SeekFrom::Start(offset))
            .map_err(|e| e.to_string())?;
        let mut bytes = Vec::with_capacity(size as usize);
        (&mut self.file)
            .take(size)
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
        Ok(bytes)
    }

    /// A blob, checked against its digest.
    fn blob(&mut self, digest: &str, max: u64) -> Result<Vec<u8>, String> {
        let hex = crate::image::oci::digest_hex(digest).map_err(|e| e.to_string())?;
        let bytes = self.read(&format!("blobs/sha256/{hex}"), max)?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != hex {
            return Err(format!("blob {digest} holds sha256:{actual}"));
        }
        Ok(bytes)
    }

    fn json<T: serde::de::DeserializeOwned>(
        &mut self,
        d: &Descriptor,
        max: u64,
    ) -> Result<T, String> {
        let bytes = self.blob(&d.digest, max)?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", d.digest))
    }
}

fn check_archive(path: &Path) -> Result<(), String> {
    check_members(&mut Members::open(path)?)
}

fn check_members(members: &mut Members) -> Result<(), String> {
    let top: ImageIndex = serde_json::from_slice(&members.read("index.json", MAX_MANIFEST)?)
        .map_err(|e| format!("index.json: {e}"))?;
    let mut seen = Vec::new();
    for root in &top.manifests {
        if root.media_type != MEDIA_TYPE_INDEX || seen.contains(&root.digest) {
            continue;
        }
        seen.push(root.digest.clone());
        let index: ImageIndex = members.json(root, MAX_MANIFEST)?;
        check_index(members, &index)?;
    }
    Ok(())
}

fn check_index(members: &mut Members, index: &ImageIndex) -> Result<(), String> {
    let platforms: Vec<&str> = index
        .manifests
        .iter()
        .filter(|m| attestation::attests(m).is_none())
        .map(|m| m.digest.as_str())
        .collect();
    for d in &index.manifests {
        let is_attestation = d
            .annotations
            .get(attestation::REFERENCE_TYPE)
            .map(String::as_str)
            == Some(attestation::ATTESTATION_MANIFEST);
        if !is_attestation {
            continue;
        }
        let what = format!("attestation manifest {}", d.digest);
        let Some(about) = attestation::attests(d) else {
            return Err(format!("{what} names no manifest it is about"));
        };
        if !platforms.contains(&about) {
            return Err(format!(
                "{what} is about {about}, which is no platform manifest of the index"
            ));
        }
        let manifest: ImageManifest = members.json(d, MAX_MANIFEST)?;
        let want = about.strip_prefix("sha256:").unwrap_or(about);
        for layer in manifest
            .layers
            .iter()
            .filter(|l| l.media_type == MEDIA_TYPE_IN_TOTO)
        {
            let statement: Statement = members.json(layer, MAX_STATEMENT)?;
            if statement.subject.is_empty() {
                return Err(format!("{what}: statement {} has no subject", layer.digest));
            }
            for s in &statement.subject {
                let got = &s.digest.sha256;
                if got != want {
                    return Err(format!(
                        "{what}: statement {} is about sha256:{got}, not the platform manifest {about}",
                        layer.digest
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::attestation::{PREDICATE_SPDX, put, statement};
    use crate::image::oci::{Layout, MEDIA_TYPE_MANIFEST, Platform, write_archive};

    /// An OCI archive of one platform manifest and its attestation, whose
    /// statement is about `subject` (the platform manifest when `None`).
    fn archive(dir: &Path, subject: Option<&str>) -> std::path::PathBuf {
        let layout_dir = dir.join("layout");
        let layout = Layout::create(&layout_dir).unwrap();
        let mut image = layout.put_bytes(MEDIA_TYPE_MANIFEST, b"{}").unwrap();
        image.platform = Some(Platform::new("linux", "amd64", None));
        let about = subject.unwrap_or(&image.digest).to_string();
        let s = statement(&["n".into()], &about, PREDICATE_SPDX, serde_json::json!({}));
        let bytes = serde_json::to_vec(&s).unwrap();
        let att = put(&layout, &image, &[(PREDICATE_SPDX.into(), bytes)]).unwrap();
        let index = layout.put_attested_index(&[image], &[att]).unwrap();
        layout
            .write_index(&crate::image::tagged(&index, &["1.0".into()]))
            .unwrap();
        let out = dir.join("x.oci.tar");
        write_archive(&layout_dir, &out, 0).unwrap();
        out
    }

    #[test]
    fn a_statement_about_another_manifest_is_named() {
        let dir = tempfile::tempdir().unwrap();
        check_archive(&archive(dir.path(), None)).unwrap();
        let other = format!("sha256:{}", "1".repeat(64));
        let dir = tempfile::tempdir().unwrap();
        let why = check_archive(&archive(dir.path(), Some(&other))).unwrap_err();
        assert!(
            why.contains(&format!(
                "is about sha256:{}, not the platform manifest",
                "1".repeat(64)
            )),
            "{why}"
        );
    }

    #[test]
    fn review13_a_statement_over_the_cap_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = archive(dir.path(), None);
        let mut members = Members::open(&path).unwrap();
        // The statement is the archive's only in-toto blob: the one the
        // attestation manifest lists as its layer.
        let blobs: Vec<String> = members
            .at
            .keys()
            .filter(|k| k.starts_with("blobs/sha256/"))
            .cloned()
            .collect();
        let statement = blobs
            .into_iter()
            .find(|k| {
                let bytes = members.read(k, MAX_MANIFEST).unwrap();
                serde_json::from_slice::<serde_json::Value>(&bytes)
                    .is_ok_and(|v| v.get("_type").is_some())
            })
            .unwrap();
        let (offset, _) = members.at[&statement];
        // Its header says one byte over the cap: refused before any read.
        members
            .at
            .insert(statement.clone(), (offset, MAX_STATEMENT + 1));
        let why = check_members(&mut members).unwrap_err();
        assert!(
            why.contains(&format!(
                "{statement} is {} bytes, more than the {MAX_STATEMENT} read",
                MAX_STATEMENT + 1
            )),
            "{why}"
        );
        assert_eq!(MAX_STATEMENT, 64 << 20);
    }

    #[test]
    fn an_attestation_of_no_platform_and_a_changed_blob_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let image = layout.put_bytes(MEDIA_TYPE_MANIFEST, b"{}").unwrap();
        let mut att = put(&layout, &image, &[]).unwrap();
        att.annotations.insert(
            attestation::REFERENCE_DIGEST.into(),
            format!("sha256:{}", "2".repeat(64)),
        );
        let mut members = Members {
            file: File::open(layout.blob_path(&image.digest).unwrap()).unwrap(),
            at: BTreeMap::new(),
        };
        let index = ImageIndex::new(vec![image.clone(), att]);
        let why = check_index(&mut members, &index).unwrap_err();
        assert!(why.contains("which is no platform manifest"), "{why}");
        // A blob whose bytes are not its digest's.
        let path = archive(dir.path(), None);
        let mut m = Members::open(&path).unwrap();
        let name =
            m.at.keys()
                .find(|k| k.starts_with("blobs/sha256/") && k.len() > 20)
                .unwrap()
                .clone();
        let (offset, size) = m.at[&name];
        m.at.insert(name.clone(), (offset, size.saturating_sub(1)));
        let digest = format!("sha256:{}", name.trim_start_matches("blobs/sha256/"));
        assert!(
            m.blob(&digest, MAX_MANIFEST)
                .unwrap_err()
                .contains("holds sha256:")
        );
    }
}
