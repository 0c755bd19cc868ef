//! Single objects by name: one blob fetched or uploaded from memory, one
//! manifest put under a tag. What cosign's signature images need
//! ([`crate::image::cosign`]), next to [`Client::push`] of whole layouts.
//!
//! Part of the registry client; the HTTP conversation (auth, errors) is
//! the parent module's.

use std::io::{Read as _, Write};

use sha2::Digest as _;

use super::error::{mismatch, status_error};
use super::layout::digest_of;
use super::reference::check_digest;
use super::{
    Call, Client, Descriptor, Method, Payload, Reference, RegistryError, read_body, read_content,
};

impl Client {
    /// Sends GET blob `digest` once `checked` (the digest's check: it may
    /// come from what a registry sent, and goes into a URL) passed; the
    /// answer and its URL.
    fn get_blob(
        &mut self,
        reference: &Reference,
        digest: &str,
        checked: Result<(), String>,
    ) -> Result<(ureq::http::Response<ureq::Body>, String), RegistryError> {
        checked.map_err(|problem| RegistryError::BadDigest {
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
        let response = self.send(reference, &call)?;
        Ok((response, call.url))
    }

    /// GETs blob `digest` of the repository of `reference`, at most
    /// `limit` bytes, checked against its digest. The digest may come
    /// from what a registry sent: it is checked before it goes into a URL.
    pub fn fetch_blob(
        &mut self,
        reference: &Reference,
        digest: &str,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        let (mut response, url) = self.get_blob(reference, digest, check_digest(digest))?;
        let action = format!("GET blob {digest}");
        let status = response.status().as_u16();
        if status != 200 {
            let body = read_body(&mut response, 64 << 10);
            return Err(status_error(reference, &action, status, &body));
        }
        // One byte over the limit tells a large blob from a complete one.
        let body = read_content(&mut response, limit.saturating_add(1), reference, &url)?;
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

    /// GETs blob `digest` (a sha256) of the repository of `reference` into
    /// `out` as it arrives, without holding it in memory: it must be
    /// `size` bytes hashing to `digest`, and reading stops one byte past
    /// `size`. On an error `out` holds bytes that are not the blob.
    pub fn fetch_blob_to(
        &mut self,
        reference: &Reference,
        digest: &str,
        size: u64,
        out: &mut dyn Write,
    ) -> Result<(), RegistryError> {
        let checked = check_digest(digest).and_then(|()| match digest.starts_with("sha256:") {
            true => Ok(()),
            false => Err("only sha256 blobs are streamed".into()),
        });
        let (mut response, url) = self.get_blob(reference, digest, checked)?;
        let status = response.status().as_u16();
        if status != 200 {
            let body = read_body(&mut response, 64 << 10);
            return Err(status_error(
                reference,
                &format!("GET blob {digest}"),
                status,
                &body,
            ));
        }
        let limit = size.saturating_add(1);
        let mut body = response
            .body_mut()
            .with_config()
            .limit(limit)
            .reader()
            .take(limit);
        let mut hasher = sha2::Sha256::new();
        let mut read = 0u64;
        let mut buf = vec![0u8; 64 << 10];
        let io = |e: std::io::Error| super::transport_error(reference.registry(), &url, e.into());
        loop {
            let n = body.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            read += n as u64;
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io)?;
        }
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if read != size || actual != digest {
            return Err(mismatch(
                reference,
                &format!("blob {digest} ({read} bytes, {size} expected)"),
                digest,
                &actual,
            ));
        }
        Ok(())
    }

    /// Uploads `file` (opened by the caller) as blob `digest` of `size`
    /// bytes unless the repository of `reference` has it; true when it was
    /// uploaded. The registry checks the bytes against `digest`.
    pub fn push_blob_file(
        &mut self,
        reference: &Reference,
        digest: &str,
        size: u64,
        file: &std::fs::File,
    ) -> Result<bool, RegistryError> {
        self.push_payload(reference, digest, size, Payload::Open(file))
    }

    /// Uploads `bytes` as blob `digest` unless the repository of
    /// `reference` has it; true when it was uploaded.
    pub fn push_blob(
        &mut self,
        reference: &Reference,
        digest: &str,
        bytes: &[u8],
    ) -> Result<bool, RegistryError> {
        self.push_payload(reference, digest, bytes.len() as u64, Payload::Bytes(bytes))
    }

    /// Uploads `payload` as blob `digest` of `size` bytes unless the
    /// repository of `reference` has it; true when it was uploaded.
    fn push_payload(
        &mut self,
        reference: &Reference,
        digest: &str,
        size: u64,
        payload: Payload<'_>,
    ) -> Result<bool, RegistryError> {
        if self.head_blob(reference, digest, "pull,push")? {
            return Ok(false);
        }
        let blob = Descriptor {
            media_type: "application/octet-stream".into(),
            digest: digest.to_owned(),
            size,
        };
        self.upload_blob(reference, &blob, payload)?;
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
