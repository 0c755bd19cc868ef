//! The one error type of the `image` area (OCI layouts, native builds,
//! `docker save` imports). Dockerfile syntax errors have their own type,
//! [`DockerfileError`], because they carry the file's text to show the line;
//! they are wrapped here when a build fails on one.
//!
//! Every variant names the file, digest or platform involved, so a failed
//! image job can be understood from the message alone.

use std::io;
use std::path::PathBuf;

use miette::Diagnostic;

use super::dockerfile::DockerfileError;

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ImageError {
    #[error("{}: {source}", path.display())]
    #[diagnostic(code(matrix::image::io))]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{} is not an OCI image layout: {reason}", path.display())]
    #[diagnostic(
        code(matrix::image::not_a_layout),
        help(
            "an OCI image layout holds `oci-layout`, `index.json` and `blobs/sha256/`; check the path"
        )
    )]
    NotALayout { path: PathBuf, reason: String },

    #[error("{digest:?} is not a sha256 digest")]
    #[diagnostic(
        code(matrix::image::bad_digest),
        help("a digest is `sha256:` followed by 64 lowercase hex digits")
    )]
    BadDigest { digest: String },

    #[error("blob {digest} is missing from the image layout {}", layout.display())]
    #[diagnostic(
        code(matrix::image::blob_missing),
        help("the layout is incomplete; build the image again into a fresh folder")
    )]
    BlobMissing { digest: String, layout: PathBuf },

    #[error("{} does not match its digest: expected {expected}, found {actual}", path.display())]
    #[diagnostic(
        code(matrix::image::corrupt),
        help("the file was changed or truncated after it was written; delete it and build again")
    )]
    Corrupt {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("{what}: invalid JSON: {source}")]
    #[diagnostic(code(matrix::image::json))]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Dockerfile(#[from] DockerfileError),

    #[error("{} cannot be assembled without a container engine: {reason}", dockerfile.display())]
    #[diagnostic(
        code(matrix::image::not_native),
        help(
            "matrix builds by itself only single-stage `FROM scratch` images made of COPY, ENV, LABEL, ENTRYPOINT, CMD, WORKDIR, USER, EXPOSE and ARG; use a container engine for the rest"
        )
    )]
    NotNative { dockerfile: PathBuf, reason: String },

    #[error("{}:{line}: COPY source {source_path:?} {reason}", dockerfile.display())]
    #[diagnostic(
        code(matrix::image::copy_source),
        help("COPY sources must be files or folders inside the build context {}", context.display())
    )]
    CopySource {
        dockerfile: PathBuf,
        line: usize,
        source_path: String,
        context: PathBuf,
        reason: String,
    },

    #[error("the image in {} is for {found}, but this job builds {expected}", archive.display())]
    #[diagnostic(
        code(matrix::image::platform_mismatch),
        help("build the image with `--platform {expected}`, or check the target's platform")
    )]
    PlatformMismatch {
        archive: PathBuf,
        expected: String,
        found: String,
    },

    #[error("{} is not a usable `docker save` archive: {reason}", archive.display())]
    #[diagnostic(
        code(matrix::image::docker_archive),
        help("pass the output of `docker save <image>` for exactly one image")
    )]
    DockerArchive { archive: PathBuf, reason: String },

    #[error("layer {layer} in {} has diff_id {actual}, but the image config lists {expected}", archive.display())]
    #[diagnostic(
        code(matrix::image::layer_mismatch),
        help("the archive is damaged or was not written by `docker save`; save the image again")
    )]
    LayerMismatch {
        archive: PathBuf,
        layer: String,
        expected: String,
        actual: String,
    },

    #[error("manifest {digest} has no platform, but an image index needs one per manifest")]
    #[diagnostic(code(matrix::image::missing_platform))]
    MissingPlatform { digest: String },

    #[error("two manifests for platform {platform}: {first} and {second}")]
    #[diagnostic(
        code(matrix::image::duplicate_platform),
        help("each platform may appear once in a multi-platform image")
    )]
    DuplicatePlatform {
        platform: String,
        first: String,
        second: String,
    },

    #[error("layer {digest} cannot be read: {reason}")]
    #[diagnostic(
        code(matrix::image::layer),
        help(
            "the image's layers are read to list what it holds (its SBOM); build the image again, or check its base image"
        )
    )]
    Layer { digest: String, reason: String },

    #[error("attestation {what}: {reason}")]
    #[diagnostic(
        code(matrix::image::attestation),
        help(
            "the image's attestations are made from its layers, its Dockerfile and the target's binary; check the files named"
        )
    )]
    Attestation { what: String, reason: String },

    #[error("creation time {epoch} is not a usable image timestamp")]
    #[diagnostic(
        code(matrix::image::timestamp),
        help("SOURCE_DATE_EPOCH must be seconds since 1970-01-01 UTC and not negative")
    )]
    Timestamp { epoch: i64 },
    /// Boxed: registry errors carry a lot and are rare.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Registry(Box<super::registry::RegistryError>),
}

impl From<super::registry::RegistryError> for ImageError {
    fn from(e: super::registry::RegistryError) -> Self {
        ImageError::Registry(Box::new(e))
    }
}

impl ImageError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        ImageError::Io {
            path: path.into(),
            source,
        }
    }
}
