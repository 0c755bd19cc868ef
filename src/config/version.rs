//! `[version]` in `matrix.toml`: which scheme makes the release's version.
//!
//! Part of the first stage of the flow (config); `version` does the
//! resolving.

use schemars::JsonSchema;
use serde::Deserialize;

use super::values::Epoch;

/// `[version]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VersionConfig {
    /// `semver` (from `v1.2.3` tags, the default) or `calendar`
    /// (`<days since epoch>.<patch level>`, as gardenlinux numbers releases).
    #[serde(default)]
    pub scheme: VersionScheme,
    /// The calendar scheme's day 0, `YYYY-MM-DD` (default 2020-04-01).
    #[serde(default)]
    pub epoch: Option<Epoch>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum VersionScheme {
    #[default]
    Semver,
    Calendar,
}

/// `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<time::Date, String> {
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err("expected YYYY-MM-DD".into());
    };
    let num = |s: &str, what: &str| -> Result<i64, String> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("the {what} {s:?} is not a number"));
        }
        s.parse::<i64>().map_err(|e| e.to_string())
    };
    let (y, m, d) = (num(y, "year")?, num(m, "month")?, num(d, "day")?);
    let month = u8::try_from(m)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(|| format!("there is no month {m}"))?;
    let year = i32::try_from(y).map_err(|e| e.to_string())?;
    let day = u8::try_from(d).map_err(|e| e.to_string())?;
    time::Date::from_calendar_date(year, month, day).map_err(|e| e.to_string())
}
