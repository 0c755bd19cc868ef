//! The registry area's error type, and the helpers that turn HTTP answers
//! and transport failures into errors a person can act on.
//!
//! Used by every step of a push or fetch; owns the wording (registry,
//! repository, HTTP status, the registry's own error text) and the hints.

use std::path::PathBuf;

use serde::Deserialize;

use super::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST, Reference, auth};

const LAYOUT_HINT: &str = "the image is read from an OCI image layout: `oci-layout`, `index.json` and \
     `blobs/<algorithm>/<hex>` for every manifest, config and layer; rebuild the image";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RegistryError {
    #[error("invalid image reference `{input}`: {problem}")]
    #[diagnostic(code(matrix::image::reference))]
    InvalidReference {
        input: String,
        problem: String,
        #[help]
        allowed: String,
    },

    #[error("cannot reach registry {registry} at {url}: {reason}")]
    #[diagnostic(code(matrix::image::registry::connect))]
    Connect {
        registry: String,
        url: String,
        reason: String,
        #[help]
        hint: String,
    },

    #[error(
        "{action} failed on registry {registry}, repository {repository}: HTTP {status}{message}"
    )]
    #[diagnostic(code(matrix::image::registry::status))]
    Status {
        registry: String,
        repository: String,
        action: String,
        status: u16,
        message: String,
        #[help]
        hint: Option<String>,
    },

    #[error(
        "registry {registry} requires credentials for repository {repository} (HTTP 401{message})"
    )]
    #[diagnostic(
        code(matrix::image::registry::auth_required),
        help(
            "set MATRIX_REGISTRY_USER and MATRIX_REGISTRY_PASSWORD, or run `docker login {registry}`"
        )
    )]
    AuthRequired {
        registry: String,
        repository: String,
        message: String,
    },

    #[error(
        "registry {registry} rejected the credentials from {source_name} for repository {repository} (HTTP 401{message})"
    )]
    #[diagnostic(
        code(matrix::image::registry::auth_rejected),
        help(
            "check the user name and password or token, and that the account may push to {repository}"
        )
    )]
    AuthRejected {
        registry: String,
        repository: String,
        source_name: String,
        message: String,
    },

    #[error(
        "registry {registry} answered 401 with a WWW-Authenticate header matrix cannot use: {problem}"
    )]
    #[diagnostic(code(matrix::image::registry::challenge))]
    BadChallenge { registry: String, problem: String },

    #[error("token service {realm} for registry {registry} failed: HTTP {status}{message}")]
    #[diagnostic(code(matrix::image::registry::token))]
    Token {
        registry: String,
        realm: String,
        status: u16,
        message: String,
        #[help]
        hint: String,
    },

    #[error(
        "registry {registry}, repository {repository}: {what} came back with digest {got}, expected {expected}"
    )]
    #[diagnostic(
        code(matrix::image::registry::digest_mismatch),
        help(
            "the registry changed the content (some registries convert manifests); push to an OCI-compliant registry"
        )
    )]
    DigestMismatch {
        registry: String,
        repository: String,
        what: String,
        expected: String,
        got: String,
    },

    #[error(
        "registry {registry}, repository {repository}: {action} answered without a Location header"
    )]
    #[diagnostic(code(matrix::image::registry::protocol))]
    NoLocation {
        registry: String,
        repository: String,
        action: String,
    },

    #[error("cannot read {path}: {source}")]
    #[diagnostic(code(matrix::image::layout::io), help("{}", LAYOUT_HINT))]
    LayoutIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path} is {actual} bytes but its descriptor says {expected}")]
    #[diagnostic(code(matrix::image::layout::size), help("{}", LAYOUT_HINT))]
    SizeMismatch {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },

    #[error("{path} hashes to {actual}, not to its digest {expected}")]
    #[diagnostic(code(matrix::image::layout::digest), help("{}", LAYOUT_HINT))]
    ContentDigest {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("cannot parse the manifest {path}: {source}")]
    #[diagnostic(code(matrix::image::layout::manifest), help("{}", LAYOUT_HINT))]
    ManifestJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("{digest} has media type `{media_type}`, which matrix cannot push")]
    #[diagnostic(
        code(matrix::image::layout::media_type),
        help(
            "matrix pushes image indexes ({OCI_INDEX}, {DOCKER_MANIFEST_LIST}) and manifests ({OCI_MANIFEST}, {DOCKER_MANIFEST})"
        )
    )]
    UnsupportedMediaType { digest: String, media_type: String },

    #[error("invalid digest in {context}: {problem}")]
    #[diagnostic(code(matrix::image::layout::digest))]
    BadDigest { context: String, problem: String },

    #[error(
        "the reference {reference} pins digest {pinned}, but the image being pushed is {actual}"
    )]
    #[diagnostic(
        code(matrix::image::registry::pinned),
        help("drop the `@digest` part to push under the tag, or push the image with that digest")
    )]
    PinnedDigest {
        reference: String,
        pinned: String,
        actual: String,
    },

    #[error("invalid docker config {path}: {problem}")]
    #[diagnostic(
        code(matrix::image::registry::docker_config),
        help(
            "fix the file (or run `docker login` again), or set MATRIX_REGISTRY_USER and MATRIX_REGISTRY_PASSWORD"
        )
    )]
    DockerConfig { path: PathBuf, problem: String },

    #[error("{set} is set but {missing} is not")]
    #[diagnostic(
        code(matrix::image::registry::env),
        help("set both, or neither to use docker's config.json")
    )]
    PartialEnvCredentials {
        set: &'static str,
        missing: &'static str,
    },
}

pub(super) fn mismatch(
    reference: &Reference,
    what: &str,
    expected: &str,
    got: &str,
) -> RegistryError {
    RegistryError::DigestMismatch {
        registry: reference.registry().to_owned(),
        repository: reference.repository().to_owned(),
        what: what.to_owned(),
        expected: expected.to_owned(),
        got: got.to_owned(),
    }
}

pub(super) fn status_error(
    reference: &Reference,
    action: &str,
    status: u16,
    body: &[u8],
) -> RegistryError {
    let hint = match status {
        403 => Some(format!(
            "the account is not allowed to do this; check it may push to {}",
            reference.repository()
        )),
        404 => {
            Some("the registry does not know this repository or object; check the name".to_owned())
        }
        413 => Some("the registry or a proxy in front of it limits the request size".to_owned()),
        500..=599 => Some("the registry failed internally; check its logs".to_owned()),
        _ => None,
    };
    RegistryError::Status {
        registry: reference.registry().to_owned(),
        repository: reference.repository().to_owned(),
        action: action.to_owned(),
        status,
        message: detail_from_body(body),
        hint,
    }
}

#[derive(Deserialize)]
struct ErrorsDoc {
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The registry's explanation, ready to append after "HTTP <status>":
/// ` - CODE: message; ...` from the distribution error JSON, else the
/// start of the body as text, else nothing.
pub(crate) fn detail_from_body(body: &[u8]) -> String {
    if let Ok(doc) = serde_json::from_slice::<ErrorsDoc>(body)
        && !doc.errors.is_empty()
    {
        let parts: Vec<String> = doc
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect();
        return format!(" - {}", parts.join("; "));
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let short: String = text.chars().take(200).collect();
    format!(" - {}", short.replace(['\n', '\r'], " "))
}

/// Turns a transport failure into an error that says how to check it.
pub(crate) fn transport_error(registry: &str, url: &str, error: ureq::Error) -> RegistryError {
    // scheme://host of the failing URL, for the suggested curl command.
    let origin = url.find("://").map_or(url, |i| {
        url[i + 3..].find('/').map_or(url, |j| &url[..i + 3 + j])
    });
    let hint = match &error {
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!("is the registry running? check with `curl {origin}/v2/`")
        }
        ureq::Error::HostNotFound => {
            format!("the host of {origin} does not resolve; check the registry name")
        }
        ureq::Error::Timeout(_) => {
            format!("the registry did not answer in time; check with `curl {origin}/v2/`")
        }
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => format!(
            "TLS failed; if the registry serves plain http, add its host:port to {}",
            auth::ENV_INSECURE
        ),
        _ => format!("check the registry answers: `curl {origin}/v2/`"),
    };
    RegistryError::Connect {
        registry: registry.to_owned(),
        url: url.to_owned(),
        reason: error.to_string(),
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_error_text() {
        let body = br#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:x"},{"code":"DENIED","message":"no"}]}"#;
        assert_eq!(
            detail_from_body(body),
            " - MANIFEST_BLOB_UNKNOWN: blob unknown to registry; DENIED: no"
        );
        assert_eq!(detail_from_body(b"  \n"), "");
        assert_eq!(detail_from_body(b"bad gateway\n"), " - bad gateway");
        assert_eq!(detail_from_body(&[b'x'; 500]).len(), 203);
    }

    #[test]
    fn help_names_what_to_do() {
        use miette::Diagnostic as _;
        let help = |e: &RegistryError| e.help().map(|h| h.to_string()).unwrap_or_default();
        let auth = RegistryError::AuthRequired {
            registry: "ghcr.io".into(),
            repository: "acme/tool".into(),
            message: String::new(),
        };
        assert!(
            help(&auth).contains("docker login ghcr.io"),
            "{}",
            help(&auth)
        );
        let io = RegistryError::LayoutIo {
            path: "/x".into(),
            source: std::io::Error::other("gone"),
        };
        assert!(
            help(&io).contains("blobs/<algorithm>/<hex>"),
            "{}",
            help(&io)
        );
        let reference = Reference::parse("Bad").err();
        assert!(
            reference
                .as_ref()
                .is_some_and(|e| help(e).contains("lowercase letters"))
        );
    }
}
