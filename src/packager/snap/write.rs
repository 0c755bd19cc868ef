//! Writing a Snapcraft channel: snapcraft.yaml is the channel's own file;
//! each .snap (with `package`, the default) is packed by its target's
//! package job (see `build`).

use super::{SnapApp, SnapOptions, SnapStep, channel_error, validate};
use crate::package::manifest::{Artifact, ArtifactKind};
use crate::packager::PublishError;
use crate::packager::input::{ChannelInput, Package, Release};
use crate::packager::out::Out;

/// With `package`, every .snap is packed by its target's package job.
pub fn per_target(step: &SnapStep) -> bool {
    step.package.is_some()
}

/// The snap's settings, its one app running `bin/<binary>`.
fn options(step: &SnapStep, binary: &str) -> SnapOptions {
    let mut opts = step.options.clone();
    opts.apps = vec![SnapApp {
        name: opts.name.clone(),
        command: format!("bin/{binary}"),
        plugs: step.plugs.clone(),
    }];
    opts
}

/// snapcraft.yaml, whose app runs the first package's binary: with
/// `package`, every snap must ship that binary too (one snap, one app).
pub fn write(
    out: &Out,
    input: &ChannelInput,
    step: &SnapStep,
) -> Result<Vec<Artifact>, PublishError> {
    let first = input.packages.first().map_or("", |p| p.binary.as_str());
    let opts = options(step, first);
    let text = super::render_snapcraft(input, &opts, out.template.as_deref())?;
    if step.package.is_some() {
        for p in &input.packages {
            validate::commands_ship(&opts, &[p.binary.as_str()].into())?;
        }
    }
    Ok(vec![out.emit(
        &step.file,
        text.as_bytes(),
        ArtifactKind::Channel,
    )?])
}

/// The folder under dist/ the snaps go to, or why `package` gets none.
fn package_dir<'a>(step: &'a SnapStep, package: &Package) -> Result<&'a str, PublishError> {
    step.package.as_deref().ok_or_else(|| {
        channel_error(
            &step.options.channel,
            format!("package = false: no snap is packed for {}", package.target),
            None,
        )
    })
}

/// Where in dist/ `package`'s .snap goes: `snap/<file name>`.
pub fn package_file(
    release: &Release,
    package: &Package,
    step: &SnapStep,
) -> Result<String, PublishError> {
    let dir = package_dir(step, package)?;
    let file = super::build::file_name(&step.options, release, package)?;
    Ok(format!("{dir}/{file}"))
}

/// Packs `package`'s .snap into dist/ with mksquashfs on `out.threads`
/// threads.
pub fn write_package(
    out: &Out,
    release: &Release,
    package: &Package,
    step: &SnapStep,
) -> Result<Artifact, PublishError> {
    let dir = package_dir(step, package)?;
    let opts = options(step, &package.binary);
    let built = super::build::build_with(
        super::build::MKSQUASHFS,
        release,
        &opts,
        package,
        &out.dist.join(dir),
        out.threads,
    )?;
    out.record_file(&out.relative(&built), ArtifactKind::Package)
}
