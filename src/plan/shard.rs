//! Cutting a plan down to one shard (`matrix build --shard i/N`) or to the
//! release-wide jobs a merge runs (`matrix merge`).
//!
//! Part of `plan`, so pure. Targets stay in the plan (their indices are
//! what jobs point at); only the jobs change. A shard keeps the per-target
//! jobs of its targets and ends with a shard manifest; a merge keeps the
//! release-wide jobs and takes the archives' records from the shards.

use std::collections::BTreeSet;

use super::{Job, JobKind, Plan};
use crate::package::manifest::ShardInfo;

/// Keeps the per-target jobs of `targets` (indices into `Plan::targets`):
/// builder images they need, builds, archives, then a manifest that waits
/// for those archives. Release-wide jobs (images, channels, notes,
/// checksums) are left to the merge.
pub fn restrict_to_shard(plan: &mut Plan, index: usize, total: usize, targets: &BTreeSet<usize>) {
    let kept: Vec<Job> = plan
        .jobs
        .iter()
        .filter(|j| match j.kind {
            JobKind::Build | JobKind::Archive => j.target.is_some_and(|t| targets.contains(&t)),
            _ => false,
        })
        .cloned()
        .collect();
    let builders: BTreeSet<String> = kept
        .iter()
        .flat_map(|j| {
            j.needs
                .iter()
                .filter(|n| n.starts_with("builder-"))
                .cloned()
        })
        .collect();
    let mut jobs: Vec<Job> = plan
        .jobs
        .iter()
        .filter(|j| j.kind == JobKind::Builder && builders.contains(&j.id))
        .cloned()
        .collect();
    jobs.extend(kept);
    let archives = jobs
        .iter()
        .filter(|j| j.kind == JobKind::Archive)
        .map(|j| j.id.clone())
        .collect();
    jobs.push(manifest_job(archives));
    plan.jobs = jobs;
    plan.images = None;
    plan.channels.clear();
    plan.notes = None;
    plan.shard = Some(ShardInfo {
        index,
        total,
        targets: targets
            .iter()
            .map(|&t| plan.targets[t].id.clone())
            .collect(),
    });
}

/// Keeps only the jobs that run on the release as a whole: channels, the
/// notes, the checksums file and the manifest. The archives come from the
/// shards, so nothing they need is built again. Images are not merged
/// (see the README).
pub fn restrict_to_merge(plan: &mut Plan) {
    let mut jobs: Vec<Job> = plan
        .jobs
        .iter()
        .filter(|j| matches!(j.kind, JobKind::Channel | JobKind::Notes))
        .cloned()
        .map(|mut j| {
            j.needs.clear();
            j
        })
        .collect();
    let release: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
    jobs.push(Job {
        id: "checksums".into(),
        kind: JobKind::Checksums,
        target: None,
        item: None,
        platform: None,
        uses_engine: false,
        needs: release,
    });
    jobs.push(Job {
        needs: vec!["checksums".into()],
        ..manifest_job(vec![])
    });
    plan.jobs = jobs;
    plan.images = None;
}

fn manifest_job(needs: Vec<String>) -> Job {
    Job {
        id: "manifest".into(),
        kind: JobKind::Manifest,
        target: None,
        item: None,
        platform: None,
        uses_engine: false,
        needs,
    }
}
