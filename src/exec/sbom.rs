//! The SBOM job: reads one target's binary and archive and writes its
//! SBOMs (`[sbom]`) into dist/.
//!
//! Part of `exec`. What the documents say is the packager's
//! ([`crate::packager::sbom`]); this job gathers it from the disk: the
//! binary (mapped, never read past its size), the archive's digest, the
//! archive's files and the toolchain's version, off the async scheduler.

use std::path::{Path, PathBuf};

use super::context::{Context, Output, binary};
use super::error::JobError;
use crate::package::archive::Format;
use crate::package::checksum::{Algorithm, hash_file};
use crate::package::files::{self, Entry};
use crate::package::manifest::{Artifact, ArtifactKind};
use crate::packager::sbom::{self, Subject, c, cargo, gobuildinfo};
use crate::plan::Plan;

/// A binary larger than this is not searched for build information (its
/// files are still listed with their digests).
const MAX_BINARY: u64 = 2 << 30;
/// A Cargo.lock larger than this is refused.
const MAX_LOCK: u64 = 16 << 20;

pub(super) async fn run(ctx: &Context, job: usize, t: usize) -> Result<Output, JobError> {
    let plan = std::sync::Arc::clone(&ctx.plan);
    let job_id = plan.jobs[job].id.clone();
    // Hashing, mapping and asking a compiler its version block.
    let extra = tokio::task::spawn_blocking(move || write(&plan, &job_id, t))
        .await
        .map_err(|_| JobError::Cancelled)??;
    Ok(Output {
        extra,
        ..Output::default()
    })
}

fn write(plan: &Plan, job: &str, t: usize) -> Result<Vec<Artifact>, JobError> {
    let subject = subject(plan, job, t)?;
    let target = &plan.targets[t];
    let mut out = Vec::new();
    for file in &plan.sboms[t].files {
        let bytes = sbom::render(file.format, &subject);
        let path = plan.dist.join(&file.file_name);
        crate::package::atomic::write_atomic(&path, &bytes).map_err(|source| JobError::Io {
            job: job.to_string(),
            path: path.clone(),
            source,
        })?;
        let mut a = Artifact::of_bytes(
            &file.file_name,
            &bytes,
            ArtifactKind::Sbom,
            plan.checksum.algorithm,
        );
        a.target = Some(target.id.clone());
        out.push(a);
    }
    Ok(out)
}

fn subject(plan: &Plan, job: &str, t: usize) -> Result<Subject, JobError> {
    let target = &plan.targets[t];
    let build = &target.build;
    let fail = |path: &Path, why: String| JobError::Sbom {
        job: job.to_string(),
        path: path.to_path_buf(),
        why,
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| fail(&path, e.to_string())
    };
    let archive = plan.dist.join(&target.archive.file_name);
    let (archive_sha256, _) = hash_file(&archive, Algorithm::Sha256).map_err(io(&archive))?;

    // The archive's files, as the archive job packed them.
    let mut entries = if target.archive.format == Format::Binary {
        Vec::new()
    } else {
        files::resolve(&plan.root, &target.archive.files)
            .map_err(|e| fail(&plan.root, e.to_string()))?
    };
    entries.push(Entry {
        source: binary(plan, t),
        dest: build.binary.clone(),
        executable: true,
    });
    entries.sort_by(|a, b| a.dest.cmp(&b.dest));
    let files = c::files(&entries).map_err(io(&binary(plan, t)))?;

    let (go, crates) = contents(plan, job, t)?;

    let preset = build.preset.map(|p| p.name());
    let tools = match &go {
        // The binary says which Go built it; nothing to run.
        Some(info) => vec![sbom::Tool {
            name: "go".into(),
            version: info.go_version.clone(),
        }],
        // A shell line names no compiler, unless `CC` or a preset does.
        None => c::compiler(
            preset,
            if build.shell { &[] } else { &build.argv },
            &build.env,
        )
        .map(|name| {
            if build.container.is_some() {
                // The compiler is in the build's image, not here: its
                // name is known, its version is not asked of the host.
                vec![sbom::Tool {
                    name: c::tool_name(&name),
                    version: String::new(),
                }]
            } else {
                vec![c::tool(&name, &build.env, &build.dir)]
            }
        })
        .unwrap_or_default(),
    };
    let v = &plan.version;
    Ok(Subject {
        project: plan.project.name.clone(),
        version: v.version.clone(),
        license: plan.project.license.clone(),
        homepage: plan.project.homepage.clone(),
        commit: v.commit.clone(),
        timestamp: v.timestamp,
        target: target.id.clone(),
        archive: target.archive.file_name.clone(),
        archive_sha256,
        files,
        tools,
        go,
        crates,
        generator: env!("CARGO_PKG_VERSION").into(),
    })
}

/// What a binary is made of: Go's modules, or the crates and where their
/// list came from.
pub(super) type Contents = (
    Option<gobuildinfo::BuildInfo>,
    Option<(cargo::CrateSource, Vec<cargo::Crate>)>,
);

/// Go's build info and the crates of target `t`'s binary (`cargo
/// auditable`'s, else the Cargo.lock's), as the SBOMs list them; the
/// image attestations read the same.
pub(super) fn contents(plan: &Plan, job: &str, t: usize) -> Result<Contents, JobError> {
    let fail = |path: &Path, why: String| JobError::Sbom {
        job: job.to_string(),
        path: path.to_path_buf(),
        why,
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| fail(&path, e.to_string())
    };
    let binary = binary(plan, t);
    let (go, auditable) = read_binary(&binary).map_err(io(&binary))?;
    let crates = match auditable {
        Some(crates) => Some((cargo::CrateSource::Auditable, crates)),
        None => cargo_lock(&plan.targets[t].build.dir, plan)
            .map(|lock| {
                let text = crate::package::capped::read_text(&lock, MAX_LOCK).map_err(io(&lock))?;
                cargo::from_lock(&text)
                    .map(|crates| (cargo::CrateSource::CargoLock, crates))
                    .map_err(|why| fail(&lock, why))
            })
            .transpose()?,
    };
    Ok((go, crates))
}

type Found = (Option<gobuildinfo::BuildInfo>, Option<Vec<cargo::Crate>>);

/// Go's build info and the `cargo auditable` crates of the binary at
/// `path`, when it has them; a binary over [`MAX_BINARY`] has neither.
fn read_binary(path: &Path) -> std::io::Result<Found> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.len() > MAX_BINARY || file.metadata()?.len() == 0 {
        return Ok((None, None));
    }
    // SAFETY: read-only, and the build that wrote the file has finished,
    // so nothing truncates it while it is mapped.
    let map = unsafe { memmap2::Mmap::map(&file) }?;
    Ok((gobuildinfo::read(&map), cargo::from_binary(&map)))
}

/// The Cargo.lock of a Rust build: in the build's folder, else at the
/// project's root.
fn cargo_lock(dir: &Path, plan: &Plan) -> Option<PathBuf> {
    [dir.join("Cargo.lock"), plan.root.join("Cargo.lock")]
        .into_iter()
        .find(|p| p.is_file())
}
