//! Image jobs: one platform of an image, a variant's multi-platform index,
//! and the push of that index.
//!
//! Part of `exec`; the image formats themselves live in [`crate::image`].
//! Every image ends up in an OCI layout under `dist/images/oci/<variant>/`,
//! whether matrix assembled it natively (COPY-only Dockerfiles) or the
//! engine built it (then it is exported with `save` and imported). The index
//! is assembled from those layouts, so nothing has to be pushed before the
//! index exists, and `--push` uploads everything in one go. With `[sbom]`
//! the index job also attaches each platform's SBOM and provenance as
//! attestation manifests ([`attest`]). With the action cache, platform
//! jobs go through [`super::cached`] (its `image` module): an unchanged
//! platform's blobs are restored into the layout instead of being built.

mod attest;

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use super::context::{Context, ImageBuilt, IndexBuilt, Output, Produced, TAIL_LINES, log_path};
use super::error::JobError;
use super::process::{self, Ended, Spawn};
use crate::config::NativeMode;
use crate::image::{self, ImageError, docker_archive, dockerfile, native, oci, registry};
use crate::package::manifest::{Artifact, ArtifactKind};
use crate::plan::JobId;
use crate::plan::containers::LABEL_PROJECT;
use crate::plan::images::{IMAGE_DIR, ImagePlan, ImageVariant, PlatformImage};

/// The OCI layout holding a variant's blobs.
pub fn layout_dir(dist: &Path, variant: &ImageVariant) -> PathBuf {
    dist.join(IMAGE_DIR).join("oci").join(&variant.slug)
}

/// The image plan an image job works on.
fn plan_images(ctx: &Context, job: usize) -> Result<&ImagePlan, JobError> {
    ctx.plan.images.as_ref().ok_or_else(|| JobError::NoEngine {
        job: ctx.plan.jobs[job].id.clone(),
    })
}

/// Builds platform `platform` of image variant `variant`.
pub(super) async fn run_platform(
    ctx: &Context,
    job: usize,
    variant: usize,
    platform: usize,
    cancel: &CancellationToken,
) -> Result<Output, JobError> {
    let images = plan_images(ctx, job)?;
    let p = &images.variants[variant].platforms[platform];
    let built = platform_image(ctx, job, images, variant, p, cancel).await?;
    Ok(Output {
        produced: Some(Produced::Image(built)),
        ..Output::default()
    })
}

/// Assembles image variant `variant`'s index.
pub(super) async fn run_index(
    ctx: &Context,
    job: usize,
    variant: usize,
) -> Result<Output, JobError> {
    index(ctx, job, plan_images(ctx, job)?, variant).await
}

/// Pushes image variant `variant`'s index.
pub(super) async fn run_push(
    ctx: &Context,
    job: usize,
    variant: usize,
) -> Result<Output, JobError> {
    push(ctx, job, plan_images(ctx, job)?, variant).await
}

fn image_error(job: &str) -> impl FnOnce(ImageError) -> JobError + '_ {
    move |source| JobError::Image {
        job: job.to_string(),
        source: Box::new(source),
    }
}

/// Runs blocking image work off the async threads.
async fn blocking<T: Send + 'static>(
    job: &str,
    f: impl FnOnce() -> Result<T, ImageError> + Send + 'static,
) -> Result<T, JobError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| JobError::Cancelled)?
        .map_err(image_error(job))
}

pub(super) fn oci_platform(p: &PlatformImage) -> oci::Platform {
    oci::Platform {
        architecture: p.arch.clone(),
        os: p.os.clone(),
        variant: p.variant.clone(),
    }
}

async fn platform_image(
    ctx: &Context,
    job: usize,
    images: &ImagePlan,
    v: usize,
    p: &PlatformImage,
    cancel: &CancellationToken,
) -> Result<ImageBuilt, JobError> {
    let plan = &ctx.plan;
    let j = &plan.jobs[job];
    let variant = &images.variants[v];
    let log = log_path(plan, job);
    let context = build_context(ctx, job, p)?;
    let (parsed, use_native) = read_dockerfile(ctx, job, images, p)?;
    let layout_path = layout_dir(&plan.dist, variant);
    let platform = oci_platform(p);
    process::note(
        &log,
        &format!(
            "image {} for {} from {} ({})",
            variant.id,
            p.platform,
            p.dockerfile.display(),
            if use_native {
                "assembled by matrix"
            } else {
                "built by the engine"
            }
        ),
    )
    .map_err(io_error(&j.id, &log))?;

    if !use_native {
        return engine_image(ctx, job, v, p, &context, layout_path, cancel).await;
    }
    let labels = p.labels.clone();
    let created = plan.version.timestamp;
    let job_id = j.id.clone();
    let descriptor = blocking(&job_id, move || {
        let layout = oci::Layout::create(&layout_path)?;
        native::build(&native::NativeBuild {
            dockerfile: &parsed,
            context: &context,
            platform: &platform,
            labels: &labels,
            created,
            layout: &layout,
        })
    })
    .await?;
    Ok(ImageBuilt {
        variant: v,
        platform: p.platform.clone(),
        descriptor,
        native: true,
        local_tag: None,
    })
}

/// The error for a file an image job could not read or write.
fn io_error(job: &str, path: &Path) -> impl FnOnce(std::io::Error) -> JobError + use<> {
    let path = path.to_path_buf();
    let job = job.to_string();
    move |source| JobError::Io { job, path, source }
}

/// The build context of a platform image, made afresh: the binary the
/// matrix built, plus the extra files.
fn build_context(ctx: &Context, job: usize, p: &PlatformImage) -> Result<PathBuf, JobError> {
    let plan = &ctx.plan;
    let j = &plan.jobs[job];
    let io = |path: &Path| io_error(&j.id, path);
    let target = &plan.targets[p.target];
    let context = plan.dist.join(IMAGE_DIR).join("context").join(&p.slug);
    if context.exists() {
        std::fs::remove_dir_all(&context).map_err(io(&context))?;
    }
    std::fs::create_dir_all(&context).map_err(io(&context))?;
    let bin = context.join(&target.build.binary);
    std::fs::copy(&target.build.artifact, &bin).map_err(io(&target.build.artifact))?;
    set_mode(&bin, 0o755).map_err(io(&bin))?;
    let entries = context_files(&plan.root, p).map_err(|source| JobError::Package {
        target: j.id.clone(),
        source,
    })?;
    for e in entries {
        let dest = context.join(&e.dest);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::copy(&e.source, &dest).map_err(io(&e.source))?;
    }
    Ok(context)
}

/// The extra files of a platform image's build context (its
/// `context-files` globs, resolved in the project), by their place in it.
pub(super) fn context_files(
    root: &Path,
    p: &PlatformImage,
) -> Result<Vec<crate::package::files::Entry>, crate::package::PackageError> {
    let specs: Vec<crate::package::files::FileSpec> = p
        .context_files
        .iter()
        .map(|src| crate::package::files::FileSpec {
            src: src.clone(),
            dst: None,
        })
        .collect();
    crate::package::files::resolve(root, &specs)
}

/// The platform's Dockerfile, parsed, and whether matrix assembles the
/// image itself (the `native` setting, and whether the file allows it).
fn read_dockerfile(
    ctx: &Context,
    job: usize,
    images: &ImagePlan,
    p: &PlatformImage,
) -> Result<(dockerfile::Dockerfile, bool), JobError> {
    let j = &ctx.plan.jobs[job];
    let text = std::fs::read_to_string(&p.dockerfile).map_err(io_error(&j.id, &p.dockerfile))?;
    let parsed = dockerfile::parse(&text, &p.dockerfile, &p.args)
        .map_err(|e| image_error(&j.id)(e.into()))?;
    let use_native = native(images.native, &parsed).map_err(|why| JobError::NotNative {
        job: j.id.clone(),
        dockerfile: p.dockerfile.clone(),
        why,
    })?;
    Ok((parsed, use_native))
}

/// Whether matrix assembles an image from `parsed` itself under `mode`;
/// the Dockerfile's blocker when `native = "always"` cannot be followed.
pub(super) fn native(mode: NativeMode, parsed: &dockerfile::Dockerfile) -> Result<bool, String> {
    match (mode, parsed.native_blocker()) {
        (NativeMode::Never, _) => Ok(false),
        (NativeMode::Auto, b) => Ok(b.is_none()),
        (NativeMode::Always, None) => Ok(true),
        (NativeMode::Always, Some(why)) => Err(why),
    }
}

/// A platform image built by the engine: `build`, then `save` into the
/// context folder, imported from there into the variant's OCI layout.
async fn engine_image(
    ctx: &Context,
    job: usize,
    v: usize,
    p: &PlatformImage,
    context: &Path,
    layout_path: PathBuf,
    cancel: &CancellationToken,
) -> Result<ImageBuilt, JobError> {
    let plan = &ctx.plan;
    let j = &plan.jobs[job];
    let log = log_path(plan, job);
    let platform = oci_platform(p);
    let engine = ctx
        .engine
        .as_deref()
        .ok_or_else(|| JobError::NoEngine { job: j.id.clone() })?;
    let mut argv = engine.build_argv();
    argv.extend([
        "--platform".into(),
        p.platform.clone(),
        "--file".into(),
        p.dockerfile.display().to_string(),
        "--tag".into(),
        p.local_tag.clone(),
    ]);
    for (k, val) in &p.args {
        argv.push("--build-arg".into());
        argv.push(format!("{k}={val}"));
    }
    let mut labels = p.labels.clone();
    labels.insert(LABEL_PROJECT.into(), plan.project.name.clone());
    for (k, val) in &labels {
        argv.push("--label".into());
        argv.push(format!("{k}={val}"));
    }
    argv.push(context.display().to_string());
    engine_step(ctx, job, &argv, &log, cancel).await?;

    let saved = plan
        .dist
        .join(IMAGE_DIR)
        .join("context")
        .join(format!("{}.docker.tar", p.slug));
    let save = vec![
        engine.program.display().to_string(),
        "save".into(),
        "--output".into(),
        saved.display().to_string(),
        p.local_tag.clone(),
    ];
    engine_step(ctx, job, &save, &log, cancel).await?;
    let job_id = j.id.clone();
    let saved_path = saved.clone();
    let descriptor = blocking(&job_id, move || {
        let layout = oci::Layout::create(&layout_path)?;
        docker_archive::import(&saved_path, &layout, &platform)
    })
    .await?;
    let _ = std::fs::remove_file(&saved);
    Ok(ImageBuilt {
        variant: v,
        platform: p.platform.clone(),
        descriptor,
        native: false,
        local_tag: Some(p.local_tag.clone()),
    })
}

/// Runs one engine command for an image job, its output in the job's log.
async fn engine_step(
    ctx: &Context,
    job: usize,
    argv: &[String],
    log: &Path,
    cancel: &CancellationToken,
) -> Result<(), JobError> {
    let plan = &ctx.plan;
    let j = &plan.jobs[job];
    process::note(log, &format!("command: {}", shell_words::join(argv))).map_err(|source| {
        JobError::Io {
            job: j.id.clone(),
            path: log.to_path_buf(),
            source,
        }
    })?;
    let env = ctx
        .engine
        .as_deref()
        .map(|e| e.build_env())
        .unwrap_or_default();
    let ended = process::run(
        Spawn {
            argv,
            env: &env,
            dir: &plan.root,
            timeout: None,
        },
        log,
        cancel,
    )
    .await
    .map_err(|source| {
        JobError::spawn(
            &j.id.clone(),
            argv.first().cloned().unwrap_or_default(),
            source,
        )
    })?;
    match ended {
        Ended::Exited(status) if status.success() => Ok(()),
        Ended::Exited(status) => Err(JobError::Failed {
            target: j.id.clone(),
            command: shell_words::join(argv),
            status: process::describe(&status),
            tail: process::tail(log, TAIL_LINES),
            log: log.to_path_buf(),
        }),
        Ended::Cancelled | Ended::TimedOut => Err(JobError::Cancelled),
    }
}

/// The built platforms of variant `v`, in plan order.
fn built_platforms(ctx: &Context, v: usize) -> Vec<ImageBuilt> {
    // Ordered by the variant's platform list, not by job: a merge hands in
    // platforms that shards built.
    let order: Vec<&str> = ctx
        .plan
        .images
        .as_ref()
        .map(|i| {
            i.variants[v]
                .platforms
                .iter()
                .map(|p| p.platform.as_str())
                .collect()
        })
        .unwrap_or_default();
    let mut built: Vec<(usize, ImageBuilt)> = ctx
        .produced
        .iter()
        .filter_map(|(_, p)| match p {
            Produced::Image(b) if b.variant == v => Some((
                order
                    .iter()
                    .position(|o| *o == b.platform)
                    .unwrap_or(usize::MAX),
                b.clone(),
            )),
            _ => None,
        })
        .collect();
    built.sort_by_key(|(p, _)| *p);
    built.into_iter().map(|(_, b)| b).collect()
}

async fn index(
    ctx: &Context,
    job: usize,
    images: &ImagePlan,
    v: usize,
) -> Result<Output, JobError> {
    let plan = &ctx.plan;
    let j = &plan.jobs[job];
    let variant = images.variants[v].clone();
    let built = built_platforms(ctx, v);
    let manifests: Vec<oci::Descriptor> = built.iter().map(|b| b.descriptor.clone()).collect();
    let layout_path = layout_dir(&plan.dist, &variant);
    let attestations = if images.attest {
        // Reading every layer and hashing every file blocks.
        let (plan, job_id, variant, layout_path) = (
            std::sync::Arc::clone(plan),
            j.id.clone(),
            variant.clone(),
            layout_path.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let layout = oci::Layout::create(&layout_path).map_err(image_error(&job_id))?;
            attest::make(&plan, &job_id, &variant, &built, &layout)
        })
        .await
        .map_err(|_| JobError::Cancelled)??
    } else {
        Vec::new()
    };
    let archive = images
        .oci_archives
        .then(|| plan.dist.join(&variant.archive));
    let job_id = j.id.clone();
    let archive_path = archive.clone();
    let tags = variant.tags.clone();
    let mtime = u64::try_from(plan.version.timestamp).unwrap_or(0);
    let (descriptor, written) = blocking(&job_id, move || {
        let layout = oci::Layout::create(&layout_path)?;
        let descriptor = layout.put_attested_index(&manifests, &attestations)?;
        layout.write_index(&image::tagged(&descriptor, &tags))?;
        let written = match &archive_path {
            Some(out) => Some(oci::write_archive(&layout_path, out, mtime)?),
            None => None,
        };
        Ok((descriptor, written))
    })
    .await?;
    let artifact = match (written, &archive) {
        (Some(()), Some(path)) => Some(
            Artifact::of_file(
                &variant.archive,
                path,
                ArtifactKind::Image,
                plan.checksum.algorithm,
            )
            .map_err(|source| JobError::Io {
                job: j.id.clone(),
                path: path.clone(),
                source,
            })?,
        ),
        _ => None,
    };
    Ok(Output {
        artifact,
        produced: Some(Produced::Index(IndexBuilt {
            variant: v,
            descriptor,
            archive: archive.map(|_| variant.archive.clone()),
        })),
        ..Output::default()
    })
}

async fn push(ctx: &Context, job: usize, images: &ImagePlan, v: usize) -> Result<Output, JobError> {
    let plan = &ctx.plan;
    let j = &plan.jobs[job];
    let variant = images.variants[v].clone();
    let log = log_path(plan, job);
    let Some(built) = ctx.produced.iter().find_map(|(_, p)| match p {
        Produced::Index(b) if b.variant == v => Some(b.clone()),
        _ => None,
    }) else {
        return Err(JobError::NoEngine { job: j.id.clone() });
    };
    let layout_path = layout_dir(&plan.dist, &variant);
    let repositories = images.repositories.clone();
    let job_id = j.id.clone();
    let log_path = log.clone();
    // With [sign], cosign's signatures follow the push (exec/cosign.rs).
    let signer = super::cosign::signer(ctx)?;
    let signing = (layout_path.clone(), image::root_of(&built.descriptor));
    let pushed = blocking(&job_id, move || {
        let mut pushed = Vec::new();
        for repo in &repositories {
            for tag in &variant.tags {
                let reference = registry::Reference::parse(&format!("{repo}:{tag}"))?;
                let report =
                    registry::push(&layout_path, &image::root_of(&built.descriptor), &reference)?;
                let line = format!(
                    "pushed {reference}@{} ({} uploaded, {} already there, {})",
                    report.root_digest,
                    crate::human::count(report.blobs_uploaded, "blob", "blobs"),
                    report.blobs_present,
                    crate::human::size(report.bytes_sent)
                );
                let _ = process::note(&log_path, &line);
                pushed.push(format!("{reference}@{}", report.root_digest));
            }
        }
        Ok(pushed)
    })
    .await?;
    if let Some(signer) = signer {
        let (layout, root) = signing;
        let repositories = images.repositories.clone();
        super::cosign::sign_pushed(ctx, job, signer, layout, root, repositories).await?;
    }
    Ok(Output {
        produced: Some(Produced::Pushed(pushed)),
        ..Output::default()
    })
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// The manifest's record of every image variant that was assembled.
pub(super) fn records(ctx: &Context) -> Vec<crate::package::manifest::Image> {
    use crate::package::manifest::{Image, ImagePlatform};
    let Some(images) = &ctx.plan.images else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (v, variant) in images.variants.iter().enumerate() {
        let Some(index) = ctx.produced.iter().find_map(|(_, p)| match p {
            Produced::Index(b) if b.variant == v => Some(b),
            _ => None,
        }) else {
            continue;
        };
        let pushed = ctx
            .produced
            .iter()
            .filter(|(i, _)| {
                ctx.plan
                    .jobs
                    .get(*i)
                    .is_some_and(|j| j.work() == JobId::Push(v))
            })
            .flat_map(|(_, p)| match p {
                Produced::Pushed(refs) => refs.clone(),
                _ => Vec::new(),
            })
            .collect();
        out.push(Image {
            id: variant.id.clone(),
            values: variant.values.clone(),
            repositories: images.repositories.clone(),
            tags: variant.tags.clone(),
            digest: index.descriptor.digest.to_string(),
            archive: index.archive.clone(),
            platforms: built_platforms(ctx, v)
                .into_iter()
                .map(|b| ImagePlatform {
                    platform: b.platform,
                    digest: b.descriptor.digest.to_string(),
                    native: b.native,
                    local_tag: b.local_tag,
                })
                .collect(),
            pushed,
        });
    }
    out
}

/// A shard's record of the image platforms it built.
pub(super) fn parts(ctx: &Context) -> Vec<crate::package::manifest::ImagePart> {
    let Some(images) = &ctx.plan.images else {
        return Vec::new();
    };
    let mut out: Vec<crate::package::manifest::ImagePart> = ctx
        .produced
        .iter()
        .filter_map(|(_, p)| match p {
            Produced::Image(b) => Some(crate::package::manifest::ImagePart {
                variant: images.variants[b.variant].id.clone(),
                platform: b.platform.clone(),
                descriptor: b.descriptor.clone(),
                native: b.native,
                local_tag: b.local_tag.clone(),
            }),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| (&a.variant, &a.platform).cmp(&(&b.variant, &b.platform)));
    out
}
