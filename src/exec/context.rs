//! What a job gets to work with, and what it hands on: the [`Context`] of
//! finished jobs' results, the [`Output`] a job returns, what it
//! [`Produced`] for later jobs, and where its log goes.
//!
//! Part of `exec`, shared by the scheduler and every kind of job, so the
//! job modules depend on it and not on each other.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::Status;
use crate::engine::Engine;
use crate::image::oci;
use crate::inspect::Inspected;
use crate::package::manifest::Artifact;
use crate::plan::Plan;

/// Lines of a failed job's log shown in the error.
pub(super) const TAIL_LINES: usize = 20;

/// What a job hands to the jobs after it.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub artifact: Option<Artifact>,
    pub extra: Vec<Artifact>,
    pub binary: Option<Inspected>,
    pub produced: Option<Produced>,
}

/// What a job made that later jobs use.
#[derive(Debug, Clone)]
pub enum Produced {
    /// A builder image, by its content-hash tag.
    Builder { image: String },
    /// One platform of an image variant.
    Image(ImageBuilt),
    /// A variant's multi-platform index.
    Index(IndexBuilt),
    /// References a variant was pushed to.
    Pushed(Vec<String>),
}

/// One platform of a variant, built.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ImageBuilt {
    pub variant: usize,
    pub platform: String,
    /// The image manifest in the variant's layout.
    pub descriptor: oci::Descriptor,
    /// Assembled by matrix (true) or built by the engine.
    pub native: bool,
    /// Its single-platform tag in the engine (engine builds only).
    pub local_tag: Option<String>,
}

/// A variant's index, assembled.
#[derive(Debug, Clone, Serialize)]
pub struct IndexBuilt {
    pub variant: usize,
    pub descriptor: oci::Descriptor,
    /// The OCI archive in dist/, when written.
    pub archive: Option<String>,
}

/// Everything a job may read: the plan and the results of jobs done so far.
pub(crate) struct Context {
    pub plan: Arc<Plan>,
    pub artifacts: Vec<Artifact>,
    /// (job index, status, duration) of every finished job.
    pub finished: Vec<(usize, Status, Duration)>,
    /// Verified binaries by target index.
    pub binaries: Vec<(usize, Inspected)>,
    /// What finished jobs made, by job index.
    pub produced: Vec<(usize, Produced)>,
    pub smoke: bool,
    pub engine: Option<Arc<Engine>>,
    pub run_id: Arc<str>,
    pub missing_targets: Vec<String>,
    /// Job records handed over by a merge ([`Seed::jobs`]).
    pub seed_jobs: Vec<crate::package::manifest::Job>,
    /// The `[sign]` key, for the sign job.
    pub signer: Option<Arc<crate::packager::sign::Signer>>,
    /// The action cache build, archive and package jobs are restored from
    /// and stored in.
    pub cache: Option<Arc<super::cached::Cache>>,
    /// Most jobs running at once (`--jobs`): package jobs share the
    /// machine's threads by it.
    pub jobs: usize,
}

/// Where a job's log goes.
pub fn log_path(plan: &Plan, job: usize) -> PathBuf {
    plan.dist
        .join(crate::plan::LOG_DIR)
        .join(format!("{}.log", plan.jobs[job].id))
}

/// A target's binary: where a merge puts it back from its verified archive
/// (`dist/build/<slug>/<binary>`, which is also where a build writes it
/// unless a preset or `artifact` says otherwise), else where the build
/// left it.
pub fn binary(plan: &Plan, t: usize) -> PathBuf {
    let target = &plan.targets[t];
    let staged = plan
        .dist
        .join(crate::plan::BUILD_DIR)
        .join(&target.slug)
        .join(&target.build.binary);
    if staged.is_file() {
        staged
    } else {
        target.build.artifact.clone()
    }
}
