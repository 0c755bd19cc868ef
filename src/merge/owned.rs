//! What a shard may hold, computed from the plan, never read from the shard.
//!
//! Part of `merge`, between reading the shard folders and copying their
//! files. A shard's manifest only says which shard it is (`i/N`, and the
//! weights its split was computed with). Everything else the merge needs,
//! which targets the shard owns, which files it must hold and how each is
//! labelled, which jobs it ran, which image platforms it built, comes from
//! the plan the merge computes from the checkout: the same split
//! `build --shard i/N` computes (`crate::shard::assign`), the same archive
//! names and kinds the archive jobs write. The shard's own lists are only
//! compared with that, so a shard that adds, relabels or over-claims is
//! refused, however correct its digests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{MergeError, Shard};
use crate::package::archive::Format;
use crate::package::manifest::{Artifact, ArtifactKind, ImagePart, Job, ShardInfo};
use crate::plan::Plan;

/// A shard's manifest says something the plan does not: each names the
/// manifest and what the plan has instead.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ShardError {
    #[error("{}: shard {index}/{total} does not exist: shards run from 1/N to N/N, with N from 1 to {max}", manifest.display())]
    #[diagnostic(
        code(matrix::merge::shard_index),
        help(
            "its `shard` field is not what `matrix build --shard i/N` writes; rebuild that shard"
        )
    )]
    ShardIndex {
        manifest: PathBuf,
        index: usize,
        total: usize,
        max: usize,
    },
    #[error("{}: shard {index}/{total} is one of {total}, but {} is one of {first_total}", manifest.display(), first.display())]
    #[diagnostic(
        code(matrix::merge::mixed_totals),
        help("merge the shards of one split: every `--shard i/N` with the same N")
    )]
    MixedTotals {
        first: PathBuf,
        first_total: usize,
        manifest: PathBuf,
        index: usize,
        total: usize,
    },
    #[error("{}: its targets were split with other weights (--history) than those of {}", manifest.display(), first.display())]
    #[diagnostic(
        code(matrix::merge::mixed_weights),
        help("build every shard with the same --history file (or none)")
    )]
    MixedWeights { first: PathBuf, manifest: PathBuf },
    #[error("{}: its split's weights are not the plan's: {why}", manifest.display())]
    #[diagnostic(
        code(matrix::merge::bad_weights),
        help(
            "the `shard.weights` field is what `matrix build --shard i/N --history` writes; rebuild the shard"
        )
    )]
    BadWeights { manifest: PathBuf, why: String },
    #[error("{}: shard {index}/{total} lists the targets [{}], but the plan gives it [{}]", manifest.display(), listed.join(", "), owned.join(", "))]
    #[diagnostic(
        code(matrix::merge::wrong_targets),
        help(
            "the shard was built from another plan or its manifest was changed; rebuild it from this checkout"
        )
    )]
    WrongTargets {
        manifest: PathBuf,
        index: usize,
        total: usize,
        listed: Vec<String>,
        owned: Vec<String>,
    },
    #[error("{}: records {name:?} ({kind}), a release-wide file: a shard never brings it", manifest.display())]
    #[diagnostic(
        code(matrix::merge::release_wide),
        help(
            "checksums, manifest, notes, channel files, packages and image archives are written by the merge itself"
        )
    )]
    ReleaseWide {
        manifest: PathBuf,
        name: String,
        kind: String,
    },
    #[error("{}: records {name:?}, which is not an artifact the plan gives shard {index}/{total}: {why} (the plan gives it: {expected})", manifest.display())]
    #[diagnostic(
        code(matrix::merge::not_planned),
        help(
            "a shard holds its own targets' archives and nothing else; rebuild it from this checkout"
        )
    )]
    NotPlanned {
        manifest: PathBuf,
        name: String,
        index: usize,
        total: usize,
        why: String,
        expected: String,
    },
    #[error("{}: {name} is recorded as {recorded}, but the plan makes it {planned}", manifest.display())]
    #[diagnostic(
        code(matrix::merge::mislabelled),
        help("a record's path, kind, format and target are the plan's; rebuild the shard")
    )]
    Mislabelled {
        manifest: PathBuf,
        name: String,
        recorded: String,
        planned: String,
    },
    #[error("{}: job {id:?}: {why}", manifest.display())]
    #[diagnostic(
        code(matrix::merge::bad_job),
        help("a shard's job records are the plan's jobs for its targets; rebuild the shard")
    )]
    BadJob {
        manifest: PathBuf,
        id: String,
        why: String,
    },
    #[error("{}: image {image}: {why}", manifest.display())]
    #[diagnostic(
        code(matrix::merge::bad_image),
        help("a shard holds the image platforms of its own targets only; rebuild the shard")
    )]
    BadImagePart {
        manifest: PathBuf,
        image: String,
        why: String,
    },
}

/// What the plan gives one shard.
#[derive(Debug, Clone, PartialEq)]
pub struct Owned {
    pub index: usize,
    pub total: usize,
    /// Indices into `Plan::targets`.
    pub targets: BTreeSet<usize>,
}

/// The record a target's archive job writes, digest and size aside.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned<'a> {
    pub name: &'a str,
    pub kind: ArtifactKind,
    pub format: Format,
    pub target: &'a str,
}

impl std::fmt::Display for Planned<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        describe(
            f,
            self.name,
            Some(self.kind),
            Some(self.format),
            Some(self.target),
        )
    }
}

fn describe(
    f: &mut dyn std::fmt::Write,
    path: &str,
    kind: Option<ArtifactKind>,
    format: Option<Format>,
    target: Option<&str>,
) -> std::fmt::Result {
    let kind = kind.map_or("none".to_string(), |k| format!("{k:?}").to_lowercase());
    let format = format.map_or("none".to_string(), |f| f.to_string());
    write!(
        f,
        "path {path}, kind {kind}, format {format}, target {}",
        target.unwrap_or("none")
    )
}

fn recorded(a: &Artifact) -> String {
    let mut s = String::new();
    let _ = describe(&mut s, &a.path, Some(a.kind), a.format, a.target.as_deref());
    s
}

/// What the archive job of target `t` records (see exec's archive job).
pub fn planned(plan: &Plan, t: usize) -> Planned<'_> {
    let target = &plan.targets[t];
    let format = target.archive.format;
    Planned {
        name: &target.archive.file_name,
        kind: ArtifactKind::of_target_output(format),
        format,
        target: &target.id,
    }
}

fn manifest_path(dir: &Path) -> PathBuf {
    dir.join(crate::plan::MANIFEST)
}

/// Checks every shard's `i/N` and split against the others and the plan,
/// and computes which targets each owns; one [`Owned`] per shard, in the
/// order given.
pub fn identify(plan: &Plan, shards: &[Shard]) -> Result<Vec<Owned>, MergeError> {
    let ids = plan.matrix_ids();
    let mut first: Option<(&Path, &ShardInfo)> = None;
    let mut seen: BTreeMap<usize, &Path> = BTreeMap::new();
    let mut out = Vec::with_capacity(shards.len());
    for shard in shards {
        let dir = shard.dir.as_path();
        let info = shard
            .manifest
            .shard
            .as_ref()
            .ok_or_else(|| MergeError::NotAShard {
                dir: dir.to_path_buf(),
            })?;
        let (index, total) = (info.index, info.total);
        if total == 0 || total > crate::shard::MAX_SHARDS || index == 0 || index > total {
            return Err(ShardError::ShardIndex {
                manifest: manifest_path(dir),
                index,
                total,
                max: crate::shard::MAX_SHARDS,
            }
            .into());
        }
        match first {
            Some((first_dir, first_info)) => {
                if first_info.total != total {
                    return Err(ShardError::MixedTotals {
                        first: manifest_path(first_dir),
                        first_total: first_info.total,
                        manifest: manifest_path(dir),
                        index,
                        total,
                    }
                    .into());
                }
                if first_info.weights != info.weights {
                    return Err(ShardError::MixedWeights {
                        first: manifest_path(first_dir),
                        manifest: manifest_path(dir),
                    }
                    .into());
                }
            }
            None => {
                check_weights(dir, &ids, info.weights.as_ref())?;
                first = Some((dir, info));
            }
        }
        if let Some(earlier) = seen.insert(index, dir) {
            return Err(MergeError::DuplicateShard {
                index,
                total,
                first: earlier.to_path_buf(),
                second: dir.to_path_buf(),
            });
        }
        let weights: Vec<(String, f64)> = ids
            .iter()
            .map(|id| {
                let w = info.weights.as_ref().and_then(|w| w.get(id)).copied();
                (id.clone(), w.unwrap_or(1.0))
            })
            .collect();
        let assignment = crate::shard::assign(&weights, total);
        let owned: Vec<String> = assignment
            .get(index)
            .map(|s| s.targets.clone())
            .unwrap_or_default();
        if owned != info.targets {
            return Err(ShardError::WrongTargets {
                manifest: manifest_path(dir),
                index,
                total,
                listed: info.targets.clone(),
                owned,
            }
            .into());
        }
        let owned: BTreeSet<&str> = owned.iter().map(String::as_str).collect();
        out.push(Owned {
            index,
            total,
            targets: (0..ids.len())
                .filter(|&t| owned.contains(ids[t].as_str()))
                .collect(),
        });
    }
    Ok(out)
}

/// Recorded weights must name exactly the plan's targets, each a finite,
/// non-negative number: anything else is not what `build --shard` writes.
fn check_weights(
    dir: &Path,
    ids: &[String],
    weights: Option<&BTreeMap<String, f64>>,
) -> Result<(), MergeError> {
    let Some(weights) = weights else {
        return Ok(());
    };
    let bad = |why: String| {
        Err(ShardError::BadWeights {
            manifest: manifest_path(dir),
            why,
        }
        .into())
    };
    let plan: BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    let theirs: BTreeSet<&str> = weights.keys().map(String::as_str).collect();
    if let Some(extra) = theirs.difference(&plan).next() {
        return bad(format!(
            "it weighs {extra:?}, which is no target of the plan"
        ));
    }
    if let Some(lacking) = plan.difference(&theirs).next() {
        return bad(format!("it has no weight for the plan's target {lacking}"));
    }
    if let Some((id, w)) = weights.iter().find(|(_, w)| !w.is_finite() || **w < 0.0) {
        return bad(format!("the weight of {id} is {w}, not a duration"));
    }
    Ok(())
}

/// The names only the merge writes: a shard can never bring them.
pub fn release_wide(plan: &Plan, name: &str) -> bool {
    let images = plan
        .images
        .iter()
        .flat_map(|i| i.variants.iter().map(|v| v.archive.as_str()));
    name == plan.checksum.file_name
        || name == crate::plan::MANIFEST
        || name == crate::plan::channels::NOTES
        || images.into_iter().any(|a| a == name)
}

/// Checks one record of a shard against the plan; returns the index of
/// the target whose archive it is.
pub fn check_record(
    plan: &Plan,
    dir: &Path,
    owned: &Owned,
    a: &Artifact,
) -> Result<usize, MergeError> {
    let per_target = matches!(a.kind, ArtifactKind::Archive | ArtifactKind::Binary);
    if !per_target || release_wide(plan, &a.name) || release_wide(plan, &a.path) {
        return Err(ShardError::ReleaseWide {
            manifest: manifest_path(dir),
            name: a.name.clone(),
            kind: format!("{:?}", a.kind).to_lowercase(),
        }
        .into());
    }
    let Some(t) = owned
        .targets
        .iter()
        .copied()
        .find(|&t| plan.targets[t].archive.file_name == a.name)
    else {
        let why = match plan.targets.iter().find(|t| t.archive.file_name == a.name) {
            Some(t) => format!(
                "it is the archive of {}, which shard {}/{} does not own",
                t.id, owned.index, owned.total
            ),
            None => "no target of the plan writes a file of that name".to_string(),
        };
        let mut expected: Vec<&str> = owned
            .targets
            .iter()
            .map(|&t| plan.targets[t].archive.file_name.as_str())
            .collect();
        expected.sort_unstable();
        return Err(ShardError::NotPlanned {
            manifest: manifest_path(dir),
            name: a.name.clone(),
            index: owned.index,
            total: owned.total,
            why,
            expected: if expected.is_empty() {
                "nothing".into()
            } else {
                expected.join(", ")
            },
        }
        .into());
    };
    let p = planned(plan, t);
    if a.path != p.name
        || a.kind != p.kind
        || a.format != Some(p.format)
        || a.target.as_deref() != Some(p.target)
    {
        return Err(ShardError::Mislabelled {
            manifest: manifest_path(dir),
            name: a.name.clone(),
            recorded: recorded(a),
            planned: p.to_string(),
        }
        .into());
    }
    Ok(t)
}

/// The statuses exec writes (`exec::Status`).
const STATUSES: [&str; 4] = ["ok", "failed", "skipped", "cancelled"];

/// Checks a shard's job records: each must be a job the plan gives that
/// shard (same id, kind and target), at most once. Returns the records
/// the merged manifest keeps (all but the shard's own manifest job).
pub fn check_jobs(
    plan: &Plan,
    dir: &Path,
    owned: &Owned,
    jobs: &[Job],
) -> Result<Vec<Job>, MergeError> {
    let mut mine = plan.clone();
    crate::plan::shard::restrict_to_shard(
        &mut mine,
        owned.index,
        owned.total,
        &owned.targets,
        None,
    )?;
    let expected: BTreeMap<&str, (&str, Option<&str>)> = mine
        .jobs
        .iter()
        .map(|j| {
            let target = j.target().map(|t| plan.targets[t].id.as_str());
            (j.id.as_str(), (j.kind.as_str(), target))
        })
        .collect();
    let mut seen = BTreeSet::new();
    let mut kept = Vec::new();
    for job in jobs {
        let bad = |why: String| {
            Err(ShardError::BadJob {
                manifest: manifest_path(dir),
                id: job.id.clone(),
                why,
            }
            .into())
        };
        let Some(&(kind, target)) = expected.get(job.id.as_str()) else {
            return bad(format!(
                "shard {}/{} runs no job of that id in this plan",
                owned.index, owned.total
            ));
        };
        if job.kind != kind || job.target.as_deref() != target {
            return bad(format!(
                "it is recorded as kind {}, target {}, but the plan's job is kind {kind}, target {}",
                job.kind,
                job.target.as_deref().unwrap_or("none"),
                target.unwrap_or("none")
            ));
        }
        if !STATUSES.contains(&job.status.as_str()) {
            return bad(format!(
                "its status {:?} is none of {}",
                job.status,
                STATUSES.join(", ")
            ));
        }
        if !seen.insert(job.id.as_str()) {
            return bad("it is recorded twice".into());
        }
        if kind != crate::plan::JobKind::Manifest.as_str() {
            kept.push(job.clone());
        }
    }
    Ok(kept)
}

/// Checks a shard's image platforms: each must be a platform of an image
/// variant of the plan whose binary is one of the shard's targets, at most
/// once. Returns, for each owned target whose planned image platforms the
/// shard does not all hold, the first one it lacks: that target is not
/// complete.
pub fn check_image_parts(
    plan: &Plan,
    dir: &Path,
    owned: &Owned,
    parts: &[ImagePart],
) -> Result<BTreeMap<usize, String>, MergeError> {
    let mut seen = BTreeSet::new();
    for part in parts {
        let bad = |why: String| {
            Err(ShardError::BadImagePart {
                manifest: manifest_path(dir),
                image: format!("{} {}", part.variant, part.platform),
                why,
            }
            .into())
        };
        let Some(variant) = plan
            .images
            .iter()
            .flat_map(|i| &i.variants)
            .find(|v| v.id == part.variant)
        else {
            return bad("the plan has no image variant of that name".into());
        };
        let Some(platform) = variant
            .platforms
            .iter()
            .find(|p| p.platform == part.platform)
        else {
            return bad(format!(
                "the plan builds {} for no such platform",
                variant.id
            ));
        };
        if !owned.targets.contains(&platform.target) {
            return bad(format!(
                "it ships {}, which shard {}/{} does not own",
                plan.targets[platform.target].id, owned.index, owned.total
            ));
        }
        if !seen.insert((part.variant.as_str(), part.platform.as_str())) {
            return bad("it is recorded twice".into());
        }
    }
    let mut lacking = BTreeMap::new();
    for variant in plan.images.iter().flat_map(|i| &i.variants) {
        for p in &variant.platforms {
            if owned.targets.contains(&p.target)
                && !seen.contains(&(variant.id.as_str(), p.platform.as_str()))
            {
                lacking
                    .entry(p.target)
                    .or_insert_with(|| format!("image {} {}", variant.id, p.platform));
            }
        }
    }
    Ok(lacking)
}
