//! Jobs through the action cache: look up before running, store after
//! success. Build jobs here; archive jobs in [`archive`], the package jobs
//! (one target's deb, rpm, msi or snap) in [`package`], platform image
//! jobs in [`image`], all through the same look-up, restore and save
//! ([`through`]). A job whose target or channel says `cache = false` always
//! runs and is never stored (an image follows its binary's target).
//!
//! Part of `exec`, between the scheduler and [`super::jobs`]' build. A
//! build job's inputs (command, environment, folders, toolchain identity,
//! container image and the `pass-env` values it gets, sources, matrix's
//! version, what its needs made) are named here and keyed by
//! [`crate::cache`]. A hit restores the output folder, the binary and the
//! job's log (a record naming any other file is refused as corrupt), then
//! checks the binary like a build would; a miss (the log says why: which input changed) runs the
//! job and stores what it made. A corrupt entry is dropped with a warning
//! and the job runs. Without a cache, or when the inputs cannot be named
//! (no git and no `[cache] inputs`), the job simply runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::json;
use tokio_util::sync::CancellationToken;

mod archive;
mod image;
mod package;

pub(super) use archive::archive;
pub(super) use image::image;
pub(super) use package::package;

use super::context::{Context, Produced, log_path};
use super::error::JobError;
use super::process;
use crate::cache::store::{MAX_OUTPUTS, Saving};
use crate::cache::toolchain::Identities;
use crate::cache::{Inputs, Layered, Record, Store};
use crate::engine::Engine;
use crate::inspect::Inspected;
use crate::package::checksum::{Algorithm, Hasher};
use crate::package::manifest::Artifact;
use crate::plan::Plan;
use crate::plan::containers::ContainerImage;

/// One run's view of the cache.
pub struct Cache {
    /// The local folder, with any `--cache-from`/`--cache-to` registries.
    store: Layered,
    /// `[cache] max-size`: the store is pruned to it after the run.
    max_size: u64,
    /// The sources' digest, or why there is none.
    sources: Result<String, String>,
    identities: Identities,
    /// Jobs restored from the cache in this run, by index.
    restored: Mutex<BTreeSet<usize>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("sources", &self.sources)
            .finish_non_exhaustive()
    }
}

/// What a job's inputs are read from: the plan, what the jobs before it
/// made (images, archive records; files on disk, or in `foreseen` when
/// `plan --cache-status` asks before anything ran), and the engine.
struct At<'a> {
    plan: &'a Plan,
    made: &'a [(usize, Produced)],
    engine: Option<&'a Engine>,
    artifacts: &'a [Artifact],
    foreseen: Option<&'a Foreseen>,
}

/// What `plan --cache-status` knows the jobs before a job would restore:
/// each restored file's content by its path, and the archives' records.
#[derive(Default)]
struct Foreseen {
    files: BTreeMap<PathBuf, String>,
    artifacts: Vec<Artifact>,
}

/// The start of the reason a job's inputs cannot be named yet (in
/// `plan --cache-status`: a job before it misses).
const UNKNOWN: &str = "unknown: ";

impl<'a> At<'a> {
    /// What a running job's inputs are read from.
    fn of(ctx: &'a Context) -> At<'a> {
        At {
            plan: &ctx.plan,
            made: &ctx.produced,
            engine: ctx.engine.as_deref(),
            artifacts: &ctx.artifacts,
            foreseen: None,
        }
    }

    /// The content of `path`, a file an earlier job made (a binary, an
    /// archive): read from disk, or foreseen from its job's record.
    fn made_file(&self, path: &Path) -> Result<String, String> {
        match self.foreseen {
            Some(f) => f.files.get(path).cloned().ok_or_else(|| {
                format!(
                    "{UNKNOWN}`{}` is made by a job that runs first",
                    shown(&self.plan.root, path)
                )
            }),
            None => content(path),
        }
    }
}

/// A file's content for a key: its size and sha256. Only for files matrix
/// made or already accepted (a matched archive file is read through a link
/// inside the project the same way).
fn content(path: &Path) -> Result<String, String> {
    crate::package::checksum::hash_file(path, Algorithm::Sha256)
        .map(|(hex, size)| format!("{size} {hex}"))
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))
}

/// What the cache said about a job.
enum Lookup {
    Hit(Box<Record>),
    Miss(String),
}

impl Cache {
    /// Opens the store and digests the sources (once per run).
    pub fn open(store: Layered, plan: &Plan) -> Cache {
        let (globs, max_size) = plan
            .cache
            .as_ref()
            .map_or((&[][..], crate::cache::DEFAULT_MAX_SIZE), |c| {
                (c.inputs.as_slice(), c.max_size)
            });
        let sources =
            crate::cache::sources::digest(&plan.root, globs, std::slice::from_ref(&plan.dist));
        if let Err(why) = &sources {
            tracing::warn!("builds are not cached: {why}");
        }
        Cache {
            store,
            max_size,
            sources,
            identities: Identities::default(),
            restored: Mutex::new(BTreeSet::new()),
        }
    }

    /// What a build of `plan` would do with each cached job now (builds,
    /// archives, packages, platform images), in plan order: `hit`
    /// (`hit (in <repository>)` when only a `--cache-from` registry has
    /// it), `miss: <why>`, `not cached: <why>` or `unknown: <why>`, for
    /// `matrix plan --cache-status`. A job after a hit is judged by what
    /// the hit would restore; one after a miss is `unknown`. A job in a
    /// builder image is `unknown` until the image is built; one in another
    /// image needs `engine`.
    ///
    /// `hit` means a record exists whose shape the job's restore accepts
    /// (the files it names, in the folders it names them in: the same
    /// check, see `usable`); no blob is read, so file contents are checked
    /// when restored. A record the restore would refuse by its shape is
    /// `miss: the cached entry is unusable (<why>)`.
    pub fn status(&self, plan: &Plan, engine: Option<&Engine>) -> Vec<(String, String)> {
        let mut seen = Foreseen::default();
        let mut rows = Vec::new();
        for (job, j) in plan.jobs.iter().enumerate() {
            let at = At {
                plan,
                made: &[],
                engine,
                artifacts: &seen.artifacts,
                foreseen: Some(&seen),
            };
            let inputs = match j.work() {
                crate::plan::JobId::Build(t) => {
                    if let Some(ContainerImage::Builder { name }) = &plan.targets[t].build.container
                    {
                        let why = format!("{UNKNOWN}runs in builder image `{name}`, built first");
                        rows.push((j.id.to_string(), why));
                        continue;
                    }
                    self.inputs(&at, job, t)
                }
                crate::plan::JobId::Archive(t) => archive::inputs(&at, t),
                crate::plan::JobId::Package { channel, target } => {
                    package::inputs(self, &at, channel, target)
                }
                crate::plan::JobId::Image { variant, platform } => {
                    image::inputs(self, &at, variant, platform)
                }
                _ => continue,
            };
            let status = match inputs {
                Err(why) if why.starts_with(UNKNOWN) => why,
                Err(why) => format!("not cached: {why}"),
                // Records only: a registry's entry is not downloaded.
                Ok(inputs) => match self.store.peek(&inputs.key()) {
                    Ok(Some((record, from))) => match usable(plan, job, &seen.artifacts, &record) {
                        Ok(()) => {
                            seen.learn(plan, job, &record);
                            from.map_or("hit".into(), |repo| format!("hit (in {repo})"))
                        }
                        Err(why) => format!("miss: the cached entry is unusable ({why})"),
                    },
                    Ok(None) => format!("miss: {}", self.missed(&scope(plan, job), &inputs)),
                    Err(e) => format!("miss: the store cannot be read: {e}"),
                },
            };
            rows.push((j.id.to_string(), status));
        }
        rows
    }

    /// Drops least recently used entries until the store fits its cap.
    pub fn prune(&self) {
        match crate::cache::prune::prune(self.store.local(), self.max_size) {
            Ok(r) if r.records + r.blobs > 0 => tracing::info!(
                records = r.records,
                blobs = r.blobs,
                bytes = r.bytes,
                "pruned the cache to its size cap"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(
                "cannot prune the cache at {}: {e}",
                self.store.local().root().display()
            ),
        }
    }

    /// Notes that job `job` (of `scope`, with `inputs`) was restored.
    fn mark_restored(&self, job: usize, scope: &str, inputs: &Inputs) {
        if let Ok(mut r) = self.restored.lock() {
            r.insert(job);
        }
        let _ = self.store.set_last_inputs(scope, inputs);
    }

    /// Drops the entry `key` of job `id` that could not be restored (`e`
    /// says why); the reason its job runs.
    fn corrupt(&self, id: &str, key: &str, e: &str) -> String {
        tracing::warn!("cache entry {key} of {id} is corrupt ({e}): dropped, the job runs");
        self.store.drop_record(key);
        format!("its entry was corrupt: {e}")
    }

    /// Whether job `job` was restored in this run.
    pub fn was_restored(&self, job: usize) -> bool {
        self.restored.lock().is_ok_and(|r| r.contains(&job))
    }

    /// A build job's inputs, or why it cannot be cached. `made` is what
    /// finished jobs produced (a builder's image tag).
    fn inputs(&self, at: &At<'_>, job: usize, t: usize) -> Result<Inputs, String> {
        let plan = at.plan;
        let step = &plan.targets[t].build;
        if step.no_cache {
            return Err(NO_CACHE.into());
        }
        let mut i = Inputs::default();
        i.set("matrix", env!("CARGO_PKG_VERSION"));
        i.set("command", json!({ "argv": step.argv, "shell": step.shell }));
        i.set("env", &step.env);
        // Absolute: a compiler may write the folder it runs in into the
        // binary (`__FILE__`, debug info), so a checkout elsewhere is
        // another build.
        i.set("dir", crate::cache::key::path_text(&step.dir));
        i.set(
            "outputs",
            json!({
                "out": shown(&plan.root, &step.out_dir),
                "artifact": shown(&plan.root, &step.artifact),
                "binary": step.binary,
            }),
        );
        i.set("sources", self.sources.clone()?);
        match &step.container {
            // The image holds the toolchain; its id names both.
            Some(image) => {
                i.set("container", container_id(at.engine, image)?);
                let names = plan
                    .containers
                    .as_ref()
                    .map_or(&[][..], |c| &c.pass_env[..]);
                i.set("pass-env", passed_env(names, |n| std::env::var_os(n)));
            }
            None => i.set("toolchain", self.toolchain(step)),
        }
        i.set("needs", needs_made(at, job));
        Ok(i)
    }

    /// The identity of the command's program and of the compilers its
    /// environment names (CC, CXX, AR, `*_LINKER`, ...).
    fn toolchain(&self, step: &crate::plan::BuildStep) -> BTreeMap<String, String> {
        let mut programs = BTreeSet::new();
        let first = if step.shell {
            // `CC=x GOOS=y go build`: the program is the first word that
            // is not a variable assignment.
            step.argv.get(2).and_then(|line| {
                shell_words::split(line)
                    .ok()?
                    .into_iter()
                    .find(|w| !is_assignment(w))
            })
        } else {
            step.argv.first().cloned()
        };
        programs.extend(first);
        for (k, v) in &step.env {
            let compiler = matches!(k.as_str(), "CC" | "CXX" | "AR" | "LD" | "RUSTC")
                || k.ends_with("_LINKER")
                || k.starts_with("CC_")
                || k.starts_with("CXX_");
            if compiler {
                programs.extend(
                    shell_words::split(v)
                        .ok()
                        .and_then(|w| w.into_iter().next()),
                );
            }
        }
        programs
            .into_iter()
            .map(|p| {
                let id = self.identities.of(&p, &step.env, &step.dir);
                (p, id)
            })
            .collect()
    }

    /// The record for `inputs`, or why there is none.
    fn lookup(&self, scope: &str, inputs: &Inputs) -> Lookup {
        match self.store.lookup(&inputs.key()) {
            Ok(Some(record)) => Lookup::Hit(Box::new(record)),
            Ok(None) => Lookup::Miss(self.missed(scope, inputs)),
            Err(e) => Lookup::Miss(format!("the store cannot be read: {e}")),
        }
    }

    /// Why the store has no entry for `inputs`: what changed since the
    /// job's last run, or that its entry is gone.
    fn missed(&self, scope: &str, inputs: &Inputs) -> String {
        match self.store.last_inputs(scope) {
            None => "no earlier run of this job in the cache".into(),
            Some(last) if &last == inputs => {
                "its entry is gone (pruned, cleared or dropped as corrupt)".into()
            }
            Some(last) => format!(
                "changed since its last run: {}",
                last_changed(inputs, &last)
            ),
        }
    }

    /// Stores what a successful build made.
    fn save(
        &self,
        plan: &Plan,
        job: usize,
        t: usize,
        scope: &str,
        inputs: &Inputs,
    ) -> Result<String, String> {
        let step = &plan.targets[t].build;
        let mut outputs = Vec::new();
        collect(&step.out_dir, &mut outputs)?;
        if let Some((base, path)) = artifact_outside(plan, step)? {
            outputs.push(Saving {
                base: base.into(),
                path,
                file: step.artifact.clone(),
            });
        }
        let log = log_path(plan, job);
        let record = self
            .store
            .save(&plan.jobs[job].id, inputs, &outputs, Some(&log))
            .map_err(|e| e.to_string())?;
        let _ = self.store.set_last_inputs(scope, inputs);
        Ok(record.key)
    }
}

/// Runs build job `job` (target `t`), through the cache when there is one.
pub(super) async fn build(
    ctx: &Context,
    job: usize,
    t: usize,
    cancel: &CancellationToken,
) -> Result<Option<Inspected>, JobError> {
    // A joined target (`[universal]`) runs no command and costs a copy:
    // its inputs are its thin builds' files, which the key does not hold.
    let cache = match ctx.cache.clone() {
        Some(cache) if ctx.plan.targets[t].joins.is_none() => cache,
        _ => return super::jobs::build(ctx, job, t, cancel).await,
    };
    let plan = &ctx.plan;
    let id = &plan.jobs[job].id;
    let scope = scope(plan, job);
    let at = At::of(ctx);
    let inputs = match blocking(|| cache.inputs(&at, job, t)) {
        Ok(inputs) => inputs,
        Err(why) => {
            tracing::info!(job = %id, "not cached: {why}");
            return super::jobs::build(ctx, job, t, cancel).await;
        }
    };
    let reason = match blocking(|| cache.lookup(&scope, &inputs)) {
        Lookup::Miss(reason) => reason,
        Lookup::Hit(record) => match blocking(|| restore(plan, job, t, &cache, &record)) {
            Ok(()) => {
                cache.mark_restored(job, &scope, &inputs);
                tracing::debug!(job = %id, key = %record.key, "restored from the cache");
                return super::jobs::check_binary(ctx, job, t, cancel).await;
            }
            Err(e) => cache.corrupt(id, &record.key, &e),
        },
    };
    let binary = super::jobs::build(ctx, job, t, cancel).await?;
    let saved = blocking(|| cache.save(plan, job, t, &scope, &inputs));
    note_miss(plan, job, &reason, saved);
    Ok(binary)
}

/// Appends to job `job`'s log why it missed the cache and whether what
/// it made was stored (`saved`: the entry's key, or why not), and says
/// it in `-v` output too. Best effort, like the log's other notes.
fn note_miss(plan: &Plan, job: usize, reason: &str, saved: Result<String, String>) {
    let id = &plan.jobs[job].id;
    let note = match saved {
        Ok(key) => format!("cache: miss ({reason}); stored as {key}"),
        Err(e) => {
            tracing::warn!("{id} is not cached: {e}");
            format!("cache: miss ({reason}); not stored: {e}")
        }
    };
    tracing::info!(job = %id, "{note}");
    let _ = process::note(&log_path(plan, job), &note);
}

/// Appends to job `job`'s log that it was restored from entry `key`.
fn note_restored(plan: &Plan, job: usize, key: &str) -> std::io::Result<()> {
    process::note(
        &log_path(plan, job),
        &format!("cache: restored {key} (the job did not run)"),
    )
}

/// Why a job with `cache = false` is not cached.
const NO_CACHE: &str = "cache = false";

/// The scope a job's last inputs are kept under: its project and its id.
fn scope(plan: &Plan, job: usize) -> String {
    format!(
        "{}\0{}",
        crate::cache::key::path_text(&plan.root),
        plan.jobs[job].id
    )
}

impl Foreseen {
    /// Learns what job `job`'s hit `record` would restore.
    fn learn(&mut self, plan: &Plan, job: usize, record: &Record) {
        let bases = match plan.jobs[job].work() {
            crate::plan::JobId::Build(t) => build_bases(plan, &plan.targets[t].build),
            crate::plan::JobId::Archive(t) => {
                if let Some(out) = record.outputs.first() {
                    self.artifacts.push(archive::record_of(plan, t, out, None));
                }
                BTreeMap::from([("dist".to_string(), plan.dist.clone())])
            }
            _ => return,
        };
        for out in &record.outputs {
            if let Some(base) = bases.get(&out.base) {
                self.files.insert(
                    base.join(&out.path),
                    format!("{} {}", out.blob.size, out.blob.sha256),
                );
            }
        }
    }
}

/// A job other than a build through the cache: `inputs` names what can
/// change its output (or why it is not cached), a hit is put back by
/// `restore` (given a scratch folder), a miss runs `run` and stores the
/// files `outputs` names (it may write more into the scratch folder).
/// Either way the job gives back what `run` would, and its log says what
/// the cache did, as a build's does (`note_miss`, `note_restored`).
async fn through<T>(
    ctx: &Context,
    job: usize,
    inputs: impl FnOnce(&Cache, &At<'_>) -> Result<Inputs, String>,
    restore: impl FnOnce(&Cache, &Record, &Path) -> Result<T, String>,
    run: impl std::future::Future<Output = Result<T, JobError>>,
    outputs: impl FnOnce(&T, &Path) -> Result<Vec<Saving>, String>,
) -> Result<T, JobError> {
    let Some(cache) = ctx.cache.clone() else {
        return run.await;
    };
    let plan = &ctx.plan;
    let id = &plan.jobs[job].id;
    let scope = scope(plan, job);
    let at = At::of(ctx);
    let inputs = match blocking(|| inputs(&cache, &at)) {
        Ok(inputs) => inputs,
        Err(why) => {
            tracing::info!(job = %id, "not cached: {why}");
            return run.await;
        }
    };
    let scratch = match tempfile::tempdir() {
        Ok(scratch) => scratch,
        Err(e) => {
            tracing::warn!("{id} is not cached: no scratch folder: {e}");
            return run.await;
        }
    };
    let reason = match blocking(|| cache.lookup(&scope, &inputs)) {
        Lookup::Miss(reason) => reason,
        Lookup::Hit(record) => match blocking(|| restore(&cache, &record, scratch.path())) {
            Ok(value) => {
                cache.mark_restored(job, &scope, &inputs);
                tracing::info!(job = %id, key = %record.key, "cache: restored");
                let _ = note_restored(plan, job, &record.key);
                return Ok(value);
            }
            Err(e) => cache.corrupt(id, &record.key, &e),
        },
    };
    let value = run.await?;
    let saved = blocking(|| {
        let files = outputs(&value, scratch.path())?;
        let record = cache
            .store
            .save(id, &inputs, &files, None)
            .map_err(|e| e.to_string())?;
        let _ = cache.store.set_last_inputs(&scope, &inputs);
        Ok(record.key)
    });
    note_miss(plan, job, &reason, saved);
    Ok(value)
}

/// Runs file and hashing work off the async workers when the runtime has
/// others to give it to (the CLI's has; a test's single thread just runs it).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Puts a record's outputs and log back, into a fresh output folder.
fn restore(
    plan: &Plan,
    job: usize,
    t: usize,
    cache: &Cache,
    record: &Record,
) -> Result<(), String> {
    let step = &plan.targets[t].build;
    build_shape(plan, t, record)?;
    super::jobs::fresh_out_dir(plan, job, step).map_err(|e| e.to_string())?;
    let bases = build_bases(plan, step);
    let log = log_path(plan, job);
    cache
        .store
        .restore(record, &bases, &log)
        .map_err(|e| e.to_string())?;
    // After the log it puts back, which it would overwrite.
    note_restored(plan, job, &record.key).map_err(|e| e.to_string())
}

/// Whether build `t`'s `record` names only files its restore may write. A
/// record comes from a store others may write: the only file it may put
/// outside the fresh output folder is this job's own binary (not a
/// source, a hook in .git, another job's binary). Reads no blob: the
/// restore and `plan --cache-status` both ask it.
fn build_shape(plan: &Plan, t: usize, record: &Record) -> Result<(), String> {
    let outside = artifact_outside(plan, &plan.targets[t].build)?;
    match record
        .outputs
        .iter()
        .find(|o| o.base != "out" && outside.as_ref() != Some(&(o.base.as_str(), o.path.clone())))
    {
        Some(o) => Err(format!(
            "it names `{}` in `{}`; this job writes only its output folder{}",
            o.path,
            o.base,
            outside.map_or(String::new(), |(_, p)| format!(" and `{p}`"))
        )),
        None => Ok(()),
    }
}

/// Whether job `job`'s `record` has the shape its restore accepts (which
/// files, in which folders): each kind's own check, the one its restore
/// makes before it reads a blob. `artifacts` are the archives' records
/// (a package's place in dist/ follows them).
fn usable(plan: &Plan, job: usize, artifacts: &[Artifact], record: &Record) -> Result<(), String> {
    match plan.jobs[job].work() {
        crate::plan::JobId::Build(t) => build_shape(plan, t, record),
        crate::plan::JobId::Archive(t) => archive::shape(plan, t, record).map(drop),
        crate::plan::JobId::Package { channel, target } => {
            package::usable(plan, channel, target, artifacts, record)
        }
        crate::plan::JobId::Image { .. } => image::split(record).map(drop),
        _ => Ok(()),
    }
}

/// The folders a build's record names its outputs in: its output folder,
/// the project, and its folder in the user's cache (`{{ cache }}`).
fn build_bases(plan: &Plan, step: &crate::plan::BuildStep) -> BTreeMap<String, PathBuf> {
    let mut bases = BTreeMap::from([
        ("out".to_string(), step.out_dir.clone()),
        ("root".to_string(), plan.root.clone()),
    ]);
    if let Some(dir) = &step.cache_dir {
        bases.insert("cache".to_string(), dir.clone());
    }
    bases
}

/// Every file under the output folder, by its path in it. A link is
/// refused: it would be stored as what it points at.
fn collect(out_dir: &Path, outputs: &mut Vec<Saving>) -> Result<(), String> {
    for entry in walkdir::WalkDir::new(out_dir)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.map_err(|e| e.to_string())?;
        let kind = entry.file_type();
        if kind.is_dir() {
            continue;
        }
        let rel = entry.path().strip_prefix(out_dir).unwrap_or(entry.path());
        if !kind.is_file() {
            return Err(format!(
                "the output folder holds `{}`, which is not a regular file",
                rel.display()
            ));
        }
        if outputs.len() == MAX_OUTPUTS {
            return Err(format!(
                "the output folder holds more than {MAX_OUTPUTS} files"
            ));
        }
        outputs.push(Saving {
            base: "out".into(),
            path: slashed(rel)?,
            file: entry.path().to_path_buf(),
        });
    }
    Ok(())
}

/// Where the binary is when the build leaves it outside its output folder,
/// which is then saved and restored too: in the target's `{{ cache }}`
/// (`("cache", "cargo/<triple>/release/x")`, the cargo presets) or in the
/// project (`("root", "target/release/x")`); `None` when it is in the
/// output folder.
fn artifact_outside(
    plan: &Plan,
    step: &crate::plan::BuildStep,
) -> Result<Option<(&'static str, String)>, String> {
    if step.artifact.starts_with(&step.out_dir) {
        return Ok(None);
    }
    let in_cache = step
        .cache_dir
        .as_ref()
        .and_then(|dir| step.artifact.strip_prefix(dir).ok());
    let (base, rel) = match in_cache {
        Some(rel) => ("cache", rel),
        None => (
            "root",
            step.artifact.strip_prefix(&plan.root).map_err(|_| {
                format!(
                    "the binary `{}` is outside the project, dist/ and the target's cache folder",
                    step.artifact.display()
                )
            })?,
        ),
    };
    slashed(rel).map(|p| Some((base, p)))
}

fn slashed(rel: &Path) -> Result<String, String> {
    rel.to_str()
        .map(str::to_string)
        .ok_or_else(|| format!("`{}` is not UTF-8", rel.display()))
}

/// A path as it goes into a key: relative to the project when inside it.
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The digest of the `[container] pass-env` variables as this run passes
/// them (a value may be a secret, so only its digest goes in the record):
/// unlike the inherited environment of a host job, these are named to
/// reach the build, and a changed one (GOFLAGS, a version) changes it.
fn passed_env(names: &[String], value: impl Fn(&str) -> Option<std::ffi::OsString>) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut hasher = Hasher::new(Algorithm::Sha256);
    for name in names.iter().collect::<BTreeSet<_>>() {
        hasher.update(name.as_bytes());
        match value(name) {
            Some(v) => {
                hasher.update(b"=");
                hasher.update(v.as_bytes());
            }
            None => hasher.update(b" unset"),
        }
        hasher.update(b"\0");
    }
    hasher.finalize_hex()
}

/// `NAME=value` in a shell line: sets a variable, runs nothing.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The named inputs that changed, for a miss's reason: at most
/// [`SHOWN_CHANGES`] names of at most 64 characters. The last inputs come
/// from the store (a shared folder others write), and a file of a million
/// names must not make every job's log and `-v` line megabytes long.
fn last_changed(now: &Inputs, last: &Inputs) -> String {
    let names = now.changed_since(last);
    let mut shown: Vec<String> = names
        .iter()
        .take(SHOWN_CHANGES)
        .map(|n| match n.char_indices().nth(64) {
            Some((cut, _)) => format!("{}...", &n[..cut]),
            None => n.clone(),
        })
        .collect();
    if names.len() > SHOWN_CHANGES {
        shown.push(format!("{} more", names.len() - SHOWN_CHANGES));
    }
    shown.join(", ")
}

/// Most changed input names a miss's reason lists.
const SHOWN_CHANGES: usize = 12;

/// What the jobs this one needs made (a builder image's content tag).
fn needs_made(at: &At<'_>, job: usize) -> BTreeMap<String, String> {
    let plan = at.plan;
    plan.jobs[job]
        .needs
        .iter()
        .filter_map(|id| {
            let i = plan.jobs.iter().position(|j| &j.id == id)?;
            let made = at.made.iter().find(|(p, _)| *p == i).map(|(_, p)| match p {
                Produced::Builder { image } => image.clone(),
                other => format!("{other:?}"),
            });
            Some((id.to_string(), made.unwrap_or_default()))
        })
        .collect()
}

/// The image id a containerised build runs in.
fn container_id(engine: Option<&Engine>, image: &ContainerImage) -> Result<String, String> {
    let reference = match image {
        // A builder's tag is a hash of its inputs; `needs` has it.
        ContainerImage::Builder { name } => return Ok(format!("builder {name}")),
        ContainerImage::Image { reference } => reference,
    };
    let engine = engine.ok_or("no container engine")?;
    let out = crate::process::capture(
        &engine.program,
        &["image", "inspect", "--format", "{{.Id}}", reference],
        std::time::Duration::from_secs(60),
    )
    .map_err(|e| format!("cannot ask the engine for {reference}'s id: {e}"))?
    .ok_or_else(|| format!("the engine did not say {reference}'s id within 60s"))?;
    if !out.status.success() {
        return Err(format!("the engine does not know {reference}"));
    }
    Ok(format!(
        "{reference} {}",
        String::from_utf8_lossy(&out.stdout).trim()
    ))
}

/// The cache folder for a run: `--cache-dir`, else `[cache] dir`, else
/// the user's cache folder.
pub fn store_dir(flag: Option<&Path>, plan: &Plan) -> Option<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| plan.cache.as_ref().and_then(|c| c.dir.clone()))
        .or_else(crate::cache::default_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    impl<'a> At<'a> {
        /// `plan` with nothing made yet and no engine.
        pub(super) fn bare(plan: &'a Plan) -> At<'a> {
            At {
                plan,
                made: &[],
                engine: None,
                artifacts: &[],
                foreseen: None,
            }
        }
    }

    #[test]
    fn a_miss_lists_a_bounded_number_of_changed_names() {
        let mut now = Inputs::default();
        now.set("command", "cc");
        let mut last = now.clone();
        last.set("command", "gcc");
        assert_eq!(last_changed(&now, &last), "command");
        // A last-inputs file from a shared store, with a million names.
        for i in 0..1_000_000 {
            last.0.insert(format!("{i:0>100}"), String::new());
        }
        let shown = last_changed(&now, &last);
        assert!(shown.len() < 1200, "{} bytes", shown.len());
        assert!(shown.ends_with(", 999989 more"), "{shown}");
        assert!(shown.contains(&format!("{}...", "0".repeat(64))), "{shown}");
    }

    /// A record's output `path` in `base`, of no bytes.
    pub(super) fn output(base: &str, path: &str) -> crate::cache::store::OutputFile {
        crate::cache::store::OutputFile {
            base: base.into(),
            path: path.into(),
            blob: crate::cache::store::Blob {
                sha256: "0".repeat(64),
                size: 0,
            },
            mode: 0o644,
        }
    }

    /// The plan's first build job and its target.
    fn first_build(plan: &Plan) -> (usize, usize) {
        plan.jobs
            .iter()
            .enumerate()
            .find_map(|(i, j)| match j.work() {
                crate::plan::JobId::Build(t) => Some((i, t)),
                _ => None,
            })
            .unwrap()
    }

    pub(super) fn cache(dir: &Path) -> Cache {
        Cache {
            store: Layered::local_only(crate::cache::LocalStore::open(dir).unwrap()),
            max_size: crate::cache::DEFAULT_MAX_SIZE,
            sources: Ok("sources".into()),
            identities: Identities::default(),
            restored: Mutex::new(BTreeSet::new()),
        }
    }

    #[test]
    fn what_a_need_made_is_an_input() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
        let mut plan = crate::plan::tests::sample_plan();
        let (build, t) = first_build(&plan);
        let other = plan.jobs.len() - 1;
        let need = plan.jobs[other].id.clone();
        plan.jobs[build].needs.push(need);
        let inputs = |image: &str| {
            let made = [(
                other,
                Produced::Builder {
                    image: image.into(),
                },
            )];
            let at = At {
                made: &made,
                ..At::bare(&plan)
            };
            cache.inputs(&at, build, t).unwrap()
        };
        let (a, b) = (inputs("builder:aaaa"), inputs("builder:bbbb"));
        assert_eq!(inputs("builder:aaaa").key(), a.key());
        assert_ne!(a.key(), b.key());
        assert_eq!(b.changed_since(&a), ["needs"]);
    }

    /// The working folder is an input as it is: the same sources in
    /// another checkout are another key.
    #[test]
    fn the_working_folder_is_an_input() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(dir.path());
        let mut plan = crate::plan::tests::sample_plan();
        let (job, t) = first_build(&plan);
        let key = |plan: &Plan| cache.inputs(&At::bare(plan), job, t).unwrap();
        let here = key(&plan);
        plan.targets[t].build.dir = PathBuf::from("/elsewhere/hello");
        let there = key(&plan);
        assert_eq!(there.changed_since(&here), ["dir"]);
    }

    #[test]
    fn a_passed_variable_is_an_input_by_its_digest() {
        let names = ["GOFLAGS".to_string()];
        let with = |v: Option<&str>| passed_env(&names, |_| v.map(Into::into));
        assert_ne!(with(Some("-trimpath")), with(Some("")));
        assert_ne!(with(Some("")), with(None));
        assert_eq!(with(Some("-trimpath")), with(Some("-trimpath")));
        assert!(!with(Some("secret-token")).contains("secret"));
    }

    #[test]
    fn a_shell_lines_program_is_found_past_its_assignments() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(&dir.path().join("store"));
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("mycc"), "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("mycc"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut step = crate::plan::tests::sample_plan().targets[0].build.clone();
        step.shell = true;
        step.argv = vec![
            "sh".into(),
            "-c".into(),
            "CGO_ENABLED=0 A_1=b mycc -o x".into(),
        ];
        step.env = BTreeMap::from([("PATH".to_string(), bin.display().to_string())]);
        step.dir = dir.path().to_path_buf();
        let ids = cache.toolchain(&step);
        assert!(
            ids.get("mycc").is_some_and(|id| id.starts_with("sha256:")),
            "{ids:?}"
        );
        assert!(!is_assignment("./x=y") && !is_assignment("=y") && is_assignment("X="));
    }

    #[test]
    fn a_record_may_not_write_outside_its_jobs_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(&dir.path().join("store"));
        let mut plan = crate::plan::tests::sample_plan();
        plan.root = dir.path().join("project");
        let (job, t) = first_build(&plan);
        let out_dir = plan.targets[t].build.out_dir.clone();
        let blob = crate::cache::store::Blob {
            sha256: "0".repeat(64),
            size: 0,
        };
        let output = |base: &str, path: &str| crate::cache::store::OutputFile {
            base: base.into(),
            path: path.into(),
            blob: blob.clone(),
            mode: 0o755,
        };
        for hostile in [
            output("root", ".git/hooks/post-checkout"),
            output("root", "main.go"),
        ] {
            let record = Record {
                format: crate::cache::FORMAT,
                key: "0".repeat(64),
                job: plan.jobs[job].id.to_string(),
                inputs: Inputs::default(),
                outputs: vec![output("out", "glide"), hostile],
                log: None,
            };
            let err = restore(&plan, job, t, &cache, &record).unwrap_err();
            assert!(err.contains("this job writes only"), "{err}");
            // Refused before the output folder is made afresh.
            assert!(!out_dir.exists());
        }
    }

    /// `plan --cache-status` says `hit` only for a record the restore
    /// would take: one naming a file outside what its job writes is not,
    /// nor an archive's naming another target's archive.
    #[test]
    fn a_record_the_restore_would_refuse_is_no_hit() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(&dir.path().join("store"));
        let mut plan = crate::plan::tests::sample_plan();
        plan.root = dir.path().join("project");
        std::fs::create_dir_all(plan.root.join("docs")).unwrap();
        std::fs::write(plan.root.join("LICENSE"), "MIT").unwrap();
        std::fs::write(plan.root.join("docs/a.md"), "a").unwrap();
        let (build, t) = first_build(&plan);
        let archive = plan
            .jobs
            .iter()
            .position(|j| j.work() == crate::plan::JobId::Archive(t))
            .unwrap();
        let file = dir.path().join("made");
        std::fs::write(&file, "a binary").unwrap();
        let save = |job: usize, inputs: &Inputs, base: &str, path: &str| {
            let saving = Saving {
                base: base.into(),
                path: path.into(),
                file: file.clone(),
            };
            let id = &plan.jobs[job].id;
            cache.store.save(id, inputs, &[saving], None).unwrap()
        };
        let row = |job: usize| {
            let id = plan.jobs[job].id.to_string();
            let rows = cache.status(&plan, None);
            rows.into_iter().find(|(j, _)| *j == id).unwrap().1
        };
        let unusable = "miss: the cached entry is unusable (it names";
        let inputs = cache.inputs(&At::bare(&plan), build, t).unwrap();
        save(build, &inputs, "root", "main.go");
        assert!(row(build).starts_with(unusable), "{}", row(build));
        let step = &plan.targets[t].build;
        let binary = step.artifact.strip_prefix(&step.out_dir).unwrap();
        let record = save(build, &inputs, "out", binary.to_str().unwrap());
        assert_eq!(row(build), "hit");
        // The archive, judged by what the build's hit restores.
        let mut seen = Foreseen::default();
        seen.learn(&plan, build, &record);
        let at = At {
            foreseen: Some(&seen),
            ..At::bare(&plan)
        };
        let inputs = archive::inputs(&at, t).unwrap();
        let other = plan.targets[1 - t].archive.file_name.clone();
        save(archive, &inputs, "dist", &other);
        assert!(row(archive).starts_with(unusable), "{}", row(archive));
        save(archive, &inputs, "dist", &plan.targets[t].archive.file_name);
        assert_eq!(row(archive), "hit");
    }

    #[test]
    fn without_sources_a_job_is_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = cache(dir.path());
        cache.sources = Err("not in git".into());
        let plan = crate::plan::tests::sample_plan();
        let status = cache.status(&plan, None);
        assert!(!status.is_empty());
        // Builds need the sources; an archive needs only its build's
        // binary, which is not known before the build runs.
        for (job, s) in &status {
            let want = match job.starts_with("build-") {
                true => s == "not cached: not in git",
                false => job.starts_with("archive-") && s.starts_with("unknown: `dist/build/"),
            };
            assert!(want, "{status:?}");
        }
    }
}
