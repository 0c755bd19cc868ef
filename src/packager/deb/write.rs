//! Writing a deb channel: one .deb per Linux package.

use super::DebStep;
use crate::package::manifest::{Artifact, ArtifactKind};
use crate::packager::PublishError;
use crate::packager::input::ChannelInput;
use crate::packager::out::Out;

pub fn write(
    out: &Out,
    input: &ChannelInput,
    step: &DebStep,
) -> Result<Vec<Artifact>, PublishError> {
    let mut written = Vec::with_capacity(input.packages.len());
    for package in &input.packages {
        let (file, bytes) = super::build_deb(&step.0, &input.release, package)?;
        let rel = format!("{}/{file}", step.0.dir);
        written.push(out.emit(&rel, &bytes, ArtifactKind::Package)?);
    }
    Ok(written)
}
