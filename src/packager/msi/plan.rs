//! The msi channel at plan time: its line in the registry, the Windows
//! targets it ships (one package per MSI architecture) and its checks.

use serde::Serialize;

use super::MsiConfig;
use crate::packager::registry::{At, ChannelKind, Packager, PlanInput, Problem};
use crate::target::Platform;

pub const PACKAGER: Packager = Packager {
    kind: ChannelKind::Msi,
    name: "msi",
    title: "MSI",
    dir: "msi",
    oses: &["windows"],
    slot: msi_arch,
    format_problem: |_| None,
    one_format: false,
    format_hint: "zip",
    universal: false,
    needs_url: false,
    cache_tools: Some(&["wixl", "msibuild"]),
};

/// The MSI architecture (wixl's `-a`) of a platform. wixl 0.101 builds
/// x86 and x64 only: it refuses `-a arm64` ("arch of type 'arm64' is not
/// supported"), so windows/arm64 is no slot and the plan refuses it.
pub fn msi_arch(p: &Platform) -> Option<&'static str> {
    match (p.os, p.arch) {
        ("windows", "amd64") => Some("x64"),
        ("windows", "386") => Some("x86"),
        _ => None,
    }
}

/// An msi channel, planned.
#[derive(Debug, Clone, Serialize)]
pub struct MsiStep {
    pub channel: String,
    pub dir: String,
    pub name: String,
    pub manufacturer: String,
    pub description: String,
    /// What the UpgradeCodes are derived from: `upgrade-code`, else the
    /// package name.
    pub upgrade_seed: String,
    /// The MSI ProductVersion (`major.minor.build`), pre-release dropped.
    pub version: String,
}

pub fn plan(cx: &PlanInput, c: &MsiConfig) -> MsiStep {
    MsiStep {
        channel: cx.channel.to_string(),
        dir: PACKAGER.dir.to_string(),
        name: cx.package().to_string(),
        manufacturer: c.manufacturer.clone().unwrap_or_default(),
        description: cx.description.to_string(),
        upgrade_seed: match &c.upgrade_code {
            Some(code) => code
                .trim_matches(|c| c == '{' || c == '}')
                .to_ascii_uppercase(),
            None => cx.package().to_string(),
        },
        version: super::msi_version(cx.version).unwrap_or_default(),
    }
}

fn one_line(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

pub fn check(cx: &PlanInput, c: &MsiConfig) -> Result<(), Problem> {
    let ch = cx.channel;
    match &c.manufacturer {
        None => {
            return Err(Problem {
                at: At::Channel(None),
                message: format!("channel {ch}: an MSI package needs a manufacturer"),
                help: Some("set manufacturer = \"Your Name or Company\"".into()),
            });
        }
        Some(m) if !one_line(m, 128) => {
            return Err(Problem {
                at: At::Channel(Some("manufacturer")),
                message: format!(
                    "channel {ch}: manufacturer {m:?} is not one line of at most 128 characters"
                ),
                help: Some("write manufacturer = \"Your Name or Company\"".into()),
            });
        }
        _ => {}
    }
    if let Some(code) = &c.upgrade_code
        && !super::is_guid(code)
    {
        return Err(Problem {
            at: At::Channel(Some("upgrade-code")),
            message: format!("channel {ch}: upgrade-code {code:?} is not a GUID"),
            help: Some(
                "write upgrade-code = \"XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX\" (hex digits), or leave it out".into(),
            ),
        });
    }
    if !cx.description.is_empty() && !one_line(cx.description, 255) {
        return Err(Problem {
            at: At::Project(Some("description")),
            message: format!(
                "channel {ch}: an MSI package's description must be one line of at most 255 characters (or empty), not {:?}",
                cx.description
            ),
            help: None,
        });
    }
    if let Err(why) = super::msi_version(cx.version) {
        return Err(Problem {
            at: At::Channel(None),
            message: format!("channel {ch}: the version cannot be an MSI ProductVersion: {why}"),
            help: Some(
                "an MSI version is major.minor.patch with major and minor below 256 and patch below 65536 (a pre-release part is dropped)".into(),
            ),
        });
    }
    Ok(())
}
