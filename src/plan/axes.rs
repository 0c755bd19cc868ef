//! From the `[matrix]` table to expanded, named combinations.
//!
//! Runs the expansion of the [`crate::matrix::Spec`] that config typed and
//! checked at load time, and turns every expansion error back into an error
//! at its place in the file.

use crate::config::{ConfigError, KeyPath, Limit, MatrixTable, Source};
use crate::matrix::{self, Combination, MatrixError, Spec};

/// Expanded combinations plus the names of the declared axes.
pub struct Expanded {
    pub axes: Vec<String>,
    pub combinations: Vec<Combination>,
}

/// Expands `[matrix]` into at most `limit` combinations.
pub fn expand(table: &MatrixTable, limit: u64, source: &Source) -> Result<Expanded, ConfigError> {
    expand_at(table, &KeyPath::parse("matrix"), limit, source)
}

/// [`expand`] for a matrix table at another place in the file
/// (`images.matrix`).
pub fn expand_at(
    table: &MatrixTable,
    root: &KeyPath,
    limit: u64,
    source: &Source,
) -> Result<Expanded, ConfigError> {
    let spec = table.spec();
    let combinations = matrix::expand(spec, limit).map_err(|e| locate(e, spec, root, source))?;
    Ok(Expanded {
        axes: spec.axes.keys().cloned().collect(),
        combinations,
    })
}

fn locate(e: MatrixError, spec: &Spec, root: &KeyPath, source: &Source) -> ConfigError {
    let message = e.to_string();
    match e {
        MatrixError::Empty { .. } => source.error_at(
            root,
            message,
            Some("declare at least one axis, e.g. os = [\"linux\"], and do not exclude every combination".into()),
        ),
        MatrixError::EmptyAxis { axis } => source.error_at(
            &root.clone().key(&axis),
            message,
            Some("give the axis at least one value or remove it".into()),
        ),
        MatrixError::DuplicateValue { axis, value } => {
            let index = spec.axes.get(&axis).and_then(|vs| vs.iter().rposition(|v| *v == value));
            let at = match index {
                Some(i) => root.clone().key(&axis).index(i),
                None => root.clone().key(&axis),
            };
            source.error_at(&at, message, Some("remove the repeated value".into()))
        }
        MatrixError::ExcludeUnknownKey { index, key, axes } => source.error_at(
            &root.clone().key("exclude").index(index).key(&key),
            message,
            Some(format!("exclude keys must be axes: {}", axes.join(", "))),
        ),
        MatrixError::ExcludeUnknownValue { index, key, allowed, .. } => source.error_at(
            &root.clone().key("exclude").index(index).key(&key),
            message,
            Some(format!("`{key}` has the values: {}", allowed.join(", "))),
        ),
        MatrixError::EmptyExclude { index } | MatrixError::EmptyPattern { index, .. } => source.error_at(
            &root.clone().key("exclude").index(index),
            message,
            Some("name at least one axis value in the entry, or remove it".into()),
        ),
        MatrixError::EmptyInclude { index } => source.error_at(
            &root.clone().key("include").index(index),
            message,
            Some("give the entry at least one key, or remove it".into()),
        ),
        MatrixError::TooMany { count, limit } => source
            .error_at(
                root,
                format!(
                    "`{root}` expands to {} combinations, more than the limit of {limit} ([limits] max-targets)",
                    matrix::show_count(count)
                ),
                Some(format!(
                    "remove axis values or exclude combinations; if the release really has {} targets, raise the limit: [limits] max-targets = {}",
                    matrix::show_count(count),
                    count.min(u64::MAX as u128)
                )),
            )
            .with_limit(Some(Limit::Targets)),
        MatrixError::TooComplex { .. } => source.error_at(
            root,
            message,
            Some("use fewer axes, exclude entries or include entries".into()),
        ),
        MatrixError::DuplicateCombination { .. } => source.error_at(
            &root.clone().key("include"),
            message,
            Some("two entries describe the same target; remove one".into()),
        ),
    }
}
