//! Splitting a release over CI runners: the assignment `matrix plan
//! --shards N` prints and the cut `matrix build --shard i/N` makes.
//! Part of `release`; the split itself is `shard`'s, the plan's cut is
//! `plan::shard`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::Error;
use crate::plan::Plan;
use crate::shard;

/// The targets' weights: equal, or their job durations in a previous manifest.
fn weights(plan: &Plan, history: Option<&Path>) -> Result<Vec<(String, f64)>, Error> {
    let history = match history {
        None => None,
        Some(path) => {
            // Bounded like every manifest.json matrix reads.
            let file = crate::package::manifest::open_bounded(path).map_err(Error::io(path))?;
            Some(
                serde_json::from_reader::<_, shard::History>(std::io::BufReader::new(file))
                    .map_err(|e| Error::Usage {
                        message: format!("--history {}: not a manifest.json: {e}", path.display()),
                    })?,
            )
        }
    };
    let ids = plan.matrix_ids();
    let w = shard::weights(&ids, history.as_ref());
    Ok(ids.into_iter().zip(w).collect())
}

/// `matrix plan --shards N`: the assignment every runner will compute,
/// weighed by the job durations in `history` (a manifest.json) if given.
pub fn shards(plan: &Plan, n: usize, history: Option<&Path>) -> Result<shard::Assignment, Error> {
    if n == 0 || n > shard::MAX_SHARDS {
        return Err(Error::Usage {
            message: format!("--shards must be from 1 to {}", shard::MAX_SHARDS),
        });
    }
    Ok(shard::assign(&weights(plan, history)?, n))
}

/// `matrix build --shard i/N`: keep this shard's targets only.
///
/// With `--history` the weights the split was computed with are recorded in
/// the shard manifest, so the merge can compute the same split again
/// (it has no `--history` of its own, and must not need one).
pub(super) fn shard_plan(plan: &mut Plan, spec: &str, history: Option<&Path>) -> Result<(), Error> {
    let (index, total) = shard::parse_shard(spec).map_err(|message| Error::Usage {
        message: format!("--shard {spec}: {message}"),
    })?;
    let weights = weights(plan, history)?;
    let recorded: Option<BTreeMap<String, f64>> =
        history.map(|_| weights.iter().cloned().collect());
    let assignment = shard::assign(&weights, total);
    let ids: BTreeSet<&str> = assignment
        .get(index)
        .map(|s| s.targets.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let targets: BTreeSet<usize> = plan
        .targets
        .iter()
        .enumerate()
        .filter(|(_, t)| ids.contains(t.id.as_str()))
        .map(|(i, _)| i)
        .collect();
    crate::plan::shard::restrict_to_shard(plan, index, total, &targets, recorded)
        .map_err(crate::plan::PlanError::from)?;
    Ok(())
}
