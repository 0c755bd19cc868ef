//! What each subcommand does, in terms of the library's stages.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{BuildArgs, Cli, Command, DoctorArgs, PlanArgs, PlanFlags};
use crate::error::Error;
use crate::exec::{self, Status};
use crate::plan::{self, Plan};
use crate::report::{self, Style, summary, views};
use crate::shard::Format;
use crate::{config, target, toolchain, version};

pub async fn run(cli: Cli) -> Result<(), Error> {
    match &cli.command {
        Command::Plan(args) => plan_command(&cli, args),
        Command::Build(args) => build_command(&cli, args).await,
        Command::Doctor(args) => doctor_command(&cli, args),
        Command::Targets { json } => targets_command(*json),
        Command::Merge(args) => super::release::merge_command(&cli, args).await,
        Command::Verify { dir, allow_partial } => {
            super::release::verify_command(dir, *allow_partial)
        }
        Command::Ci(args) => super::release::ci_command(args, &cli.config),
        Command::Publish(args) => super::release::publish_command(args),
        Command::Channel(c) => super::release::channel_command(c),
        Command::Init(args) => init_command(&cli, args),
        Command::Schema => {
            let schema = schemars::schema_for!(config::Config);
            let text =
                serde_json::to_string_pretty(&schema).map_err(|e| Error::io("stdout")(e.into()))?;
            print_out(&format!("{text}\n"))
        }
    }
}

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

fn plan_command(cli: &Cli, args: &PlanArgs) -> Result<(), Error> {
    // clap refuses the combinations that make no sense (--json with
    // --format, github/gitlab without --shards, --history without it).
    if let Some(n) = args.shards {
        let plan = make_plan(cli, &args.flags)?;
        let format = args.format.unwrap_or(Format::Json);
        return super::release::shards_command(&plan, n, format, args.history.as_deref());
    }
    let plan = make_plan_to_look(cli, &args.flags)?;
    if args.json || matches!(args.format, Some(Format::Json)) {
        let mut text =
            serde_json::to_string_pretty(&plan).map_err(|e| Error::io("stdout")(e.into()))?;
        text.push('\n');
        return print_out(&text);
    }
    print_out(&views::plan(&plan, cli.verbose > 0))
}

async fn build_command(cli: &Cli, args: &BuildArgs) -> Result<(), Error> {
    let mut plan = make_plan(cli, &args.flags)?;
    if let Some(spec) = &args.shard {
        super::release::shard_plan(&mut plan, spec, args.history.as_deref())?;
    }
    if args.smoke && plan.targets.iter().all(|t| t.build.smoke.is_none()) {
        return Err(Error::Usage {
            message: "--smoke needs [build] smoke = [...] arguments to run each binary with".into(),
        });
    }
    // A missing cross compiler or program fails now, not ten minutes into
    // the build (only for the targets this run builds: a shard builds some).
    let building: std::collections::BTreeSet<String> = plan
        .jobs
        .iter()
        .filter(|j| j.kind == plan::JobKind::Build)
        .filter_map(|j| j.target.map(|t| plan.targets[t].id.clone()))
        .collect();
    let needs: Vec<toolchain::TargetNeed> = toolchain::check_plan(&plan, args.smoke)
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
    // A tool found only in matrix's tool cache (zig) is on the jobs' PATH.
    if let Some(bin) = toolchain::use_tool_cache(&mut plan, &needs) {
        tracing::debug!("build jobs get {} on their PATH", bin.display());
    }
    let plan = Arc::new(plan);
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    check_changelog(&plan)?;
    // A bad Dockerfile, a missing engine, image or emulator fails now too.
    let images_need_engine = crate::image::precheck(&plan)?;
    let needs_engine = images_need_engine
        || plan.jobs.iter().any(|j| {
            matches!(j.kind, plan::JobKind::Builder | plan::JobKind::Build) && j.uses_engine
        });
    let engine = match &plan.containers {
        Some(containers) if needs_engine => {
            let engine = exec::container::detect(containers)?;
            engine.ensure_images(&plan)?;
            check_programs_in_images(&engine, &plan, &building)?;
            Some(engine)
        }
        _ => None,
    };
    let seed = partial_seed(args, &plan);
    // Held until the run ends: one run per dist folder.
    let _lock = prepare_dist(&plan, args.clean, &[])?;
    let jobs = args
        .jobs
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let container_jobs = args
        .container_jobs
        .map(usize::from)
        .or(plan.containers.as_ref().and_then(|c| c.jobs))
        .unwrap_or(jobs);
    let opts = exec::Options {
        jobs,
        keep_going: args.keep_going,
        smoke: args.smoke,
        container_jobs,
        engine,
        run_id: exec::container::new_run_id(),
        seed,
    };
    execute(cli, plan, opts).await
}

/// A `--target` build that leaves out targets of the plan is partial: its
/// manifest lists every target and marks the ones not built as missing,
/// exactly as `merge --allow-partial` does, so `verify` and `publish`
/// refuse it unless told it is partial on purpose. (A shard is marked as a
/// shard instead.)
fn partial_seed(args: &BuildArgs, plan: &Plan) -> exec::Seed {
    if args.shard.is_some() {
        return exec::Seed::default();
    }
    let built: std::collections::BTreeSet<&str> =
        plan.targets.iter().map(|t| t.id.as_str()).collect();
    let missing: Vec<String> = plan
        .unfiltered
        .iter()
        .filter(|t| !built.contains(t.id.as_str()))
        .map(|t| t.id.clone())
        .collect();
    if missing.is_empty() {
        return exec::Seed::default();
    }
    eprintln!(
        "warning: a partial release: {} of {} not built ({}); verify and publish need --allow-partial",
        missing.len(),
        report::count(plan.unfiltered.len(), "target", "targets"),
        missing.join(", ")
    );
    exec::Seed {
        missing_targets: missing,
        ..exec::Seed::default()
    }
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
        Ok(text) => crate::publish::notes::changelog_section(&text, version).is_some(),
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

/// A containerised target's program must be in its image: checked once
/// per image and program, before any job runs. An image the check cannot
/// look into (no `sh`, a builder made during the run) is left to the job.
fn check_programs_in_images(
    engine: &exec::container::Engine,
    plan: &Plan,
    building: &std::collections::BTreeSet<String>,
) -> Result<(), Error> {
    let checks = toolchain::check_images(engine, plan, &|id| building.contains(id));
    let missing: Vec<String> = checks
        .iter()
        .filter(|c| c.status == toolchain::ImageStatus::Missing)
        .map(|c| {
            format!(
                "  {}: {} (for command): not found in image {}; use an image that has it, or fix [build] command",
                c.target, c.program, c.image
            )
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::MissingTools {
        list: missing.join("\n"),
    })
}

fn doctor_command(cli: &Cli, args: &DoctorArgs) -> Result<(), Error> {
    let plan = make_plan_to_look(cli, &args.flags)?;
    let needs = toolchain::check_plan(&plan, args.smoke);
    if args.json {
        let mut text =
            serde_json::to_string_pretty(&needs).map_err(|e| Error::io("stdout")(e.into()))?;
        text.push('\n');
        print_out(&text)?;
    } else {
        print_out(&views::doctor(&plan, &needs))?;
    }
    let mut missing = needs.iter().filter(|n| !n.met).count();
    // Containers and images: the engine must answer, images and
    // emulation must be there, exactly as `matrix build` checks them.
    if let Some(containers) = &plan.containers {
        let mut report = String::new();
        let checked = crate::image::precheck(&plan)
            .map_err(miette::Report::new)
            .and_then(|_| exec::container::detect(containers).map_err(miette::Report::new))
            .and_then(|engine| {
                engine.ensure_images(&plan).map_err(miette::Report::new)?;
                Ok(engine)
            });
        match checked {
            Ok(engine) => {
                report.push_str(&format!(
                    "container engine: {} {} (ok{})\n",
                    engine.name(),
                    engine.version,
                    if engine.classic_builder {
                        ", classic builder"
                    } else {
                        ""
                    }
                ));
                let checks = toolchain::check_images(&engine, &plan, &|_| true);
                missing += checks
                    .iter()
                    .filter(|c| c.status == toolchain::ImageStatus::Missing)
                    .count();
                report.push_str(&views::doctor_images(&checks));
            }
            Err(e) => {
                missing += 1;
                report.push_str(&format!("container engine: MISSING: {e}\n"));
                if let Some(help) = e.help() {
                    report.push_str(&format!("  help: {help}\n"));
                }
            }
        }
        if !args.json {
            print_out(&report)?;
        }
    }
    if args.install {
        return super::install::install_command(&plan, &needs, args.smoke, args.yes);
    }
    if missing > 0 {
        let hint = if needs.iter().any(|n| !n.met) {
            "; `matrix doctor --install` installs what matrix knows how to"
        } else {
            ""
        };
        let message = format!("{missing} missing{hint}");
        eprintln!("matrix doctor: {message}");
        return Err(Error::Reported { message, code: 1 });
    }
    Ok(())
}

fn targets_command(json: bool) -> Result<(), Error> {
    if json {
        let value = serde_json::json!({ "os": target::OSES, "arch": target::ARCHES, "platforms": target::PLATFORMS });
        let mut text =
            serde_json::to_string_pretty(&value).map_err(|e| Error::io("stdout")(e.into()))?;
        text.push('\n');
        return print_out(&text);
    }
    print_out(&views::targets())
}

/// `matrix init`: the file goes to -c (default ./matrix.toml); with
/// --dry-run it is printed on stdout and the report on stderr.
fn init_command(cli: &Cli, args: &super::InitArgs) -> Result<(), Error> {
    let opts = crate::init::Options {
        config: cli.config.clone(),
        force: args.force,
        dry_run: args.dry_run,
        bin: args.bin.clone(),
    };
    let outcome = crate::init::run(&opts, &crate::init::Probe::host())?;
    let report = crate::init::report(&outcome, &opts);
    if args.dry_run {
        print_out(&outcome.text)?;
        if !cli.quiet {
            eprint!("{report}");
        }
        return Ok(());
    }
    if cli.quiet {
        return Ok(());
    }
    print_out(&report)
}
