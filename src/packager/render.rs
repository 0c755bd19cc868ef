//! The one template environment every channel file renders in, and the
//! render call they share.
//!
//! Part of `packager`. Strict undefined (a misspelt variable in a user's
//! template is an error, not an empty string), `trim_blocks` and
//! `lstrip_blocks` (block tags leave no blank lines), a kept trailing
//! newline, and no HTML escaping: none of the formats is HTML, so each
//! renderer quotes for its own format (Ruby, YAML, XML, PowerShell) with
//! filters of its own. Each render has a fuel budget, like plan templates.

use minijinja::{AutoEscape, Environment, UndefinedBehavior, syntax::SyntaxConfig};
use serde::Serialize;

use super::PublishError;

/// Default of `template-fuel`. The examples' templates use about 60 fuel
/// per target (hello-go: under 1000 for 16 targets and its channels), so
/// this lets 4096 targets render with a margin of 15, and a runaway loop
/// spends it in well under a second in a release build.
pub const TEMPLATE_FUEL: u64 = 4_000_000;

pub(crate) fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // A user's channel template gets the budget a whole plan gets: a loop
    // that runs away fails ("engine ran out of fuel") instead of hanging.
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    Ok(env)
}

/// Renders `source` (an embedded template or the user's) named `name` with
/// the serde context `ctx`.
pub(crate) fn render(
    env: &Environment<'_>,
    channel: &str,
    name: &str,
    source: &str,
    ctx: &impl Serialize,
) -> Result<String, PublishError> {
    env.template_from_named_str(name, source)
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(ctx))))
        .map_err(|e| PublishError::template(channel, name, &e))
}
