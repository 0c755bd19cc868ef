//! The scheduler: runs a plan's job graph in parallel.
//!
//! Fourth stage of the flow (plan -> **exec** -> dist/). It decides nothing
//! about *what* to build; it runs the plan's jobs when their needs have
//! succeeded, at most `jobs` at a time, and emits an event for every start and
//! end. Fail-fast (the default) cancels the rest at the first failure;
//! keep-going runs everything whose needs succeeded. Results are returned in
//! plan order whatever order jobs finished in.

mod builder;
mod channels;
pub mod container;
mod context;
mod error;
pub mod event;
mod images;
pub mod joblog;
mod jobs;
pub mod lock;
pub mod process;
mod smoke;
#[cfg(target_os = "linux")]
pub use crate::process::supervise;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::inspect::Inspected;
use crate::package::manifest::Artifact;
use crate::plan::{JobKind, Plan};
use event::{Event, Reporter};

pub use context::{ImageBuilt, IndexBuilt};
pub use context::{Produced, log_path};
pub use error::JobError;
pub use images::layout_dir as images_layout_dir;

use context::Context;

#[derive(Debug, Clone)]
pub struct Options {
    /// Most jobs running at once.
    pub jobs: usize,
    pub keep_going: bool,
    /// Run each Linux binary with its `smoke` arguments after the build.
    pub smoke: bool,
    /// Most jobs running a container engine at once.
    pub container_jobs: usize,
    /// The engine, found and answering, when the plan uses one.
    pub engine: Option<container::Engine>,
    /// Labels and names this run's containers, so cleanup finds only them.
    pub run_id: String,
    /// Records of artifacts made elsewhere (`matrix merge`: the shards'
    /// archives), seen by the release-wide jobs like their own.
    pub seed: Seed,
}

/// What a merge hands the release-wide jobs instead of running the builds.
#[derive(Debug, Clone, Default)]
pub struct Seed {
    pub artifacts: Vec<Artifact>,
    /// Verified binaries by target index.
    pub binaries: Vec<(usize, Inspected)>,
    /// Targets a partial merge (or a `--target` build) lacks.
    pub missing_targets: Vec<String>,
    /// Platform images the shards built, for the merge's indexes.
    pub produced: Vec<Produced>,
    /// The shards' job records (builds, archives, images), checked against
    /// the plan and in plan order: the merged manifest lists them before
    /// its own, so `--history` sees every target's real durations.
    pub jobs: Vec<crate::package::manifest::Job>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
    /// Not run because a job it needs did not succeed.
    Skipped,
    /// Stopped or never started because the run was cancelled.
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug)]
pub struct JobResult {
    pub status: Status,
    pub duration: Duration,
    pub artifact: Option<Artifact>,
    /// Release-wide files a job wrote besides (channel files, packages,
    /// notes), listed in the checksums file and the manifest.
    pub extra: Vec<Artifact>,
    /// What a build job's binary turned out to be (when it was verified).
    pub binary: Option<Inspected>,
    pub produced: Option<Produced>,
    pub error: Option<JobError>,
}

impl JobResult {
    fn not_run(status: Status) -> Self {
        JobResult {
            status,
            duration: Duration::ZERO,
            artifact: None,
            extra: Vec::new(),
            binary: None,
            produced: None,
            error: None,
        }
    }
}

/// What a run did: one result per plan job, in plan order.
#[derive(Debug)]
pub struct Outcome {
    pub results: Vec<JobResult>,
    /// The run was stopped by a signal (Ctrl-C, SIGTERM).
    pub interrupted: bool,
    /// Wall time from the first job's start to the last one's end.
    pub elapsed: Duration,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        !self.interrupted && self.results.iter().all(|r| r.status == Status::Ok)
    }

    pub fn failures(&self) -> impl Iterator<Item = &JobError> {
        self.results.iter().filter_map(|r| r.error.as_ref())
    }
}

/// Runs `plan`. `interrupt` is cancelled by the caller on Ctrl-C/SIGTERM.
pub async fn run(
    plan: Arc<Plan>,
    opts: &Options,
    reporter: Arc<dyn Reporter>,
    interrupt: CancellationToken,
) -> Outcome {
    // Child token: fail-fast cancels jobs without looking like an interrupt.
    let cancel = interrupt.child_token();
    let n = plan.jobs.len();
    let index: HashMap<&str, usize> = plan
        .jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.id.as_str(), i))
        .collect();
    // A plan names only its own jobs as needs (`plan::jobs` refuses any
    // other); should one not, its job is skipped as if that need failed.
    let needs: Vec<Vec<usize>> = plan
        .jobs
        .iter()
        .map(|j| {
            j.needs
                .iter()
                .map(|id| index.get(id.as_str()).copied().unwrap_or(n))
                .collect()
        })
        .collect();
    let mut results: Vec<Option<JobResult>> = (0..n).map(|_| None).collect();
    let mut started = vec![false; n];
    let mut running: JoinSet<(usize, JobResult)> = JoinSet::new();
    let max = opts.jobs.max(1);
    let max_engine = opts.container_jobs.max(1);
    let engine = opts.engine.clone().map(Arc::new);
    let run_id: Arc<str> = Arc::from(opts.run_id.as_str());
    // Started, unfinished jobs that use the engine (`--container-jobs`).
    let mut engine_running = 0usize;

    let begun = Instant::now();
    let _ = std::fs::create_dir_all(plan.dist.join(crate::plan::LOG_DIR));
    tracing::info!(
        targets = plan.targets.len(),
        jobs = n,
        channels = plan.channels.len(),
        max_jobs = max,
        max_engine_jobs = max_engine,
        keep_going = opts.keep_going,
        engine = %opts.engine.as_ref().map_or_else(|| "none".into(), |e| e.program.display().to_string()),
        dist = %plan.dist.display(),
        "running the plan"
    );
    reporter.event(&Event::Planned { plan: &plan });
    loop {
        // Settle jobs whose needs can no longer succeed.
        for i in 0..n {
            if results[i].is_none()
                && !started[i]
                && needs[i].iter().any(|&d| need_failed(&results, d))
            {
                let r = JobResult::not_run(Status::Skipped);
                let blocked: Vec<&str> = needs[i]
                    .iter()
                    .zip(&plan.jobs[i].needs)
                    .filter(|&(&d, _)| need_failed(&results, d))
                    .map(|(_, id)| id.as_str())
                    .collect();
                tracing::debug!(job = %plan.jobs[i].id, needs = ?blocked, "skipped: a job it needs did not succeed");
                reporter.event(&Event::Finished {
                    plan: &plan,
                    job: i,
                    result: &r,
                });
                results[i] = Some(r);
            }
        }
        if !cancel.is_cancelled() {
            for i in 0..n {
                if running.len() >= max {
                    break;
                }
                let ready = !started[i]
                    && results[i].is_none()
                    && needs[i].iter().all(
                        |&d| matches!(results.get(d), Some(Some(r)) if r.status == Status::Ok),
                    );
                let uses_engine = plan.jobs[i].uses_engine;
                if !ready {
                    continue;
                }
                if uses_engine && engine_running >= max_engine {
                    tracing::trace!(job = %plan.jobs[i].id, engine_running, "waits for a container slot");
                    continue;
                }
                started[i] = true;
                if uses_engine {
                    engine_running += 1;
                }
                tracing::debug!(
                    job = %plan.jobs[i].id,
                    kind = plan.jobs[i].kind.as_str(),
                    needs = ?plan.jobs[i].needs,
                    running = running.len() + 1,
                    "job starts"
                );
                reporter.event(&Event::Started {
                    plan: &plan,
                    job: i,
                });
                let mut ctx = context(&plan, &results, plan.jobs[i].kind, opts);
                ctx.engine = engine.clone();
                ctx.run_id = Arc::clone(&run_id);
                let cancel = cancel.clone();
                running.spawn(async move {
                    let begin = Instant::now();
                    let r = match joblog::start(&ctx, i) {
                        Ok(()) => jobs::run(&ctx, i, &cancel).await,
                        Err(e) => Err(e),
                    };
                    joblog::end(&ctx, i, &r);
                    (i, finish(r, begin.elapsed(), &cancel))
                });
            }
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, r) = match joined {
            Ok(done) => {
                if plan.jobs[done.0].uses_engine {
                    engine_running -= 1;
                }
                done
            }
            // A panicking job is a bug; stop everything rather than guess.
            Err(e) => {
                tracing::error!("a job task failed: {e}");
                cancel.cancel();
                continue;
            }
        };
        tracing::debug!(
            job = %plan.jobs[i].id,
            status = r.status.as_str(),
            took = %crate::human::duration(r.duration),
            files = ?r.artifact.iter().chain(&r.extra).map(|a| a.path.as_str()).collect::<Vec<_>>(),
            "job ends"
        );
        if r.status == Status::Failed && !opts.keep_going {
            tracing::debug!(job = %plan.jobs[i].id, "fail-fast: cancelling the jobs not yet finished");
            cancel.cancel();
        }
        reporter.event(&Event::Finished {
            plan: &plan,
            job: i,
            result: &r,
        });
        results[i] = Some(r);
    }
    let results = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| {
                let r = JobResult::not_run(Status::Cancelled);
                reporter.event(&Event::Finished {
                    plan: &plan,
                    job: i,
                    result: &r,
                });
                r
            })
        })
        .collect();
    // Whatever a killed engine client left behind goes now; a run never
    // leaves containers, and never touches another run's.
    if let Some(engine) = &engine {
        engine.sweep(&run_id).await;
    }
    let outcome = Outcome {
        results,
        interrupted: interrupt.is_cancelled(),
        elapsed: begun.elapsed(),
    };
    if !outcome.succeeded() {
        withdraw_release_files(&plan);
    }
    outcome
}

/// A run that did not fully succeed must not leave a checksums file or a
/// manifest that would make dist/ look like a complete release (an interrupt
/// can land between the two writes). dist/ held none before the run started.
fn withdraw_release_files(plan: &Plan) {
    for name in [plan.checksum.file_name.as_str(), crate::plan::MANIFEST] {
        let path = plan.dist.join(name);
        if path.exists()
            && let Err(e) = std::fs::remove_file(&path)
        {
            tracing::warn!("cannot remove {}: {e}", path.display());
        }
    }
}

/// A need that did not succeed, or that names no job of the plan.
fn need_failed(results: &[Option<JobResult>], d: usize) -> bool {
    results.get(d).is_none_or(failed)
}

fn failed(r: &Option<JobResult>) -> bool {
    matches!(r, Some(r) if r.status != Status::Ok)
}

fn finish(
    r: Result<context::Output, JobError>,
    duration: Duration,
    cancel: &CancellationToken,
) -> JobResult {
    match r {
        Ok(out) => JobResult {
            status: Status::Ok,
            duration,
            artifact: out.artifact,
            extra: out.extra,
            binary: out.binary,
            produced: out.produced,
            error: None,
        },
        Err(JobError::Cancelled) => JobResult {
            duration,
            ..JobResult::not_run(Status::Cancelled)
        },
        Err(e) => JobResult {
            // A job that failed *because* the run was cancelled is not a failure.
            status: if cancel.is_cancelled() && e.is_consequence_of_cancel() {
                Status::Cancelled
            } else {
                Status::Failed
            },
            duration,
            artifact: None,
            extra: Vec::new(),
            binary: None,
            produced: None,
            error: Some(e),
        },
    }
}

fn context(
    plan: &Arc<Plan>,
    results: &[Option<JobResult>],
    kind: JobKind,
    opts: &Options,
) -> Context {
    let needs_results = kind.reads_results();
    let mut ctx = Context {
        plan: Arc::clone(plan),
        artifacts: Vec::new(),
        finished: Vec::new(),
        binaries: Vec::new(),
        produced: results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((i, r.as_ref()?.produced.clone()?)))
            .collect(),
        smoke: opts.smoke,
        engine: None,
        run_id: Arc::from(""),
        missing_targets: opts.seed.missing_targets.clone(),
        seed_jobs: Vec::new(),
    };
    // Seeded results belong to no job of this plan.
    ctx.produced
        .extend(opts.seed.produced.iter().map(|p| (usize::MAX, p.clone())));
    if needs_results {
        ctx.artifacts.extend(opts.seed.artifacts.iter().cloned());
        ctx.binaries.extend(opts.seed.binaries.iter().cloned());
        ctx.seed_jobs.extend(opts.seed.jobs.iter().cloned());
        for (i, r) in results.iter().enumerate() {
            if let Some(r) = r {
                ctx.finished.push((i, r.status, r.duration));
                ctx.artifacts.extend(r.artifact.clone());
                ctx.artifacts.extend(r.extra.iter().cloned());
                if let (Some(b), Some(t)) = (&r.binary, plan.jobs[i].target()) {
                    ctx.binaries.push((t, b.clone()));
                }
            }
        }
    }
    ctx
}
