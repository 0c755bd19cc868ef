//! What each subcommand does, in terms of the library's stages.

use super::common::{
    execute, make_plan, make_plan_to_look, plan_options, print_json, print_out, warn,
};
use super::{BuildArgs, Cli, Command, DoctorArgs, PlanArgs};
use crate::error::Error;
use crate::report::views;
use crate::shard::Format;
use crate::{config, release, target, toolchain};

pub async fn run(cli: Cli) -> Result<(), Error> {
    match &cli.command {
        Command::Plan(args) => plan_command(&cli, args),
        Command::Build(args) => build_command(&cli, args).await,
        Command::Doctor(args) => doctor_command(&cli, args),
        Command::Targets { json } => targets_command(*json),
        Command::Merge(args) => super::release::merge_command(&cli, args).await,
        Command::Verify {
            dir,
            allow_partial,
            flat,
        } => super::release::verify_command(dir, *allow_partial, *flat),
        Command::Ci(args) => super::release::ci_command(args, &cli.config),
        Command::Publish(args) => super::release::publish_command(args, &cli.config),
        Command::Channel(c) => super::release::channel_command(c),
        Command::Init(args) => init_command(&cli, args),
        Command::Cache(args) => super::release::cache_command(&cli, args),
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
        let assignment = release::shards(&plan, n, args.history.as_deref())?;
        let mut text = crate::shard::render(&assignment, format);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        return print_out(&text);
    }
    // Never freed: the process ends after printing it, and freeing a plan
    // of 10,000 targets piece by piece was a tenth of `plan --json`'s time.
    let plan = std::mem::ManuallyDrop::new(make_plan_to_look(cli, &args.flags)?);
    let status = match args.cache_status {
        true => Some(release::cache_status(
            &plan,
            args.cache_dir.as_deref(),
            &args.cache_from,
        )?),
        false => None,
    };
    if args.json || matches!(args.format, Some(Format::Json)) {
        let Some(status) = &status else {
            return print_json(&*plan);
        };
        let to_json = |e: serde_json::Error| Error::io("stdout")(e.into());
        let mut value = serde_json::to_value(&*plan).map_err(to_json)?;
        let rows: Vec<serde_json::Value> = status
            .iter()
            .map(|(job, s)| serde_json::json!({ "job": job, "status": s }))
            .collect();
        value["cache_status"] = rows.into();
        return print_json(&value);
    }
    let mut text = views::plan(&plan, cli.verbose > 0);
    if let Some(status) = status {
        let width = status.iter().map(|(j, _)| j.len()).max().unwrap_or(0);
        text.push_str("\ncache:\n");
        for (job, s) in status {
            text.push_str(&format!("  {job:width$}  {s}\n"));
        }
    }
    print_out(&text)
}

async fn build_command(cli: &Cli, args: &BuildArgs) -> Result<(), Error> {
    let opts = release::BuildOptions {
        plan: plan_options(cli, &args.flags),
        clean: args.clean,
        jobs: args.jobs.map(usize::from),
        container_jobs: args.container_jobs.map(usize::from),
        keep_going: args.keep_going,
        smoke: args.smoke,
        shard: args.shard.clone(),
        history: args.history.clone(),
        no_cache: args.no_cache,
        cache_dir: args.cache_dir.clone(),
        cache_from: args.cache_from.clone(),
        cache_to: args.cache_to.clone(),
    };
    let prepared = release::prepare_build(&opts, &mut warn)?;
    execute(cli, prepared).await
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
            .and_then(|_| crate::engine::detect(containers).map_err(miette::Report::new))
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
                    match (&engine.buildx, engine.classic_builder) {
                        (Some(b), _) =>
                            format!(", {}", b.version.lines().next().unwrap_or("buildx")),
                        (None, true) => ", classic builder".to_string(),
                        (None, false) => String::new(),
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
