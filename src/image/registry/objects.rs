//! Single objects by name: one blob fetched or uploaded from memory, one
//! manifest put under a tag. What cosign's signature images need
//! ([`crate::image::cosign`]), next to [`Client::push`] of whole layouts.
//!
//! Part of the registry client; the HTTP conversation (auth, errors) is
//! the parent module's.

use super::error::{mismatch, status_error};
use super::layout::digest_of;
use super::reference::check_digest;
use super::{Call, Client, Descriptor, Method, Payload, Reference, RegistryError, read_body};

impl Client {
    /// GETs blob `digest` of the repository of `reference`, at most
    /// `limit` bytes, checked against its digest. The digest may come
    /// from what a registry sent: it is checked before it goes into a URL.
    pub fn fetch_blob(
        &mut self,
        reference: &Reference,
        digest: &str,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        check_digest(digest).map_err(|problem| RegistryError::BadDigest {
            context: format!("a blob of {reference}"),
            problem,
        })?;
        let call = Call {
            method: Method::Get,
            url: format!("{}/blobs/{digest}", self.repo_url(reference)),
            headers: Vec::new(),
            payload: Payload::Empty,
            actions: "pull",
        };
        let mut response = self.send(reference, &call)?;
        let action = format!("GET blob {digest}");
        // One byte over the limit tells a large blob from a complete one.
        let body = read_body(&mut response, limit.saturating_add(1));
        let status = response.status().as_u16();
        if status != 200 {
            return Err(status_error(reference, &action, status, &body));
        }
        let algorithm = digest.split(':').next().unwrap_or("sha256");
        let actual = digest_of(algorithm, &body);
        if body.len() as u64 > limit || actual != digest {
            return Err(mismatch(
                reference,
                &format!("blob {digest}"),
                digest,
                &actual,
            ));
        }
        Ok(body)
    }

    /// Uploads `bytes` as blob `digest` unless the repository of
    /// `reference` has it; true when it was uploaded.
    pub fn push_blob(
        &mut self,
        reference: &Reference,
        digest: &str,
        bytes: &[u8],
    ) -> Result<bool, RegistryError> {
        if self.head_blob(reference, digest, "pull,push")? {
            return Ok(false);
        }
        let blob = Descriptor {
            media_type: "application/octet-stream".into(),
            digest: digest.to_owned(),
            size: bytes.len() as u64,
        };
        self.upload_blob(reference, &blob, Payload::Bytes(bytes))?;
        Ok(true)
    }

    /// PUTs manifest `bytes` of `media_type` under `target` (a tag, or its
    /// digest) in the repository of `reference`; its blobs must be there.
    /// Returns the manifest's digest.
    pub fn push_manifest(
        &mut self,
        reference: &Reference,
        target: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String, RegistryError> {
        let desc = Descriptor {
            media_type: media_type.to_owned(),
            digest: digest_of("sha256", bytes),
            size: bytes.len() as u64,
        };
        self.put_manifest(reference, target, &desc, bytes)?;
        Ok(desc.digest)
    }
}
