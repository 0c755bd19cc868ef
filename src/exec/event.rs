//! What the scheduler tells the world: an [`Event`] for every job start and
//! end, sent to a [`Reporter`].
//!
//! Part of `exec`, which never prints: `report` implements reporters for
//! terminals, CI logs and tests, and re-exports these two.

use super::JobResult;
use crate::plan::Plan;

/// Something that happened in a run.
pub enum Event<'a> {
    /// The run is about to start.
    Planned { plan: &'a Plan },
    /// A job started (index into `plan.jobs`).
    Started { plan: &'a Plan, job: usize },
    /// A job ended, or was skipped or cancelled without running.
    Finished {
        plan: &'a Plan,
        job: usize,
        result: &'a JobResult,
    },
}

pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event<'_>);
    /// Called once after the last event; clears any live display.
    fn finish(&self) {}
}
