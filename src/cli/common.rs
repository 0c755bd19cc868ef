//! Helpers both command modules use: loading the config into a plan,
//! preparing dist/, running a plan with progress output and printing.
//!
//! Part of the CLI glue. Kept apart from [`super::commands`] and
//! [`super::release`] so that neither imports the other for them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{Cli, PlanFlags};
use crate::error::Error;
use crate::exec::{self, Status};
use crate::plan::{self, Plan};
use crate::report::{self, Style, summary};
use crate::{config, version};

pub(super) fn print_out(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .or_else(|e| {
            // A closed pipe (`matrix plan | head`) is not an error.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                Ok(())
            } else {
                Err(Error::io("stdout")(e))
            }
        })
}

/// Loads the config, resolves the version and builds the plan. The version
/// is a release's (a tag at HEAD, a clean tree) unless `--snapshot`: what
/// `build`, `merge` and `plan --shards` (whose output feeds builds) need.
pub(super) fn make_plan(cli: &Cli, flags: &PlanFlags) -> Result<Plan, Error> {
    plan_with(cli, flags, false)
}

/// The plan for a command that only looks (`plan`, `doctor`): where a
/// release build would be refused for a missing tag or a dirty tree, it
/// has the snapshot version instead, says why in `release_refused`, and
/// prints that as one note on stderr (not with --snapshot or --quiet).
pub(super) fn make_plan_to_look(cli: &Cli, flags: &PlanFlags) -> Result<Plan, Error> {
    let plan = plan_with(cli, flags, true)?;
    if let (Some(why), false, false) = (&plan.release_refused, flags.snapshot, cli.quiet) {
        eprintln!(
            "note: showing the snapshot version {}; a release build would refuse this checkout: {why}",
            plan.version.version
        );
    }
    Ok(plan)
}

fn plan_with(cli: &Cli, flags: &PlanFlags, look: bool) -> Result<Plan, Error> {
    let loaded = config::load(&cli.config)?;
    let cwd = std::env::current_dir().map_err(Error::io("."))?;
    let root = absolute(&cwd, cli.config.parent().unwrap_or(Path::new(".")));
    let dist = absolute(&cwd, &flags.dist);
    let facts = match version::git_facts(&root, std::slice::from_ref(&dist)) {
        Ok(facts) => Some(facts),
        Err(e) if e.is_not_a_repository() => None,
        Err(e) => return Err(e.into()),
    };
    let request = version::Request {
        snapshot: flags.snapshot,
        env_version: std::env::var("MATRIX_VERSION")
            .ok()
            .filter(|v| !v.is_empty()),
        source_date_epoch: std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .filter(|v| !v.is_empty()),
        calendar: loaded.config.version.calendar(),
    };
    let (version, release_refused) = if look {
        let looked = version::resolve_to_look(facts.as_ref(), &request)?;
        (looked.version, looked.release_refused)
    } else {
        (version::resolve(facts.as_ref(), &request)?, None)
    };
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let has_changelog = root.join(&loaded.config.release.changelog).is_file();
    let mut plan = plan::build(
        &loaded,
        &plan::Request {
            version,
            root,
            dist,
            filters: flags.targets.clone(),
            env,
            push: flags.push,
            oci_archives: flags.oci_dir,
            images: !flags.no_images,
            has_changelog,
        },
    )?;
    plan.release_refused = release_refused;
    Ok(plan)
}

/// Joins and removes `.` and `..` components, without touching the disk.
fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    plan::join_clean(cwd, path)
}

/// Runs a plan's jobs with progress output, prints the summary and turns
/// the outcome into an exit code. dist/ is prepared by the caller.
pub(super) async fn execute(cli: &Cli, plan: Arc<Plan>, opts: exec::Options) -> Result<(), Error> {
    let style = Style::detect(cli.quiet);
    let reporter: Arc<dyn report::Reporter> = Arc::from(style.reporter(cli.verbose > 0));
    let interrupt = CancellationToken::new();
    let watcher = tokio::spawn(watch_signals(interrupt.clone()));
    let outcome = exec::run(
        Arc::clone(&plan),
        &opts,
        Arc::clone(&reporter),
        interrupt.clone(),
    )
    .await;
    watcher.abort();
    reporter.finish();

    print_out(&summary::render(&plan, &outcome, &opts.seed.artifacts))?;
    report_failures(&outcome);
    if outcome.interrupted {
        return Err(Error::Reported {
            message: "interrupted".into(),
            code: 130,
        });
    }
    let failed = outcome
        .results
        .iter()
        .filter(|r| r.status == Status::Failed)
        .count();
    if failed > 0 || !outcome.succeeded() {
        return Err(Error::Reported {
            message: format!("{} failed", report::count(failed, "job", "jobs")),
            code: 1,
        });
    }
    Ok(())
}

fn report_failures(outcome: &exec::Outcome) {
    let mut err = std::io::stderr().lock();
    for r in outcome
        .results
        .iter()
        .filter(|r| r.status == Status::Failed)
    {
        let Some(e) = &r.error else { continue };
        let mut text = format!("error: {}\n", exec::joblog::with_causes(e));
        let tail = e.tail();
        if !tail.is_empty() {
            text.push_str(&format!(
                "  last {} of the log:\n",
                report::count(tail.len(), "line", "lines")
            ));
            for line in tail {
                text.push_str(&format!("  | {line}\n"));
            }
        }
        // The job's own help, or that of the error underneath it.
        let help = miette::Diagnostic::help(e)
            .or_else(|| miette::Diagnostic::diagnostic_source(e).and_then(|d| d.help()))
            .map(|h| h.to_string())
            .or_else(|| e.nested_help());
        if let Some(help) = help {
            text.push_str(&format!("  help: {help}\n"));
        }
        let _ = err.write_all(text.as_bytes());
    }
    if outcome.interrupted {
        let _ = writeln!(
            err,
            "matrix: interrupted; no checksums or manifest were written"
        );
    }
}

/// The release notes need this version's changelog section: its absence
/// stops a release before anything is built, and a snapshot only warns.
pub(super) fn check_changelog(plan: &Plan) -> Result<(), Error> {
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
        eprintln!(
            "warning: {} has no section for {version}; the release notes say so",
            step.changelog_name
        );
        return Ok(());
    }
    Err(Error::Changelog {
        path: step.changelog.clone(),
        version: version.clone(),
    })
}

/// SIGINT or SIGTERM cancels the run; the scheduler then stops every job.
async fn watch_signals(interrupt: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    interrupt.cancel();
}

/// Locks dist/ for the whole run (the returned guard), then makes sure it
/// is empty (or empties it with --clean) so nothing stale can be mistaken
/// for part of this release. The lock comes first: a second run must not
/// delete or count files a running one is writing. `inputs` are folders the
/// run reads (a merge's shards), which `--clean` must not delete.
pub(super) fn prepare_dist(
    plan: &Plan,
    clean: bool,
    inputs: &[PathBuf],
) -> Result<exec::lock::DistLock, Error> {
    let dist = &plan.dist;
    let lock = exec::lock::acquire(dist)?;
    let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dist)
        .map_err(Error::io(dist))?
        .collect::<Result<_, _>>()
        .map_err(Error::io(dist))?;
    let entries: Vec<std::fs::DirEntry> = entries
        .into_iter()
        .filter(|e| e.file_name() != exec::lock::LOCK_FILE)
        .collect();
    if entries.is_empty() {
        return Ok(lock);
    }
    if !clean {
        return Err(Error::DistNotEmpty {
            dist: dist.clone(),
            entries: entries.len(),
        });
    }
    check_clean_is_safe(plan, inputs)?;
    // Empty dist/ around the lock file; a symlink is removed, never followed.
    for entry in entries {
        let path = entry.path();
        let is_dir = entry.file_type().map_err(Error::io(&path))?.is_dir();
        let removed = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(Error::io(&path))?;
    }
    Ok(lock)
}

/// Whether emptying dist/ could delete something that is not output. The
/// paths are compared as the kernel resolves them: a `--dist` that is a
/// symlink (or goes through one) to the project, a folder above it, the
/// home folder or a shard being merged is refused, whatever its name.
fn check_clean_is_safe(plan: &Plan, inputs: &[PathBuf]) -> Result<(), Error> {
    let dist = &plan.dist;
    // dist/ exists: the lock was taken in it.
    let real = dist.canonicalize().map_err(Error::io(dist))?;
    let resolve = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| resolve(Path::new(&h)));
    let reason = if real.parent().is_none() {
        Some("it is the file system root".to_string())
    } else if resolve(&plan.root).starts_with(&real) {
        Some("it holds the project (matrix.toml)".into())
    } else if std::env::current_dir().is_ok_and(|cwd| resolve(&cwd).starts_with(&real)) {
        Some("it holds the current folder".into())
    } else if home.is_some_and(|h| h.starts_with(&real)) {
        Some("it is or holds your home folder ($HOME)".into())
    } else {
        inputs
            .iter()
            .find(|i| resolve(i).starts_with(&real))
            .map(|i| format!("it holds {}, a shard this merge reads", i.display()))
    };
    match reason {
        Some(reason) => Err(Error::UnsafeClean {
            dist: if real == *dist {
                dist.clone()
            } else {
                // Say where the name leads: that is what would be emptied.
                PathBuf::from(format!("{} (which is {})", dist.display(), real.display()))
            },
            reason,
        }),
        None => Ok(()),
    }
}
