//! Writing an install.sh channel: the script.

use super::ShellStep;
use crate::package::manifest::{Artifact, ArtifactKind};
use crate::packager::PublishError;
use crate::packager::input::ChannelInput;
use crate::packager::out::Out;

pub fn write(
    out: &Out,
    input: &ChannelInput,
    step: &ShellStep,
) -> Result<Vec<Artifact>, PublishError> {
    let text = super::render(input, &step.options, out.template.as_deref())?;
    Ok(vec![out.emit(
        &step.file,
        text.as_bytes(),
        ArtifactKind::Channel,
    )?])
}
