//! Sharding: splitting a plan's targets over N CI runners.
//!
//! Sits between `plan` and `exec` when a release is built on several
//! machines: `matrix plan --shards N` prints the split for a CI system to
//! fan out over, each runner's `matrix build --shard i/N` builds only its
//! slice, and `matrix merge` joins the shard dists afterwards. This module
//! owns the split itself and is pure: target ids and weights in, an
//! [`Assignment`] out, the same one on every runner for the same input
//! (which is what lets N machines agree on who builds what without talking
//! to each other).
//!
//! Weights come from a previous release's manifest ([`weights`]), so a
//! target that took ten minutes last time is not paired with another slow
//! one while a runner with three quick ones sits idle.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The most shards a plan may be split into. CI systems cap their job
/// matrices far below this (GitHub Actions at 256); the bound keeps a typo
/// or a forged shard manifest from allocating per-shard state by the
/// billion.
pub const MAX_SHARDS: usize = 1000;

/// Which shard builds which targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    /// One entry per shard, in index order (1, 2, ... N).
    pub shards: Vec<Shard>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shard {
    /// 1-based, as in `--shard 2/4`.
    pub index: usize,
    /// Target ids, in plan order.
    pub targets: Vec<String>,
    /// Sum of the targets' weights (milliseconds when the weights came from
    /// a history manifest).
    pub weight: f64,
}

impl Assignment {
    /// The shard `--shard index/N` names (1-based), if it exists.
    pub fn get(&self, index: usize) -> Option<&Shard> {
        index.checked_sub(1).and_then(|i| self.shards.get(i))
    }
}

/// A CI system that fans a release out over shards: `matrix ci <provider>`
/// writes its files (module `ci`) and `matrix plan --shards N --format
/// <provider>` prints its job matrix ([`render`]). The one type for it, from
/// the command line down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    // Plain comments, not doc comments: clap would show a doc comment as
    // the value's help and change `--help`.
    // GitHub Actions.
    Github,
    // GitLab CI.
    Gitlab,
}

/// How `matrix plan --shards N` prints an assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The assignment as pretty JSON.
    Json,
    /// A CI system's job matrix: one line for `strategy.matrix: ${{
    /// fromJSON(...) }}` in GitHub Actions, a `parallel: matrix:` block for
    /// .gitlab-ci.yml.
    Ci(Provider),
}

/// `--format json|github|gitlab`: written by hand because a derive cannot
/// spell a variant that carries a [`Provider`]; the values (and their
/// missing help) are what the derive gave.
impl clap::ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            Format::Json,
            Format::Ci(Provider::Github),
            Format::Ci(Provider::Gitlab),
        ]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        match self {
            Format::Json => Some(clap::builder::PossibleValue::new("json")),
            Format::Ci(provider) => provider.to_possible_value(),
        }
    }
}

/// Splits `targets` (id and weight, in plan order) over `n` shards.
///
/// Longest processing time first: targets sorted by weight, heaviest first
/// (equal weights keep plan order), each placed on the shard with the least
/// weight so far. Ties between shards go to the one with fewer targets, then
/// to the lowest index; the target count matters when weights are all zero
/// (a history of instant jobs), which would otherwise pile everything onto
/// shard 1. The result depends only on the input, never on hashing or
/// timing, so every runner computes the same split.
///
/// LPT is not optimal, but its heaviest shard is at most 4/3 of the best
/// possible, and on real matrices (many targets, a few slow ones) it lands
/// close to the mean. When one target alone outweighs the mean shard, no
/// split can do better than giving it a shard of its own, which LPT does.
///
/// With `n` larger than the number of targets the extra shards are empty:
/// they build nothing but are still listed (and still write a shard
/// manifest when run), so `i/N` means the same to the plan, the CI matrix
/// and the merge. `n == 0` gives no shards at all; callers take N from
/// [`parse_shard`] or check it is at least 1.
///
/// Weights should be finite and non-negative; anything else counts as 0,
/// so one bad number cannot reorder the rest.
pub fn assign(targets: &[(String, f64)], n: usize) -> Assignment {
    let weight = |i: usize| sanitize(targets[i].1);
    let mut order: Vec<usize> = (0..targets.len()).collect();
    // Stable sort: equal weights stay in plan order.
    order.sort_by(|&a, &b| weight(b).total_cmp(&weight(a)));

    let mut loads = vec![0.0_f64; n];
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in order {
        let Some(lightest) = (0..n).min_by(|&a, &b| {
            loads[a]
                .total_cmp(&loads[b])
                .then(members[a].len().cmp(&members[b].len()))
                .then(a.cmp(&b))
        }) else {
            break;
        };
        loads[lightest] += weight(i);
        members[lightest].push(i);
    }

    let shards = members
        .into_iter()
        .zip(loads)
        .enumerate()
        .map(|(k, (mut positions, load))| {
            positions.sort_unstable();
            Shard {
                index: k + 1,
                targets: positions.iter().map(|&p| targets[p].0.clone()).collect(),
                weight: load,
            }
        })
        .collect();
    Assignment { shards }
}

fn sanitize(w: f64) -> f64 {
    if w.is_finite() && w > 0.0 { w } else { 0.0 }
}

/// Each target's weight (same order as `targets`) from a previous run's
/// manifest.json.
///
/// A target's weight is the sum of `duration_ms` over the jobs a shard
/// runs for it (its build and archive) in the manifest's `jobs` array:
/// jobs without a `target` belong to the release as a whole, and a
/// target's package and SBOM jobs are the merge's, so they are ignored (a
/// job without a `kind`, from an older manifest, counts). Only a complete record counts: a target
/// with a failed or skipped job, or a job whose duration is missing, ran
/// only partly, so its time says little about a full build. Targets the
/// history does not know (new ones, or partly built ones) get the median of
/// the known weights, a guess that neither starves nor swamps a shard; when
/// none is known, or there is no history, every target weighs 1.0 and the
/// split is by count.
pub fn weights(targets: &[String], history: Option<&History>) -> Vec<f64> {
    let Some(history) = history else {
        return vec![1.0; targets.len()];
    };
    let recorded = durations(history);
    let found: Vec<Option<f64>> = targets
        .iter()
        .map(|t| recorded.get(t.as_str()).copied().flatten())
        .collect();
    let fallback = median(found.iter().flatten().copied().collect()).unwrap_or(1.0);
    found.into_iter().map(|w| w.unwrap_or(fallback)).collect()
}

/// The kinds of the per-target jobs a shard runs, the ones a target's
/// weight is made of.
const SHARD_KINDS: [&str; 2] = ["build", "archive"];

/// Total milliseconds per target id; `None` for a target whose record is
/// incomplete.
fn durations(history: &History) -> BTreeMap<&str, Option<f64>> {
    let mut totals: BTreeMap<&str, Option<f64>> = BTreeMap::new();
    for job in &history.jobs {
        let Some(target) = job.target.as_deref() else {
            continue;
        };
        if job
            .kind
            .as_deref()
            .is_some_and(|k| !SHARD_KINDS.contains(&k))
        {
            continue;
        }
        let ok = job.status.as_deref() == Some("ok");
        let ms = job.duration_ms.filter(|ms| ms.is_finite() && *ms >= 0.0);
        let total = totals.entry(target).or_insert(Some(0.0));
        *total = match (*total, ms) {
            (Some(sum), Some(ms)) if ok => Some(sum + ms),
            _ => None,
        };
    }
    totals
}

/// Milliseconds per job id of the jobs that succeeded in `history`: what
/// `matrix build` orders the next run's jobs by (longest chains first).
/// A duration that is not a finite, non-negative number is left out.
pub fn job_durations(history: &History) -> BTreeMap<String, u64> {
    history
        .jobs
        .iter()
        .filter(|job| job.status.as_deref() == Some("ok"))
        .filter_map(|job| {
            let ms = job.duration_ms.filter(|ms| ms.is_finite() && *ms >= 0.0)?;
            // `as` saturates: a huge number is the longest, not an error.
            Some((job.id.clone()?, ms.round() as u64))
        })
        .collect()
}

/// What [`weights`] and [`job_durations`] read from a previous release's
/// manifest.json (`--history`, or dist/'s before a `--clean` build): the
/// `jobs` of [`crate::package::manifest::Manifest`], and of each job only
/// its id, target, kind, status and duration.
///
/// Read leniently, field by field: a history only tunes the split, so a
/// manifest from another version of matrix (or a damaged one) weighs what
/// it can instead of failing the plan. A `jobs` that is not a list counts
/// as no jobs, a job that is not an object as a job of no target, and a
/// field of the wrong type as a missing one. Only a file that is not JSON
/// at all is an error.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "Lenient<HistoryFields>")]
pub struct History {
    pub jobs: Vec<HistoryJob>,
}

/// One job record of a [`History`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct HistoryJob {
    /// The job's id in its plan (`build-linux-arm64`).
    #[serde(default, deserialize_with = "lenient")]
    pub id: Option<String>,
    /// Absent for release-wide jobs (checksums, manifest, ...).
    #[serde(default, deserialize_with = "lenient")]
    pub target: Option<String>,
    /// `build`, `archive`, `package`, ...
    #[serde(default, deserialize_with = "lenient")]
    pub kind: Option<String>,
    /// `ok`, `failed`, `skipped`, ...
    #[serde(default, deserialize_with = "lenient")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub duration_ms: Option<f64>,
}

#[derive(Deserialize)]
struct HistoryFields {
    #[serde(default)]
    jobs: Lenient<Vec<Lenient<HistoryJob>>>,
}

impl From<Lenient<HistoryFields>> for History {
    fn from(fields: Lenient<HistoryFields>) -> History {
        let jobs = match fields {
            Lenient::Is(HistoryFields {
                jobs: Lenient::Is(jobs),
            }) => jobs,
            _ => Vec::new(),
        };
        // A job that is not an object has no target, like one without `target`.
        let jobs = jobs
            .into_iter()
            .map(|job| job.into_option().unwrap_or_default());
        History {
            jobs: jobs.collect(),
        }
    }
}

/// A value of type `T`, or any other JSON value in its place.
#[derive(Deserialize)]
#[serde(untagged)]
enum Lenient<T> {
    Is(T),
    Not(serde::de::IgnoredAny),
}

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient::Not(serde::de::IgnoredAny)
    }
}

impl<T> Lenient<T> {
    fn into_option(self) -> Option<T> {
        match self {
            Lenient::Is(t) => Some(t),
            Lenient::Not(_) => None,
        }
    }
}

fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Lenient::<T>::deserialize(deserializer).map(Lenient::into_option)
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match values.len() {
        0 => None,
        n if n % 2 == 1 => Some(values[mid]),
        _ => Some((values[mid - 1] + values[mid]) / 2.0),
    }
}

/// Parses `--shard i/N`: the i-th of N shards, 1 <= i <= N.
pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let usage = "expected i/N, e.g. 2/4 for the second of four shards";
    let Some((i, n)) = s.split_once('/') else {
        return Err(format!("`{s}` is not a shard: {usage}"));
    };
    // Digits only: `usize::from_str` would also take "+2".
    let number = |part: &str, what: &str| {
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse::<usize>()
                .map_err(|_| format!("`{s}`: the {what} `{part}` is too large"))
        } else {
            Err(format!(
                "`{s}`: the {what} `{part}` is not a whole number ({usage})"
            ))
        }
    };
    let i = number(i, "shard index")?;
    let n = number(n, "shard count")?;
    if n == 0 {
        return Err(format!("`{s}`: the shard count must be at least 1"));
    }
    if n > MAX_SHARDS {
        return Err(format!("`{s}`: the shard count is at most {MAX_SHARDS}"));
    }
    if i == 0 {
        return Err(format!("`{s}`: shards count from 1, so the first is 1/{n}"));
    }
    if i > n {
        return Err(format!(
            "`{s}`: there is no shard {i} of {n} (the shards are 1/{n} to {n}/{n})"
        ));
    }
    Ok((i, n))
}

/// Prints an assignment for a person or a CI system.
///
/// - [`Format::Json`]: the [`Assignment`] as pretty JSON.
/// - [`Format::Ci`] GitHub: one line, `{"include":[{"index":1,"shard":"1/4",
///   "targets":"linux/amd64 linux/arm64","total":4}, ...]}`, for
///   `strategy.matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}` (written
///   to `$GITHUB_OUTPUT`, hence one line).
/// - [`Format::Ci`] GitLab: a `parallel: matrix:` block listing `SHARD: "i/N"`
///   values, with each shard's targets in comments. GitLab's plain
///   `parallel: N` would also do (each job gets `CI_NODE_INDEX` and
///   `CI_NODE_TOTAL`), but named `SHARD` values make the job names say
///   which shard they are.
///
/// Empty shards are kept in every format, so the i in `i/N` is the same
/// number in the plan, the CI job and the merge.
pub fn render(assignment: &Assignment, format: Format) -> String {
    let total = assignment.shards.len();
    // Keys are written in alphabetical order, so the text is the same
    // whether or not serde_json's `preserve_order` is on in the build.
    match format {
        Format::Json => {
            let shards: Vec<Value> = assignment
                .shards
                .iter()
                .map(|s| json!({"index": s.index, "targets": s.targets, "weight": s.weight}))
                .collect();
            format!("{:#}\n", json!({ "shards": shards }))
        }
        Format::Ci(Provider::Github) => {
            let include: Vec<Value> = assignment
                .shards
                .iter()
                .map(|s| {
                    json!({
                        "index": s.index,
                        "shard": format!("{}/{total}", s.index),
                        "targets": s.targets.join(" "),
                        "total": total,
                    })
                })
                .collect();
            format!("{}\n", json!({ "include": include }))
        }
        Format::Ci(Provider::Gitlab) => gitlab(assignment),
    }
}

fn gitlab(assignment: &Assignment) -> String {
    let total = assignment.shards.len();
    let mut out = format!(
        "# {}; each job runs `matrix build --shard \"$SHARD\"`.\n",
        crate::human::count(total, "shard", "shards")
    );
    for s in &assignment.shards {
        let targets = if s.targets.is_empty() {
            "(no targets)".to_string()
        } else {
            s.targets.join(" ")
        };
        out.push_str(&format!("# {}/{total}: {targets}\n", s.index));
    }
    // JSON strings are YAML double-quoted scalars, so this is a flow
    // sequence of quoted "i/N" values.
    let labels: Vec<Value> = (1..=total)
        .map(|i| Value::String(format!("{i}/{total}")))
        .collect();
    let labels = labels
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    out.push_str(&format!("parallel:\n  matrix:\n    - SHARD: [{labels}]\n"));
    out
}

#[cfg(test)]
mod tests;
