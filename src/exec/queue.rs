//! The order jobs start in: a dependency count per job and a ready queue.
//!
//! Part of `exec`, used by the scheduler in `mod.rs`. A job becomes ready
//! when the last of its needs succeeds (a counter, not a rescan of every
//! job), and a job that cannot run any more is found by walking the
//! dependents of the one that failed; so a finished job costs
//! O(dependents × log n) whatever the size of the plan.
//!
//! Ready jobs start longest chain first: a job's priority is its duration
//! in the previous run plus the longest chain of jobs that need it
//! (critical path), so a long job listed last no longer ends the run alone
//! on one slot while the others idle. Ties, and a run with no previous
//! durations at all, start in plan order, as before. The order only
//! changes *when* jobs start: results, logs and the manifest are written
//! in plan order whatever it was.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};

use crate::plan::Plan;

/// A ready job: higher priority first, then lower plan index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Ready {
    priority: u64,
    order: Reverse<usize>,
}

#[derive(Debug)]
pub(super) struct Queue {
    /// Each job's needs as job indexes; `jobs.len()` for a need that names
    /// no job of the plan.
    needs: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    /// Needs of each job that have not succeeded yet.
    waiting: Vec<usize>,
    priority: Vec<u64>,
    /// Settled without running (a need failed), or handed out by `pop`.
    done: Vec<bool>,
    ready: BinaryHeap<Ready>,
    /// Ready jobs that use the container engine (`--container-jobs`).
    ready_engine: BinaryHeap<Ready>,
    uses_engine: Vec<bool>,
}

impl Queue {
    /// The queue of a plan's jobs.
    pub(super) fn for_plan(plan: &Plan, durations: &BTreeMap<String, u64>) -> Queue {
        let jobs: Vec<Spec<'_>> = plan
            .jobs
            .iter()
            .map(|j| Spec {
                id: &j.id,
                needs: &j.needs,
                uses_engine: j.uses_engine,
            })
            .collect();
        Queue::new(&jobs, durations)
    }

    /// `durations`: milliseconds per job id from the previous run; a job it
    /// does not name counts the median of those it does (0 with none).
    fn new(jobs: &[Spec<'_>], durations: &BTreeMap<String, u64>) -> Queue {
        let n = jobs.len();
        let needs = needs(jobs);
        let mut dependents = vec![Vec::new(); n];
        for (i, ns) in needs.iter().enumerate() {
            for &d in ns.iter().filter(|&&d| d < n) {
                dependents[d].push(i);
            }
        }
        let own: Vec<u64> = {
            let known: Vec<Option<u64>> =
                jobs.iter().map(|j| durations.get(j.id).copied()).collect();
            let fallback = median(known.iter().flatten().copied().collect());
            known.into_iter().map(|d| d.unwrap_or(fallback)).collect()
        };
        let priority = chains(&needs, &dependents, &own);
        let mut q = Queue {
            waiting: needs.iter().map(Vec::len).collect(),
            needs,
            dependents,
            priority,
            done: vec![false; n],
            ready: BinaryHeap::new(),
            ready_engine: BinaryHeap::new(),
            uses_engine: jobs.iter().map(|j| j.uses_engine).collect(),
        };
        for i in 0..n {
            if q.waiting[i] == 0 {
                q.push(i);
            }
        }
        q
    }

    pub(super) fn needs(&self, i: usize) -> &[usize] {
        &self.needs[i]
    }

    /// Jobs with a need that names no job: they can never run, and are
    /// settled by this call.
    pub(super) fn unrunnable(&mut self) -> Vec<usize> {
        let n = self.needs.len();
        let found: Vec<usize> = (0..n)
            .filter(|&i| self.needs[i].iter().any(|&d| d >= n))
            .collect();
        for &i in &found {
            self.done[i] = true;
        }
        found
    }

    fn push(&mut self, i: usize) {
        let r = Ready {
            priority: self.priority[i],
            order: Reverse(i),
        };
        if self.uses_engine[i] {
            self.ready_engine.push(r);
        } else {
            self.ready.push(r);
        }
    }

    /// The next job to start, if any is ready; an engine job only when
    /// `engine_free`.
    pub(super) fn pop(&mut self, engine_free: bool) -> Option<usize> {
        let local = self.ready.peek().copied();
        let engine = self.ready_engine.peek().copied().filter(|_| engine_free);
        let pick = match (local, engine) {
            (Some(l), Some(e)) if e > l => self.ready_engine.pop(),
            (Some(_), _) => self.ready.pop(),
            (None, Some(_)) => self.ready_engine.pop(),
            (None, None) => None,
        }?;
        let i = pick.order.0;
        self.done[i] = true;
        Some(i)
    }

    /// Job `i` succeeded: the jobs waiting only for it become ready.
    pub(super) fn succeeded(&mut self, i: usize) {
        for k in 0..self.dependents[i].len() {
            let d = self.dependents[i][k];
            self.waiting[d] -= 1;
            if self.waiting[d] == 0 && !self.done[d] {
                self.push(d);
            }
        }
    }

    /// Job `i` did not succeed (or can never run): every job that needs
    /// it, directly or not, and is not settled yet, in plan order. They are
    /// settled by this call.
    pub(super) fn blocked_by(&mut self, i: usize) -> Vec<usize> {
        let mut found = Vec::new();
        let mut todo: VecDeque<usize> = self.dependents[i].iter().copied().collect();
        while let Some(d) = todo.pop_front() {
            if self.done[d] {
                continue;
            }
            self.done[d] = true;
            found.push(d);
            todo.extend(self.dependents[d].iter().copied());
        }
        found.sort_unstable();
        found
    }

    #[cfg(test)]
    fn priority(&self, i: usize) -> u64 {
        self.priority[i]
    }
}

/// What the queue reads of a job.
struct Spec<'a> {
    id: &'a str,
    needs: &'a [String],
    uses_engine: bool,
}

/// Each job's needs as job indexes.
fn needs(jobs: &[Spec<'_>]) -> Vec<Vec<usize>> {
    let n = jobs.len();
    let index: HashMap<&str, usize> = jobs.iter().enumerate().map(|(i, j)| (j.id, i)).collect();
    // A plan names only its own jobs as needs (`plan::jobs` refuses any
    // other); should one not, its job is skipped as if that need failed.
    jobs.iter()
        .map(|j| {
            j.needs
                .iter()
                .map(|id| index.get(id.as_str()).copied().unwrap_or(n))
                .collect()
        })
        .collect()
}

/// Each job's own duration plus the longest chain of its dependents,
/// computed from the last job of a topological order back. A job on a
/// cycle (which a plan never has) keeps its own duration.
fn chains(needs: &[Vec<usize>], dependents: &[Vec<usize>], own: &[u64]) -> Vec<u64> {
    let n = own.len();
    let mut left: Vec<usize> = needs
        .iter()
        .map(|ns| ns.iter().filter(|&&d| d < n).count())
        .collect();
    let mut order: Vec<usize> = (0..n).filter(|&i| left[i] == 0).collect();
    let mut k = 0;
    while k < order.len() {
        let i = order[k];
        k += 1;
        for &d in &dependents[i] {
            left[d] -= 1;
            if left[d] == 0 {
                order.push(d);
            }
        }
    }
    let mut chain = own.to_vec();
    for &i in order.iter().rev() {
        let after = dependents[i].iter().map(|&d| chain[d]).max().unwrap_or(0);
        chain[i] = own[i].saturating_add(after);
    }
    chain
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

#[cfg(test)]
#[path = "queue/tests.rs"]
mod tests;
