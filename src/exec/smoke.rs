//! `--smoke`: run each freshly built Linux binary once, natively when it is
//! for this machine and under qemu-user otherwise, and fail the job on a
//! non-zero exit. Part of `exec`; the output goes to the build's log.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::error::JobError;
use super::process::{self, Ended, Spawn};
use crate::plan::Target;

/// A smoke run that takes longer than this is stuck.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The command that runs `binary` for `target` on this machine, if any.
pub fn runner(target: &Target, binary: &Path) -> Result<Vec<String>, String> {
    let Some(p) = target.platform else {
        return Err(format!(
            "{} is not a platform matrix knows, so it cannot be run",
            target.id
        ));
    };
    if p.os != "linux" {
        return Err(format!("{} binaries cannot run on this machine", p.os));
    }
    let path = binary.display().to_string();
    if crate::target::runs_natively(p) {
        return Ok(vec![path]);
    }
    let emulator = p
        .qemu
        .map(|q| format!("qemu-{q}-static"))
        .ok_or_else(|| format!("no qemu-user emulator is known for {}", p.name()))?;
    Ok(vec![emulator, path])
}

pub async fn run(
    target: &Target,
    binary: &Path,
    args: &[String],
    log: &Path,
    cancel: &CancellationToken,
) -> Result<(), JobError> {
    let io_error = |source| JobError::Io {
        job: format!("smoke {}", target.id),
        path: log.to_path_buf(),
        source,
    };
    let mut note = crate::process::open_log(log).map_err(io_error)?;
    let mut argv = match runner(target, binary) {
        Ok(argv) => argv,
        Err(why) => {
            // Said in the log, never a silent skip.
            writeln!(note, "# smoke: not run: {why}").map_err(io_error)?;
            return Ok(());
        }
    };
    argv.extend(args.iter().cloned());
    let command = shell_words::join(&argv);
    writeln!(note, "# smoke: {command}").map_err(io_error)?;
    drop(note);
    let spawn = Spawn {
        argv: &argv,
        env: &BTreeMap::new(),
        dir: binary.parent().unwrap_or(Path::new(".")),
        timeout: Some(TIMEOUT),
    };
    let ended = process::run(spawn, log, cancel)
        .await
        .map_err(|source| JobError::spawn(&target.id.clone(), argv[0].clone(), source))?;
    let status = match ended {
        Ended::Exited(s) if s.success() => return Ok(()),
        Ended::Exited(s) => process::describe(&s),
        Ended::TimedOut => format!("no exit after {}s", TIMEOUT.as_secs()),
        Ended::Cancelled => return Err(JobError::Cancelled),
    };
    Err(JobError::Smoke {
        target: target.id.clone(),
        command,
        status,
        tail: process::tail(log, 20),
        log: log.to_path_buf(),
    })
}
