//! The rpm channel at plan time: its line in the registry, the Linux
//! targets it ships (one package per RPM architecture) and its checks.

use serde::Serialize;

use super::RpmConfig;
use crate::packager::deb::common::{self, LinuxStep};
use crate::packager::registry::{At, ChannelKind, Packager, PlanInput, Problem};

pub const PACKAGER: Packager = Packager {
    kind: ChannelKind::Rpm,
    name: "rpm",
    title: "RPM",
    dir: "rpm",
    oses: &["linux"],
    slot: common::rpm_arch,
    format_problem: |_| None,
    one_format: false,
    format_hint: "tar.gz",
    universal: false,
    needs_url: false,
    cache_tools: Some(&[]),
};

/// An rpm channel, planned: the settings it shares with deb, and its
/// release.
#[derive(Debug, Clone, Serialize)]
pub struct RpmStep {
    pub common: LinuxStep,
    pub release: String,
}

pub fn plan(cx: &PlanInput, c: &RpmConfig) -> RpmStep {
    RpmStep {
        common: common::plan(cx, &c.shared(), PACKAGER.dir, ""),
        release: c.release.clone().unwrap_or_else(|| "1".into()),
    }
}

pub fn check(cx: &PlanInput, c: &RpmConfig) -> Result<(), Problem> {
    common::check(cx, &c.shared(), "rpm")?;
    if let Some(release) = &c.release
        && !is_release(release)
    {
        return Err(Problem {
            at: At::Channel(Some("release")),
            message: format!(
                "channel {}: release {release:?} is not an RPM release",
                cx.channel
            ),
            help: Some(
                "a letter or digit, then letters, digits, `.`, `_`, `+`, `~` (e.g. \"1\")".into(),
            ),
        });
    }
    Ok(())
}

/// RPM's release rule: no `-`, no spaces.
pub(super) fn is_release(release: &str) -> bool {
    release.len() <= 64
        && release.starts_with(|c: char| c.is_ascii_alphanumeric())
        && release
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '~'))
}
