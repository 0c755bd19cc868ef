//! Pushing OCI image layouts to a registry over the OCI distribution API.
//!
//! Sits at the end of the image flow: earlier steps leave an OCI image
//! layout on disk (`oci-layout`, `index.json`, `blobs/sha256/<hex>`) with a
//! root descriptor (usually a multi-platform index). [`push`] walks that
//! root, uploads every blob the registry lacks, then puts the child
//! manifests by digest and the root last, so a multi-platform index goes up
//! in one go without the per-platform images having been pushed first.
//! This file owns the HTTP conversation; credentials and challenges live in
//! [`auth`], name parsing in [`reference`], reading the layout in `layout`,
//! errors in `error`.

pub mod auth;
#[cfg(test)]
mod e2e_tests;
mod error;
mod layout;
mod objects;
pub mod reference;
mod url;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use ureq::http::Response;

pub use auth::{ClientOptions, Credentials};
pub use error::RegistryError;
pub use reference::Reference;

use auth::{Challenge, Secret};
pub(crate) use error::{detail_from_body, transport_error};
use error::{mismatch, status_error};
use layout::{blob_path, digest_of, plan_push};
pub(crate) use url::query_escape;
use url::{append_query, join_location};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// What [`push`] needs to know about a manifest or blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// What a push did. Counts are of distinct blobs (a layer shared by two
/// platforms counts once); `bytes_sent` is blob plus manifest bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    pub blobs_uploaded: usize,
    pub blobs_present: usize,
    pub manifests_pushed: usize,
    pub bytes_sent: u64,
    pub root_digest: String,
}

/// Pushes `root` (read from the layout at `layout_dir`) to `reference`,
/// with options from the environment. See [`Client::push`].
pub fn push(
    layout_dir: &Path,
    root: &Descriptor,
    reference: &Reference,
) -> Result<PushReport, RegistryError> {
    Client::new(ClientOptions::from_env()?).push(layout_dir, root, reference)
}

/// Fetches the manifest `reference` points at. See [`Client::fetch_manifest`].
pub fn fetch_manifest(
    reference: &Reference,
    accept: &[&str],
) -> Result<(String, Vec<u8>, String), RegistryError> {
    Client::new(ClientOptions::from_env()?).fetch_manifest(reference, accept)
}

/// Whether the repository of `reference` holds the blob `digest`.
pub fn blob_exists(reference: &Reference, digest: &str) -> Result<bool, RegistryError> {
    Client::new(ClientOptions::from_env()?).blob_exists(reference, digest)
}

/// A registry client. Holds the `Authorization` values it obtained, per
/// registry and repository, so a push authenticates once.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    options: ClientOptions,
    auth: BTreeMap<String, Secret>,
}

enum Method {
    Head,
    Get,
    Post,
    Put,
}

enum Payload<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// Streamed from disk: layers can be larger than memory.
    File(&'a Path),
    /// Streamed from a file the caller opened (without following a link).
    Open(&'a std::fs::File),
}

struct Call<'a> {
    method: Method,
    url: String,
    headers: Vec<(&'static str, String)>,
    payload: Payload<'a>,
    /// Token scope actions: "pull" or "pull,push".
    actions: &'static str,
}

impl Client {
    pub fn new(options: ClientOptions) -> Self {
        // A registry may hash a large layer before answering the PUT.
        Self::with_timeouts(
            options,
            Duration::from_secs(30),
            Duration::from_secs(600),
            None,
        )
    }

    /// A client that gives up connecting after `connect`, waiting for an
    /// answer's head after `response` and receiving its body after `body`:
    /// a cache must not stall a build on a registry that is down or that
    /// trickles an endless answer.
    pub fn with_timeouts(
        options: ClientOptions,
        connect: Duration,
        response: Duration,
        body: Option<Duration>,
    ) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("matrix/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(connect))
            .timeout_recv_response(Some(response))
            .timeout_recv_body(body)
            .build()
            .new_agent();
        Client {
            agent,
            options,
            auth: BTreeMap::new(),
        }
    }

    /// Walks `root` in the layout (index -> manifests -> config + layers),
    /// uploads the blobs the registry lacks, puts child manifests by digest
    /// and the root by the reference's tag (by digest when it has none).
    pub fn push(
        &mut self,
        layout_dir: &Path,
        root: &Descriptor,
        reference: &Reference,
    ) -> Result<PushReport, RegistryError> {
        if let Some(pinned) = reference.digest()
            && pinned != root.digest
        {
            return Err(RegistryError::PinnedDigest {
                reference: reference.to_string(),
                pinned: pinned.to_owned(),
                actual: root.digest.clone(),
            });
        }
        let plan = plan_push(layout_dir, root)?;
        let mut report = PushReport {
            blobs_uploaded: 0,
            blobs_present: 0,
            manifests_pushed: 0,
            bytes_sent: 0,
            root_digest: root.digest.clone(),
        };
        for blob in &plan.blobs {
            if self.head_blob(reference, &blob.digest, "pull,push")? {
                tracing::debug!(digest = %blob.digest, "blob already present");
                report.blobs_present += 1;
            } else {
                let path = blob_path(layout_dir, &blob.digest)?;
                self.upload_blob(reference, blob, Payload::File(&path))?;
                report.blobs_uploaded += 1;
                report.bytes_sent += blob.size;
            }
        }
        // Post-order: children before the index that names them, root last.
        let last = plan.manifests.len().saturating_sub(1);
        for (i, (desc, bytes)) in plan.manifests.iter().enumerate() {
            let target = match (i == last, reference.tag()) {
                (true, Some(tag)) => tag,
                _ => desc.digest.as_str(),
            };
            self.put_manifest(reference, target, desc, bytes)?;
            report.manifests_pushed += 1;
            report.bytes_sent += bytes.len() as u64;
        }
        Ok(report)
    }

    /// GETs the manifest by digest (or tag, or `latest`), returning its
    /// media type, bytes and digest (computed here, checked against the
    /// registry's Docker-Content-Digest and any digest in the reference).
    pub fn fetch_manifest(
        &mut self,
        reference: &Reference,
        accept: &[&str],
    ) -> Result<(String, Vec<u8>, String), RegistryError> {
        let target = reference.digest().or(reference.tag()).unwrap_or("latest");
        let call = Call {
            method: Method::Get,
            url: format!("{}/manifests/{target}", self.repo_url(reference)),
            headers: vec![("accept", accept.join(", "))],
            payload: Payload::Empty,
            actions: "pull",
        };
        let mut response = self.send(reference, &call)?;
        let action = format!("GET manifest {target}");
        if response.status().as_u16() != 200 {
            let body = read_body(&mut response, 1 << 20);
            return Err(status_error(
                reference,
                &action,
                response.status().as_u16(),
                &body,
            ));
        }
        let body = read_content(&mut response, 16 << 20, reference, &call.url)?;
        let media_type = header(&response, "content-type")
            .map(|v| v.split(';').next().unwrap_or("").trim().to_owned())
            .unwrap_or_default();
        let digest = digest_of("sha256", &body);
        let expected = reference.digest().map(str::to_owned).or_else(|| {
            header(&response, "docker-content-digest").filter(|d| d.starts_with("sha256:"))
        });
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(mismatch(
                reference,
                &format!("manifest {target}"),
                &expected,
                &digest,
            ));
        }
        Ok((media_type, body, digest))
    }

    /// HEAD /v2/<name>/blobs/<digest>: 200 means present, 404 absent.
    pub fn blob_exists(
        &mut self,
        reference: &Reference,
        digest: &str,
    ) -> Result<bool, RegistryError> {
        self.head_blob(reference, digest, "pull")
    }

    fn head_blob(
        &mut self,
        reference: &Reference,
        digest: &str,
        actions: &'static str,
    ) -> Result<bool, RegistryError> {
        let call = Call {
            method: Method::Head,
            url: format!("{}/blobs/{digest}", self.repo_url(reference)),
            headers: Vec::new(),
            payload: Payload::Empty,
            actions,
        };
        let response = self.send(reference, &call)?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            status => Err(status_error(
                reference,
                &format!("HEAD blob {digest}"),
                status,
                &[],
            )),
        }
    }

    /// POST an upload session, then PUT the whole blob to it (monolithic).
    fn upload_blob(
        &mut self,
        reference: &Reference,
        blob: &Descriptor,
        payload: Payload,
    ) -> Result<(), RegistryError> {
        let start = Call {
            method: Method::Post,
            url: format!("{}/blobs/uploads/", self.repo_url(reference)),
            headers: Vec::new(),
            payload: Payload::Empty,
            actions: "pull,push",
        };
        let mut response = self.send(reference, &start)?;
        let action = format!("starting the upload of blob {}", blob.digest);
        let body = read_body(&mut response, 1 << 20);
        if response.status().as_u16() != 202 {
            return Err(status_error(
                reference,
                &action,
                response.status().as_u16(),
                &body,
            ));
        }
        let location = header(&response, "location").ok_or_else(|| RegistryError::NoLocation {
            registry: reference.registry().to_owned(),
            repository: reference.repository().to_owned(),
            action: action.clone(),
        })?;
        let url = join_location(&self.base_url(reference), &start.url, &location);
        let put = Call {
            method: Method::Put,
            url: append_query(&url, "digest", &blob.digest),
            headers: vec![("content-type", "application/octet-stream".into())],
            payload,
            actions: "pull,push",
        };
        tracing::debug!(digest = %blob.digest, size = blob.size, "uploading blob");
        let mut response = self.send(reference, &put)?;
        let body = read_body(&mut response, 1 << 20);
        let status = response.status().as_u16();
        if status != 201 {
            return Err(status_error(
                reference,
                &format!("uploading blob {}", blob.digest),
                status,
                &body,
            ));
        }
        check_returned_digest(
            reference,
            &response,
            &format!("blob {}", blob.digest),
            &blob.digest,
        )
    }

    fn put_manifest(
        &mut self,
        reference: &Reference,
        target: &str,
        desc: &Descriptor,
        bytes: &[u8],
    ) -> Result<(), RegistryError> {
        let call = Call {
            method: Method::Put,
            url: format!("{}/manifests/{target}", self.repo_url(reference)),
            headers: vec![("content-type", desc.media_type.clone())],
            payload: Payload::Bytes(bytes),
            actions: "pull,push",
        };
        tracing::debug!(digest = %desc.digest, %target, "putting manifest");
        let mut response = self.send(reference, &call)?;
        let body = read_body(&mut response, 1 << 20);
        let status = response.status().as_u16();
        if status != 201 {
            return Err(status_error(
                reference,
                &format!("PUT manifest {target}"),
                status,
                &body,
            ));
        }
        check_returned_digest(
            reference,
            &response,
            &format!("manifest {target}"),
            &desc.digest,
        )
    }

    fn base_url(&self, reference: &Reference) -> String {
        let host = reference.api_host();
        format!("{}://{host}", self.options.scheme_for(host))
    }

    fn repo_url(&self, reference: &Reference) -> String {
        format!("{}/v2/{}", self.base_url(reference), reference.repository())
    }

    /// Sends `call`, answering one 401 challenge: Basic with credentials,
    /// Bearer by fetching a token for this repository and retrying.
    fn send(
        &mut self,
        reference: &Reference,
        call: &Call,
    ) -> Result<Response<ureq::Body>, RegistryError> {
        let key = format!("{}/{}", reference.api_host(), reference.repository());
        // Only the registry itself gets our Authorization header, never an
        // upload Location that points at another host.
        let base = self.base_url(reference);
        let same_origin = call
            .url
            .strip_prefix(&base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']));
        let cached = if same_origin {
            self.auth.get(&key).cloned()
        } else {
            None
        };
        let mut response = self.send_once(reference, call, cached.as_ref())?;
        if response.status().as_u16() != 401 || !same_origin {
            return Ok(response);
        }
        let header_value = header(&response, "www-authenticate").unwrap_or_default();
        let message = detail_from_body(&read_body(&mut response, 64 << 10));
        let challenge = auth::parse_challenge(&header_value).map_err(|problem| {
            RegistryError::BadChallenge {
                registry: reference.registry().to_owned(),
                problem,
            }
        })?;
        let creds = self.options.credentials_for(reference.registry())?;
        let required = || RegistryError::AuthRequired {
            registry: reference.registry().to_owned(),
            repository: reference.repository().to_owned(),
            message: message.clone(),
        };
        let fresh = match challenge {
            Challenge::Basic => creds
                .as_ref()
                .map(Credentials::basic_header)
                .ok_or_else(required)?,
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => {
                let ours = format!("repository:{}:{}", reference.repository(), call.actions);
                let scopes: Vec<String> = scope
                    .into_iter()
                    .chain([ours])
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                auth::fetch_token(
                    &self.agent,
                    reference.registry(),
                    &realm,
                    service.as_deref(),
                    &scopes,
                    creds.as_ref(),
                )?
            }
        };
        self.auth.insert(key, fresh.clone());
        let mut response = self.send_once(reference, call, Some(&fresh))?;
        if response.status().as_u16() == 401 {
            let message = detail_from_body(&read_body(&mut response, 64 << 10));
            return Err(match creds {
                Some(c) => RegistryError::AuthRejected {
                    registry: reference.registry().to_owned(),
                    repository: reference.repository().to_owned(),
                    source_name: c.source().to_owned(),
                    message,
                },
                None => RegistryError::AuthRequired {
                    registry: reference.registry().to_owned(),
                    repository: reference.repository().to_owned(),
                    message,
                },
            });
        }
        Ok(response)
    }

    fn send_once(
        &self,
        reference: &Reference,
        call: &Call,
        auth: Option<&Secret>,
    ) -> Result<Response<ureq::Body>, RegistryError> {
        let mut headers: Vec<(&str, &str)> =
            call.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if let Some(auth) = auth {
            headers.push(("authorization", &auth.0));
        }
        fn with<B>(
            mut rb: ureq::RequestBuilder<B>,
            headers: &[(&str, &str)],
        ) -> ureq::RequestBuilder<B> {
            for (k, v) in headers {
                rb = rb.header(*k, *v);
            }
            rb
        }
        let url = call.url.as_str();
        let result = match (&call.method, &call.payload) {
            (Method::Head, _) => with(self.agent.head(url), &headers).call(),
            (Method::Get, _) => with(self.agent.get(url), &headers).call(),
            (Method::Post, _) => with(self.agent.post(url), &headers).send_empty(),
            (Method::Put, Payload::Empty) => with(self.agent.put(url), &headers).send_empty(),
            (Method::Put, Payload::Bytes(b)) => with(self.agent.put(url), &headers).send(*b),
            (Method::Put, Payload::File(path)) => {
                let file = std::fs::File::open(path).map_err(|source| RegistryError::LayoutIo {
                    path: path.to_path_buf(),
                    source,
                })?;
                with(self.agent.put(url), &headers).send(file)
            }
            (Method::Put, Payload::Open(file)) => {
                // From the start: a 401 retry sends the file a second time.
                use std::io::Seek as _;
                let mut from = *file;
                from.rewind()
                    .map_err(|e| transport_error(reference.registry(), url, e.into()))?;
                with(self.agent.put(url), &headers).send(*file)
            }
        };
        result.map_err(|e| transport_error(reference.registry(), url, e))
    }
}

fn header(response: &Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Reads at most `limit` bytes of a response body; a body we cannot read
/// only costs us the registry's error text, so failures give empty.
fn read_body(response: &mut Response<ureq::Body>, limit: u64) -> Vec<u8> {
    response
        .body_mut()
        .with_config()
        .limit(limit)
        .read_to_vec()
        .unwrap_or_default()
}

/// Reads at most `limit` bytes of a body that is the answer (a manifest,
/// a blob): one larger gives empty (its digest check then fails), but a
/// body that stops or times out is the registry's failure, not an empty
/// answer a caller would take for a malformed object and ask again.
fn read_content(
    response: &mut Response<ureq::Body>,
    limit: u64,
    reference: &Reference,
    url: &str,
) -> Result<Vec<u8>, RegistryError> {
    match response.body_mut().with_config().limit(limit).read_to_vec() {
        Ok(body) => Ok(body),
        Err(ureq::Error::BodyExceedsLimit(_)) => Ok(Vec::new()),
        Err(e) => Err(transport_error(reference.registry(), url, e)),
    }
}

fn check_returned_digest(
    reference: &Reference,
    response: &Response<ureq::Body>,
    what: &str,
    ours: &str,
) -> Result<(), RegistryError> {
    match header(response, "docker-content-digest") {
        Some(theirs) if theirs != ours => Err(mismatch(reference, what, ours, &theirs)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_refused_says_how_to_check() {
        // Bind then drop a listener to get a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let reference = Reference::parse(&format!("127.0.0.1:{port}/app:t")).unwrap();
        let mut client = Client::new(ClientOptions::default());
        match client.blob_exists(&reference, &format!("sha256:{}", "a".repeat(64))) {
            Err(RegistryError::Connect { hint, registry, .. }) => {
                assert_eq!(registry, format!("127.0.0.1:{port}"));
                assert!(
                    hint.contains(&format!("curl http://127.0.0.1:{port}/v2/")),
                    "{hint}"
                );
            }
            other => panic!("expected a connection error, got {other:?}"),
        }
    }
}
