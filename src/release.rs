//! The library's entry points for a release: [`build`], [`merge`],
//! [`verify`] and [`publish`], each with an options struct.
//!
//! Sits on top of the flow: it loads the config, resolves the version,
//! asks `plan` for the plan, checks what the run needs (toolchains, the
//! changelog, images, the engine), prepares dist/ and hands the plan to
//! `exec`; `verify` and `publish` call `dist_check` and `repo`. It
//! returns what happened as values and never prints: the CLI turns flags
//! into these options and prints the results. What a person should know
//! before a run starts (a partial release, a changelog without this
//! version) goes to a `warn` callback, in the order it is found.

mod build;
mod cache;
mod dist;
mod load;
mod merge;
mod publish;
mod shard;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub use build::{BuildOptions, build, prepare_build};
pub use cache::{
    CacheLocation, CacheStats, cache_clear, cache_location, cache_prune, cache_stats, cache_status,
};
pub use load::{PlanOptions, plan, plan_to_look};
pub use merge::{MergeOptions, merge, prepare_merge};
pub use publish::{Channels, PublishOptions, Published, publish};
pub use shard::shards;

use crate::error::Error;
use crate::exec::{self, Status};
use crate::package::manifest::Artifact;
use crate::plan::Plan;
use crate::report::{self, Reporter};

/// A run checked and ready to go: dist/ is locked and empty, the engine
/// (if any) answers and has the images. [`Prepared::run`] executes it.
pub struct Prepared {
    pub plan: Arc<Plan>,
    pub options: exec::Options,
    /// Held until the run's results are dropped: one run per dist folder.
    lock: exec::lock::DistLock,
    /// Shard archives a merge unpacked, removed when the run is done.
    unpacked: Vec<tempfile::TempDir>,
}

impl Prepared {
    /// Runs the plan's jobs; `reporter` hears every job's events and
    /// cancelling `interrupt` stops the run (as Ctrl-C does).
    pub async fn run(self, reporter: Arc<dyn Reporter>, interrupt: CancellationToken) -> Finished {
        let outcome = exec::run(Arc::clone(&self.plan), &self.options, reporter, interrupt).await;
        if let Some(cache) = &self.options.cache {
            cache.prune();
        }
        Finished {
            plan: self.plan,
            outcome,
            seeded: self.options.seed.artifacts,
            _lock: self.lock,
            _unpacked: self.unpacked,
        }
    }
}

/// What a build or merge did: every job's result. dist/ stays locked
/// until this is dropped.
pub struct Finished {
    pub plan: Arc<Plan>,
    pub outcome: exec::Outcome,
    /// Artifacts made elsewhere and taken in (a merge's shards).
    pub seeded: Vec<Artifact>,
    _lock: exec::lock::DistLock,
    _unpacked: Vec<tempfile::TempDir>,
}

impl Finished {
    /// The summary printed after a run.
    pub fn summary(&self) -> String {
        report::summary::render(&self.plan, &self.outcome, &self.seeded)
    }

    /// How many jobs failed.
    pub fn failed(&self) -> usize {
        self.outcome
            .results
            .iter()
            .filter(|r| r.status == Status::Failed)
            .count()
    }

    /// Every job ran and succeeded, and nothing interrupted the run.
    pub fn succeeded(&self) -> bool {
        self.outcome.succeeded()
    }
}

/// What [`verify`] checks: a release folder.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The release folder (a dist/).
    pub dir: PathBuf,
    /// Accept a release whose manifest lists missing targets.
    pub allow_partial: bool,
    /// The files are all in `dir` itself, by file name (a downloaded
    /// GitHub release), not where `manifest.json` records them.
    pub flat: bool,
}

/// Checks a release folder on its own: completeness, every checksum,
/// every binary. Problems are in the report; an error means the folder
/// could not be read as a release at all.
pub fn verify(opts: &VerifyOptions) -> Result<crate::dist_check::Report, Error> {
    Ok(if opts.flat {
        crate::dist_check::release_flat(&opts.dir, opts.allow_partial)?
    } else {
        crate::dist_check::release_with(&opts.dir, opts.allow_partial)?
    })
}

/// The release notes need this version's changelog section: its absence
/// stops a release before anything is built, and a snapshot only warns.
fn check_changelog(plan: &Plan, warn: &mut dyn FnMut(String)) -> Result<(), Error> {
    let Some(step) = &plan.notes else {
        return Ok(());
    };
    let version = &plan.version.version;
    let found = match std::fs::read_to_string(&step.changelog) {
        Ok(text) => crate::packager::notes::changelog_section(&text, version).is_some(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !step.required => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(Error::io(&step.changelog)(e)),
    };
    if found {
        return Ok(());
    }
    if plan.version.is_snapshot {
        warn(format!(
            "{} has no section for {version}; the release notes say so",
            step.changelog_name
        ));
        return Ok(());
    }
    Err(Error::Changelog {
        path: step.changelog.clone(),
        version: version.clone(),
    })
}

/// The `[sign]` key, read and unlocked, when the plan has a sign job (a
/// shard has none: its merge signs).
fn load_signer(
    plan: &crate::plan::Plan,
) -> Result<Option<std::sync::Arc<crate::packager::sign::Signer>>, Error> {
    let (Some(step), true) = (
        &plan.sign,
        plan.jobs
            .iter()
            .any(|j| j.kind == crate::plan::JobKind::Sign),
    ) else {
        return Ok(None);
    };
    let signer = crate::packager::sign::Signer::load(
        step,
        &plan.root,
        &plan.project.name,
        &plan.version.commit,
    )?;
    // Pushed images are signed in cosign's layout, with an Ed25519 key.
    if step.cosign_key.is_some() && signer.ed25519_public().is_none() {
        return Err(crate::packager::sign::SignError::Key {
            method: signer.method.as_str(),
            from: signer.from.clone(),
            why: "the pushed images are signed in cosign's layout, which needs an Ed25519 key"
                .into(),
            help: "use an Ed25519 key, or add images = false under [sign] to push them unsigned"
                .into(),
        }
        .into());
    }
    Ok(Some(std::sync::Arc::new(signer)))
}
