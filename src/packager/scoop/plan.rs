//! The Scoop channel at plan time: its line in the registry and the
//! targets a Scoop manifest can ship.

use serde::Serialize;

use super::{ScoopConfig, ScoopOptions};
use crate::packager::registry::{At, ChannelKind, Packager, PlanInput, Problem};
use crate::packager::tap::CommitStep;
use crate::target::Platform;

pub const PACKAGER: Packager = Packager {
    kind: ChannelKind::Scoop,
    name: "scoop",
    title: "Scoop",
    dir: "scoop",
    oses: &["windows"],
    slot,
    format_problem: |_| None,
    one_format: false,
    format_hint: "tar.gz",
    universal: false,
    needs_url: true,
    cache_tools: None,
};

/// Windows packages keyed `64bit`, `32bit` and `arm64`.
fn slot(p: &Platform) -> Option<&'static str> {
    match (p.os, p.arch) {
        ("windows", "amd64") => Some("the 64bit architecture"),
        ("windows", "386") => Some("the 32bit architecture"),
        ("windows", "arm64") => Some("the arm64 architecture"),
        _ => None,
    }
}

/// A Scoop channel, planned: the manifest's settings and file.
#[derive(Debug, Clone, Serialize)]
pub struct ScoopStep {
    pub options: ScoopOptions,
    /// The manifest under dist/: `scoop/<name>.json`.
    pub file: String,
    /// The bucket `matrix publish` commits it to (`bucket`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitStep>,
}

pub fn plan(cx: &PlanInput, c: &ScoopConfig) -> ScoopStep {
    ScoopStep {
        options: ScoopOptions {
            channel: cx.channel.to_string(),
            bin: c.bin.clone(),
            checkver: c.checkver.clone(),
        },
        file: format!("{}/{}.json", PACKAGER.dir, cx.package()),
        commit: c.bucket.as_ref().map(|t| t.step("bucket/{{ name }}.json")),
    }
}

/// Scoop's schema requires a license; the manifest would fail the
/// bucket's checks after every build had run.
pub fn check(cx: &PlanInput, _: &ScoopConfig) -> Result<(), Problem> {
    if cx.license.trim().is_empty() {
        return Err(Problem {
            at: At::Project(None),
            message: format!(
                "channel {}: a Scoop manifest needs a license, and [project] has none",
                cx.channel
            ),
            help: Some(
                "set [project] license to an SPDX expression, e.g. license = \"MIT\"".into(),
            ),
        });
    }
    Ok(())
}

/// Autoupdate URLs need a way to find a new version.
pub fn check_urls(cx: &PlanInput, c: &ScoopConfig, urls: &[&str]) -> Result<(), Problem> {
    if c.checkver.is_none() && super::lacks_checkver(cx.homepage, cx.version, urls) {
        return Err(Problem {
            at: At::Channel(None),
            message: format!(
                "channel {}: the Scoop manifest would have autoupdate URLs but no way to find a new version (no checkver, no homepage, not GitHub release downloads)",
                cx.channel
            ),
            help: Some("set [project] homepage to a page that links the archives, or `checkver` on the channel (a regex with the version as its first group)".into()),
        });
    }
    Ok(())
}
