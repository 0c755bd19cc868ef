//! Cutting a plan down to one shard (`matrix build --shard i/N`) or to the
//! release-wide jobs a merge runs (`matrix merge`).
//!
//! Part of `plan`, so pure. Targets stay in the plan (their indices are
//! what jobs point at); only the jobs change. A shard keeps the per-target
//! jobs of its targets and ends with a shard manifest; a merge keeps the
//! release-wide jobs (package jobs too: a shard hands in archives only)
//! and takes the archives' records from the shards.

use std::collections::{BTreeMap, BTreeSet};

use super::Plan;
use super::jobs::{GraphError, Job, JobId, Scope};
use crate::package::manifest::ShardInfo;

/// Keeps the per-target jobs of `targets` (indices into `Plan::targets`):
/// builder images they need, builds, archives, then a manifest that waits
/// for those archives. Release-wide jobs (images, channels and their
/// package jobs, notes, checksums) are left to the merge. `weights` are
/// recorded in the shard manifest (see [`ShardInfo::weights`]).
pub fn restrict_to_shard(
    plan: &mut Plan,
    index: usize,
    total: usize,
    targets: &BTreeSet<usize>,
    weights: Option<BTreeMap<String, f64>>,
) -> Result<(), GraphError> {
    let steps = plan.steps();
    let whole: Vec<JobId> = plan.jobs.iter().map(Job::work).collect();
    let image_target = |variant: usize, platform: usize| {
        let images = plan.images.as_ref()?;
        Some(
            images
                .variants
                .get(variant)?
                .platforms
                .get(platform)?
                .target,
        )
    };
    let kept: Vec<JobId> = whole
        .iter()
        .copied()
        .filter(|&id| match id {
            JobId::Build(t) | JobId::Archive(t) => targets.contains(&t),
            // Per-target images too: their blobs go to the merge.
            JobId::Image { variant, platform } => {
                image_target(variant, platform).is_some_and(|t| targets.contains(&t))
            }
            _ => false,
        })
        .collect();
    let mut builders = BTreeSet::new();
    for &id in &kept {
        builders.extend(
            steps
                .needs(id, &whole, Scope::Whole)?
                .into_iter()
                .filter(|n| matches!(n, JobId::Builder(_))),
        );
    }
    let mut ids: Vec<JobId> = whole
        .iter()
        .copied()
        .filter(|id| builders.contains(id))
        .collect();
    ids.extend(kept);
    ids.push(JobId::Manifest);
    plan.jobs = steps.wire(&ids, Scope::Shard)?;
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
    Ok(())
}

/// Keeps only the jobs that run on the release as a whole: image indexes
/// (and pushes), channels and their package jobs, the notes, the checksums file and the manifest.
/// The archives and platform images come from the shards, so nothing they
/// need is built again. `missing` names the targets a partial merge lacks:
/// channels ship what there is, and a channel left with no target is not
/// run. Joined targets (`[universal]`) are built and archived here.
pub fn restrict_to_merge(plan: &mut Plan, missing: &[String]) -> Result<(), GraphError> {
    let missing: BTreeSet<usize> = plan
        .targets
        .iter()
        .enumerate()
        .filter(|(_, t)| missing.contains(&t.id))
        .map(|(i, _)| i)
        .collect();
    // A joined target is made here from its thin targets' binaries, so it
    // is missing when one of them is.
    let missing: BTreeSet<usize> = (0..plan.targets.len())
        .filter(|&t| {
            missing.contains(&t)
                || plan.targets[t]
                    .joins
                    .as_ref()
                    .is_some_and(|j| j.iter().any(|thin| missing.contains(thin)))
        })
        .collect();
    for c in &mut plan.channels {
        c.targets.retain(|(t, _)| !missing.contains(t));
    }
    let steps = plan.steps();
    let whole: Vec<JobId> = plan.jobs.iter().map(Job::work).collect();
    let mut ids: Vec<JobId> = whole
        .iter()
        .copied()
        .filter(|&id| match id {
            JobId::Index(_) | JobId::Notes => true,
            // Joined targets are built from the binaries the merge staged.
            JobId::Build(t) | JobId::Archive(t) => {
                !plan.targets[t].of_matrix() && !missing.contains(&t)
            }
            // SBOMs are made from the archives and binaries the merge
            // staged, as a single machine makes them; shards make none.
            JobId::Sbom(t) => !missing.contains(&t),
            // A package job's channel ships its target (see the retain above).
            JobId::Package { target, .. } => !missing.contains(&target),
            JobId::Channel(c) => missing.is_empty() || !plan.channels[c].targets.is_empty(),
            _ => false,
        })
        .collect();
    ids.push(JobId::Checksums);
    if whole.contains(&JobId::Sign) {
        ids.push(JobId::Sign);
    }
    ids.extend(
        whole
            .iter()
            .copied()
            .filter(|id| matches!(id, JobId::Push(_))),
    );
    ids.push(JobId::Manifest);
    plan.jobs = steps.wire(&ids, Scope::Merge)?;
    Ok(())
}
