//! Signing a pushed image in its registry, as `cosign sign --recursive
//! --key` does: the root (an index) and every manifest it lists each get
//! a signature under their `sha256-<hex>.sig` tag.
//!
//! Part of `image`: the formats are in [`super`]; this file reads what a
//! tag already holds (bounded), uploads the payload and config blobs and
//! puts the manifest by tag, through [`crate::image::registry::Client`].
//! The key stays with the caller: a signing closure and the public key.

use std::path::{Path, PathBuf};

use super::{Existing, Outcome};
use crate::image::registry::{
    self, Client, ClientOptions, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, Reference, RegistryError,
};
use crate::image::{ImageError, oci};

/// The most a `.sig` manifest or its config may hold when read back: a
/// thousand signatures fit well within it.
const READ_LIMIT: u64 = 4 << 20;

/// Why an image could not be signed. Names the repository, the digest or
/// the tag; never the key.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CosignError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Registry(Box<RegistryError>),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Layout(Box<ImageError>),
    #[error("the tag {reference} holds no cosign signature image: {problem}")]
    #[diagnostic(
        code(matrix::image::cosign::existing),
        help(
            "matrix adds its signature to the ones cosign stored there; remove the tag if it is not one"
        )
    )]
    Existing { reference: String, problem: String },
    #[error("cannot sign {digest} for {repository}: {why}")]
    #[diagnostic(
        code(matrix::image::cosign::sign),
        help(
            "images are signed with an Ed25519 [sign] key (minisign, or an SSH Ed25519 key); or set images = false under [sign]"
        )
    )]
    Sign {
        repository: String,
        digest: String,
        why: String,
    },
    #[error("{} is not the index of a pushed image: {why}", path.display())]
    #[diagnostic(code(matrix::image::cosign::layout))]
    Index { path: PathBuf, why: String },
}

impl From<RegistryError> for CosignError {
    fn from(e: RegistryError) -> Self {
        CosignError::Registry(Box::new(e))
    }
}

impl From<ImageError> for CosignError {
    fn from(e: ImageError) -> Self {
        CosignError::Layout(Box::new(e))
    }
}

/// What happened to one signed digest's tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The manifest signed.
    pub digest: String,
    /// `<repository>:sha256-<hex>.sig`.
    pub reference: String,
    /// The signature image's digest now under the tag (`None` when the
    /// tag already held this signature and was left alone).
    pub pushed: Option<String>,
    /// How many signatures the tag holds.
    pub signatures: usize,
}

/// The key, as the signing step sees it: a closure giving the raw Ed25519
/// signature of a payload, and the public key that checks it.
pub struct Key<'a> {
    pub sign: &'a (dyn Fn(&[u8]) -> Option<Vec<u8>> + Sync),
    pub public: [u8; 32],
}

/// The digests `cosign sign --recursive` signs for `root` in the layout at
/// `layout_dir`: the root, then each manifest an index lists, in order.
pub fn digests(layout_dir: &Path, root: &registry::Descriptor) -> Result<Vec<String>, CosignError> {
    let mut out = vec![root.digest.clone()];
    if root.media_type == OCI_INDEX || root.media_type == registry::DOCKER_MANIFEST_LIST {
        let layout = oci::Layout::open(layout_dir)?;
        let index: oci::ImageIndex = layout.read_json(&root.digest)?;
        for m in index.manifests {
            if m.media_type != OCI_MANIFEST && m.media_type != DOCKER_MANIFEST {
                return Err(CosignError::Index {
                    path: layout_dir.to_path_buf(),
                    why: format!("it lists {} of type {}", m.digest, m.media_type),
                });
            }
            out.push(m.digest.to_string());
        }
    }
    Ok(out)
}

/// Signs `root` (from the layout at `layout_dir`) and the manifests it
/// lists in `repository` (a reference whose tag and digest are ignored),
/// with options from the environment.
pub fn sign(
    layout_dir: &Path,
    root: &registry::Descriptor,
    repository: &Reference,
    key: &Key,
) -> Result<Vec<Signed>, CosignError> {
    let mut client = Client::new(ClientOptions::from_env()?);
    digests(layout_dir, root)?
        .iter()
        .map(|digest| sign_one(&mut client, repository, digest, key))
        .collect()
}

/// Signs one manifest digest: reads the tag, then pushes the payload, the
/// config and the manifest unless the signature is already there.
pub fn sign_one(
    client: &mut Client,
    repository: &Reference,
    digest: &str,
    key: &Key,
) -> Result<Signed, CosignError> {
    let fail = |why: String| CosignError::Sign {
        repository: repository.name(),
        digest: digest.to_owned(),
        why,
    };
    let tag = super::tag(digest).ok_or_else(|| fail("not a sha256 digest".into()))?;
    let reference = repository.with_tag(&tag)?;
    let existing = read_existing(client, &reference)?;
    let payload = super::payload(
        &super::identity(repository.registry(), repository.repository()),
        digest,
    );
    let signature =
        (key.sign)(&payload).ok_or_else(|| fail("the key cannot sign Ed25519".into()))?;
    let outcome = super::manifest(existing.as_ref(), &payload, &signature, &key.public).map_err(
        |problem| CosignError::Existing {
            reference: reference.to_string(),
            problem,
        },
    )?;
    let image = match outcome {
        Outcome::Unchanged { signatures } => {
            return Ok(Signed {
                digest: digest.to_owned(),
                reference: reference.to_string(),
                pushed: None,
                signatures,
            });
        }
        Outcome::Push(image) => image,
    };
    client.push_blob(&reference, &image.payload_digest, &image.payload)?;
    client.push_blob(&reference, &image.config_digest, &image.config)?;
    let pushed = client.push_manifest(&reference, &tag, &image.media_type, &image.manifest)?;
    Ok(Signed {
        digest: digest.to_owned(),
        reference: reference.to_string(),
        pushed: Some(pushed),
        signatures: image.signatures,
    })
}

/// What the `.sig` tag holds, if it exists: its manifest and config, each
/// read to a bound and checked against its digest.
fn read_existing(
    client: &mut Client,
    reference: &Reference,
) -> Result<Option<Existing>, CosignError> {
    let manifest = match client.fetch_manifest(reference, &[OCI_MANIFEST, DOCKER_MANIFEST]) {
        Ok((_, bytes, _)) => bytes,
        Err(RegistryError::Status { status: 404, .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let problem = |problem: String| CosignError::Existing {
        reference: reference.to_string(),
        problem,
    };
    if manifest.len() as u64 > READ_LIMIT {
        return Err(problem(format!("its manifest is over {READ_LIMIT} bytes")));
    }
    let config_digest = Existing::config_digest(&manifest).map_err(problem)?;
    let config = client.fetch_blob(reference, &config_digest, READ_LIMIT)?;
    Existing::parse(&manifest, &config)
        .map(Some)
        .map_err(problem)
}
