//! What each subcommand does, in terms of the library's stages.

use std::sync::Arc;

use super::common::{
    check_changelog, execute, make_plan, make_plan_to_look, prepare_dist, print_out,
};
use super::{BuildArgs, Cli, Command, DoctorArgs, PlanArgs};
use crate::error::Error;
use crate::exec;
use crate::plan::{self, Plan};
use crate::report::{self, views};
use crate::shard::Format;
use crate::{config, target, toolchain};

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
        .filter_map(|j| j.target().map(|t| plan.targets[t].id.clone()))
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
    let images_need_engine = crate::toolchain::image_precheck::precheck(&plan)?;
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
        .map(toolchain::ImageCheck::missing_line)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::MissingInImages {
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
        let checked = crate::toolchain::image_precheck::precheck(&plan)
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
