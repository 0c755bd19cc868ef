//! `merge`: shard folders (or archives of them) checked against the whole
//! plan, staged into dist/, and the release-wide jobs run over them.
//! Part of `release`; the checks and staging are `merge`'s.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{Finished, PlanOptions, Prepared, check_changelog};
use crate::error::Error;
use crate::exec;
use crate::merge;
use crate::report::Reporter;

/// What [`merge`] joins, and where.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    /// The plan; its `dist` is the merged release's folder. The targets
    /// filter is not used: a merge makes the whole release.
    pub plan: PlanOptions,
    /// Shard folders written by a `--shard i/N` build, or .tar, .tar.gz or
    /// .zip archives of them.
    pub shards: Vec<PathBuf>,
    /// Empty dist/ first.
    pub clean: bool,
    /// Make a release even when shards are missing; it is marked partial.
    pub allow_partial: bool,
    /// Raised limits for unpacking a shard archive.
    pub raise: merge::unpack::Raise,
}

/// Merges shards into one verified release: [`prepare_merge`], then runs
/// the release-wide jobs.
pub async fn merge(
    opts: &MergeOptions,
    warn: &mut dyn FnMut(String),
    reporter: Arc<dyn Reporter>,
    interrupt: CancellationToken,
) -> Result<Finished, Error> {
    Ok(prepare_merge(opts, warn)?.run(reporter, interrupt).await)
}

/// Everything `merge` does before its jobs run: shards unpacked, read and
/// checked against the plan, dist/ prepared and the shards' files staged.
pub fn prepare_merge(opts: &MergeOptions, warn: &mut dyn FnMut(String)) -> Result<Prepared, Error> {
    let mut plan = super::plan(&opts.plan)?;
    dist_outside_shards(&plan.dist, &opts.shards)?;
    let mut shards = Vec::with_capacity(opts.shards.len());
    // Unpacked archives live until the merge is done.
    let mut unpacked = Vec::new();
    for input in &opts.shards {
        let dir = if input.is_dir() {
            input.clone()
        } else {
            let tmp = tempfile::tempdir().map_err(Error::io(std::env::temp_dir()))?;
            let dir =
                merge::unpack(input, tmp.path(), opts.raise).map_err(merge::MergeError::from)?;
            unpacked.push(tmp);
            dir
        };
        shards.push(merge::read_shard(&dir)?);
    }
    // The whole plan decides what each shard may hold; only then is it
    // cut down to the release-wide jobs the merge runs.
    let checked = merge::check(&plan, &shards, opts.allow_partial)?;
    crate::plan::shard::restrict_to_merge(&mut plan, &checked.missing)
        .map_err(crate::plan::PlanError::from)?;
    if !checked.missing.is_empty() {
        warn(format!(
            "a partial release: {} missing: {}",
            crate::human::count(checked.missing.len(), "target", "targets"),
            checked.missing.join(", ")
        ));
    }
    check_changelog(&plan, warn)?;
    let signer = super::load_signer(&plan)?;
    // Held until the merge ends: one run per dist folder.
    let lock = super::dist::prepare_dist(&plan, opts.clean, &opts.shards)?;
    let seed = merge::stage(&plan, &checked)?;
    // Indexes are assembled, never built: no engine is needed.
    let options = exec::Options {
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        keep_going: false,
        smoke: false,
        container_jobs: 1,
        engine: None,
        run_id: exec::container::new_run_id(),
        seed,
        signer,
        cache: None,
        durations: Default::default(),
    };
    Ok(Prepared {
        plan: Arc::new(plan),
        options,
        lock,
        unpacked,
    })
}

/// A merge's output inside a shard folder would become part of that shard
/// (which then no longer merges: its folder holds files in no record).
/// Compared as the kernel resolves the paths, so a link cannot hide it.
fn dist_outside_shards(dist: &Path, shards: &[PathBuf]) -> Result<(), Error> {
    // dist/ may not exist yet: its longest existing ancestor is resolved.
    let resolve = crate::version::resolve_existing;
    let real = resolve(dist);
    match shards
        .iter()
        .find(|s| s.is_dir() && real.starts_with(resolve(s)))
    {
        Some(shard) => Err(Error::Usage {
            message: format!(
                "--dist {} {} the shard folder {}: a merge writes outside the shards it reads",
                dist.display(),
                if real == resolve(shard) {
                    "is"
                } else {
                    "is inside"
                },
                shard.display()
            ),
        }),
        None => Ok(()),
    }
}
