//! `build`: a plan checked for everything it needs before any job runs
//! (toolchains, programs in images, the changelog, images and the engine),
//! dist/ prepared, then run. Part of `release`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{Finished, PlanOptions, Prepared, check_changelog};
use crate::error::Error;
use crate::exec;
use crate::plan::{self, Plan};
use crate::report::Reporter;
use crate::toolchain;

/// What [`build`] makes: the plan's shape and how the run goes.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub plan: PlanOptions,
    /// Empty dist/ first (a non-empty dist/ is an error otherwise).
    pub clean: bool,
    /// Most jobs running at once; `None`: the number of CPUs.
    pub jobs: Option<usize>,
    /// Most jobs running in a container engine at once; `None`: the
    /// config's `[container] jobs`, else `jobs`.
    pub container_jobs: Option<usize>,
    /// Keep building the other targets after a failure.
    pub keep_going: bool,
    /// Run each Linux binary with its `[build] smoke` arguments.
    pub smoke: bool,
    /// Build only this shard (`1/4`) for `merge` to join.
    pub shard: Option<String>,
    /// With `shard`: the previous manifest.json the shards were planned with.
    pub history: Option<PathBuf>,
    /// `--no-cache`: run every job, read and store nothing.
    pub no_cache: bool,
    /// `--cache-dir`: the action cache's folder (and turns it on without
    /// a `[cache]` table).
    pub cache_dir: Option<PathBuf>,
    /// `--cache-from`: registry repositories read on a local miss, in
    /// place of `[cache] from` (and turn the cache on).
    pub cache_from: Vec<String>,
    /// `--cache-to`: the registry repository entries are pushed to, in
    /// place of `[cache] to` (and turns the cache on).
    pub cache_to: Option<String>,
}

impl BuildOptions {
    /// A whole build with the CLI's defaults.
    pub fn new(plan: PlanOptions) -> Self {
        BuildOptions {
            plan,
            clean: false,
            jobs: None,
            container_jobs: None,
            keep_going: false,
            smoke: false,
            shard: None,
            history: None,
            no_cache: false,
            cache_dir: None,
            cache_from: Vec::new(),
            cache_to: None,
        }
    }
}

/// Builds a release into dist/: [`prepare_build`], then runs it.
pub async fn build(
    opts: &BuildOptions,
    warn: &mut dyn FnMut(String),
    reporter: Arc<dyn Reporter>,
    interrupt: CancellationToken,
) -> Result<Finished, Error> {
    Ok(prepare_build(opts, warn)?.run(reporter, interrupt).await)
}

/// Everything `build` does before the first job: the plan, and every check
/// that can fail now rather than ten minutes into the build.
pub fn prepare_build(opts: &BuildOptions, warn: &mut dyn FnMut(String)) -> Result<Prepared, Error> {
    let mut plan = super::plan(&opts.plan)?;
    if let Some(spec) = &opts.shard {
        super::shard::shard_plan(&mut plan, spec, opts.history.as_deref())?;
    }
    if opts.smoke && plan.targets.iter().all(|t| t.build.smoke.is_none()) {
        return Err(Error::Usage {
            message: "--smoke needs [build] smoke = [...] arguments to run each binary with".into(),
        });
    }
    // A missing cross compiler or program fails now, not ten minutes into
    // the build (only for the targets this run builds: a shard builds some).
    let building: BTreeSet<String> = plan
        .jobs
        .iter()
        .filter(|j| j.kind == plan::JobKind::Build)
        .filter_map(|j| j.target().map(|t| plan.targets[t].id.clone()))
        .collect();
    let needs = check_toolchains(&plan, opts.smoke, &building)?;
    // A tool found only in matrix's tool cache (zig) is on the jobs' PATH.
    if let Some(bin) = toolchain::use_tool_cache(&mut plan, &needs) {
        tracing::debug!("build jobs get {} on their PATH", bin.display());
    }
    let plan = Arc::new(plan);
    for w in &plan.warnings {
        warn(w.clone());
    }
    check_changelog(&plan, warn)?;
    let engine = engine_for(&plan, &building)?;
    let seed = partial_seed(opts, &plan, warn);
    // A missing key or a wrong passphrase fails before dist/ is touched.
    let signer = super::load_signer(&plan)?;
    // Read before --clean empties dist/.
    let durations = previous_durations(&plan.dist.join(crate::plan::MANIFEST));
    // Held until the run ends: one run per dist folder.
    let lock = super::dist::prepare_dist(&plan, opts.clean, &[])?;
    let jobs = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let container_jobs = opts
        .container_jobs
        .or(plan.containers.as_ref().and_then(|c| c.jobs))
        .unwrap_or(jobs);
    let options = exec::Options {
        jobs,
        keep_going: opts.keep_going,
        smoke: opts.smoke,
        container_jobs,
        engine,
        run_id: exec::container::new_run_id(),
        seed,
        signer,
        cache: open_cache(opts, &plan)?,
        durations,
    };
    Ok(Prepared {
        plan,
        options,
        lock,
        unpacked: Vec::new(),
    })
}

/// The action cache, when `[cache]`, `--cache-dir`, `--cache-from` or
/// `--cache-to` turns it on and `--no-cache` does not turn it off.
fn open_cache(opts: &BuildOptions, plan: &Plan) -> Result<Option<Arc<exec::Cache>>, Error> {
    let flags = opts.cache_dir.is_some() || !opts.cache_from.is_empty() || opts.cache_to.is_some();
    if opts.no_cache || (!flags && plan.cache.is_none()) {
        return Ok(None);
    }
    let dir = exec::cache_dir(opts.cache_dir.as_deref(), plan).ok_or_else(|| Error::Usage {
        message: "no folder for the cache: HOME is not set; pass --cache-dir or set [cache] dir"
            .into(),
    })?;
    let local = crate::cache::LocalStore::open(&dir).map_err(Error::io(&dir))?;
    tracing::debug!("action cache at {}", dir.display());
    let store = super::cache::layered(local, plan, &opts.cache_from, opts.cache_to.as_ref())?;
    Ok(Some(Arc::new(exec::Cache::open(store, plan))))
}

/// The job durations of the last run, from its manifest in dist/, for the
/// order the jobs start in. Only a hint: a manifest that is missing, a
/// link, not a file, too big or not JSON counts as none (a debug line says
/// why), and the fields that do not parse are left out.
fn previous_durations(path: &std::path::Path) -> BTreeMap<String, u64> {
    let read = crate::package::capped::read_regular(path, crate::package::manifest::MAX_BYTES);
    let parsed = read.and_then(|bytes| {
        serde_json::from_slice::<crate::shard::History>(&bytes).map_err(std::io::Error::other)
    });
    match parsed {
        Ok(history) => crate::shard::job_durations(&history),
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::debug!(
                    "{}: no job durations for the start order: {e}",
                    path.display()
                );
            }
            BTreeMap::new()
        }
    }
}

/// The toolchains the targets this run builds need, all of them there.
fn check_toolchains(
    plan: &Plan,
    smoke: bool,
    building: &BTreeSet<String>,
) -> Result<Vec<toolchain::TargetNeed>, Error> {
    let needs: Vec<toolchain::TargetNeed> = toolchain::check_plan(plan, smoke)
        .into_iter()
        .filter(|n| building.contains(&n.target))
        .collect();
    let missing: Vec<String> = needs
        .iter()
        .filter(|n| !n.met)
        .map(toolchain::TargetNeed::missing_line)
        .collect();
    if !missing.is_empty() {
        return Err(Error::MissingTools {
            list: missing.join("\n"),
        });
    }
    Ok(needs)
}

/// A bad Dockerfile, a missing engine, image or emulator fails now too:
/// the engine, answering and with the images, when the run needs one.
fn engine_for(
    plan: &Plan,
    building: &BTreeSet<String>,
) -> Result<Option<crate::engine::Engine>, Error> {
    let images_need_engine = crate::toolchain::image_precheck::precheck(plan)?;
    let needs_engine = images_need_engine
        || plan.jobs.iter().any(|j| {
            matches!(j.kind, plan::JobKind::Builder | plan::JobKind::Build) && j.uses_engine
        });
    Ok(match &plan.containers {
        Some(containers) if needs_engine => {
            let engine = crate::engine::detect(containers)?;
            engine.ensure_images(plan)?;
            check_programs_in_images(&engine, plan, building)?;
            Some(engine)
        }
        _ => None,
    })
}

/// A `--target` build that leaves out targets of the plan is partial: its
/// manifest lists every target and marks the ones not built as missing,
/// exactly as `merge --allow-partial` does, so `verify` and `publish`
/// refuse it unless told it is partial on purpose. (A shard is marked as a
/// shard instead.)
fn partial_seed(opts: &BuildOptions, plan: &Plan, warn: &mut dyn FnMut(String)) -> exec::Seed {
    if opts.shard.is_some() {
        return exec::Seed::default();
    }
    let built: BTreeSet<&str> = plan.targets.iter().map(|t| t.id.as_str()).collect();
    let missing: Vec<String> = plan
        .unfiltered
        .iter()
        .filter(|t| !built.contains(t.id.as_str()))
        .map(|t| t.id.clone())
        .collect();
    if missing.is_empty() {
        return exec::Seed::default();
    }
    warn(format!(
        "a partial release: {} of {} not built ({}); verify and publish need --allow-partial",
        missing.len(),
        crate::human::count(plan.unfiltered.len(), "target", "targets"),
        missing.join(", ")
    ));
    exec::Seed {
        missing_targets: missing,
        ..exec::Seed::default()
    }
}

/// A containerised target's program must be in its image: checked once
/// per image and program, before any job runs. An image the check cannot
/// look into (no `sh`, a builder made during the run) is left to the job.
fn check_programs_in_images(
    engine: &crate::engine::Engine,
    plan: &Plan,
    building: &BTreeSet<String>,
) -> Result<(), Error> {
    let checks = toolchain::check_images(engine, plan, &|id| building.contains(id));
    let missing: Vec<String> = checks
        .iter()
        .filter(|c| c.status == toolchain::ImageStatus::Missing)
        .map(toolchain::ImageCheck::missing_line)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::MissingInImages {
        list: missing.join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::previous_durations;

    #[test]
    fn durations_come_from_a_manifest_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        assert!(previous_durations(&path).is_empty(), "missing");
        std::fs::write(
            &path,
            r#"{"jobs": [{"id": "build-a", "status": "ok", "duration_ms": 1500},
                         {"id": "build-b", "status": "failed", "duration_ms": 9},
                         {"id": "build-c", "status": "ok", "duration_ms": -1},
                         {"id": 3, "status": "ok", "duration_ms": 1}, "x"]}"#,
        )
        .unwrap();
        let got = previous_durations(&path);
        assert_eq!(
            got.into_iter().collect::<Vec<_>>(),
            [("build-a".to_string(), 1500)]
        );
        // Out of range, huge, negative zero, a string, the same id twice:
        // bounded numbers, the last record of an id, never a panic.
        std::fs::write(
            &path,
            r#"{"jobs": [{"id": "a", "status": "ok", "duration_ms": 1e300},
                         {"id": "b", "status": "ok", "duration_ms": -0.0},
                         {"id": "c", "status": "ok", "duration_ms": "NaN"},
                         {"id": "d", "status": "ok", "duration_ms": 7},
                         {"id": "d", "status": "ok", "duration_ms": 8.6}]}"#,
        )
        .unwrap();
        let got: Vec<_> = previous_durations(&path).into_iter().collect();
        let want = [("a", u64::MAX), ("b", 0), ("d", 9)].map(|(k, v)| (k.to_string(), v));
        assert_eq!(got, want);
        std::fs::write(
            &path,
            r#"{"jobs": [{"id": "a", "status": "ok", "duration_ms": 1e400}]}"#,
        )
        .unwrap();
        assert!(previous_durations(&path).len() <= 1, "out of f64's range");
        std::fs::write(&path, "not json").unwrap();
        assert!(previous_durations(&path).is_empty(), "not json");
        // A FIFO in its place neither blocks nor counts.
        std::fs::remove_file(&path).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(previous_durations(&path).is_empty(), "fifo");
    }
}
