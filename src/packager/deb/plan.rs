//! The deb channel at plan time: its line in the registry, the Linux
//! targets it ships (one package per Debian architecture) and its checks.

use serde::Serialize;

use super::common::{self, LinuxStep};
use super::{AptConfig, DebConfig};
use crate::packager::registry::{At, ChannelKind, Packager, PlanInput, Problem};

pub const PACKAGER: Packager = Packager {
    kind: ChannelKind::Deb,
    name: "deb",
    title: "Debian",
    dir: "deb",
    oses: &["linux"],
    slot: common::deb_arch,
    format_problem: |_| None,
    one_format: false,
    format_hint: "tar.gz",
    universal: false,
    needs_url: false,
    cache_tools: Some(&[]),
};

/// A deb channel, planned.
#[derive(Debug, Clone, Serialize)]
pub struct DebStep(pub LinuxStep);

pub fn plan(cx: &PlanInput, c: &DebConfig) -> DebStep {
    DebStep(common::plan(cx, &c.shared(), PACKAGER.dir, "utils"))
}

pub fn check(cx: &PlanInput, c: &DebConfig) -> Result<(), Problem> {
    common::check(cx, &c.shared(), "deb")?;
    match c.apt.as_ref().and_then(AptConfig::problem) {
        Some((key, value, allowed)) => Err(Problem {
            at: At::ChannelKey("apt", key),
            message: format!("channel {}: {value:?} is not an apt {key}", cx.channel),
            help: Some(format!("apt {key}: {allowed}")),
        }),
        None => Ok(()),
    }
}
