//! The image attestations of a variant (`[sbom]` with `[images]`): for each
//! platform image in the variant's layout, its SBOM and provenance as
//! in-toto statements in an attestation manifest, for the index job to
//! list after the platforms.
//!
//! Part of the index job, so a merge (which runs the index jobs on the
//! platform images the shards built) makes the same attestations a single
//! build makes: everything comes from the layout's blobs, the plan, the
//! project's Dockerfiles and the targets' binaries, never from a clock.

use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::super::context::{ImageBuilt, binary};
use super::super::error::JobError;
use crate::image::attestation::{self, PREDICATE_SLSA_V1, PREDICATE_SPDX};
use crate::image::oci::{self, ImageManifest, Layout};
use crate::image::rootfs::{self, Limits};
use crate::image::{ImageError, dockerfile};
use crate::packager::sbom::dpkg::{self, Deb};
use crate::packager::sbom::image::{ImageBuild, ImageSbom};
use crate::packager::sbom::{FileEntry, Subject, Tool};
use crate::plan::Plan;
use crate::plan::images::{ImageVariant, PlatformImage};

/// dpkg's database, whole-file and one-file-per-package.
const DPKG_STATUS: &str = "var/lib/dpkg/status";
const DPKG_STATUS_D: &str = "var/lib/dpkg/status.d/";
const OS_RELEASE: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];
/// A Dockerfile larger than this is not read for the provenance.
const MAX_DOCKERFILE: u64 = 1 << 20;

/// The attestation manifests of variant `v`'s built platforms, stored in
/// `layout`, in the order of `built`.
pub(super) fn make(
    plan: &Plan,
    job: &str,
    variant: &ImageVariant,
    built: &[ImageBuilt],
    layout: &Layout,
) -> Result<Vec<oci::Descriptor>, JobError> {
    let image = |source: ImageError| JobError::Image {
        job: job.to_string(),
        source: Box::new(source),
    };
    let mut out = Vec::with_capacity(built.len());
    for b in built {
        let Some(p) = variant.platforms.iter().find(|p| p.platform == b.platform) else {
            continue;
        };
        let manifest: ImageManifest = layout.read_json(&b.descriptor.digest).map_err(image)?;
        let keep = |path: &str| {
            path == DPKG_STATUS
                || OS_RELEASE.contains(&path)
                || path
                    .strip_prefix(DPKG_STATUS_D)
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
        };
        let fs = rootfs::read(layout, &manifest, &keep, Limits::default()).map_err(image)?;
        let names = subject_names(plan, variant, p);
        let sbom = sbom(plan, job, variant, p, b, &fs, &names)?;
        let provenance = provenance(plan, job, variant, p, b)?;
        let statements = [
            (PREDICATE_SPDX, crate::packager::sbom::image::spdx(&sbom)),
            (
                PREDICATE_SLSA_V1,
                crate::packager::sbom::image::provenance(&provenance),
            ),
        ]
        .into_iter()
        .map(|(kind, predicate)| {
            let s = attestation::statement(&names, &b.descriptor.digest, kind, predicate);
            oci::canonical_json(&s, kind).map(|bytes| (kind.to_string(), bytes))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(image)?;
        out.push(attestation::put(layout, &b.descriptor, &statements).map_err(image)?);
    }
    Ok(out)
}

/// What BuildKit names a platform image's statements: one purl per
/// repository and tag the image is pushed under.
fn subject_names(plan: &Plan, variant: &ImageVariant, p: &PlatformImage) -> Vec<String> {
    let platform = oci::Platform::new(&p.os, &p.arch, p.variant.as_deref());
    let repositories = plan
        .images
        .as_ref()
        .map(|i| i.repositories.as_slice())
        .unwrap_or_default();
    repositories
        .iter()
        .flat_map(|r| {
            variant
                .tags
                .iter()
                .map(|t| attestation::image_purl(&r.to_lowercase(), t, &platform))
        })
        .collect()
}

fn sbom(
    plan: &Plan,
    job: &str,
    variant: &ImageVariant,
    p: &PlatformImage,
    b: &ImageBuilt,
    fs: &rootfs::RootFs,
    names: &[String],
) -> Result<ImageSbom, JobError> {
    let fail = |path: &Path, why: String| JobError::Sbom {
        job: job.to_string(),
        path: path.to_path_buf(),
        why,
    };
    let mut debs: Vec<Deb> = Vec::new();
    for (path, bytes) in &fs.kept {
        if path == DPKG_STATUS || path.starts_with(DPKG_STATUS_D) {
            dpkg::parse(&String::from_utf8_lossy(bytes), &mut debs)
                .map_err(|why| fail(Path::new(path), format!("in the image: {why}")))?;
        }
    }
    let os_release = OS_RELEASE
        .iter()
        .find_map(|p| fs.kept.get(*p))
        .map(Vec::as_slice);
    let (go, crates) = super::super::sbom::contents(plan, job, p.target)?;
    let tools = go
        .as_ref()
        .map(|g| {
            vec![Tool {
                name: "go".into(),
                version: g.go_version.clone(),
            }]
        })
        .unwrap_or_default();
    let repository = plan
        .images
        .as_ref()
        .and_then(|i| i.repositories.first())
        .map(|r| r.to_lowercase())
        .unwrap_or_default();
    let tag = variant.tags.first().cloned().unwrap_or_default();
    let v = &plan.version;
    Ok(ImageSbom {
        subject: Subject {
            project: plan.project.name.clone(),
            version: v.version.clone(),
            license: plan.project.license.clone(),
            homepage: plan.project.homepage.clone(),
            commit: v.commit.clone(),
            timestamp: v.timestamp,
            target: plan.targets[p.target].id.clone(),
            archive: format!("{repository}:{tag}"),
            archive_sha256: b
                .descriptor
                .digest
                .strip_prefix("sha256:")
                .unwrap_or_default()
                .to_string(),
            files: fs
                .files
                .iter()
                .map(|(path, f)| FileEntry {
                    path: path.clone(),
                    sha256: f.sha256.clone(),
                    sha1: f.sha1.clone(),
                })
                .collect(),
            tools,
            go,
            crates,
            generator: env!("CARGO_PKG_VERSION").into(),
        },
        purl: names.first().cloned().unwrap_or_default(),
        platform: p.platform.clone(),
        debs,
        distro: dpkg::distro(os_release),
    })
}

fn provenance(
    plan: &Plan,
    job: &str,
    variant: &ImageVariant,
    p: &PlatformImage,
    b: &ImageBuilt,
) -> Result<ImageBuild, JobError> {
    let fail = |path: &Path, why: String| JobError::Sbom {
        job: job.to_string(),
        path: path.to_path_buf(),
        why,
    };
    let text = crate::package::capped::read_text(&p.dockerfile, MAX_DOCKERFILE)
        .map_err(|e| fail(&p.dockerfile, e.to_string()))?;
    let dockerfile_sha256 = hex::encode(Sha256::digest(text.as_bytes()));
    let parsed = dockerfile::parse(&text, &p.dockerfile, &p.args).map_err(|e| JobError::Image {
        job: job.to_string(),
        source: Box::new(e.into()),
    })?;
    let platform = oci::Platform::new(&p.os, &p.arch, p.variant.as_deref());
    let mut stages: Vec<&str> = Vec::new();
    let mut bases = Vec::new();
    for stage in &parsed.stages {
        let base = stage.base.as_str();
        if base != "scratch" && !stages.contains(&base) {
            let purl = base_purl(base, &platform);
            if !bases.contains(&purl) {
                bases.push(purl);
            }
        }
        if let Some(name) = &stage.name {
            stages.push(name);
        }
    }
    let bin = binary(plan, p.target);
    let binary_sha256 =
        crate::package::checksum::hash_file(&bin, crate::package::checksum::Algorithm::Sha256)
            .map(|(hex, _)| hex)
            .map_err(|e| fail(&bin, e.to_string()))?;
    let target = &plan.targets[p.target];
    let dockerfile = p
        .dockerfile
        .strip_prefix(&plan.root)
        .ok()
        .or_else(|| p.dockerfile.file_name().map(Path::new))
        .unwrap_or(&p.dockerfile)
        .to_string_lossy()
        .into_owned();
    let v = &plan.version;
    Ok(ImageBuild {
        project: plan.project.name.clone(),
        version: v.version.clone(),
        commit: v.commit.clone(),
        homepage: plan.project.homepage.clone(),
        variant: variant.id.clone(),
        platform: p.platform.clone(),
        target: target.id.clone(),
        dockerfile,
        dockerfile_sha256,
        args: p.args.clone(),
        bases,
        binary: target.build.binary.clone(),
        binary_sha256,
        native: b.native,
    })
}

/// A base image reference as a purl, with its pinned digest when it has
/// one: `matrix-base/debian:bookworm` → `pkg:docker/matrix-base/debian@bookworm?platform=...`.
fn base_purl(base: &str, platform: &oci::Platform) -> String {
    let (name, digest) = match base.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (base, None),
    };
    let (repo, tag) = match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (&name[..i], &name[i + 1..]),
        _ => (name, "latest"),
    };
    let mut purl = attestation::image_purl(repo, tag, platform);
    if let Some(d) = digest {
        purl.push_str("&digest=");
        purl.push_str(&d.replace(':', "%3A"));
    }
    purl
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_images_are_named_as_purls() {
        let amd64 = oci::Platform::new("linux", "amd64", None);
        assert_eq!(
            base_purl("matrix-base/debian:bookworm", &amd64),
            "pkg:docker/matrix-base/debian@bookworm?platform=linux%2Famd64"
        );
        assert_eq!(
            base_purl("localhost:5000/busybox", &amd64),
            "pkg:docker/localhost%3A5000/busybox@latest?platform=linux%2Famd64"
        );
        let pinned = format!("debian:12@sha256:{}", "a".repeat(64));
        assert!(
            base_purl(&pinned, &amd64).ends_with(&format!("&digest=sha256%3A{}", "a".repeat(64)))
        );
    }
}
