//! `[matrix]` and `[images.matrix]`: the axes, `include` and `exclude`,
//! typed when the file is loaded.
//!
//! Part of the first stage of the flow (config). Serde reads the table as
//! TOML values; [`MatrixTable::resolve`] turns them into a
//! [`crate::matrix::Spec`] and checks `os`/`arch` names against the
//! [`crate::target`] knowledge base, each error at its place in the file,
//! before the config is handed out. Later stages only see the [`Spec`];
//! `plan` expands it.

use indexmap::IndexMap;

use crate::matrix::{Pattern, Spec};
use crate::target::Kind;

use super::source::{ConfigError, KeyPath, Source};

/// A matrix table: its [`Spec`] once the config is loaded.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(from = "IndexMap<String, toml::Value>")]
pub struct MatrixTable {
    /// The table as written, until [`MatrixTable::resolve`] converts it.
    written: IndexMap<String, toml::Value>,
    spec: Spec,
}

impl From<IndexMap<String, toml::Value>> for MatrixTable {
    fn from(written: IndexMap<String, toml::Value>) -> Self {
        MatrixTable {
            written,
            spec: Spec::default(),
        }
    }
}

impl MatrixTable {
    /// The axes, include and exclude entries, as declared.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// Converts the table at `root` into its [`Spec`] and checks the
    /// names in it; called once, by [`super::parse`].
    pub(super) fn resolve(&mut self, root: &KeyPath, source: &Source) -> Result<(), ConfigError> {
        let written = std::mem::take(&mut self.written);
        let spec = to_spec(&written, root, source)?;
        check_names(&spec, root, source)?;
        self.spec = spec;
        Ok(())
    }
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::matrix::Pattern;

    const DOC: &str = "[project]\nname = \"x\"\n[matrix]\nos = [\"linux\", \"windows\"]\nlevel = [\"amd64\", 7, true]\nexclude = [ { os = \"windows\", level = [\"7\", \"true\"] } ]\ninclude = [ { os = \"linux\", libc = \"musl\" } ]\n[build]\ncommand = \"make\"\nbinary = \"x\"\n";

    #[test]
    fn the_table_is_typed_at_load() {
        let loaded = crate::config::parse(Path::new("matrix.toml"), DOC.to_string()).unwrap();
        let spec = loaded.config.matrix.spec();
        assert_eq!(spec.axes["os"], ["linux", "windows"]);
        assert_eq!(spec.axes["level"], ["amd64", "7", "true"]);
        assert_eq!(
            spec.exclude[0]["level"],
            Pattern::AnyOf(vec!["7".into(), "true".into()])
        );
        assert_eq!(spec.include[0]["libc"], "musl");
        assert!(loaded.config.matrix.written.is_empty());
    }
}
