//! Telling people (and tests) what a run is doing.
//!
//! Beside the flow: `exec` emits an [`Event`] for every job start and end and
//! never prints; a [`Reporter`] turns events into output. [`progress`] draws
//! indicatif bars on a terminal, [`plain`] writes one line per event for CI
//! logs, [`Recording`] keeps events for tests, and [`summary`] renders the
//! table printed after every build, and [`views`] the plan and target
//! listings. Reporters only observe; they change no
//! state of the run.

pub mod plain;
pub mod progress;
pub mod summary;
pub mod views;

use std::sync::Mutex;

use crate::exec::Status;
pub use crate::exec::event::{Event, Reporter};
use crate::human::{count, duration, size};
use crate::plan::Plan;

/// How output should look, decided once from flags and the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Live bars: stderr is a terminal and not CI.
    Progress,
    /// One line per event.
    Plain,
    /// Nothing but errors and the summary (`-q`).
    Quiet,
}

impl Style {
    pub fn detect(quiet: bool) -> Style {
        use std::io::IsTerminal;
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        if quiet {
            Style::Quiet
        } else if std::io::stderr().is_terminal() && !ci {
            Style::Progress
        } else {
            Style::Plain
        }
    }

    pub fn reporter(self, verbose: bool) -> Box<dyn Reporter> {
        match self {
            Style::Progress => Box::new(progress::Progress::new()),
            Style::Plain => Box::new(plain::Plain::stderr(verbose)),
            Style::Quiet => Box::new(Quiet),
        }
    }
}

/// Prints nothing.
pub struct Quiet;

impl Reporter for Quiet {
    fn event(&self, _: &Event<'_>) {}
}

/// Keeps `(job id, "started" | status)` pairs, in the order they happened.
#[derive(Default)]
pub struct Recording {
    pub events: Mutex<Vec<(String, String)>>,
}

impl Reporter for Recording {
    fn event(&self, event: &Event<'_>) {
        let entry = match event {
            Event::Planned { .. } => ("<plan>".to_string(), "planned".to_string()),
            Event::Started { plan, job } => (plan.jobs[*job].id.clone(), "started".to_string()),
            Event::Finished { plan, job, result } => (
                plan.jobs[*job].id.clone(),
                result.status.as_str().to_string(),
            ),
        };
        if let Ok(mut events) = self.events.lock() {
            events.push(entry);
        }
    }
}

/// The label of a job's target (with a package job's channel), or the
/// job id for release-wide jobs.
pub fn job_label(plan: &Plan, job: usize) -> String {
    let j = &plan.jobs[job];
    if let crate::plan::JobId::Package { channel, target } = j.work() {
        let (channel, target) = (&plan.channels[channel].name, &plan.targets[target].id);
        return format!("package {channel} {target}");
    }
    match j.target() {
        Some(t) => format!("{} {}", j.kind.as_str(), plan.targets[t].id),
        None => j.id.clone(),
    }
}

/// How `table` aligns its last column (sizes read best right-aligned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    RightLast,
}

/// A plain text table with two spaces between columns.
pub fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]], align: Align) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N && align == Align::RightLast {
                text.push_str(&format!("{cell:>w$}"));
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

pub(crate) fn is_problem(status: Status) -> bool {
    status != Status::Ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats() {
        assert_eq!(duration(Duration::from_millis(1234)), "1.2s");
        assert_eq!(duration(Duration::from_secs(123)), "2m03s");
        assert_eq!(size(812), "812 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(3 * 1024 * 1024 + 1), "3.0 MiB");
    }

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(0, "target", "targets"), "0 targets");
        assert_eq!(count(1, "target", "targets"), "1 target");
        assert_eq!(count(2, "binary", "binaries"), "2 binaries");
    }
}
