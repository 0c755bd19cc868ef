//! Writing an msi channel: one .msi per Windows package, built by wixl
//! and finished by msibuild in a scratch folder, then emitted into dist/.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::{MsiStep, Wxs, derived_uuid, render_wxs};
use crate::package::manifest::{Artifact, ArtifactKind};
use crate::packager::PublishError;
use crate::packager::input::{ChannelInput, Package, Release};
use crate::packager::out::Out;
use crate::process::{Stream, tool};

pub fn write(
    out: &Out,
    input: &ChannelInput,
    step: &MsiStep,
) -> Result<Vec<Artifact>, PublishError> {
    let mut written = Vec::with_capacity(input.packages.len());
    for package in &input.packages {
        let (file, bytes) = build_msi(step, &input.release, package)?;
        let rel = format!("{}/{file}", step.dir);
        written.push(out.emit(&rel, &bytes, ArtifactKind::Package)?);
    }
    Ok(written)
}

/// One package: its file name (`<name>-<version>-<arch>.msi`) and bytes.
pub fn build_msi(
    step: &MsiStep,
    release: &Release,
    package: &Package,
) -> Result<(String, Vec<u8>), PublishError> {
    let invalid = |message: String| PublishError::Invalid {
        channel: step.channel.clone(),
        message,
        help: None,
    };
    let arch = super::plan::msi_arch(package.platform)
        .ok_or_else(|| invalid(format!("{}: not an MSI architecture", package.target)))?;
    let binary = std::fs::read(&package.binary_file).map_err(|source| PublishError::Io {
        channel: step.channel.clone(),
        path: package.binary_file.clone(),
        source,
    })?;
    let upgrade = derived_uuid(&["matrix msi upgrade", &step.upgrade_seed, arch]);
    let product = derived_uuid(&["matrix msi product", &upgrade, &step.version]);
    let component = derived_uuid(&["matrix msi component", &upgrade]);
    let digest = hex::encode(Sha256::digest(&binary));
    let package_code = derived_uuid(&["matrix msi package", &product, &digest]);

    let scratch = tempfile::tempdir().map_err(|source| PublishError::Io {
        channel: step.channel.clone(),
        path: std::env::temp_dir(),
        source,
    })?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        let channel = step.channel.clone();
        move |source| PublishError::Io {
            channel,
            path,
            source,
        }
    };
    // The binary is copied in next to the .wxs, whose folder wixl finds
    // a relative Source in (it refuses an absolute one).
    let source = scratch.path().join("payload.bin");
    std::fs::write(&source, &binary).map_err(io(&source))?;
    // The cabinet records the file's modification time (a DOS date and
    // time in its CFFILE entry): the release's, not the copy's.
    let time = std::time::UNIX_EPOCH
        + std::time::Duration::from_secs(u64::try_from(release.timestamp).unwrap_or(0));
    std::fs::File::options()
        .write(true)
        .open(&source)
        .and_then(|f| f.set_modified(time))
        .map_err(io(&source))?;
    let wxs = render_wxs(&Wxs {
        name: &step.name,
        manufacturer: &step.manufacturer,
        description: &step.description,
        version: &step.version,
        arch,
        product_code: &product,
        upgrade_code: &upgrade,
        component: &component,
        binary: &package.binary,
        source: "payload.bin",
    });
    let wxs_path = scratch.path().join("package.wxs");
    std::fs::write(&wxs_path, wxs).map_err(io(&wxs_path))?;
    let msi = scratch.path().join("package.msi");

    let wixl: Vec<String> = vec![
        "-a".into(),
        arch.into(),
        "-o".into(),
        msi.to_string_lossy().into(),
        wxs_path.to_string_lossy().into(),
    ];
    run(step, "wixl", &wixl)?;
    // msibuild takes `-s` alone (with `-q` after it, it prints its usage
    // and fails): the tables first, then the summary information.
    let mut tables: Vec<String> = vec![msi.to_string_lossy().into()];
    for q in super::ENVIRONMENT_SQL {
        tables.push("-q".into());
        tables.push(q.into());
    }
    run(step, "msibuild", &tables)?;
    let summary: Vec<String> = vec![
        msi.to_string_lossy().into(),
        "-s".into(),
        step.name.clone(),
        step.manufacturer.clone(),
        format!("{};1033", if arch == "x64" { "x64" } else { "Intel" }),
        format!("{{{package_code}}}"),
    ];
    run(step, "msibuild", &summary)?;
    let bytes = std::fs::read(&msi).map_err(io(&msi))?;
    let file = format!("{}-{}-{arch}.msi", step.name, release.version);
    Ok((file, bytes))
}

/// Runs one msitools program to its end, no shell; its output is the
/// error when it fails.
fn run(step: &MsiStep, program: &str, args: &[String]) -> Result<(), PublishError> {
    let command = std::iter::once(program.to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let tool_error = |detail: String| PublishError::Tool {
        channel: step.channel.clone(),
        command: command.clone(),
        detail,
        program: program.to_string(),
        package: if program == "wixl" {
            "wixl"
        } else {
            "msitools"
        }
        .to_string(),
    };
    let output = tool(program, args, &[], Stream::Capture, Stream::Capture).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            tool_error(format!("{program} is not installed (not found on PATH)"))
        } else {
            tool_error(e.to_string())
        }
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(tool_error(format!("{}: {}", output.status, stderr.trim())));
    }
    Ok(())
}
