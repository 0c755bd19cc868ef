//! Writing an msi channel: one .msi per Windows package, each built by a
//! package job of its own (by wixl, finished by msibuild in a scratch
//! folder, then emitted into dist/); the channel has no file of its own.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::{MsiStep, Wxs, derived_uuid, render_wxs};
use crate::package::capped;
use crate::package::manifest::{Artifact, ArtifactKind};
use crate::packager::PublishError;
use crate::packager::input::{ChannelInput, Package, Release};
use crate::packager::out::Out;
use crate::process::{Stream, tool};

/// Every .msi is built by its target's package job.
pub fn per_target(_: &MsiStep) -> bool {
    true
}

/// The channel's own files: none, its packages are the package jobs'.
pub fn write(_: &Out, _: &ChannelInput, _: &MsiStep) -> Result<Vec<Artifact>, PublishError> {
    Ok(Vec::new())
}

/// Builds `package`'s .msi into dist/.
pub fn write_package(
    out: &Out,
    release: &Release,
    package: &Package,
    step: &MsiStep,
) -> Result<Artifact, PublishError> {
    let (file, bytes) = build_msi(step, release, package)?;
    let rel = format!("{}/{file}", step.dir);
    out.emit(&rel, &bytes, ArtifactKind::Package)
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
    let binary = capped::read(&package.binary_file, capped::MAX_BINARY).map_err(|source| {
        PublishError::Io {
            channel: step.channel.clone(),
            path: package.binary_file.clone(),
            source,
        }
    })?;
    let upgrade = derived_uuid(&["matrix msi upgrade", &step.upgrade_seed, arch]);
    // The full release version, not the ProductVersion (which drops a
    // pre-release): 1.2.3-rc.1 and 1.2.3 are two products.
    let product = derived_uuid(&["matrix msi product", &upgrade, &release.version]);
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
    msibuild(step, &msi, arch, &package_code)?;
    let bytes = capped::read(&msi, capped::MAX_BINARY).map_err(io(&msi))?;
    // wixl stamps the summary's created and last-saved times with the
    // clock (it ignores SOURCE_DATE_EPOCH): the release's time instead.
    let bytes = summary_times(bytes, release.timestamp).map_err(|why| {
        invalid(format!(
            "the package wixl wrote has no summary information matrix can date: {why}"
        ))
    })?;
    Ok((file_name(step, release, arch), bytes))
}

/// The .msi's file name for MSI architecture `arch`.
fn file_name(step: &MsiStep, release: &Release, arch: &str) -> String {
    format!("{}-{}-{arch}.msi", step.name, release.version)
}

/// Where in dist/ `package`'s .msi goes: `msi/<name>-<version>-<arch>.msi`,
/// or why `package` makes no .msi.
pub fn package_file(
    release: &Release,
    package: &Package,
    step: &MsiStep,
) -> Result<String, PublishError> {
    let arch = super::plan::msi_arch(package.platform).ok_or_else(|| PublishError::Invalid {
        channel: step.channel.clone(),
        message: format!("{}: not an MSI architecture", package.target),
        help: None,
    })?;
    Ok(format!("{}/{}", step.dir, file_name(step, release, arch)))
}

/// Finishes wixl's package with msibuild: the Environment table and its
/// actions, then the summary information with the derived PackageCode.
fn msibuild(
    step: &MsiStep,
    msi: &Path,
    arch: &str,
    package_code: &str,
) -> Result<(), PublishError> {
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
    Ok(())
}

/// The summary information stream of a Windows Installer file.
const SUMMARY: &str = "\u{5}SummaryInformation";

/// `msi` with the FILETIME values of its summary information's created
/// (PID 12) and last-saved (PID 13) properties set to `timestamp` (Unix
/// seconds), written in place: same length, nothing else touched.
pub(crate) fn summary_times(msi: Vec<u8>, timestamp: i64) -> Result<Vec<u8>, String> {
    use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
    let mut file = cfb::CompoundFile::open(std::io::Cursor::new(msi)).map_err(|e| e.to_string())?;
    let mut stream = file.open_stream(SUMMARY).map_err(|e| e.to_string())?;
    let mut data = Vec::new();
    std::io::Read::by_ref(&mut stream)
        .take(1 << 20)
        .read_to_end(&mut data)
        .map_err(|e| e.to_string())?;
    // 100 ns intervals since 1601-01-01.
    let filetime = (timestamp.max(0) as u64 + 11_644_473_600) * 10_000_000;
    let patched = set_filetimes(&mut data, &[12, 13], filetime)?;
    if patched == 0 {
        return Err("no created or last-saved time in it".into());
    }
    stream.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    stream.write_all(&data).map_err(|e| e.to_string())?;
    stream.flush().map_err(|e| e.to_string())?;
    drop(stream);
    file.flush().map_err(|e| e.to_string())?;
    Ok(file.into_inner().into_inner())
}

/// Sets the VT_FILETIME properties `pids` of the first section of the
/// property set stream `data` (MS-OLEPS) to `filetime`; how many were
/// set. Every offset is checked against the stream's length.
fn set_filetimes(data: &mut [u8], pids: &[u32], filetime: u64) -> Result<usize, String> {
    const VT_FILETIME: u32 = 0x40;
    let u32_at = |d: &[u8], at: usize| -> Result<u32, String> {
        d.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| format!("truncated at byte {at}"))
    };
    // Header: byte order (2), version (2), system id (4), CLSID (16),
    // the section count (4), then each section's FMTID (16) and offset (4).
    if data.get(0..2) != Some(&[0xfe, 0xff]) {
        return Err("not a property set stream".into());
    }
    let section = u32_at(data, 28 + 16)? as usize;
    let count = u32_at(data, section + 4)? as usize;
    if count > 1000 {
        return Err(format!("{count} properties"));
    }
    let mut set = 0;
    for i in 0..count {
        let entry = section + 8 + i * 8;
        let pid = u32_at(data, entry)?;
        if !pids.contains(&pid) {
            continue;
        }
        let at = section + u32_at(data, entry + 4)? as usize;
        if u32_at(data, at)? != VT_FILETIME {
            continue;
        }
        let value = data
            .get_mut(at + 4..at + 12)
            .ok_or_else(|| format!("truncated at byte {}", at + 4))?;
        value.copy_from_slice(&filetime.to_le_bytes());
        set += 1;
    }
    Ok(set)
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
