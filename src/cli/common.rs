//! Helpers both command modules use: turning flags into plan options,
//! running a prepared release with progress output and printing.
//!
//! Part of the CLI glue. Kept apart from [`super::commands`] and
//! [`super::release`] so that neither imports the other for them.

use std::io::Write;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{Cli, PlanFlags};
use crate::error::Error;
use crate::exec::{self, Status};
use crate::plan::Plan;
use crate::release::{self, PlanOptions};
use crate::report::{self, Style};

pub(super) fn print_out(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    stdout_result(out.write_all(text.as_bytes()).and_then(|()| out.flush()))
}

/// Prints `value` as pretty JSON and a newline, written as it is
/// serialised: a plan of 10,000 targets is 21 MB, and making it a string
/// first cost a tenth of `plan --json`'s time (its growth, copies and
/// page faults).
pub(super) fn print_json(value: &impl serde::Serialize) -> Result<(), Error> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    stdout_result(written)
}

/// What writing to stdout came to: a closed pipe (`matrix plan | head`)
/// is not an error.
fn stdout_result(written: std::io::Result<()>) -> Result<(), Error> {
    written.or_else(|e| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Ok(())
        } else {
            Err(Error::io("stdout")(e))
        }
    })
}

/// The plan options the flags ask for.
pub(super) fn plan_options(cli: &Cli, flags: &PlanFlags) -> PlanOptions {
    PlanOptions {
        config: cli.config.clone(),
        dist: flags.dist.clone(),
        targets: flags.targets.clone(),
        snapshot: flags.snapshot,
        push: flags.push,
        oci_archives: flags.oci_dir,
        images: !flags.no_images,
    }
}

/// A release's plan (see [`release::plan`]): what `build`, `merge` and
/// `plan --shards` (whose output feeds builds) need.
pub(super) fn make_plan(cli: &Cli, flags: &PlanFlags) -> Result<Plan, Error> {
    release::plan(&plan_options(cli, flags))
}

/// The plan for a command that only looks (`plan`, `doctor`): where a
/// release build would be refused for a missing tag or a dirty tree, it
/// has the snapshot version instead, says why in `release_refused`, and
/// prints that as one note on stderr (not with --snapshot or --quiet).
pub(super) fn make_plan_to_look(cli: &Cli, flags: &PlanFlags) -> Result<Plan, Error> {
    let plan = release::plan_to_look(&plan_options(cli, flags))?;
    if let (Some(why), false, false) = (&plan.release_refused, flags.snapshot, cli.quiet) {
        eprintln!(
            "note: showing the snapshot version {}; a release build would refuse this checkout: {why}",
            plan.version.version
        );
    }
    Ok(plan)
}

/// A warning the library found before a run, printed as it comes.
pub(super) fn warn(text: String) {
    eprintln!("warning: {text}");
}

/// Runs a prepared build or merge with progress output, prints the
/// summary and turns the outcome into an exit code.
pub(super) async fn execute(cli: &Cli, prepared: release::Prepared) -> Result<(), Error> {
    let style = Style::detect(cli.quiet);
    let reporter: Arc<dyn report::Reporter> = Arc::from(style.reporter(cli.verbose > 0));
    let interrupt = CancellationToken::new();
    let watcher = tokio::spawn(watch_signals(interrupt.clone()));
    let finished = prepared.run(Arc::clone(&reporter), interrupt.clone()).await;
    watcher.abort();
    reporter.finish();

    print_out(&finished.summary())?;
    let outcome = &finished.outcome;
    report_failures(outcome);
    if outcome.interrupted {
        return Err(Error::Reported {
            message: "interrupted".into(),
            code: 130,
        });
    }
    let failed = finished.failed();
    if failed > 0 || !outcome.succeeded() {
        return Err(Error::Reported {
            message: format!("{} failed", crate::human::count(failed, "job", "jobs")),
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
                crate::human::count(tail.len(), "line", "lines")
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
