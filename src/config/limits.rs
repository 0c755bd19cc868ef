//! `[limits]`: how much work `matrix plan` may do before it gives up.
//!
//! Part of `config`. Every input gets an answer or an error within seconds:
//! the matrix is counted before it is expanded, and every template renders
//! with a budget of minijinja fuel and a cap on its output. The defaults fit
//! any real release with room to spare; a project that truly needs more
//! raises a limit here, and the error that stops it names the key to raise.

use schemars::JsonSchema;
use serde::Deserialize;

/// Default of `max-targets`.
pub const MAX_TARGETS: u64 = 4096;
/// Default of `template-fuel` (also every channel template's budget).
pub use crate::packager::TEMPLATE_FUEL;
/// Default of `max-template-output`.
pub const MAX_TEMPLATE_OUTPUT: u64 = 64 * 1024;
/// Default of `max-override-checks`. Every target is matched against every
/// `when` of `[build] overrides` and `[archive] format-overrides`; 16
/// million checks take about 1.5 s in a release build, far more than any
/// real release needs (hello-c: 13 targets x 3 overrides).
pub const MAX_OVERRIDE_CHECKS: u64 = 16_000_000;

/// Limits on the work one plan may do.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    /// Most targets the `[matrix]` may expand to (and most variants the
    /// `[images]` matrix may), counted after `exclude` and `include` and
    /// before `--target` filters. Default 4096.
    #[serde(default = "max_targets")]
    #[schemars(range(min = 1))]
    pub max_targets: u64,
    /// Work all templates of one plan may do together, in minijinja fuel:
    /// about one unit per instruction and one per 64 bytes of data a
    /// template makes. Default 4000000.
    #[serde(default = "template_fuel")]
    #[schemars(range(min = 1))]
    pub template_fuel: u64,
    /// Largest text one template may render to, in bytes. Default 65536.
    #[serde(default = "max_template_output")]
    #[schemars(range(min = 1))]
    pub max_template_output: u64,
    /// Most `when` checks the overrides may cost: the number of targets
    /// times the number of `[build] overrides` and `[archive]
    /// format-overrides` entries. Default 16000000.
    #[serde(default = "max_override_checks")]
    #[schemars(range(min = 1))]
    pub max_override_checks: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_targets: MAX_TARGETS,
            template_fuel: TEMPLATE_FUEL,
            max_template_output: MAX_TEMPLATE_OUTPUT,
            max_override_checks: MAX_OVERRIDE_CHECKS,
        }
    }
}

fn max_targets() -> u64 {
    MAX_TARGETS
}

fn template_fuel() -> u64 {
    TEMPLATE_FUEL
}

fn max_template_output() -> u64 {
    MAX_TEMPLATE_OUTPUT
}

fn max_override_checks() -> u64 {
    MAX_OVERRIDE_CHECKS
}

/// Which limit an error comes from, so callers and tests can tell a limit
/// from any other problem without reading the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `max-targets`.
    Targets,
    /// `template-fuel`.
    TemplateFuel,
    /// `max-template-output`.
    TemplateOutput,
    /// `max-override-checks`.
    OverrideChecks,
}

impl Limit {
    /// The key under `[limits]` that raises this limit.
    pub fn key(self) -> &'static str {
        match self {
            Limit::Targets => "max-targets",
            Limit::TemplateFuel => "template-fuel",
            Limit::TemplateOutput => "max-template-output",
            Limit::OverrideChecks => "max-override-checks",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_in_the_schema_with_their_defaults() {
        let schema = serde_json::to_value(schemars::schema_for!(crate::config::Config)).unwrap();
        assert!(schema["properties"]["limits"].is_object(), "{schema}");
        let props = &schema["$defs"]["Limits"]["properties"];
        for (key, default) in [
            ("max-targets", MAX_TARGETS),
            ("template-fuel", TEMPLATE_FUEL),
            ("max-template-output", MAX_TEMPLATE_OUTPUT),
            ("max-override-checks", MAX_OVERRIDE_CHECKS),
        ] {
            assert_eq!(props[key]["default"], default, "{key}: {props}");
            assert_eq!(props[key]["minimum"], 1, "{key}: {props}");
        }
        assert_eq!(schema["$defs"]["Limits"]["additionalProperties"], false);
    }

    #[test]
    fn an_empty_table_gives_the_defaults() {
        let limits: Limits = toml::from_str("").unwrap();
        assert_eq!(limits, Limits::default());
        let limits: Limits = toml::from_str("max-targets = 10").unwrap();
        assert_eq!(limits.max_targets, 10);
        assert_eq!(limits.template_fuel, TEMPLATE_FUEL);
        assert!(toml::from_str::<Limits>("max_targets = 10").is_err());
    }
}
