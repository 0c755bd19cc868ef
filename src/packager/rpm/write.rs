//! Writing an rpm channel: one .rpm per Linux package.

use super::RpmStep;
use crate::package::manifest::{Artifact, ArtifactKind};
use crate::packager::PublishError;
use crate::packager::input::ChannelInput;
use crate::packager::out::Out;

pub fn write(
    out: &Out,
    input: &ChannelInput,
    step: &RpmStep,
) -> Result<Vec<Artifact>, PublishError> {
    let mut written = Vec::with_capacity(input.packages.len());
    for package in &input.packages {
        let (file, bytes) = super::build_rpm(step, &input.release, package)?;
        let rel = format!("{}/{file}", step.common.dir);
        written.push(out.emit(&rel, &bytes, ArtifactKind::Package)?);
    }
    Ok(written)
}
