//! Container images: Dockerfiles, OCI image layouts, natively assembled
//! images, images exported from an engine, multi-platform indexes and the
//! registry client that pushes them.
//!
//! Used by `exec` (the image jobs) and by the pre-build checks
//! (`toolchain::image_precheck`). Everything here works on files and HTTP,
//! knows no plan and imports nothing above it; spawning the engine is
//! `exec`'s business.

pub mod attestation;
pub mod cosign;
pub mod docker_archive;
pub mod dockerfile;
pub mod error;
pub mod native;
pub mod oci;
pub mod registry;
pub mod rootfs;

pub use error::ImageError;

/// One entry per tag for a layout's index.json: the same descriptor, named
/// by `org.opencontainers.image.ref.name`.
pub fn tagged(descriptor: &oci::Descriptor, tags: &[String]) -> Vec<oci::Descriptor> {
    tags.iter()
        .map(|tag| {
            let mut d = descriptor.clone();
            d.annotations
                .insert(oci::ANNOTATION_REF_NAME.to_string(), tag.clone());
            d
        })
        .collect()
}

/// What the registry client needs of a descriptor.
pub fn root_of(descriptor: &oci::Descriptor) -> registry::Descriptor {
    registry::Descriptor {
        media_type: descriptor.media_type.clone(),
        digest: descriptor.digest.clone(),
        size: descriptor.size,
    }
}
