//! Values `matrix.toml` writes as strings but later stages use typed: a
//! timeout (`10m`, `1h 30m`) and a calendar epoch (`2020-04-01`).
//!
//! Part of the first stage of the flow (config). Each is parsed once, while
//! the file is deserialised; a value that does not parse fails the load with
//! the same message, help and place as every other config check (see
//! [`located`]), so nothing downstream parses the text again.

use std::time::Duration;

use schemars::JsonSchema;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::source::{ConfigError, Source};
use super::version::parse_date;

const DURATION: &str = "invalid duration ";
const EPOCH: &str = "invalid epoch ";

/// A job timeout, longer than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Duration);

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = String::deserialize(d)?;
        parse_duration(&v)
            .map(Timeout)
            .map_err(|e| D::Error::custom(format!("{DURATION}{v:?}: {e}")))
    }
}

/// The calendar scheme's day 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch(pub time::Date);

impl<'de> Deserialize<'de> for Epoch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let epoch = String::deserialize(d)?;
        parse_date(&epoch)
            .map(Epoch)
            .map_err(|e| D::Error::custom(format!("{EPOCH}{epoch:?}: {e}")))
    }
}

/// Written back as the file spells them (the schema shows the default of
/// an optional field only for types that serialise).
impl Serialize for Timeout {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(self.0))
    }
}

impl Serialize for Epoch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        s.collect_str(&format_args!(
            "{:04}-{:02}-{:02}",
            d.year(),
            u8::from(d.month()),
            d.day()
        ))
    }
}

/// Both are strings in the file, so the schema says exactly what it said
/// when the fields were `String`s.
macro_rules! string_schema {
    ($($t:ty),*) => {$(
        impl JsonSchema for $t {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> std::borrow::Cow<'static, str> {
                String::schema_name()
            }
            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                String::json_schema(generator)
            }
        }
    )*};
}
string_schema!(Timeout, Epoch);

/// Parses `10m`, `90s`, `1h 30m`; zero is not a timeout.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(value).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("a timeout must be longer than zero".into());
    }
    Ok(d)
}

/// A deserialisation error raised by one of the types above, as the error
/// the check of that key gives: at the value's key path, with its help.
/// Other errors are left to the caller.
pub(super) fn located(
    message: &str,
    span: Option<std::ops::Range<usize>>,
    source: &Source,
) -> Option<ConfigError> {
    let help = if message.starts_with(DURATION) {
        "use a number with a unit, e.g. \"90s\", \"10m\", \"1h 30m\""
    } else if message.starts_with(EPOCH) {
        "write the date as YYYY-MM-DD, e.g. \"2020-04-01\""
    } else {
        return None;
    };
    let path = source.path_at(span?)?;
    Some(source.error_at(&path, message, Some(help.into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn values_serialise_as_written() {
        let t = Timeout(Duration::from_secs(5400));
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"1h 30m\"");
        let e = Epoch(parse_date("2020-04-01").unwrap());
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"2020-04-01\"");
    }
}
