//! The scheduler: runs a plan's job graph in parallel.
//!
//! Fourth stage of the flow (plan -> **exec** -> dist/). It decides nothing
//! about *what* to build; it runs the plan's jobs when their needs have
//! succeeded, at most `jobs` at a time, and emits an event for every start and
//! end. Fail-fast (the default) cancels the rest at the first failure;
//! keep-going runs everything whose needs succeeded. Results are returned in
//! plan order whatever order jobs finished in.

mod jobs;
pub mod process;
mod smoke;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::package::manifest::Artifact;
use crate::plan::{JobKind, Plan};
use crate::report::{Event, Reporter};
use crate::verify::Inspected;

pub use jobs::JobError;

#[derive(Debug, Clone)]
pub struct Options {
    /// Most jobs running at once.
    pub jobs: usize,
    pub keep_going: bool,
    /// Run each Linux binary with its `smoke` arguments after the build.
    pub smoke: bool,
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
    /// What a build job's binary turned out to be (when it was verified).
    pub binary: Option<Inspected>,
    pub error: Option<JobError>,
}

impl JobResult {
    fn not_run(status: Status) -> Self {
        JobResult {
            status,
            duration: Duration::ZERO,
            artifact: None,
            binary: None,
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
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        !self.interrupted && self.results.iter().all(|r| r.status == Status::Ok)
    }

    pub fn failures(&self) -> impl Iterator<Item = &JobError> {
        self.results.iter().filter_map(|r| r.error.as_ref())
    }
}

/// Everything a job may read: the plan and the results of jobs done so far.
pub(crate) struct Context {
    pub plan: Arc<Plan>,
    pub artifacts: Vec<Artifact>,
    /// (job index, status, duration) of every finished job.
    pub finished: Vec<(usize, Status, Duration)>,
    /// Verified binaries by target index.
    pub binaries: Vec<(usize, Inspected)>,
    pub smoke: bool,
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
    let needs: Vec<Vec<usize>> = plan
        .jobs
        .iter()
        .map(|j| {
            j.needs
                .iter()
                .filter_map(|id| index.get(id.as_str()).copied())
                .collect()
        })
        .collect();
    let mut results: Vec<Option<JobResult>> = (0..n).map(|_| None).collect();
    let mut started = vec![false; n];
    let mut running: JoinSet<(usize, JobResult)> = JoinSet::new();
    let max = opts.jobs.max(1);

    let _ = std::fs::create_dir_all(plan.dist.join(crate::plan::LOG_DIR));
    reporter.event(&Event::Planned { plan: &plan });
    loop {
        // Settle jobs whose needs can no longer succeed.
        for i in 0..n {
            if results[i].is_none() && !started[i] && needs[i].iter().any(|&d| failed(&results[d]))
            {
                let r = JobResult::not_run(Status::Skipped);
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
                    && needs[i]
                        .iter()
                        .all(|&d| matches!(&results[d], Some(r) if r.status == Status::Ok));
                if !ready {
                    continue;
                }
                started[i] = true;
                reporter.event(&Event::Started {
                    plan: &plan,
                    job: i,
                });
                let ctx = context(&plan, &results, plan.jobs[i].kind, opts.smoke);
                let cancel = cancel.clone();
                running.spawn(async move {
                    let begin = Instant::now();
                    let r = jobs::run(&ctx, i, &cancel).await;
                    (i, finish(r, begin.elapsed(), &cancel))
                });
            }
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (i, r) = match joined {
            Ok(done) => done,
            // A panicking job is a bug; stop everything rather than guess.
            Err(e) => {
                tracing::error!("a job task failed: {e}");
                cancel.cancel();
                continue;
            }
        };
        if r.status == Status::Failed && !opts.keep_going {
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
    let outcome = Outcome {
        results,
        interrupted: interrupt.is_cancelled(),
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

fn failed(r: &Option<JobResult>) -> bool {
    matches!(r, Some(r) if r.status != Status::Ok)
}

fn finish(
    r: Result<jobs::Output, JobError>,
    duration: Duration,
    cancel: &CancellationToken,
) -> JobResult {
    match r {
        Ok(out) => JobResult {
            status: Status::Ok,
            duration,
            artifact: out.artifact,
            binary: out.binary,
            error: None,
        },
        Err(JobError::Cancelled) => JobResult {
            status: Status::Cancelled,
            duration,
            artifact: None,
            binary: None,
            error: None,
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
            binary: None,
            error: Some(e),
        },
    }
}

fn context(plan: &Arc<Plan>, results: &[Option<JobResult>], kind: JobKind, smoke: bool) -> Context {
    // Only the release-wide jobs read other jobs' results.
    let needs_results = matches!(kind, JobKind::Checksums | JobKind::Manifest);
    let mut ctx = Context {
        plan: Arc::clone(plan),
        artifacts: Vec::new(),
        finished: Vec::new(),
        binaries: Vec::new(),
        smoke,
    };
    if needs_results {
        for (i, r) in results.iter().enumerate() {
            if let Some(r) = r {
                ctx.finished.push((i, r.status, r.duration));
                ctx.artifacts.extend(r.artifact.clone());
                if let (Some(b), Some(t)) = (&r.binary, plan.jobs[i].target) {
                    ctx.binaries.push((t, b.clone()));
                }
            }
        }
    }
    ctx
}

/// Where a job's log goes.
pub fn log_path(plan: &Plan, job: usize) -> PathBuf {
    plan.dist
        .join(crate::plan::LOG_DIR)
        .join(format!("{}.log", plan.jobs[job].id))
}
