//! Every job's log under `dist/logs/<job>.log`, not only the builds'.
//!
//! Part of `exec`. Build, builder and image jobs write their commands'
//! output there themselves; this adds the lines every job gets: what the
//! job is when it starts, and at its end what it wrote (name, size, digest)
//! or why it failed, with every cause. So a failed checksums or archive job
//! is explained by its log alone, like a failed build.

use std::error::Error as StdError;
use std::path::PathBuf;

use super::context::{Context, Output, log_path};
use super::error::JobError;
use super::process;
use crate::plan::JobKind;

/// Starts the log of a job that does not start its own. A build job's log
/// begins with its command (`process::write_header`), so it is left alone.
pub(super) fn start(ctx: &Context, job: usize) -> Result<(), JobError> {
    let plan = &ctx.plan;
    let j = &plan.jobs[job];
    if j.kind == JobKind::Build {
        return Ok(());
    }
    let log = log_path(plan, job);
    let mut line = format!("job: {} ({})", j.id, j.kind.as_str());
    if let Some(t) = j.target() {
        line.push_str(&format!(", target {}", plan.targets[t].id));
    }
    process::note(&log, &line).map_err(|source| JobError::Io {
        job: j.id.clone(),
        path: log.clone(),
        source,
    })
}

/// Appends how the job ended. Best effort: the job's result stands even if
/// its last log line cannot be written (a full disk says so in the error of
/// whatever job hit it first).
pub(super) fn end(ctx: &Context, job: usize, result: &Result<Output, JobError>) {
    let log = log_path(&ctx.plan, job);
    let mut lines = Vec::new();
    match result {
        Ok(out) => {
            for a in out.artifact.iter().chain(&out.extra) {
                lines.push(format!("wrote {} ({} bytes, {})", a.path, a.size, a.digest));
            }
            lines.push("ok".to_string());
        }
        Err(JobError::Cancelled) => lines.push("cancelled".to_string()),
        Err(e) => lines.push(format!("failed: {}", with_causes(e))),
    }
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    if let Err(e) = process::notes(&log, &lines) {
        tracing::warn!("cannot write {}: {e}", PathBuf::from(&log).display());
    }
}

/// An error's message followed by every cause underneath it that the
/// message does not already show, so an OS error ("No space left on
/// device") is never lost behind a wrapper.
pub fn with_causes(e: &dyn StdError) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let line = cause.to_string();
        if !line.is_empty() && !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("packaging failed")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("I/O error on `x.tar.gz`: {0}")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn causes_are_added_once() {
        let os = std::io::Error::from_raw_os_error(28);
        let text = with_causes(&Outer(Middle(os)));
        assert_eq!(
            text,
            "packaging failed: I/O error on `x.tar.gz`: No space left on device (os error 28)"
        );
    }
}
