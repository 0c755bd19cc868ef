//! Matrix expansion: the step between `config` and `plan`.
//!
//! `config` hands us the `[matrix]` table as plain data (a [`Spec`]); we turn
//! it into the ordered list of [`Combination`]s that `plan` names and builds.
//! The rules are GitHub Actions' `strategy.matrix` rules, exactly, because
//! that is what release engineers already know: cartesian product (first axis
//! outermost), then `exclude`, then `include`. The one extension is
//! [`Pattern::AnyOf`] in `exclude`, which saves writing one entry per value.
//!
//! This module owns only the expansion and its validation. It knows nothing
//! about files or spans: errors carry indexes into the [`Spec`] so the caller,
//! which still has the TOML document, can point at the offending line.

mod count;

use std::collections::HashMap;

use indexmap::{IndexMap, IndexSet};

pub use count::show as show_count;
use count::{Counter, TooComplex};

/// Include entries times combinations one matrix may cost to merge.
const INCLUDE_WORK: u128 = 50_000_000;

/// One expanded matrix entry: axis keys first (in declared order), then keys
/// that only `include` entries brought in (in the order first seen).
pub type Combination = IndexMap<String, String>;

/// The value side of an `exclude` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// Matches exactly this value.
    One(String),
    /// Matches any of these values (our extension: `arch = ["386", "s390x"]`).
    AnyOf(Vec<String>),
}

impl Pattern {
    /// Whether `value` is matched by this pattern.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::One(v) => v == value,
            Pattern::AnyOf(vs) => vs.iter().any(|v| v == value),
        }
    }

    fn values(&self) -> &[String] {
        match self {
            Pattern::One(v) => std::slice::from_ref(v),
            Pattern::AnyOf(vs) => vs,
        }
    }
}

/// The `[matrix]` table as data.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// Axis name -> values, in declared order (order decides output order).
    pub axes: IndexMap<String, Vec<String>>,
    /// `include` entries, in declared order.
    pub include: Vec<IndexMap<String, String>>,
    /// `exclude` entries, in declared order.
    pub exclude: Vec<IndexMap<String, Pattern>>,
}

/// Why a matrix expanded to nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyReason {
    /// No axes and no `include` entries were declared.
    NothingDeclared,
    /// Every combination of the axes was excluded and nothing was included.
    AllExcluded,
}

impl std::fmt::Display for EmptyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EmptyReason::NothingDeclared => "it declares no axes and no include entries",
            EmptyReason::AllExcluded => "every combination of the axes is excluded",
        })
    }
}

/// A `[matrix]` table that cannot be expanded. Indexes are 0-based positions
/// in [`Spec::exclude`] / [`Spec::include`] / the expanded list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum MatrixError {
    #[error("the matrix is empty: {reason}")]
    #[diagnostic(
        code(matrix::matrix::empty),
        help(
            "declare at least one axis (e.g. `os = [\"linux\"]`) or include entry, and check that the exclude entries leave something to build"
        )
    )]
    Empty { reason: EmptyReason },

    #[error("matrix axis `{axis}` has no values")]
    #[diagnostic(
        code(matrix::matrix::empty_axis),
        help("give `{axis}` at least one value, or remove the axis")
    )]
    EmptyAxis { axis: String },

    #[error("matrix axis `{axis}` lists `{value}` more than once")]
    #[diagnostic(
        code(matrix::matrix::duplicate_value),
        help("remove the repeated `{value}`; every value of an axis must be unique")
    )]
    DuplicateValue { axis: String, value: String },

    #[error("exclude entry #{} uses `{key}`, which is not a matrix axis", index + 1)]
    #[diagnostic(
        code(matrix::matrix::exclude_unknown_key),
        help("exclude can only name axes; the axes are: {}", list(axes))
    )]
    ExcludeUnknownKey {
        index: usize,
        key: String,
        axes: Vec<String>,
    },

    #[error("exclude entry #{} matches `{key} = \"{value}\"`, but axis `{key}` has no such value", index + 1)]
    #[diagnostic(
        code(matrix::matrix::exclude_unknown_value),
        help("this is usually a typo; `{key}` allows: {}", list(allowed))
    )]
    ExcludeUnknownValue {
        index: usize,
        key: String,
        value: String,
        allowed: Vec<String>,
    },

    #[error("exclude entry #{} is empty, so it would exclude every combination", index + 1)]
    #[diagnostic(
        code(matrix::matrix::empty_exclude),
        help("name at least one axis in the entry, or remove it")
    )]
    EmptyExclude { index: usize },

    #[error("exclude entry #{} gives `{key}` an empty list, which matches nothing", index + 1)]
    #[diagnostic(
        code(matrix::matrix::empty_pattern),
        help("list at least one value of `{key}`, or remove the key from the entry")
    )]
    EmptyPattern { index: usize, key: String },

    #[error("include entry #{} is empty", index + 1)]
    #[diagnostic(
        code(matrix::matrix::empty_include),
        help("give the entry at least one key, or remove it")
    )]
    EmptyInclude { index: usize },

    #[error("the matrix produces the combination {combination} twice (entries #{} and #{})", first + 1, second + 1)]
    #[diagnostic(
        code(matrix::matrix::duplicate_combination),
        help("two include entries add the same new combination; remove one of them")
    )]
    DuplicateCombination {
        first: usize,
        second: usize,
        /// The repeated combination, rendered as `key=value, ...`.
        combination: String,
    },

    #[error("the matrix expands to {} combinations, more than the limit of {limit}", count::show(*count))]
    #[diagnostic(
        code(matrix::matrix::too_many),
        help(
            "remove axis values or exclude combinations; if the release really has that many, raise the limit"
        )
    )]
    TooMany {
        /// The real number of combinations (saturated at `u128::MAX`).
        count: u128,
        limit: u64,
    },

    #[error("the matrix is too costly to expand: {reason}")]
    #[diagnostic(
        code(matrix::matrix::too_complex),
        help("use fewer axes, exclude entries or include entries")
    )]
    TooComplex { reason: String },
}

fn list(values: &[String]) -> String {
    if values.is_empty() {
        return "(none)".to_owned();
    }
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn render(combination: &Combination) -> String {
    let pairs: Vec<String> = combination
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Expands `spec` into its combinations, in GitHub Actions order, if there
/// are at most `limit` of them. They are counted first, without being made,
/// so a matrix of billions is refused in a moment with its real size.
pub fn expand(spec: &Spec, limit: u64) -> Result<Vec<Combination>, MatrixError> {
    validate_axes(spec)?;
    if spec.axes.is_empty() && spec.include.is_empty() {
        return Err(MatrixError::Empty {
            reason: EmptyReason::NothingDeclared,
        });
    }
    validate_exclude(spec)?;
    if let Some(index) = spec.include.iter().position(IndexMap::is_empty) {
        return Err(MatrixError::EmptyInclude { index });
    }

    let too_complex = |_: TooComplex| MatrixError::TooComplex {
        reason: format!(
            "{} and {} are too many to count the combinations",
            crate::human::count(spec.axes.len(), "axis", "axes"),
            crate::human::count(spec.exclude.len(), "exclude entry", "exclude entries")
        ),
    };
    let mut counter = Counter::new(spec);
    let surviving = counter.total().map_err(too_complex)?;
    // Each include entry either extends surviving combinations or adds one.
    let mut added = 0u128;
    for entry in &spec.include {
        let fixed: Vec<(usize, Option<u32>)> = entry
            .iter()
            .filter_map(|(k, v)| {
                let (axis, _, values) = spec.axes.get_full(k)?;
                Some((axis, values.iter().position(|x| x == v).map(|i| i as u32)))
            })
            .collect();
        if !counter.any_with(&fixed).map_err(too_complex)? {
            added += 1;
        }
    }
    let count = surviving.saturating_add(added);
    if count > limit as u128 {
        return Err(MatrixError::TooMany { count, limit });
    }
    if surviving.saturating_mul(spec.include.len() as u128) > INCLUDE_WORK {
        return Err(MatrixError::TooComplex {
            reason: format!(
                "{} would each be tried against {} combinations",
                crate::human::count(spec.include.len(), "include entry", "include entries"),
                surviving
            ),
        });
    }

    let axes: Vec<(&String, &Vec<String>)> = spec.axes.iter().collect();
    let mut originals: Vec<Combination> = counter
        .surviving()
        .map_err(too_complex)?
        .into_iter()
        .map(|values| {
            values
                .iter()
                .zip(&axes)
                .map(|(v, (axis, vs))| ((*axis).clone(), vs[*v as usize].clone()))
                .collect()
        })
        .collect();
    if originals.is_empty() && spec.include.is_empty() {
        return Err(MatrixError::Empty {
            reason: EmptyReason::AllExcluded,
        });
    }

    // Include entries are tested against the original (post-exclude)
    // combinations only: entries appended as new combinations are never
    // extended by later entries, which is what GitHub does.
    let mut appended: Vec<Combination> = Vec::new();
    for entry in &spec.include {
        let mut added = false;
        for combination in &mut originals {
            // Only axis values are "original"; values added by an earlier
            // include may be overwritten.
            let compatible = entry
                .iter()
                .all(|(k, v)| !spec.axes.contains_key(k) || combination.get(k) == Some(v));
            if compatible {
                for (k, v) in entry {
                    combination.insert(k.clone(), v.clone());
                }
                added = true;
            }
        }
        if !added {
            appended.push(entry.clone());
        }
    }

    let order = key_order(spec);
    let result: Vec<Combination> = originals
        .into_iter()
        .chain(appended)
        .map(|c| {
            order
                .iter()
                .filter_map(|k| c.get(k).map(|v| (k.clone(), v.clone())))
                .collect()
        })
        .collect();
    check_duplicates(&result)?;
    Ok(result)
}

fn validate_axes(spec: &Spec) -> Result<(), MatrixError> {
    for (axis, values) in &spec.axes {
        if values.is_empty() {
            return Err(MatrixError::EmptyAxis { axis: axis.clone() });
        }
        let mut seen = IndexSet::new();
        for value in values {
            if !seen.insert(value) {
                return Err(MatrixError::DuplicateValue {
                    axis: axis.clone(),
                    value: value.clone(),
                });
            }
        }
    }
    Ok(())
}

fn validate_exclude(spec: &Spec) -> Result<(), MatrixError> {
    for (index, entry) in spec.exclude.iter().enumerate() {
        if entry.is_empty() {
            return Err(MatrixError::EmptyExclude { index });
        }
        for (key, pattern) in entry {
            let Some(allowed) = spec.axes.get(key) else {
                return Err(MatrixError::ExcludeUnknownKey {
                    index,
                    key: key.clone(),
                    axes: spec.axes.keys().cloned().collect(),
                });
            };
            if pattern.values().is_empty() {
                return Err(MatrixError::EmptyPattern {
                    index,
                    key: key.clone(),
                });
            }
            // A value outside the axis can never match, so the entry would
            // silently do nothing: almost always a misspelling.
            if let Some(value) = pattern.values().iter().find(|v| !allowed.contains(v)) {
                return Err(MatrixError::ExcludeUnknownValue {
                    index,
                    key: key.clone(),
                    value: value.clone(),
                    allowed: allowed.clone(),
                });
            }
        }
    }
    Ok(())
}

/// Axis keys in declared order, then include-only keys in the order first
/// seen, so every combination lists its keys in one consistent order.
fn key_order(spec: &Spec) -> IndexSet<String> {
    let mut order: IndexSet<String> = spec.axes.keys().cloned().collect();
    for entry in &spec.include {
        order.extend(entry.keys().cloned());
    }
    order
}

fn check_duplicates(result: &[Combination]) -> Result<(), MatrixError> {
    // Keys are already in one canonical order, so the pair list identifies a
    // combination.
    // Sized once and looked up once per combination: a 10,000-target
    // matrix spent a twentieth of its plan time here.
    let mut seen: HashMap<Vec<(&str, &str)>, usize> = HashMap::with_capacity(result.len());
    for (second, combination) in result.iter().enumerate() {
        let pairs = combination
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        match seen.entry(pairs) {
            std::collections::hash_map::Entry::Occupied(first) => {
                return Err(MatrixError::DuplicateCombination {
                    first: *first.get(),
                    second,
                    combination: render(combination),
                });
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(second);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
