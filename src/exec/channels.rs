//! Channel, package and release-notes jobs: gather the release's records,
//! hand them to the renderers in [`crate::packager`], and write what they
//! return into dist/ atomically, each file an artifact of the release. A
//! channel whose kind makes one package per target writes its own files
//! only; each package is its target's package job's.
//!
//! Part of `exec`. Digests and sizes come from the archive jobs' records
//! (the same records the manifest is made of), never from reading the
//! archives again.

use std::path::Path;

use super::context::{Context, Output};
use super::error::JobError;
use crate::package::manifest::{Artifact, ArtifactKind};
use crate::packager::input::{ChannelInput, Package, Release};
use crate::packager::out::{Out, read_template};
use crate::packager::{PublishError, notes};
use crate::plan::Plan;
use crate::plan::channels::{ChannelStep, NOTES};

/// Writes channel `channel`'s files, or the release notes (`None`).
pub(super) async fn run(
    ctx: &Context,
    job: usize,
    channel: Option<usize>,
) -> Result<Output, JobError> {
    let plan = std::sync::Arc::clone(&ctx.plan);
    let job_id = plan.jobs[job].id.clone();
    let artifacts = ctx.artifacts.clone();
    let images = super::images::records(ctx);
    let missing = ctx.missing_targets.clone();
    let log = super::context::log_path(&plan, job);
    let result = tokio::task::spawn_blocking(move || match channel {
        None => write_notes(&plan, &artifacts, &images, &missing, &log),
        Some(c) => write_channel(&plan, &plan.channels[c], &artifacts),
    })
    .await
    .map_err(|_| JobError::Cancelled)?;
    let extra = result.map_err(|source| JobError::Publish {
        job: job_id,
        source: Box::new(source),
    })?;
    Ok(Output {
        extra,
        ..Output::default()
    })
}

/// Builds target `t`'s package of channel `c` (package job `job`) on a
/// share of the machine's threads.
pub(super) async fn run_package(
    ctx: &Context,
    job: usize,
    c: usize,
    t: usize,
) -> Result<Output, JobError> {
    let plan = std::sync::Arc::clone(&ctx.plan);
    let job_id = format!("{} (target {})", plan.jobs[job].id, plan.targets[t].id);
    let artifacts = ctx.artifacts.clone();
    let threads = threads_each(rayon::current_num_threads(), ctx.jobs, &plan);
    let result = tokio::task::spawn_blocking(move || {
        let step = &plan.channels[c];
        let name = step.name.as_str();
        let url = step.url(t).unwrap_or_default();
        let package = package(&plan, name, t, url, &artifacts)?;
        let out = Out {
            dist: &plan.dist,
            algorithm: plan.checksum.algorithm,
            channel: name,
            template: None,
            threads,
        };
        let release = release(&plan);
        let written = step.packager.write_package(&out, &release, &package)?;
        // Where the plan puts it is the only file its cache entry may
        // restore (`cached::package`): a kind that wrote elsewhere would
        // never be restored.
        let planned = step.packager.package_file(&release, &package)?;
        if written.path != planned {
            return Err(PublishError::Invalid {
                channel: name.to_string(),
                message: format!(
                    "the package of {} was written as {}, not {planned}",
                    package.target, written.path
                ),
                help: None,
            });
        }
        Ok(written)
    })
    .await
    .map_err(|_| JobError::Cancelled)?;
    let written = result.map_err(|source| JobError::Publish {
        job: job_id,
        source: Box::new(source),
    })?;
    Ok(Output {
        extra: vec![written],
        ..Output::default()
    })
}

/// The threads each package job's tool may use: `threads` shared evenly
/// by as many package jobs as can run at once (`jobs` at most), at least
/// one each. Decided per plan, not per moment, so it is the same for
/// every package job of a run.
fn threads_each(threads: usize, jobs: usize, plan: &Plan) -> usize {
    let packages = plan
        .jobs
        .iter()
        .filter(|j| j.kind == crate::plan::JobKind::Package)
        .count();
    let at_once = packages.min(jobs).clamp(1, threads.max(1));
    (threads / at_once).max(1)
}

pub(super) fn release(plan: &Plan) -> Release {
    let v = &plan.version;
    Release {
        name: plan.project.name.clone(),
        description: plan.project.description.clone(),
        homepage: plan.project.homepage.clone(),
        license: plan.project.license.clone(),
        version: v.version.clone(),
        tag: v.tag.clone(),
        prerelease: v.prerelease.clone(),
        commit: v.commit.clone(),
        timestamp: v.timestamp,
        is_snapshot: v.is_snapshot,
    }
}

/// The package of target `t` from its archive's record.
pub(super) fn package(
    plan: &Plan,
    channel: &str,
    t: usize,
    url: &str,
    artifacts: &[Artifact],
) -> Result<Package, PublishError> {
    let target = &plan.targets[t];
    let missing = || PublishError::Invalid {
        channel: channel.to_string(),
        message: format!("no archive record for {}", target.id),
        help: None,
    };
    let record = artifacts
        .iter()
        .find(|a| {
            a.target.as_deref() == Some(target.id.as_str())
                && matches!(a.kind, ArtifactKind::Archive | ArtifactKind::Binary)
        })
        .ok_or_else(missing)?;
    // Channels need `[checksum] algorithm = "sha256"` (checked at plan
    // time); the release notes, which every release has, show the sha256
    // of a sha512 release's archives too, hashed here.
    let sha256 = match record.digest.strip_prefix("sha256:") {
        Some(hex) => hex.to_string(),
        None => {
            let path = plan.dist.join(&record.path);
            crate::package::checksum::digest_file(
                &path,
                crate::package::checksum::Algorithm::Sha256,
            )
            .map_err(|e| PublishError::Invalid {
                channel: channel.to_string(),
                message: format!("cannot hash {}: {e}", record.path),
                help: None,
            })?
            .strip_prefix("sha256:")
            .ok_or_else(missing)?
            .to_string()
        }
    };
    // A joined target (darwin/universal) has no platform row: it ships as
    // its first thin target's platform, under its own arch.
    let platform = target
        .platform
        .or_else(|| {
            let thin = *target.joins.as_ref()?.first()?;
            plan.targets[thin].platform
        })
        .ok_or_else(|| PublishError::Invalid {
            channel: channel.to_string(),
            message: format!("{} is not a platform matrix knows", target.id),
            help: None,
        })?;
    let arch = match target.platform {
        Some(p) => p.arch,
        None => crate::target::UNIVERSAL_ARCH,
    };
    let step = &target.archive;
    let prefix = |name: &str| match &step.wrap {
        Some(dir) => format!("{dir}/{name}"),
        None => name.to_string(),
    };
    let files = if step.format == crate::package::archive::Format::Binary {
        Vec::new()
    } else {
        crate::package::files::resolve(&plan.root, &step.files)
            .map_err(|e| PublishError::Invalid {
                channel: channel.to_string(),
                message: format!("cannot list the files of {}: {e}", step.file_name),
                help: None,
            })?
            .into_iter()
            .map(|e| prefix(&e.dest))
            .collect()
    };
    Ok(Package {
        target: target.id.clone(),
        os: platform.os.to_string(),
        arch: arch.to_string(),
        variant: platform.variant.map(str::to_string),
        platform,
        file_name: record.name.clone(),
        path: plan.dist.join(&record.path),
        url: url.to_string(),
        sha256,
        size: record.size,
        format: step.format,
        binary: target.build.binary.clone(),
        binary_in_archive: prefix(&target.build.binary),
        binary_file: super::context::binary(plan, t),
        files,
    })
}

/// Gathers channel `step`'s input from the archive records, then has its
/// kind's packager write its files (not the packages of its package jobs).
fn write_channel(
    plan: &Plan,
    step: &ChannelStep,
    artifacts: &[Artifact],
) -> Result<Vec<Artifact>, PublishError> {
    let name = step.name.as_str();
    let mut packages = Vec::with_capacity(step.targets.len());
    for (t, url) in &step.targets {
        packages.push(package(plan, name, *t, url, artifacts)?);
    }
    let input = ChannelInput {
        release: release(plan),
        packages,
    };
    let out = Out {
        dist: &plan.dist,
        algorithm: plan.checksum.algorithm,
        channel: name,
        template: read_template(name, &step.template)?,
        threads: rayon::current_num_threads(),
    };
    step.packager.write(&out, &input)
}

fn write_notes(
    plan: &Plan,
    artifacts: &[Artifact],
    images: &[crate::package::manifest::Image],
    missing: &[String],
    log: &Path,
) -> Result<Vec<Artifact>, PublishError> {
    const CHANNEL: &str = "release notes";
    let Some(step) = &plan.notes else {
        return Ok(Vec::new());
    };
    let changelog = match std::fs::read_to_string(&step.changelog) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !step.required => {
            let _ = super::process::note(
                log,
                &format!("no {}: no release notes written", step.changelog_name),
            );
            return Ok(Vec::new());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(PublishError::io(CHANNEL, &step.changelog)(e)),
    };
    let mut packages = Vec::new();
    for (t, target) in plan.targets.iter().enumerate() {
        // A joined target (darwin/universal) is a download like the others.
        let known = target.platform.is_some() || target.joins.is_some();
        if known && !missing.contains(&target.id) {
            let url = step.urls.get(t).map_or("", String::as_str);
            packages.push(package(plan, CHANNEL, t, url, artifacts)?);
        }
    }
    let image_notes: Vec<notes::ImageNote> = images
        .iter()
        .map(|i| notes::ImageNote {
            id: i.id.clone(),
            tags: i.tags.clone(),
            repositories: i.repositories.clone(),
            digest: i.digest.clone(),
            platforms: i.platforms.iter().map(|p| p.platform.clone()).collect(),
        })
        .collect();
    let template = read_template(CHANNEL, &step.template)?;
    let release = release(plan);
    let rendered = notes::render(
        &notes::NotesInput {
            release: &release,
            checksums_file: &plan.checksum.file_name,
            algorithm: plan.checksum.algorithm,
            packages: &packages,
            images: &image_notes,
            changelog: changelog.as_deref(),
            changelog_path: &step.changelog_name,
            known_limitations: step.known_limitations.as_deref(),
            verification: &step.verification,
        },
        template.as_deref(),
    )?;
    for w in &rendered.warnings {
        let _ = super::process::note(log, &format!("warning: {w}"));
    }
    let out = Out {
        dist: &plan.dist,
        algorithm: plan.checksum.algorithm,
        channel: CHANNEL,
        template: None,
        threads: 1,
    };
    Ok(vec![out.emit(
        NOTES,
        rendered.text.as_bytes(),
        ArtifactKind::Notes,
    )?])
}

#[cfg(test)]
mod tests {
    use super::threads_each;

    /// Five snaps of a five-target snap channel.
    const CONFIG: &str = r#"
[project]
name = "hello"
description = "Hello."
license = "MIT"

[matrix]
os = ["linux"]
arch = ["amd64", "arm64", "ppc64le", "s390x", "riscv64"]

[build]
command = "true"
binary = "hello"

[release]
url = "https://example.org/{{ artifact }}"

[channels.snap]
kind = "snapcraft"
"#;

    #[test]
    fn package_jobs_share_the_threads_by_how_many_run_at_once() {
        let plan = crate::plan::tests::plan_of(CONFIG, &[]).unwrap();
        // (threads, --jobs, each): at most min(jobs, 5 snaps) run at once.
        for (threads, jobs, want) in [
            (8, 1, 8),
            (8, 2, 4),
            (8, 4, 2),
            (8, 16, 1),
            (2, 2, 1),
            (2, 1, 2),
            (1, 4, 1),
            (4, 0, 4),
        ] {
            assert_eq!(threads_each(threads, jobs, &plan), want, "{threads} {jobs}");
        }
        let mut none = CONFIG.replace(
            "kind = \"snapcraft\"",
            "kind = \"snapcraft\"\npackage = false",
        );
        none.push('\n');
        let plan = crate::plan::tests::plan_of(&none, &[]).unwrap();
        assert!(!plan.channels[0].per_target());
        assert_eq!(threads_each(8, 2, &plan), 8, "no package job: all of them");
    }
}
