//! Writing an rpm channel: one .rpm per Linux package, each built by a
//! package job of its own; the channel has no file of its own.

use super::RpmStep;
use crate::package::manifest::{Artifact, ArtifactKind};
use crate::packager::PublishError;
use crate::packager::input::{ChannelInput, Package, Release};
use crate::packager::out::Out;

/// Every .rpm is built by its target's package job.
pub fn per_target(_: &RpmStep) -> bool {
    true
}

/// The channel's own files: none, its packages are the package jobs'.
pub fn write(_: &Out, _: &ChannelInput, _: &RpmStep) -> Result<Vec<Artifact>, PublishError> {
    Ok(Vec::new())
}

/// Where in dist/ `package`'s .rpm goes: `rpm/<file name>`.
pub fn package_file(
    release: &Release,
    package: &Package,
    step: &RpmStep,
) -> Result<String, PublishError> {
    let file = super::build::file_name(step, release, package)?;
    Ok(format!("{}/{file}", step.common.dir))
}

/// Builds `package`'s .rpm into dist/.
pub fn write_package(
    out: &Out,
    release: &Release,
    package: &Package,
    step: &RpmStep,
) -> Result<Artifact, PublishError> {
    let (file, bytes) = super::build_rpm(step, release, package)?;
    let rel = format!("{}/{file}", step.common.dir);
    out.emit(&rel, &bytes, ArtifactKind::Package)
}
