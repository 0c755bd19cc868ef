//! The Snapcraft channel at plan time: its line in the registry and the
//! targets a snap can ship.

use serde::Serialize;

use super::{Confinement, Grade, SnapConfig, SnapOptions};
use crate::package::archive::Format;
use crate::packager::registry::{ChannelKind, Packager, PlanInput};
use crate::target::Platform;

pub const PACKAGER: Packager = Packager {
    kind: ChannelKind::Snapcraft,
    name: "snapcraft",
    title: "Snapcraft",
    dir: "snap",
    oses: &["linux"],
    slot,
    format_problem,
    one_format: false,
    format_hint: "tar.gz",
    universal: false,
    needs_url: true,
    cache_tools: Some(&["mksquashfs"]),
};

/// Linux packages with a snap architecture, one per architecture.
fn slot(p: &Platform) -> Option<&'static str> {
    if p.os == "linux" { p.snap_arch } else { None }
}

fn format_problem(format: Format) -> Option<&'static str> {
    match format {
        Format::TarZst => Some("snapcraft cannot unpack tar.zst"),
        _ => None,
    }
}

/// A Snapcraft channel, planned: the snap's settings (its app's command
/// is the shipped binary, known when it is written), its files.
#[derive(Debug, Clone, Serialize)]
pub struct SnapStep {
    /// Every setting but `apps`.
    pub options: SnapOptions,
    /// Interfaces the app plugs.
    pub plugs: Vec<String>,
    /// dist/snap/snapcraft.yaml.
    pub file: String,
    /// Where the .snap files go under dist/, if they are built.
    pub package: Option<String>,
}

pub fn plan(cx: &PlanInput, c: &SnapConfig) -> SnapStep {
    let name = cx.package().to_lowercase();
    SnapStep {
        options: SnapOptions {
            channel: cx.channel.to_string(),
            name,
            summary: c
                .summary
                .clone()
                .unwrap_or_else(|| cx.description.to_string()),
            description: cx.description.to_string(),
            grade: c.grade.unwrap_or(if cx.stable {
                Grade::Stable
            } else {
                Grade::Devel
            }),
            confinement: c.confinement.unwrap_or(Confinement::Strict),
            base: c.base.clone().unwrap_or_else(|| "core24".into()),
            apps: Vec::new(),
        },
        plugs: c.plugs.clone().unwrap_or_default(),
        file: format!("{}/snapcraft.yaml", PACKAGER.dir),
        package: c.package.then(|| PACKAGER.dir.to_string()),
    }
}
