//! The Chocolatey channel at plan time: its line in the registry and the
//! targets a Chocolatey package can ship.

use std::path::PathBuf;

use serde::Serialize;

use super::{ChocoOptions, ChocolateyConfig};
use crate::package::archive::Format;
use crate::packager::registry::{ChannelKind, Packager, PlanInput};
use crate::target::Platform;

pub const PACKAGER: Packager = Packager {
    kind: ChannelKind::Chocolatey,
    name: "chocolatey",
    title: "Chocolatey",
    dir: "chocolatey",
    oses: &["windows"],
    slot,
    format_problem,
    one_format: true,
    format_hint: "zip",
    universal: false,
    needs_url: true,
    cache_tools: None,
};

/// Its install helpers know a 32-bit URL and a 64-bit one, so
/// windows/386 and windows/amd64 only (on ARM64 machines Chocolatey
/// installs the 32-bit download, so an arm64 build has no slot).
fn slot(p: &Platform) -> Option<&'static str> {
    match (p.os, p.arch) {
        ("windows", "386") => Some("the 32-bit download"),
        ("windows", "amd64") => Some("the 64-bit download"),
        _ => None,
    }
}

fn format_problem(format: Format) -> Option<&'static str> {
    if super::installs(format) {
        None
    } else {
        Some("Chocolatey's install helpers unpack zip only (or take a bare binary)")
    }
}

/// A Chocolatey channel, planned: the package's settings, its user
/// templates and the files it writes under dist/chocolatey/.
#[derive(Debug, Clone, Serialize)]
pub struct ChocolateyStep {
    pub options: ChocoOptions,
    /// The user's install and uninstall script templates, if any.
    pub install_template: Option<PathBuf>,
    pub uninstall_template: Option<PathBuf>,
    /// `chocolatey/<id>.nuspec`.
    pub nuspec: String,
    /// `chocolatey/tools/chocolateyinstall.ps1`, and the uninstall script
    /// beside it when one is rendered.
    pub install: String,
    pub uninstall: String,
    /// Where the .nupkg goes under dist/, if it is built.
    pub package: Option<String>,
}

pub fn plan(cx: &PlanInput, c: &ChocolateyConfig) -> ChocolateyStep {
    let dir = PACKAGER.dir;
    let id = cx
        .name
        .map(str::to_string)
        .unwrap_or_else(|| super::default_id(cx.project));
    let options = ChocoOptions {
        channel: cx.channel.to_string(),
        id,
        title: None,
        authors: c.authors.clone().unwrap_or_else(|| cx.project.to_string()),
        owners: c.owners.clone(),
        tags: c.tags.clone().unwrap_or_default(),
        project_url: (!cx.homepage.is_empty()).then(|| cx.homepage.to_string()),
        license_url: c.license_url.clone(),
        package_source_url: c.package_source_url.clone(),
        project_source_url: c.project_source_url.clone(),
        docs_url: c.docs_url.clone(),
        bug_tracker_url: c.bug_tracker_url.clone(),
        summary: c.summary.clone(),
        release_notes: c.release_notes.clone(),
        icon_url: c.icon_url.clone(),
    };
    ChocolateyStep {
        install_template: c.install_template.as_deref().map(cx.path),
        uninstall_template: c.uninstall_template.as_deref().map(cx.path),
        nuspec: format!("{dir}/{}.nuspec", options.id),
        install: format!("{dir}/tools/chocolateyinstall.ps1"),
        uninstall: format!("{dir}/tools/chocolateyuninstall.ps1"),
        package: c.package.then(|| dir.to_string()),
        options,
    }
}
