//! What each kind of job does: build, archive, checksums, manifest.
//!
//! Part of `exec`. Build jobs supervise a process ([`super::process`]);
//! archive jobs run `package` on a blocking thread (its deflate blocks go
//! on to rayon) so the async scheduler never blocks; the release-wide jobs
//! write the checksums file and the manifest from the artifacts earlier
//! jobs reported, atomically and last.

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::context::{Context, Output, TAIL_LINES, log_path};
use super::error::JobError;
use super::process::{self, Ended};
use super::smoke;
use crate::inspect::{self, Expected, Inspected};
use crate::package::PackageError;
use crate::package::archive::{self, ArchiveSpec, Format};
use crate::package::checksum;
use crate::package::files::{self, Entry};
use crate::package::manifest::{self, Artifact, ArtifactKind, Manifest};
use crate::plan::{JobId, MANIFEST, Plan};

pub(super) async fn run(
    ctx: &Context,
    job: usize,
    cancel: &CancellationToken,
) -> Result<Output, JobError> {
    let plan = &ctx.plan;
    let artifact = |a| Output {
        artifact: Some(a),
        ..Output::default()
    };
    match plan.jobs[job].work() {
        JobId::Builder(b) => super::builder::run(ctx, job, b, cancel)
            .await
            .map(|p| Output {
                produced: Some(p),
                ..Output::default()
            }),
        JobId::Build(t) => super::cached::build(ctx, job, t, cancel)
            .await
            .map(|binary| Output {
                binary,
                ..Output::default()
            }),
        JobId::Archive(t) => super::cached::archive(ctx, job, t).await.map(artifact),
        JobId::Sbom(t) => super::sbom::run(ctx, job, t).await,
        JobId::Image { variant, platform } => {
            super::cached::image(ctx, job, variant, platform, cancel).await
        }
        JobId::Index(v) => super::images::run_index(ctx, job, v).await,
        JobId::Push(v) => super::images::run_push(ctx, job, v).await,
        JobId::Package { channel, target } => {
            super::cached::package(ctx, job, channel, target).await
        }
        JobId::Channel(c) => super::channels::run(ctx, job, Some(c)).await,
        JobId::Notes => super::channels::run(ctx, job, None).await,
        JobId::Checksums => checksums(ctx, job).map(artifact),
        JobId::Sign => sign(ctx, job).await.map(|extra| Output {
            extra,
            ..Output::default()
        }),
        JobId::Manifest => write_manifest(ctx, job).map(|()| Output::default()),
    }
}

pub(super) fn io_error(
    plan: &Plan,
    job: usize,
    path: PathBuf,
) -> impl FnOnce(std::io::Error) -> JobError + '_ {
    move |source| JobError::Io {
        job: plan.jobs[job].id.clone(),
        path,
        source,
    }
}

/// Runs a build job's command, then checks what it made.
pub(super) async fn build(
    ctx: &Context,
    job: usize,
    t: usize,
    cancel: &CancellationToken,
) -> Result<Option<Inspected>, JobError> {
    if ctx.plan.targets[t].joins.is_some() {
        return super::universal::join(&ctx.plan, job, t)
            .await
            .map(|()| None);
    }
    run_command(ctx, job, t, cancel).await?;
    check_binary(ctx, job, t, cancel).await
}

/// A fresh output folder (nothing from an earlier run can be packaged), and
/// the target's cache folder if the step uses one.
pub(super) fn fresh_out_dir(
    plan: &Plan,
    job: usize,
    step: &crate::plan::BuildStep,
) -> Result<(), JobError> {
    if step.out_dir.exists() {
        std::fs::remove_dir_all(&step.out_dir).map_err(io_error(
            plan,
            job,
            step.out_dir.clone(),
        ))?;
    }
    std::fs::create_dir_all(&step.out_dir).map_err(io_error(plan, job, step.out_dir.clone()))?;
    // `{{ cache }}` is kept, not fresh; it must exist before a container
    // mounts it (an engine would make a missing one as root).
    match &step.cache_dir {
        Some(dir) => target_cache_dir(dir).map_err(io_error(plan, job, dir.clone())),
        None => Ok(()),
    }
}

/// Makes a target's `{{ cache }}` if it is missing. The folders matrix
/// names below the user's cache folder are made one at a time, and none
/// may be a link or another user's: without HOME they are in the shared
/// temp folder, where another user could make them first and so hand the
/// build their files.
fn target_cache_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let depth = crate::plan::TARGET_DIR_DEPTH;
    let home = dir
        .ancestors()
        .nth(depth)
        .unwrap_or(std::path::Path::new("/"));
    let rel = dir.strip_prefix(home).map_err(std::io::Error::other)?;
    crate::package::nofollow::create_dirs(home, rel)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let me = nix::unistd::geteuid().as_raw();
    for folder in dir.ancestors().take(depth) {
        let owner = folder.symlink_metadata()?.uid();
        if owner != me {
            return Err(std::io::Error::other(format!(
                "`{}` belongs to another user (uid {owner}); matrix builds only in cache folders of its own (set HOME or XDG_CACHE_HOME)",
                folder.display()
            )));
        }
    }
    Ok(())
}

/// Runs a build job's command (in its container, if it has one) into a
/// fresh output folder; an error unless it exits with success.
async fn run_command(
    ctx: &Context,
    job: usize,
    t: usize,
    cancel: &CancellationToken,
) -> Result<(), JobError> {
    let plan = &ctx.plan;
    let target = &plan.targets[t];
    let step = &target.build;
    let log = log_path(plan, job);
    fresh_out_dir(plan, job, step)?;
    process::write_header(&log, &target.id, step).map_err(io_error(plan, job, log.clone()))?;
    let command = shell_words::join(&step.argv);
    let in_container = match &step.container {
        None => None,
        Some(image) => Some(super::container::container_command(ctx, job, t, image)?),
    };
    let no_env = Default::default();
    let spawn = match &in_container {
        None => step.into(),
        Some((argv, _)) => {
            process::note(&log, &format!("container: {}", shell_words::join(argv)))
                .map_err(io_error(plan, job, log.clone()))?;
            process::Spawn {
                argv,
                env: &no_env,
                dir: &plan.root,
                timeout: step.timeout,
            }
        }
    };
    let ended = process::run(spawn, &log, cancel).await;
    if let (Some((_, name)), Some(engine)) = (&in_container, &ctx.engine)
        && !matches!(&ended, Ok(Ended::Exited(s)) if s.success())
    {
        // Killing the client does not stop the container; remove it.
        engine.remove(name).await;
    }
    let ended = ended.map_err(|source| {
        JobError::spawn(
            &target.id.clone(),
            spawn_program(&in_container, step),
            source,
        )
    })?;
    match ended {
        Ended::Exited(status) if status.success() => {}
        Ended::Exited(status) => {
            return Err(JobError::Failed {
                target: target.id.clone(),
                command,
                status: process::describe(&status),
                tail: process::tail(&log, TAIL_LINES),
                log,
            });
        }
        Ended::Cancelled => return Err(JobError::Cancelled),
        Ended::TimedOut => {
            return Err(JobError::TimedOut {
                target: target.id.clone(),
                command,
                after: step
                    .timeout
                    .map(|t| humantime::format_duration(t).to_string())
                    .unwrap_or_default(),
                tail: process::tail(&log, TAIL_LINES),
                log,
            });
        }
    }
    Ok(())
}

/// The built (or restored) binary: there, what the target's name says,
/// and (with `--smoke`) running.
pub(super) async fn check_binary(
    ctx: &Context,
    job: usize,
    t: usize,
    cancel: &CancellationToken,
) -> Result<Option<Inspected>, JobError> {
    let plan = &ctx.plan;
    let smoke = ctx.smoke;
    let target = &plan.targets[t];
    let step = &target.build;
    let log = log_path(plan, job);
    if !step.artifact.is_file() {
        return Err(JobError::MissingBinary {
            target: target.id.clone(),
            path: step.artifact.clone(),
            log,
        });
    }
    // Prove the binary is what the target's name says before it is shipped.
    let inspected = match (step.verify, target.platform) {
        (true, Some(p)) => {
            let verified = inspect::inspect(&step.artifact).and_then(|found| {
                inspect::check(
                    &found,
                    &Expected {
                        target: &target.id,
                        os: p.os,
                        format: p.format,
                        machine: p.machine,
                        bits: p.bits,
                        endian: p.endian,
                    },
                )
                .map(|()| found)
            });
            Some(verified.map_err(|source| JobError::Verify {
                target: target.id.clone(),
                source,
            })?)
        }
        _ => None,
    };
    if smoke && let Some(args) = &step.smoke {
        smoke::run(target, &step.artifact, args, &log, cancel).await?;
    }
    Ok(inspected)
}

fn spawn_program(
    in_container: &Option<(Vec<String>, String)>,
    step: &crate::plan::BuildStep,
) -> String {
    match in_container {
        Some((argv, _)) => argv.first().cloned().unwrap_or_default(),
        None => step.argv.first().cloned().unwrap_or_default(),
    }
}

/// Writes target `t`'s archive into dist/.
pub(super) async fn archive(plan: &Plan, t: usize) -> Result<Artifact, JobError> {
    let target = &plan.targets[t];
    let step = &target.archive;
    let binary = Entry {
        source: target.build.artifact.clone(),
        dest: target.build.binary.clone(),
        executable: true,
    };
    let specs = step.files.clone();
    let root = plan.root.clone();
    let dest = plan.dist.join(&step.file_name);
    let format = step.format;
    let wrap = step.wrap.clone();
    let zstd_level = step.zstd_level.unwrap_or(archive::ZSTD_DEFAULT_LEVEL);
    let mtime = u64::try_from(plan.version.timestamp).unwrap_or(0);
    let algorithm = plan.checksum.algorithm;
    let package_error = |source| JobError::Package {
        target: target.id.clone(),
        source,
    };
    // Framing, reading and hashing on a blocking thread; deflate blocks
    // fan out from there to rayon's pool. Not on rayon itself: a pool
    // thread that waits for its blocks would pick up other archives and
    // stall its own (nested blocking), leaving cores idle.
    let written = tokio::task::spawn_blocking(move || {
        (|| {
            let mut entries = if format == Format::Binary {
                Vec::new()
            } else {
                files::resolve(&root, &specs)?
            };
            if let Some(clash) = entries.iter().find(|e| e.dest == binary.dest) {
                return Err(PackageError::DuplicateDest {
                    dest: binary.dest.clone(),
                    first: clash.source.clone(),
                    second: binary.source.clone(),
                });
            }
            entries.push(binary);
            entries.sort_by(|a, b| a.dest.cmp(&b.dest));
            archive::write(
                &ArchiveSpec {
                    format,
                    entries: &entries,
                    wrap: wrap.as_deref(),
                    mtime,
                    algorithm,
                    zstd_level,
                },
                &dest,
            )
        })()
    })
    .await
    .map_err(|_| JobError::Cancelled)?
    .map_err(package_error)?;
    Ok(archive_record(plan, t, written.size, &written.digest))
}

/// The record of target `t`'s archive of `size` bytes whose digest (in
/// the release's checksum algorithm) is `hex`: everything else comes from
/// the plan, so an archive restored from the cache has the same record.
pub(super) fn archive_record(plan: &Plan, t: usize, size: u64, hex: &str) -> Artifact {
    let target = &plan.targets[t];
    let step = &target.archive;
    Artifact {
        name: step.file_name.clone(),
        path: step.file_name.clone(),
        kind: ArtifactKind::of_target_output(step.format),
        format: Some(step.format),
        target: Some(target.id.clone()),
        size,
        digest: format!("{}:{hex}", plan.checksum.algorithm.name()),
        binary: None,
    }
}

/// Makes the names of the files `artifacts` lists durable, before a file
/// that declares them finished (the checksums file, the manifest) is
/// written: each was synced before its rename, and the folders they were
/// renamed into are synced here once each (see `package::atomic`).
fn sync_listed(plan: &Plan, artifacts: &[Artifact]) {
    let paths: Vec<PathBuf> = artifacts.iter().map(|a| plan.dist.join(&a.path)).collect();
    crate::package::atomic::sync_dirs(paths.iter().map(PathBuf::as_path));
}

fn checksums(ctx: &Context, job: usize) -> Result<Artifact, JobError> {
    let plan = &ctx.plan;
    let algorithm = plan.checksum.algorithm;
    let prefix = format!("{}:", algorithm.name());
    let lines: Vec<(String, String)> = ctx
        .artifacts
        .iter()
        .filter_map(|a| Some((a.name.clone(), a.digest.strip_prefix(&prefix)?.to_string())))
        .collect();
    let text = checksum::render_checksums(&lines);
    let path = plan.dist.join(&plan.checksum.file_name);
    sync_listed(plan, &ctx.artifacts);
    crate::package::atomic::write_atomic(&path, text.as_bytes()).map_err(io_error(
        plan,
        job,
        path.clone(),
    ))?;
    Ok(Artifact::of_bytes(
        &plan.checksum.file_name,
        text.as_bytes(),
        ArtifactKind::Checksums,
        algorithm,
    ))
}

/// Signs the checksums file (or every artifact) with the key loaded before
/// the run, and writes the public key users verify with; each file
/// atomically, each recorded as an artifact.
async fn sign(ctx: &Context, job: usize) -> Result<Vec<Artifact>, JobError> {
    let plan = Arc::clone(&ctx.plan);
    let Some(signer) = ctx.signer.clone() else {
        return Err(JobError::Sign {
            message: "the [sign] key was not loaded".into(),
        });
    };
    let algorithm = plan.checksum.algorithm;
    let files: Vec<String> = match signer.signed {
        crate::packager::sign::Signed::Checksums => vec![plan.checksum.file_name.clone()],
        crate::packager::sign::Signed::All => ctx
            .artifacts
            .iter()
            .filter(|a| {
                !matches!(
                    a.kind,
                    ArtifactKind::Signature | ArtifactKind::Key | ArtifactKind::Provenance
                )
            })
            .map(|a| a.path.clone())
            .collect(),
    };
    // The provenance's subjects: the files the checksums file lists.
    let subjects: Vec<(String, String)> = ctx
        .artifacts
        .iter()
        .filter(|a| {
            !matches!(
                a.kind,
                ArtifactKind::Checksums
                    | ArtifactKind::Signature
                    | ArtifactKind::Key
                    | ArtifactKind::Provenance
            )
        })
        .map(|a| (a.path.clone(), a.digest.clone()))
        .collect();
    // Each archive (or bare binary) of a target gets its own provenance.
    let archives: Vec<(usize, String, String)> = ctx
        .artifacts
        .iter()
        .filter(|a| matches!(a.kind, ArtifactKind::Archive | ArtifactKind::Binary))
        .filter_map(|a| {
            let t = plan
                .targets
                .iter()
                .position(|t| Some(&t.id) == a.target.as_ref())?;
            Some((t, a.path.clone(), a.digest.clone()))
        })
        .collect();
    // gpg and RSA keys run to their end: off the scheduler's threads.
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::with_capacity(files.len() + 1);
        for name in &files {
            let signature =
                signer
                    .sign(name, &plan.dist.join(name))
                    .map_err(|e| JobError::Sign {
                        message: e.to_string(),
                    })?;
            let sig_name = format!("{name}.{}", signer.method.extension());
            let path = plan.dist.join(&sig_name);
            crate::package::atomic::write_atomic(&path, &signature).map_err(io_error(
                &plan,
                job,
                path.clone(),
            ))?;
            out.push(Artifact::of_bytes(
                &sig_name,
                &signature,
                ArtifactKind::Signature,
                algorithm,
            ));
        }
        for (name, text) in provenance(&plan, job, &signer, &subjects, &archives)? {
            let path = plan.dist.join(&name);
            crate::package::atomic::write_atomic(&path, text.as_bytes()).map_err(io_error(
                &plan,
                job,
                path.clone(),
            ))?;
            let mut artifact =
                Artifact::of_bytes(&name, text.as_bytes(), ArtifactKind::Provenance, algorithm);
            // An archive's provenance names its target, as its SBOMs do.
            artifact.target = archives
                .iter()
                .find(|(_, a, _)| crate::packager::sign::provenance::archive_file_name(a) == name)
                .map(|(t, _, _)| plan.targets[*t].id.clone());
            out.push(artifact);
        }
        let key = signer.public_text.as_bytes();
        let path = plan.dist.join(&signer.public_name);
        crate::package::atomic::write_atomic(&path, key).map_err(io_error(
            &plan,
            job,
            path.clone(),
        ))?;
        out.push(Artifact::of_bytes(
            &signer.public_name,
            key,
            ArtifactKind::Key,
            algorithm,
        ));
        // Pushed images are signed in cosign's layout: its PEM key.
        let cosign_key = plan.sign.as_ref().and_then(|s| s.cosign_key.as_ref());
        if let (Some(name), Some(public)) = (cosign_key, signer.ed25519_public()) {
            let pem = crate::image::cosign::public_key_pem(&public);
            let path = plan.dist.join(name);
            crate::package::atomic::write_atomic(&path, pem.as_bytes()).map_err(io_error(
                &plan,
                job,
                path.clone(),
            ))?;
            out.push(Artifact::of_bytes(
                name,
                pem.as_bytes(),
                ArtifactKind::Key,
                algorithm,
            ));
        }
        Ok(out)
    })
    .await
    .map_err(|_| JobError::Cancelled)?
}

/// `text` with every occurrence of the folder `path` replaced by `by`,
/// only where it is the whole folder: followed by `/` or the end (so
/// `/p/hello-cache` keeps its name when `path` is `/p/hello`), and not
/// for `/` itself.
fn replace_path(text: &str, path: &str, by: &str) -> String {
    if path.len() <= 1 {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(path) {
        let after = &rest[at + path.len()..];
        out.push_str(&rest[..at]);
        if after.is_empty() || after.starts_with('/') {
            out.push_str(by);
        } else {
            out.push_str(path);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The provenance files (name, text): the release's, whose subjects are
/// every file the checksums file lists, then one per archive, whose only
/// subject is that archive (by sha256) and whose build definition is its
/// target's. Each is a DSSE envelope signed with the `[sign]` key.
fn provenance(
    plan: &Plan,
    job: usize,
    signer: &crate::packager::sign::Signer,
    subjects: &[(String, String)],
    archives: &[(usize, String, String)],
) -> Result<Vec<(String, String)>, JobError> {
    use crate::packager::sign::provenance as p;
    let v = &plan.version;
    // Where the checkout and dist/ are is no part of the build: paths
    // under them are written `<dist>/...` and `<root>/...`, so that two
    // builds of one commit (or a merge of shards and a single build) in
    // different folders state the same.
    let (dist, root) = (
        plan.dist.display().to_string(),
        plan.root.display().to_string(),
    );
    let portable = |s: &String| {
        let s = replace_path(s, &dist, "<dist>");
        replace_path(&s, &root, "<root>")
    };
    let built = |t: &crate::plan::Target| p::TargetBuild {
        id: t.id.clone(),
        command: t.build.argv.iter().map(portable).collect(),
        env: t
            .build
            .env
            .iter()
            .map(|(k, v)| (k.clone(), portable(v)))
            .collect(),
        toolchain: toolchain(&t.build),
    };
    let release = |subjects: Vec<(String, String)>, targets| p::Release {
        project: &plan.project.name,
        version: &v.version,
        tag: &v.tag,
        commit: &v.commit,
        config_sha256: &plan.config_sha256,
        subjects,
        targets,
    };
    let sign = |name: String, r: p::Release| -> Result<(String, String), JobError> {
        let payload = serde_json::to_vec(&p::statement(&r)).map_err(|e| JobError::Sign {
            message: format!("[sign] cannot write {name}: {e}"),
        })?;
        let (keyid, sig) = signer
            .sign_dsse(&name, &p::pae(p::PAYLOAD_TYPE, &payload))
            .map_err(|e| JobError::Sign {
                message: e.to_string(),
            })?;
        Ok((name, p::envelope(&payload, &keyid, &sig)))
    };
    let release_name = p::file_name(&plan.project.name, &v.version);
    if let Some((_, name, _)) = archives
        .iter()
        .find(|(_, name, _)| p::archive_file_name(name) == release_name)
    {
        return Err(JobError::Sign {
            message: format!(
                "[sign] the provenance of {name} would be {release_name}, the release's provenance file: rename the archive ([archive] name)"
            ),
        });
    }
    let mut out = vec![sign(
        release_name.clone(),
        release(subjects.to_vec(), plan.targets.iter().map(built).collect()),
    )?];
    for (t, name, digest) in archives {
        let sha256 = match digest.strip_prefix("sha256:") {
            Some(_) => digest.clone(),
            None => {
                let path = plan.dist.join(name);
                crate::package::checksum::digest_file(
                    &path,
                    crate::package::checksum::Algorithm::Sha256,
                )
                .map_err(io_error(plan, job, path.clone()))?
            }
        };
        out.push(sign(
            p::archive_file_name(name),
            release(vec![(name.clone(), sha256)], vec![built(&plan.targets[*t])]),
        )?);
    }
    Ok(out)
}

/// The toolchain a target's plan names: its preset and container image.
fn toolchain(build: &crate::plan::BuildStep) -> Option<serde_json::Value> {
    let mut v = serde_json::Map::new();
    if let Some(preset) = build.preset {
        v.insert("preset".into(), preset.name().into());
    }
    if let Some(image) = &build.container {
        v.insert(
            "container".into(),
            serde_json::to_value(image).unwrap_or_default(),
        );
    }
    (!v.is_empty()).then_some(serde_json::Value::Object(v))
}

fn write_manifest(ctx: &Context, job: usize) -> Result<(), JobError> {
    let plan = &ctx.plan;
    let v = &plan.version;
    let mut jobs: Vec<manifest::Job> = ctx
        .finished
        .iter()
        .map(|&(i, status, duration)| {
            let j = &plan.jobs[i];
            manifest::Job {
                id: j.id.clone(),
                kind: j.kind.as_str().into(),
                target: j.target().map(|t| plan.targets[t].id.clone()),
                status: status.as_str().into(),
                duration_ms: duration.as_millis() as u64,
                restored: ctx.cache.as_ref().is_some_and(|c| c.was_restored(i)),
            }
        })
        .collect();
    // Plan order, so the list reads like `matrix plan`.
    let order: std::collections::HashMap<&str, usize> = plan
        .jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.id.as_str(), i))
        .collect();
    jobs.sort_by_key(|j| order.get(j.id.as_str()).copied());
    // A merge's shard jobs ran before any of this plan's.
    let jobs: Vec<manifest::Job> = ctx.seed_jobs.iter().cloned().chain(jobs).collect();
    let mut m = Manifest {
        format: manifest::FORMAT.into(),
        format_version: crate::plan::FORMAT_VERSION,
        project: manifest::Project {
            name: plan.project.name.clone(),
            description: plan.project.description.clone(),
            homepage: plan.project.homepage.clone(),
            license: plan.project.license.clone(),
        },
        version: v.version.clone(),
        tag: v.tag.clone(),
        commit: v.commit.clone(),
        commit_date: v.commit_date.clone(),
        timestamp: v.timestamp,
        is_snapshot: v.is_snapshot,
        config_sha256: plan.config_sha256.clone(),
        checksum: manifest::ChecksumFile {
            algorithm: plan.checksum.algorithm,
            file: plan.checksum.file_name.clone(),
        },
        // A `--target` build that left targets out lists them all, as a
        // partial merge's manifest does (a shard is marked as a shard).
        targets: if plan.shard.is_none()
            && !ctx.missing_targets.is_empty()
            && !plan.unfiltered.is_empty()
        {
            plan.unfiltered.clone()
        } else {
            plan.targets
                .iter()
                .map(|t| manifest::Target {
                    id: t.id.clone(),
                    values: t.values.clone(),
                    verify: t.build.verify,
                })
                .collect()
        },
        artifacts: ctx
            .artifacts
            .iter()
            .map(|a| {
                let mut a = a.clone();
                // A target's SBOMs name its target but are no binary.
                let of_binary = matches!(a.kind, ArtifactKind::Archive | ArtifactKind::Binary);
                a.binary = a.target.as_ref().filter(|_| of_binary).and_then(|id| {
                    ctx.binaries
                        .iter()
                        .find(|(t, _)| plan.targets[*t].id == *id)
                        .map(|(_, b)| b.clone())
                });
                a
            })
            .collect(),
        images: super::images::records(ctx),
        shard: plan.shard.clone(),
        image_parts: if plan.shard.is_some() {
            super::images::parts(ctx)
        } else {
            Vec::new()
        },
        missing_targets: ctx.missing_targets.clone(),
        jobs,
    };
    m.normalize();
    let path = plan.dist.join(MANIFEST);
    sync_listed(plan, &ctx.artifacts);
    m.write(&path).map_err(io_error(plan, job, path.clone()))
}

#[cfg(test)]
mod replace_path_tests {
    use super::replace_path;

    #[test]
    fn only_whole_folders_are_replaced() {
        let r = |t| replace_path(t, "/p/hello", "<root>");
        assert_eq!(r("/p/hello"), "<root>");
        assert_eq!(r("-C /p/hello/src x"), "-C <root>/src x");
        assert_eq!(r("/p/hello-cache /p/hello"), "/p/hello-cache <root>");
        assert_eq!(
            r("GOPATH=/p/hellox:/p/hello/go"),
            "GOPATH=/p/hellox:<root>/go"
        );
        assert_eq!(replace_path("/a/b", "/", "<root>"), "/a/b");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_targets_cache_folder_is_never_made_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let cache = home.join("matrix/targets/hello-0123456789ab/linux-amd64");
        target_cache_dir(&cache).unwrap();
        assert!(cache.is_dir());
        // Made again: it is there, and kept.
        std::fs::write(cache.join("kept"), "x").unwrap();
        target_cache_dir(&cache).unwrap();
        assert!(cache.join("kept").exists());
        // A link where matrix names a folder (planted in a shared temp
        // folder, say) is refused, and nothing is made where it points.
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        for planted in [home.join("matrix/targets"), cache.parent().unwrap().into()] {
            std::fs::remove_dir_all(home.join("matrix")).unwrap();
            std::fs::create_dir_all(planted.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(&elsewhere, &planted).unwrap();
            let err = target_cache_dir(&cache).unwrap_err().to_string();
            assert!(err.contains("symbolic link"), "{err}");
            assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        }
    }

    #[test]
    fn a_targets_cache_folder_of_another_user_is_refused() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = if nix::unistd::geteuid().is_root() {
            // Another user made `matrix/` first, in a shared folder.
            let home = dir.path().join("shared");
            std::fs::create_dir_all(home.join("matrix")).unwrap();
            std::os::unix::fs::chown(home.join("matrix"), Some(65534), None).unwrap();
            home.join("matrix/targets/hello-0123456789ab/linux-amd64")
        } else {
            // Not root: the temp folder is root's, four folders up.
            let tmp = std::env::temp_dir();
            assert_ne!(
                tmp.metadata().unwrap().uid(),
                nix::unistd::geteuid().as_raw()
            );
            tmp.join(format!("matrix-owner-{}", std::process::id()))
                .join("t/linux-amd64")
        };
        let err = target_cache_dir(&cache).unwrap_err().to_string();
        assert!(err.contains("belongs to another user"), "{err}");
        if !nix::unistd::geteuid().is_root() {
            let _ = std::fs::remove_dir_all(cache.ancestors().nth(2).unwrap());
        }
    }
}
