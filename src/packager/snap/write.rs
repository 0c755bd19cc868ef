//! Writing a Snapcraft channel: snapcraft.yaml, then one .snap per
//! architecture, packed in parallel (see `build`).

use super::{SnapApp, SnapStep};
use crate::package::manifest::{Artifact, ArtifactKind};
use crate::packager::PublishError;
use crate::packager::input::ChannelInput;
use crate::packager::out::Out;

pub fn write(
    out: &Out,
    input: &ChannelInput,
    step: &SnapStep,
) -> Result<Vec<Artifact>, PublishError> {
    let mut opts = step.options.clone();
    opts.apps = vec![SnapApp {
        name: opts.name.clone(),
        command: format!("bin/{}", input.packages[0].binary),
        plugs: step.plugs.clone(),
    }];
    let text = super::render_snapcraft(input, &opts, out.template.as_deref())?;
    let mut written = vec![out.emit(&step.file, text.as_bytes(), ArtifactKind::Channel)?];
    if let Some(dir) = &step.package {
        let out_dir = out.dist.join(dir);
        for built in super::build::build_snaps(input, &opts, &out_dir)? {
            let rel = out.relative(&built);
            written.push(out.record_file(&rel, ArtifactKind::Package)?);
        }
    }
    Ok(written)
}
