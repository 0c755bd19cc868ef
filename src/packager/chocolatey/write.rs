//! Writing a Chocolatey channel: the .nuspec, the install (and uninstall)
//! script, then the .nupkg.

use super::{ChocoTemplates, ChocolateyStep};
use crate::package::manifest::{Artifact, ArtifactKind};
use crate::packager::PublishError;
use crate::packager::input::ChannelInput;
use crate::packager::out::Out;

pub fn write(
    out: &Out,
    input: &ChannelInput,
    step: &ChocolateyStep,
) -> Result<Vec<Artifact>, PublishError> {
    let install = out.read_template(&step.install_template)?;
    let uninstall = out.read_template(&step.uninstall_template)?;
    let opts = &step.options;
    let files = super::render(
        input,
        opts,
        ChocoTemplates {
            nuspec: out.template.as_deref(),
            install: install.as_deref(),
            uninstall: uninstall.as_deref(),
        },
    )?;
    let mut written = vec![
        out.emit(&step.nuspec, files.nuspec.as_bytes(), ArtifactKind::Channel)?,
        out.emit(
            &step.install,
            files.install.as_bytes(),
            ArtifactKind::Channel,
        )?,
    ];
    if let Some(u) = &files.uninstall {
        written.push(out.emit(&step.uninstall, u.as_bytes(), ArtifactKind::Channel)?);
    }
    if let Some(dir) = &step.package {
        let rel = format!("{dir}/{}", super::nupkg_file_name(opts, input)?);
        super::write_nupkg(&files, opts, input, &out.dist.join(&rel))?;
        written.push(out.record_file(&rel, ArtifactKind::Package)?);
    }
    Ok(written)
}
