//! Container images: Dockerfiles, OCI image layouts, natively assembled
//! images, images exported from an engine, multi-platform indexes and the
//! registry client that pushes them.
//!
//! Used by `exec` (the image jobs) and by the pre-build checks. Everything
//! here works on files and HTTP; spawning the engine is `exec`'s business.

pub mod docker_archive;
pub mod dockerfile;
pub mod error;
pub mod native;
pub mod oci;
pub mod registry;

use std::path::PathBuf;

pub use error::ImageError;

use crate::config::NativeMode;
use crate::plan::Plan;

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

/// Why the images of a plan cannot be built on this machine, found before
/// any job starts.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PrecheckError {
    #[error("cannot read the Dockerfile {}: {source}", path.display())]
    #[diagnostic(
        code(matrix::image::dockerfile),
        help("check [images] dockerfile; the path is relative to matrix.toml's folder")
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Dockerfile(#[from] dockerfile::DockerfileError),
    #[error(
        "image {image} for {platform}: {} has RUN steps, which need {arch} emulation, and this machine has none",
        dockerfile.display()
    )]
    #[diagnostic(
        code(matrix::image::emulation),
        help(
            "install qemu-user-static and binfmt-support (Debian/Ubuntu: apt-get install qemu-user-static binfmt-support) so /proc/sys/fs/binfmt_misc/qemu-{qemu} is enabled, or drop the RUN steps"
        )
    )]
    NoEmulation {
        image: String,
        platform: String,
        dockerfile: PathBuf,
        arch: String,
        qemu: String,
    },
    #[error("image {image}: {} needs an engine ({why}), but [images] native = \"always\"", dockerfile.display())]
    #[diagnostic(
        code(matrix::image::not_native),
        help(
            "set native = \"auto\", or keep the Dockerfile to FROM scratch with COPY, ENV, LABEL, ENTRYPOINT, CMD, WORKDIR, USER and EXPOSE"
        )
    )]
    NotNative {
        image: String,
        dockerfile: PathBuf,
        why: String,
    },
}

/// Parses every image Dockerfile and, for the ones the engine builds on a
/// foreign platform with RUN steps, checks that qemu-user emulation is
/// registered with binfmt_misc. Returns whether any image needs the engine
/// (the others matrix assembles itself).
pub fn precheck(plan: &Plan) -> Result<bool, PrecheckError> {
    let Some(images) = &plan.images else {
        return Ok(false);
    };
    let mut needs_engine = false;
    for variant in &images.variants {
        for p in &variant.platforms {
            let text =
                std::fs::read_to_string(&p.dockerfile).map_err(|source| PrecheckError::Read {
                    path: p.dockerfile.clone(),
                    source,
                })?;
            let parsed = dockerfile::parse(&text, &p.dockerfile, &p.args)?;
            let blocker = parsed.native_blocker();
            let native = match (images.native, blocker) {
                (NativeMode::Never, _) => false,
                (NativeMode::Auto, b) => b.is_none(),
                (NativeMode::Always, None) => true,
                (NativeMode::Always, Some(why)) => {
                    return Err(PrecheckError::NotNative {
                        image: variant.id.clone(),
                        dockerfile: p.dockerfile.clone(),
                        why,
                    });
                }
            };
            needs_engine |= !native;
            if native || !parsed.needs_run() {
                continue;
            }
            let target = &plan.targets[p.target];
            let Some(platform) = target.platform else {
                continue;
            };
            if crate::target::runs_natively(platform) {
                continue;
            }
            let qemu = platform.qemu.unwrap_or(platform.arch);
            if !binfmt_enabled(qemu) {
                return Err(PrecheckError::NoEmulation {
                    image: variant.id.clone(),
                    platform: p.platform.clone(),
                    dockerfile: p.dockerfile.clone(),
                    arch: p.arch.clone(),
                    qemu: qemu.to_string(),
                });
            }
        }
    }
    Ok(needs_engine)
}

/// Whether binfmt_misc has an enabled qemu handler for `qemu` (`aarch64`).
fn binfmt_enabled(qemu: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/fs/binfmt_misc/qemu-{qemu}"))
        .is_ok_and(|s| s.lines().next() == Some("enabled"))
}
