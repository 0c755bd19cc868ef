//! Image attestations in the layout BuildKit writes (its "attestation
//! storage"), so `docker buildx imagetools inspect` and registries find
//! them: per platform manifest, one more manifest in the index, with the
//! platform `unknown/unknown` and the annotations
//! `vnd.docker.reference.type: attestation-manifest` and
//! `vnd.docker.reference.digest: <platform manifest>`; its config is the
//! `unknown/unknown` image config BuildKit writes, and each layer is one
//! in-toto statement (`application/vnd.in-toto+json`, annotated with its
//! `in-toto.io/predicate-type`).
//!
//! This file only lays statements out; what they say (SBOM, provenance)
//! is the packagers' and `exec` gathers it. Also the reading side's words,
//! for `matrix verify`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::error::ImageError;
use super::oci::{
    Descriptor, ImageConfig, ImageManifest, Layout, MEDIA_TYPE_CONFIG, MEDIA_TYPE_MANIFEST,
    Platform, RootFs, RuntimeConfig,
};

/// Annotation naming what kind of artifact an index entry is.
pub const REFERENCE_TYPE: &str = "vnd.docker.reference.type";
/// Annotation naming the manifest an attestation manifest is about.
pub const REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";
/// [`REFERENCE_TYPE`]'s value for an attestation manifest.
pub const ATTESTATION_MANIFEST: &str = "attestation-manifest";
/// Layer annotation repeating the statement's predicate type.
pub const PREDICATE_TYPE: &str = "in-toto.io/predicate-type";
pub const MEDIA_TYPE_IN_TOTO: &str = "application/vnd.in-toto+json";
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_SPDX: &str = "https://spdx.dev/Document";
pub const PREDICATE_SLSA_V1: &str = "https://slsa.dev/provenance/v1";
/// The platform of an attestation manifest, so no runtime ever pulls it.
pub const UNKNOWN: &str = "unknown";

/// An in-toto Statement v1 about the manifest `digest`, one subject per
/// name (BuildKit names each image reference, see [`image_purl`]).
pub fn statement(names: &[String], digest: &str, predicate_type: &str, predicate: Value) -> Value {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    let subject: Vec<Value> = names
        .iter()
        .map(|name| json!({"name": name, "digest": {"sha256": hex}}))
        .collect();
    json!({
        "_type": STATEMENT_V1,
        "subject": subject,
        "predicateType": predicate_type,
        "predicate": predicate,
    })
}

/// Stores the statements about `target` (a platform manifest) as its
/// attestation manifest; the descriptor to list in the index.
pub fn put(
    layout: &Layout,
    target: &Descriptor,
    statements: &[(String, Vec<u8>)],
) -> Result<Descriptor, ImageError> {
    let mut layers = Vec::with_capacity(statements.len());
    for (predicate_type, bytes) in statements {
        let mut d = layout.put_bytes(MEDIA_TYPE_IN_TOTO, bytes)?;
        d.annotations
            .insert(PREDICATE_TYPE.to_string(), predicate_type.clone());
        layers.push(d);
    }
    // BuildKit's attestation config: the unknown platform and the
    // statements' digests as diff_ids.
    let config = ImageConfig {
        created: None,
        architecture: UNKNOWN.to_string(),
        os: UNKNOWN.to_string(),
        variant: None,
        config: RuntimeConfig::default(),
        rootfs: RootFs {
            kind: "layers".to_string(),
            diff_ids: layers.iter().map(|l| l.digest.clone()).collect(),
        },
        history: Vec::new(),
    };
    let config = layout.put_json(MEDIA_TYPE_CONFIG, &config)?;
    let manifest = ImageManifest::new(config, layers);
    let mut d = layout.put_json(MEDIA_TYPE_MANIFEST, &manifest)?;
    d.platform = Some(Platform::new(UNKNOWN, UNKNOWN, None));
    d.annotations = BTreeMap::from([
        (REFERENCE_DIGEST.to_string(), target.digest.clone()),
        (REFERENCE_TYPE.to_string(), ATTESTATION_MANIFEST.to_string()),
    ]);
    Ok(d)
}

/// Whether an index entry is an attestation manifest; the manifest it is
/// about when so.
pub fn attests(d: &Descriptor) -> Option<&str> {
    (d.annotations.get(REFERENCE_TYPE).map(String::as_str) == Some(ATTESTATION_MANIFEST))
        .then(|| d.annotations.get(REFERENCE_DIGEST).map(String::as_str))
        .flatten()
}

/// An image reference as a package URL, the way BuildKit names an
/// attestation's subject (`purl.RefToPURL`): the familiar name's folders
/// as namespace, its last part as name, the tag as version and the
/// platform as a qualifier: `pkg:docker/ghcr.io/you/app@1.0?platform=linux%2Famd64`.
pub fn image_purl(repository: &str, tag: &str, platform: &Platform) -> String {
    let familiar = familiar(repository);
    let segments: Vec<String> = familiar.split('/').map(purl_encode).collect();
    format!(
        "pkg:docker/{}@{}?platform={}",
        segments.join("/"),
        purl_encode(tag),
        purl_encode(&platform.to_string())
    )
}

/// Docker's familiar name: Docker Hub's domain and `library/` left out.
fn familiar(repository: &str) -> &str {
    let r = repository
        .strip_prefix("docker.io/")
        .or_else(|| repository.strip_prefix("index.docker.io/"))
        .unwrap_or(repository);
    match r.strip_prefix("library/") {
        Some(rest) if !rest.contains('/') => rest,
        _ => r,
    }
}

/// Percent-encoding of a purl part (a name segment, a version, a
/// qualifier's value): all but unreserved characters. The one both the
/// image SBOMs and the archives' (`packager::sbom`) use.
pub fn purl_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_name_images_as_buildkit_does() {
        let amd64 = Platform::new("linux", "amd64", None);
        let armv7 = Platform::new("linux", "arm", Some("v7"));
        assert_eq!(
            image_purl("ghcr.io/you/app", "1.0.0", &amd64),
            "pkg:docker/ghcr.io/you/app@1.0.0?platform=linux%2Famd64"
        );
        assert_eq!(
            image_purl("docker.io/library/hello", "1.0.0", &armv7),
            "pkg:docker/hello@1.0.0?platform=linux%2Farm%2Fv7"
        );
        assert_eq!(
            image_purl("127.0.0.1:5000/t/hello", "latest", &amd64),
            "pkg:docker/127.0.0.1%3A5000/t/hello@latest?platform=linux%2Famd64"
        );
    }

    #[test]
    fn an_attestation_manifest_is_laid_out_as_buildkit_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let target = layout.put_bytes(MEDIA_TYPE_MANIFEST, b"{}").unwrap();
        let s = statement(
            &["n".into()],
            &target.digest,
            PREDICATE_SPDX,
            json!({"spdxVersion": "SPDX-2.3"}),
        );
        let bytes = serde_json::to_vec(&s).unwrap();
        let d = put(&layout, &target, &[(PREDICATE_SPDX.into(), bytes.clone())]).unwrap();
        assert_eq!(attests(&d), Some(target.digest.as_str()));
        assert_eq!(d.platform.as_ref().unwrap().os, "unknown");
        let m: ImageManifest = layout.read_json(&d.digest).unwrap();
        assert_eq!(m.layers[0].media_type, MEDIA_TYPE_IN_TOTO);
        assert_eq!(m.layers[0].annotations[PREDICATE_TYPE], PREDICATE_SPDX);
        let config = layout.read_blob(&m.config.digest).unwrap();
        assert_eq!(
            String::from_utf8(config).unwrap(),
            format!(
                r#"{{"architecture":"unknown","os":"unknown","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
                m.layers[0].digest
            )
        );
        let back: Value =
            serde_json::from_slice(&layout.read_blob(&m.layers[0].digest).unwrap()).unwrap();
        assert_eq!(back["_type"], STATEMENT_V1);
        assert_eq!(
            back["subject"][0]["digest"]["sha256"],
            target.digest.strip_prefix("sha256:").unwrap()
        );
    }
}
