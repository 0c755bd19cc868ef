//! Cutting a plan down to one shard (`matrix build --shard i/N`) or to the
//! release-wide jobs a merge runs (`matrix merge`).
//!
//! Part of `plan`, so pure. Targets stay in the plan (their indices are
//! what jobs point at); only the jobs change. A shard keeps the per-target
//! jobs of its targets and ends with a shard manifest; a merge keeps the
//! release-wide jobs and takes the archives' records from the shards.

use std::collections::{BTreeMap, BTreeSet};

use super::{Job, JobKind, Plan};
use crate::package::manifest::ShardInfo;

/// Keeps the per-target jobs of `targets` (indices into `Plan::targets`):
/// builder images they need, builds, archives, then a manifest that waits
/// for those archives. Release-wide jobs (images, channels, notes,
/// checksums) are left to the merge. `weights` are recorded in the shard
/// manifest (see [`ShardInfo::weights`]).
pub fn restrict_to_shard(
    plan: &mut Plan,
    index: usize,
    total: usize,
    targets: &BTreeSet<usize>,
    weights: Option<BTreeMap<String, f64>>,
) {
    let image_target = |j: &Job| {
        let images = plan.images.as_ref()?;
        let p = images.variants.get(j.item?)?.platforms.get(j.platform?)?;
        Some(p.target)
    };
    let kept: Vec<Job> = plan
        .jobs
        .iter()
        .filter(|j| match j.kind {
            JobKind::Build | JobKind::Archive => j.target.is_some_and(|t| targets.contains(&t)),
            // Per-target images too: their blobs go to the merge.
            JobKind::Image => image_target(j).is_some_and(|t| targets.contains(&t)),
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
    let parts = jobs
        .iter()
        .filter(|j| matches!(j.kind, JobKind::Archive | JobKind::Image))
        .map(|j| j.id.clone())
        .collect();
    jobs.push(manifest_job(parts));
    plan.jobs = jobs;
    plan.channels.clear();
    plan.notes = None;
    plan.shard = Some(ShardInfo {
        index,
        total,
        targets: targets
            .iter()
            .map(|&t| plan.targets[t].id.clone())
            .collect(),
        weights,
    });
}

/// Keeps only the jobs that run on the release as a whole: image indexes
/// (and pushes), channels, the notes, the checksums file and the manifest.
/// The archives and platform images come from the shards, so nothing they
/// need is built again.
pub fn restrict_to_merge(plan: &mut Plan) {
    let oci_archives = plan.images.as_ref().is_some_and(|i| i.oci_archives);
    let mut jobs: Vec<Job> = plan
        .jobs
        .iter()
        .filter(|j| matches!(j.kind, JobKind::Index | JobKind::Channel | JobKind::Notes))
        .cloned()
        .map(|mut j| {
            // Notes list the images, so they still wait for the indexes.
            j.needs
                .retain(|n| j.kind == JobKind::Notes && n.starts_with("index-"));
            j
        })
        .collect();
    let release: Vec<String> = jobs
        .iter()
        .filter(|j| j.kind != JobKind::Index || oci_archives)
        .map(|j| j.id.clone())
        .collect();
    let indexes: Vec<String> = jobs
        .iter()
        .filter(|j| j.kind == JobKind::Index)
        .map(|j| j.id.clone())
        .collect();
    let pushes: Vec<Job> = plan
        .jobs
        .iter()
        .filter(|j| j.kind == JobKind::Push)
        .cloned()
        .collect();
    jobs.push(Job {
        id: "checksums".into(),
        kind: JobKind::Checksums,
        target: None,
        item: None,
        platform: None,
        uses_engine: false,
        needs: release,
    });
    let mut manifest_needs = vec!["checksums".to_string()];
    if pushes.is_empty() {
        manifest_needs.extend(indexes);
    } else {
        manifest_needs.extend(pushes.iter().map(|j| j.id.clone()));
    }
    jobs.extend(pushes);
    jobs.push(Job {
        needs: manifest_needs,
        ..manifest_job(vec![])
    });
    plan.jobs = jobs;
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
