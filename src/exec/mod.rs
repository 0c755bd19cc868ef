//! The scheduler: runs a plan's job graph in parallel.
//!
//! Fourth stage of the flow (plan -> **exec** -> dist/). It decides nothing
//! about *what* to build; it runs the plan's jobs when their needs have
//! succeeded, at most `jobs` at a time, longest chain of work first (from the
//! previous run's durations, see `queue`), and emits an event for every start
//! and end. Fail-fast (the default) cancels the rest at the first failure;
//! keep-going runs everything whose needs succeeded. Results are returned in
//! plan order whatever order jobs finished in.

mod builder;
mod cached;
mod channels;
pub mod container;
mod context;
mod cosign;
mod error;
pub mod event;
mod images;
pub mod joblog;
mod jobs;
pub mod lock;
pub mod process;
mod queue;
mod sbom;
mod smoke;
mod universal;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::inspect::Inspected;
use crate::package::manifest::Artifact;
use crate::plan::{JobKind, Plan};
use event::{Event, Reporter};

pub use cached::{Cache, store_dir as cache_dir};
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
    pub engine: Option<crate::engine::Engine>,
    /// Labels and names this run's containers, so cleanup finds only them.
    pub run_id: String,
    /// Records of artifacts made elsewhere (`matrix merge`: the shards'
    /// archives), seen by the release-wide jobs like their own.
    pub seed: Seed,
    /// The unlocked `[sign]` key, loaded before the run.
    pub signer: Option<Arc<crate::packager::sign::Signer>>,
    /// The action cache, when it is on.
    pub cache: Option<Arc<Cache>>,
    /// Each job's duration in the previous run (milliseconds by job id,
    /// from dist/manifest.json): the longest chains of jobs start first.
    pub durations: BTreeMap<String, u64>,
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
    let mut s = Scheduler::new(plan, opts, reporter.as_ref(), cancel);
    let begun = Instant::now();
    let _ = std::fs::create_dir_all(s.plan.dist.join(crate::plan::LOG_DIR));
    s.log_start();
    s.reporter.event(&Event::Planned { plan: &s.plan });
    for i in s.queue.unrunnable() {
        s.skip(i);
    }
    loop {
        if !s.cancel.is_cancelled() {
            s.start_ready();
        }
        let Some(joined) = s.running.join_next().await else {
            break;
        };
        s.settle(joined);
    }
    let plan = Arc::clone(&s.plan);
    let engine = s.engine.clone();
    let run_id = Arc::clone(&s.run_id);
    let results = s.into_results();
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

/// The state of one run of the job graph: which jobs started, which
/// finished and how, and what runs now.
struct Scheduler<'a> {
    plan: Arc<Plan>,
    opts: &'a Options,
    reporter: &'a dyn Reporter,
    cancel: CancellationToken,
    queue: queue::Queue,
    results: Vec<Option<JobResult>>,
    /// What the finished image jobs produced, by job index.
    produced: Vec<(usize, Produced)>,
    running: JoinSet<(usize, JobResult)>,
    max: usize,
    max_engine: usize,
    engine: Option<Arc<crate::engine::Engine>>,
    run_id: Arc<str>,
    /// Started, unfinished jobs that use the engine (`--container-jobs`).
    engine_running: usize,
}

impl<'a> Scheduler<'a> {
    fn new(
        plan: Arc<Plan>,
        opts: &'a Options,
        reporter: &'a dyn Reporter,
        cancel: CancellationToken,
    ) -> Self {
        let n = plan.jobs.len();
        Scheduler {
            queue: queue::Queue::for_plan(&plan, &opts.durations),
            results: (0..n).map(|_| None).collect(),
            produced: Vec::new(),
            running: JoinSet::new(),
            max: opts.jobs.max(1),
            max_engine: opts.container_jobs.max(1),
            engine: opts.engine.clone().map(Arc::new),
            run_id: Arc::from(opts.run_id.as_str()),
            engine_running: 0,
            plan,
            opts,
            reporter,
            cancel,
        }
    }

    fn log_start(&self) {
        let (plan, opts) = (&self.plan, self.opts);
        tracing::info!(
            targets = plan.targets.len(),
            jobs = plan.jobs.len(),
            channels = plan.channels.len(),
            max_jobs = self.max,
            max_engine_jobs = self.max_engine,
            keep_going = opts.keep_going,
            engine = %opts.engine.as_ref().map_or_else(|| "none".into(), |e| e.program.display().to_string()),
            dist = %plan.dist.display(),
            "running the plan"
        );
    }

    /// Settles job `i`, which did not succeed or can never run, and every
    /// job that needs it: they are skipped.
    fn skip(&mut self, i: usize) {
        for j in self.queue.blocked_by(i) {
            let plan = &self.plan;
            let r = JobResult::not_run(Status::Skipped);
            let blocked: Vec<&str> = self
                .queue
                .needs(j)
                .iter()
                .zip(&plan.jobs[j].needs)
                .filter(|&(&d, _)| need_failed(&self.results, d))
                .map(|(_, id)| id.as_str())
                .collect();
            tracing::debug!(job = %plan.jobs[j].id, needs = ?blocked, "skipped: a job it needs did not succeed");
            self.reporter.event(&Event::Finished {
                plan,
                job: j,
                result: &r,
            });
            self.results[j] = Some(r);
        }
    }

    /// Starts the ready jobs, longest chain first, up to the limits.
    fn start_ready(&mut self) {
        while self.running.len() < self.max {
            let engine_free = self.engine_running < self.max_engine;
            let Some(i) = self.queue.pop(engine_free) else {
                break;
            };
            if self.plan.jobs[i].uses_engine {
                self.engine_running += 1;
            }
            self.start(i);
        }
    }

    fn start(&mut self, i: usize) {
        let plan = &self.plan;
        tracing::debug!(
            job = %plan.jobs[i].id,
            kind = plan.jobs[i].kind.as_str(),
            needs = ?plan.jobs[i].needs,
            running = self.running.len() + 1,
            "job starts"
        );
        self.reporter.event(&Event::Started { plan, job: i });
        let mut ctx = context(
            plan,
            &self.results,
            &self.produced,
            plan.jobs[i].kind,
            self.opts,
        );
        ctx.engine = self.engine.clone();
        ctx.run_id = Arc::clone(&self.run_id);
        let cancel = self.cancel.clone();
        self.running.spawn(async move {
            let begin = Instant::now();
            let r = match joblog::start(&ctx, i) {
                Ok(()) => jobs::run(&ctx, i, &cancel).await,
                Err(e) => Err(e),
            };
            joblog::end(&ctx, i, &r);
            (i, finish(r, begin.elapsed(), &cancel))
        });
    }

    /// Records a job that ended; fail-fast cancels the rest at a failure.
    fn settle(&mut self, joined: Result<(usize, JobResult), tokio::task::JoinError>) {
        let plan = &self.plan;
        let (i, r) = match joined {
            Ok(done) => {
                if plan.jobs[done.0].uses_engine {
                    self.engine_running -= 1;
                }
                done
            }
            // A panicking job is a bug; stop everything rather than guess.
            Err(e) => {
                tracing::error!("a job task failed: {e}");
                self.cancel.cancel();
                return;
            }
        };
        tracing::debug!(
            job = %plan.jobs[i].id,
            status = r.status.as_str(),
            took = %crate::human::duration(r.duration),
            files = ?r.artifact.iter().chain(&r.extra).map(|a| a.path.as_str()).collect::<Vec<_>>(),
            "job ends"
        );
        if r.status == Status::Failed && !self.opts.keep_going {
            tracing::debug!(job = %plan.jobs[i].id, "fail-fast: cancelling the jobs not yet finished");
            self.cancel.cancel();
        }
        self.reporter.event(&Event::Finished {
            plan,
            job: i,
            result: &r,
        });
        if let Some(p) = &r.produced {
            let at = self.produced.partition_point(|(k, _)| *k < i);
            self.produced.insert(at, (i, p.clone()));
        }
        let ok = r.status == Status::Ok;
        self.results[i] = Some(r);
        if ok {
            self.queue.succeeded(i);
        } else {
            self.skip(i);
        }
    }

    /// One result per job, in plan order; a job never reached was cancelled.
    fn into_results(self) -> Vec<JobResult> {
        let (plan, reporter) = (&self.plan, self.reporter);
        self.results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.unwrap_or_else(|| {
                    let r = JobResult::not_run(Status::Cancelled);
                    reporter.event(&Event::Finished {
                        plan,
                        job: i,
                        result: &r,
                    });
                    r
                })
            })
            .collect()
    }
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
    produced: &[(usize, Produced)],
    kind: JobKind,
    opts: &Options,
) -> Context {
    let needs_results = kind.reads_results();
    let mut ctx = Context {
        plan: Arc::clone(plan),
        artifacts: Vec::new(),
        finished: Vec::new(),
        binaries: Vec::new(),
        produced: produced.to_vec(),
        smoke: opts.smoke,
        engine: None,
        run_id: Arc::from(""),
        missing_targets: opts.seed.missing_targets.clone(),
        seed_jobs: Vec::new(),
        signer: opts.signer.clone(),
        cache: opts.cache.clone(),
        jobs: opts.jobs,
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
