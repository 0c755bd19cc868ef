//! The Homebrew channel at plan time: its line in the registry and the
//! targets a formula can ship.

use serde::Serialize;

use super::{HomebrewConfig, HomebrewOptions, desc};
use crate::packager::registry::{At, ChannelKind, Packager, PlanInput, Problem};
use crate::packager::tap::CommitStep;
use crate::target::Platform;

pub const PACKAGER: Packager = Packager {
    kind: ChannelKind::Homebrew,
    name: "homebrew",
    title: "Homebrew",
    dir: "homebrew",
    oses: &["darwin", "linux"],
    slot,
    format_problem: |_| None,
    one_format: false,
    format_hint: "tar.gz",
    universal: true,
    needs_url: true,
    cache_tools: None,
};

/// One package per `on_intel` / `on_arm` block of each system, so amd64
/// and arm64 only.
fn slot(p: &Platform) -> Option<&'static str> {
    match (p.os, p.homebrew_cpu) {
        ("darwin", Some("intel")) => Some("the on_macos / on_intel block"),
        ("darwin", Some("arm")) => Some("the on_macos / on_arm block"),
        ("linux", Some("intel")) => Some("the on_linux / on_intel block"),
        ("linux", Some("arm")) => Some("the on_linux / on_arm block"),
        _ => None,
    }
}

/// A Homebrew channel, planned: the formula's settings and file.
#[derive(Debug, Clone, Serialize)]
pub struct HomebrewStep {
    pub options: HomebrewOptions,
    /// The formula under dist/: `homebrew/<name>.rb`.
    pub file: String,
    /// The tap `matrix publish` commits it to (`tap`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitStep>,
}

pub fn plan(cx: &PlanInput, c: &HomebrewConfig) -> HomebrewStep {
    let name = cx.package();
    HomebrewStep {
        options: HomebrewOptions {
            channel: cx.channel.to_string(),
            class_name: c.class.clone(),
            formula: Some(name.to_string()),
            desc: c.desc.clone(),
            test_args: c.test.clone().unwrap_or_else(|| vec!["--version".into()]),
            caveats: c.caveats.clone(),
        },
        file: format!("{}/{name}.rb", PACKAGER.dir),
        commit: c.tap.as_ref().map(|t| t.step("Formula/{{ name }}.rb")),
    }
}

/// Homebrew refuses a formula whose class name is not a Ruby constant or
/// whose `desc` breaks its rules; find out now, at the line the text came
/// from, rather than after the builds.
pub fn check(cx: &PlanInput, c: &HomebrewConfig) -> Result<(), Problem> {
    let name = cx.channel;
    let (text, at) = match &c.desc {
        Some(d) => (d.as_str(), At::Channel(Some("desc"))),
        None => (cx.description, At::Project(Some("description"))),
    };
    let formula = cx.package();
    if let Some(class) = super::bad_class_name(c.class.as_deref(), formula) {
        let key = if c.class.is_some() { "class" } else { "name" };
        return Err(Problem {
            at: At::Channel(Some(key)),
            message: format!(
                "channel {name}: `{class}` is not a Ruby class name, which the formula needs"
            ),
            help: Some("set `class` in the channel to a name starting with a capital letter, made of letters, digits and `_`".into()),
        });
    }
    let problems = desc::review(text, formula);
    if problems.is_empty() {
        return Ok(());
    }
    let fix = match desc::suggest(text, formula) {
        Some(fixed) => format!("desc = {}", toml_string(&fixed)),
        None => format!(
            "desc = \"<one line of at most {} characters>\"",
            desc::MAX_DESC_CHARS
        ),
    };
    Err(Problem {
        at,
        message: format!(
            "channel {name}: Homebrew refuses this formula desc: {}",
            problems.join(" ")
        ),
        help: Some(format!(
            "set `{fix}` under [channels.{name}] (the channel's own desc wins over \
             [project] description)"
        )),
    })
}

/// `text` as a TOML basic string, for a line to paste into matrix.toml.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}
