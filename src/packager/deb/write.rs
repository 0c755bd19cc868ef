//! Writing a deb channel: one .deb per Linux package, each built by a
//! package job of its own; the channel has no file of its own.

use super::DebStep;
use crate::package::manifest::{Artifact, ArtifactKind};
use crate::packager::PublishError;
use crate::packager::input::{ChannelInput, Package, Release};
use crate::packager::out::Out;

/// Every .deb is built by its target's package job.
pub fn per_target(_: &DebStep) -> bool {
    true
}

/// The channel's own files: none, its packages are the package jobs'.
pub fn write(_: &Out, _: &ChannelInput, _: &DebStep) -> Result<Vec<Artifact>, PublishError> {
    Ok(Vec::new())
}

/// Where in dist/ `package`'s .deb goes: `deb/<file name>`.
pub fn package_file(
    release: &Release,
    package: &Package,
    step: &DebStep,
) -> Result<String, PublishError> {
    let file = super::build::file_name(&step.0, release, package)?;
    Ok(format!("{}/{file}", step.0.dir))
}

/// Builds `package`'s .deb into dist/.
pub fn write_package(
    out: &Out,
    release: &Release,
    package: &Package,
    step: &DebStep,
) -> Result<Artifact, PublishError> {
    let (file, bytes) = super::build_deb(&step.0, release, package)?;
    let rel = format!("{}/{file}", step.0.dir);
    out.emit(&rel, &bytes, ArtifactKind::Package)
}
