//! From the `[matrix]` table to expanded, named combinations.
//!
//! Converts the TOML values into [`crate::matrix::Spec`], checks `os`/`arch`
//! names against the [`crate::target`] knowledge base, runs the expansion, and
//! turns every expansion error back into an error at its place in the file.

use indexmap::IndexMap;

use crate::config::{ConfigError, KeyPath, Limit, Source};
use crate::matrix::{self, Combination, MatrixError, Pattern, Spec};
use crate::target::Kind;

/// Expanded combinations plus the names of the declared axes.
pub struct Expanded {
    pub axes: Vec<String>,
    pub combinations: Vec<Combination>,
}

/// Expands `[matrix]` into at most `limit` combinations.
pub fn expand(
    table: &IndexMap<String, toml::Value>,
    limit: u64,
    source: &Source,
) -> Result<Expanded, ConfigError> {
    expand_at(table, &KeyPath::parse("matrix"), limit, source)
}

/// [`expand`] for a matrix table at another place in the file
/// (`images.matrix`).
pub fn expand_at(
    table: &IndexMap<String, toml::Value>,
    root: &KeyPath,
    limit: u64,
    source: &Source,
) -> Result<Expanded, ConfigError> {
    let spec = to_spec(table, root, source)?;
    check_names(&spec, root, source)?;
    let combinations = matrix::expand(&spec, limit).map_err(|e| locate(e, &spec, root, source))?;
    Ok(Expanded {
        axes: spec.axes.keys().cloned().collect(),
        combinations,
    })
}

fn scalar(value: &toml::Value, at: &KeyPath, source: &Source) -> Result<String, ConfigError> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(source.error_at(
            at,
            format!(
                "a matrix value must be a string, integer or boolean, not {}",
                other.type_str()
            ),
            None,
        )),
    }
}

fn table<'a>(
    value: &'a toml::Value,
    at: &KeyPath,
    source: &Source,
) -> Result<&'a toml::Table, ConfigError> {
    value.as_table().ok_or_else(|| {
        source.error_at(
            at,
            format!(
                "expected a table like {{ os = \"linux\" }}, found {}",
                value.type_str()
            ),
            None,
        )
    })
}

fn list<'a>(
    value: &'a toml::Value,
    at: &KeyPath,
    source: &Source,
    what: &str,
) -> Result<&'a Vec<toml::Value>, ConfigError> {
    value.as_array().ok_or_else(|| {
        source.error_at(
            at,
            format!("{what} must be an array, found {}", value.type_str()),
            None,
        )
    })
}

fn to_spec(
    table_: &IndexMap<String, toml::Value>,
    root: &KeyPath,
    source: &Source,
) -> Result<Spec, ConfigError> {
    let mut spec = Spec::default();
    for (key, value) in table_ {
        let at = root.clone().key(key);
        match key.as_str() {
            "include" => {
                for (i, entry) in list(value, &at, source, "`include`")?.iter().enumerate() {
                    let at = at.clone().index(i);
                    let mut out = IndexMap::new();
                    for (k, v) in table(entry, &at, source)? {
                        out.insert(k.clone(), scalar(v, &at.clone().key(k), source)?);
                    }
                    spec.include.push(out);
                }
            }
            "exclude" => {
                for (i, entry) in list(value, &at, source, "`exclude`")?.iter().enumerate() {
                    let at = at.clone().index(i);
                    let mut out = IndexMap::new();
                    for (k, v) in table(entry, &at, source)? {
                        let at = at.clone().key(k);
                        let pattern = match v {
                            toml::Value::Array(items) => Pattern::AnyOf(
                                items
                                    .iter()
                                    .enumerate()
                                    .map(|(j, item)| scalar(item, &at.clone().index(j), source))
                                    .collect::<Result<_, _>>()?,
                            ),
                            v => Pattern::One(scalar(v, &at, source)?),
                        };
                        out.insert(k.clone(), pattern);
                    }
                    spec.exclude.push(out);
                }
            }
            _ => {
                let what = format!("the axis `{key}`");
                let values = list(value, &at, source, &what)?
                    .iter()
                    .enumerate()
                    .map(|(j, item)| scalar(item, &at.clone().index(j), source))
                    .collect::<Result<_, _>>()?;
                spec.axes.insert(key.clone(), values);
            }
        }
    }
    Ok(spec)
}

/// `os`/`arch` values must be names matrix knows, wherever they appear.
fn check_names(spec: &Spec, root: &KeyPath, source: &Source) -> Result<(), ConfigError> {
    for (axis, values) in &spec.axes {
        for (j, v) in values.iter().enumerate() {
            check_name(axis, v, &root.clone().key(axis).index(j), source)?;
        }
    }
    for (i, entry) in spec.include.iter().enumerate() {
        for (k, v) in entry {
            check_name(k, v, &root.clone().key("include").index(i).key(k), source)?;
        }
    }
    Ok(())
}

fn check_name(axis: &str, value: &str, at: &KeyPath, source: &Source) -> Result<(), ConfigError> {
    let Some(kind) = Kind::of_axis(axis) else {
        return Ok(());
    };
    if kind.is_known(value) {
        return Ok(());
    }
    let allowed = kind.all().join(", ");
    let help = match kind.suggest(value) {
        Some(s) => {
            format!("did you mean \"{s}\"? `matrix targets` lists every name; allowed: {allowed}")
        }
        None => format!("allowed {axis} names: {allowed}"),
    };
    Err(source.error_at(at, format!("unknown {axis} \"{value}\""), Some(help)))
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
