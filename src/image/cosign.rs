//! Image signatures in cosign's registry layout: what `cosign sign --key`
//! stores next to an image, byte for byte, so `cosign verify --key` checks
//! the images matrix pushed.
//!
//! Part of `image`, below any plan. This file is pure: from a manifest
//! digest, the repository and a signature it makes the simple-signing
//! payload, the signature image's config blob and its OCI manifest, and
//! decides how a signature already under the tag is kept ([`manifest`]).
//! The registry conversation is in [`push`]; the key is the caller's (a
//! signing closure and the Ed25519 public key).
//!
//! The layout (sigstore/cosign `pkg/oci`, go-containerregistry's
//! `mutate.Append` on an empty OCI image): the tag `sha256-<hex>.sig` in
//! the image's repository holds an OCI image manifest; its config is an
//! image config with empty architecture and os, the zero creation time, a
//! history entry and a diff id per layer; each layer is one signature, of
//! media type `application/vnd.dev.cosign.simplesigning.v1+json`, whose
//! blob is the payload and whose annotation
//! `dev.cosignproject.cosign/signature` is the base64 signature of those
//! bytes. JSON is written as Go writes it: compact, fields in struct
//! order, map keys sorted.
//!
//! A re-run does what cosign does: a layer with the same payload whose
//! signature verifies with the key is a duplicate and nothing changes;
//! otherwise (another key, say) the signature is appended to the ones
//! there, up to cosign's 1000.

pub mod push;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::oci::sha256_digest;

/// The media type of a signature layer.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The payload's `critical.type`.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";
/// The config media type of cosign's OCI signature images.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// cosign's limit on the signatures under one tag.
pub const MAX_SIGNATURES: usize = 1000;
/// Go's zero `time.Time`, which cosign leaves in the config unless told
/// to record the signing time.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The tag of the signatures of manifest `digest` (`sha256:<hex>` gives
/// `sha256-<hex>.sig`); `None` for anything but a sha256 digest.
pub fn tag(digest: &str) -> Option<String> {
    let hex = super::oci::digest_hex(digest).ok()?;
    Some(format!("sha256-{hex}.sig"))
}

/// The payload's `docker-reference`: the repository as
/// go-containerregistry names it (Docker Hub is `index.docker.io`).
pub fn identity(registry: &str, repository: &str) -> String {
    let registry = if registry == super::registry::reference::DOCKER_HUB {
        "index.docker.io"
    } else {
        registry
    };
    format!("{registry}/{repository}")
}

#[derive(Serialize)]
struct Payload<'a> {
    critical: Critical<'a>,
    /// cosign writes `null` when no annotations are given (`-a`).
    optional: Option<BTreeMap<String, String>>,
}

#[derive(Serialize)]
struct Critical<'a> {
    identity: Identity<'a>,
    image: Image<'a>,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct Identity<'a> {
    #[serde(rename = "docker-reference")]
    docker_reference: &'a str,
}

#[derive(Serialize)]
struct Image<'a> {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: &'a str,
}

/// The simple-signing payload cosign signs for manifest `digest` in the
/// repository named `identity` (see [`identity`]).
pub fn payload(identity: &str, digest: &str) -> Vec<u8> {
    let payload = Payload {
        critical: Critical {
            identity: Identity {
                docker_reference: identity,
            },
            image: Image {
                docker_manifest_digest: digest,
            },
            kind: SIGNATURE_TYPE,
        },
        optional: None,
    };
    serde_json::to_vec(&payload).unwrap_or_default()
}

/// A descriptor as go-containerregistry writes it: media type, size,
/// digest, then annotations when there are any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub size: u64,
    pub digest: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image manifest (the fields cosign's signature images use).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
}

/// The image config of a signature image, in go-containerregistry's
/// field order (`v1.ConfigFile`; the empty ones are left out as it does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub architecture: String,
    #[serde(default = "zero_time")]
    pub created: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    #[serde(default)]
    pub os: String,
    pub rootfs: RootFs,
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
}

/// One history entry (`v1.History`): cosign's carry only the zero time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default = "zero_time")]
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

fn zero_time() -> String {
    ZERO_TIME.to_owned()
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

impl Config {
    /// The config of a signature image with no signature yet.
    fn empty() -> Config {
        Config {
            architecture: String::new(),
            created: zero_time(),
            history: Vec::new(),
            os: String::new(),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: Vec::new(),
            },
            config: empty_object(),
        }
    }

    /// The config with one more layer, as `mutate.Append` makes it: its
    /// diff id (a signature layer is not compressed: its digest) and an
    /// empty history entry.
    fn append(mut self, diff_id: &str) -> Config {
        self.rootfs.diff_ids.push(diff_id.to_owned());
        self.history.push(History {
            author: None,
            created: zero_time(),
            created_by: None,
            comment: None,
            empty_layer: false,
        });
        self
    }
}

/// What a `.sig` tag already holds: its manifest and config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub manifest: Manifest,
    pub config: Config,
}

impl Existing {
    /// Reads a signature image's manifest and config; what is not one
    /// (another media type, a layer count the config does not match) is a
    /// problem to report, never something to overwrite.
    pub fn parse(manifest: &[u8], config: &[u8]) -> Result<Existing, String> {
        let manifest: Manifest = serde_json::from_slice(manifest)
            .map_err(|e| format!("its manifest is not an image manifest: {e}"))?;
        let config: Config = serde_json::from_slice(config)
            .map_err(|e| format!("its config is not an image config: {e}"))?;
        if manifest.schema_version != 2 {
            return Err(format!(
                "its manifest has schemaVersion {}",
                manifest.schema_version
            ));
        }
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(format!(
                "its config lists {} layers, its manifest {}",
                config.rootfs.diff_ids.len(),
                manifest.layers.len()
            ));
        }
        Ok(Existing { manifest, config })
    }

    /// The manifest's config digest, to fetch the config with: checked to
    /// be `sha256:<64 lowercase hex>`, as it goes into a URL.
    pub fn config_digest(manifest: &[u8]) -> Result<String, String> {
        let manifest: Manifest = serde_json::from_slice(manifest)
            .map_err(|e| format!("its manifest is not an image manifest: {e}"))?;
        let digest = manifest.config.digest;
        match super::oci::digest_hex(&digest) {
            Ok(_) => Ok(digest),
            Err(_) => Err(format!(
                "its config digest {digest:?} is not sha256:<64 lowercase hex digits>"
            )),
        }
    }
}

/// A signature image to push: the payload blob, the config blob and the
/// manifest that names them (and the signatures already there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureImage {
    pub payload: Vec<u8>,
    pub payload_digest: String,
    pub config: Vec<u8>,
    pub config_digest: String,
    pub manifest: Vec<u8>,
    pub manifest_digest: String,
    pub media_type: String,
    /// How many signatures the manifest holds.
    pub signatures: usize,
}

/// What to do with the `.sig` tag of one digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The tag already holds this signature: nothing to push.
    Unchanged { signatures: usize },
    /// Push this image under the tag.
    Push(SignatureImage),
}

/// The signature image for `payload` signed with `signature` (raw bytes)
/// by the Ed25519 key `public`, on top of what the tag holds.
pub fn manifest(
    existing: Option<&Existing>,
    payload: &[u8],
    signature: &[u8],
    public: &[u8; 32],
) -> Result<Outcome, String> {
    let payload_digest = sha256_digest(payload);
    let b64 = base64::engine::general_purpose::STANDARD.encode(signature);
    let (base, mut layers, media_type, config_media_type) = match existing {
        Some(e) => {
            if e.manifest
                .layers
                .iter()
                .any(|l| duplicate(l, &payload_digest, payload, public))
            {
                return Ok(Outcome::Unchanged {
                    signatures: e.manifest.layers.len(),
                });
            }
            if e.manifest.layers.len() >= MAX_SIGNATURES {
                return Err(format!(
                    "it already holds {} signatures, cosign's limit",
                    e.manifest.layers.len()
                ));
            }
            (
                e.config.clone(),
                e.manifest.layers.clone(),
                e.manifest.media_type.clone(),
                e.manifest.config.media_type.clone(),
            )
        }
        None => (
            Config::empty(),
            Vec::new(),
            super::registry::OCI_MANIFEST.to_owned(),
            OCI_CONFIG.to_owned(),
        ),
    };
    layers.push(Descriptor {
        media_type: SIMPLE_SIGNING.into(),
        size: payload.len() as u64,
        digest: payload_digest.clone(),
        annotations: BTreeMap::from([(SIGNATURE_ANNOTATION.to_owned(), b64)]),
    });
    let config = serde_json::to_vec(&base.append(&payload_digest)).map_err(|e| e.to_string())?;
    let config_digest = sha256_digest(&config);
    let manifest = Manifest {
        schema_version: 2,
        media_type: media_type.clone(),
        config: Descriptor {
            media_type: config_media_type,
            size: config.len() as u64,
            digest: config_digest.clone(),
            annotations: BTreeMap::new(),
        },
        layers,
    };
    let signatures = manifest.layers.len();
    let bytes = serde_json::to_vec(&manifest).map_err(|e| e.to_string())?;
    Ok(Outcome::Push(SignatureImage {
        payload: payload.to_vec(),
        payload_digest,
        config,
        config_digest,
        manifest_digest: sha256_digest(&bytes),
        manifest: bytes,
        media_type: if media_type.is_empty() {
            super::registry::OCI_MANIFEST.to_owned()
        } else {
            media_type
        },
        signatures,
    }))
}

/// cosign's duplicate check (its `DupeDetector`): the same payload
/// (digest and media type) with a signature that verifies with the key.
/// Other annotations of the layer there do not matter, as ours has none.
fn duplicate(layer: &Descriptor, payload_digest: &str, payload: &[u8], public: &[u8; 32]) -> bool {
    if layer.digest != payload_digest || layer.media_type != SIMPLE_SIGNING {
        return false;
    }
    let Some(sig) = layer
        .annotations
        .get(SIGNATURE_ANNOTATION)
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
    else {
        return false;
    };
    ed25519_verifies(public, payload, &sig)
}

/// Whether `signature` is `public`'s Ed25519 signature of `message`. The
/// one Ed25519 check: the `sign` packager's provenance and signature
/// checks use it too.
pub fn ed25519_verifies(public: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    let (Ok(sig), pk) = (
        ed25519_compact::Signature::from_slice(signature),
        ed25519_compact::PublicKey::new(*public),
    ) else {
        return false;
    };
    pk.verify(message, &sig).is_ok()
}

/// The Ed25519 public key as PEM SubjectPublicKeyInfo (RFC 8410), the
/// file `cosign verify --key` reads.
pub fn public_key_pem(public: &[u8; 32]) -> String {
    // SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING { 0 unused, key } }
    const PREFIX: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    let mut der = PREFIX.to_vec();
    der.extend_from_slice(public);
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    )
}
