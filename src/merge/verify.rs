//! `matrix verify DIR`: checks a release folder on its own, with nothing
//! but its manifest.json: every target has its archive, every file has
//! the size and digest recorded, the checksums file agrees with the
//! records, and every executable inside an archive is a binary for its
//! target's OS, format and CPU.
//!
//! Part of `merge`; reports every problem it finds rather than the first.

use std::collections::BTreeMap;
use std::path::Path;

use super::{MergeError, algorithm_of, hash_file};
use crate::package::manifest::{ArtifactKind, Manifest};
use crate::verify::Expected;

#[derive(Debug, Default)]
pub struct Report {
    /// Files whose size and digest were checked.
    pub files: usize,
    /// Executables inside archives checked against their target.
    pub binaries: usize,
    pub problems: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub fn release(dir: &Path) -> Result<Report, MergeError> {
    release_with(dir, false)
}

/// [`release`], optionally accepting missing targets (`matrix verify
/// --allow-partial`: a release partial on purpose).
pub fn release_with(dir: &Path, allow_partial: bool) -> Result<Report, MergeError> {
    let path = dir.join(crate::plan::MANIFEST);
    let manifest = Manifest::read(&path).map_err(|e| MergeError::Read {
        path: path.clone(),
        what: e.to_string(),
    })?;
    let mut report = Report::default();
    if let Some(shard) = &manifest.shard {
        report.problems.push(format!(
            "this is shard {}/{}, not a release: merge the shards with `matrix merge`",
            shard.index, shard.total
        ));
    }
    if !allow_partial {
        for t in &manifest.missing_targets {
            report.problems.push(format!(
                "{t}: missing (a partial release; pass --allow-partial if that is on purpose)"
            ));
        }
    }
    // Completeness: every target has its archive.
    for t in &manifest.targets {
        let has = manifest.artifacts.iter().any(|a| {
            a.target.as_deref() == Some(t.id.as_str())
                && matches!(a.kind, ArtifactKind::Archive | ArtifactKind::Binary)
        });
        if !has && !manifest.missing_targets.contains(&t.id) {
            report
                .problems
                .push(format!("{}: no archive in the manifest", t.id));
        }
    }
    // Every recorded file, byte for byte.
    for a in &manifest.artifacts {
        let file = dir.join(&a.path);
        match std::fs::symlink_metadata(&file) {
            Err(_) => {
                report.problems.push(format!("{}: missing", a.path));
                continue;
            }
            Ok(m) if !m.file_type().is_file() => {
                report
                    .problems
                    .push(format!("{}: not a regular file", a.path));
                continue;
            }
            Ok(m) if m.len() != a.size => {
                report.problems.push(format!(
                    "{}: {} bytes, {} recorded",
                    a.path,
                    m.len(),
                    a.size
                ));
                continue;
            }
            Ok(_) => {}
        }
        let actual = hash_file(&file, algorithm_of(&a.digest))?;
        report.files += 1;
        if actual != a.digest {
            report
                .problems
                .push(format!("{}: {actual}, {} recorded", a.path, a.digest));
        }
    }
    check_sums_file(dir, &manifest, &mut report);
    check_binaries(dir, &manifest, &mut report)?;
    Ok(report)
}

/// The checksums file must list exactly the recorded files, with the
/// recorded digests.
fn check_sums_file(dir: &Path, manifest: &Manifest, report: &mut Report) {
    let name = &manifest.checksum.file;
    let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
        report
            .problems
            .push(format!("{name}: the checksums file is missing"));
        return;
    };
    let prefix = format!("{}:", manifest.checksum.algorithm.name());
    let listed: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.split_once("  ").map(|(h, f)| (f, h)))
        .collect();
    for a in &manifest.artifacts {
        if a.kind == ArtifactKind::Checksums {
            continue;
        }
        let want = a.digest.strip_prefix(&prefix).unwrap_or(&a.digest);
        match listed.get(a.path.as_str()) {
            Some(h) if *h == want => {}
            Some(h) => report.problems.push(format!(
                "{name}: {} is listed as {h}, recorded as {want}",
                a.path
            )),
            None => report
                .problems
                .push(format!("{name}: {} is not listed", a.path)),
        }
    }
    for file in listed.keys() {
        if !manifest.artifacts.iter().any(|a| a.path == *file) {
            report.problems.push(format!(
                "{name}: lists {file}, which the manifest does not record"
            ));
        }
    }
}

/// Every executable inside a target's archive must be for that target.
fn check_binaries(dir: &Path, manifest: &Manifest, report: &mut Report) -> Result<(), MergeError> {
    let tmp = tempfile::tempdir().map_err(|e| MergeError::Read {
        path: std::env::temp_dir(),
        what: e.to_string(),
    })?;
    for a in &manifest.artifacts {
        let (Some(id), Some(format)) = (&a.target, a.format) else {
            continue;
        };
        let Some(target) = manifest.targets.iter().find(|t| &t.id == id) else {
            report.problems.push(format!(
                "{}: its target {id} is not in the manifest",
                a.path
            ));
            continue;
        };
        let (Some(os), Some(arch)) = (target.values.get("os"), target.values.get("arch")) else {
            continue;
        };
        let Some(p) =
            crate::target::platform(os, arch, target.values.get("variant").map(String::as_str))
        else {
            continue;
        };
        let file = dir.join(&a.path);
        let members = match crate::package::extract::members(&file, format, |_, exe| exe) {
            Ok(m) => m,
            Err(e) => {
                report
                    .problems
                    .push(format!("{}: cannot read: {e}", a.path));
                continue;
            }
        };
        let mut binaries = 0;
        for m in members {
            let out = tmp.path().join("binary");
            if let Err(e) = std::fs::write(&out, &m.bytes) {
                report.problems.push(format!("{}: {e}", a.path));
                continue;
            }
            let checked = crate::verify::inspect(&out).and_then(|found| {
                crate::verify::check(
                    &found,
                    &Expected {
                        target: id,
                        os: p.os,
                        format: p.format,
                        machine: p.machine,
                        bits: p.bits,
                        endian: p.endian,
                    },
                )
            });
            match checked {
                // An executable script (an installer, say) is not a binary.
                Err(crate::verify::VerifyError::NotAnExecutable { .. }) => continue,
                Err(e) => report.problems.push(format!("{}: {}: {e}", a.path, m.path)),
                Ok(()) => {}
            }
            binaries += 1;
        }
        if binaries == 0 {
            report
                .problems
                .push(format!("{}: holds no executable binary", a.path));
        }
        report.binaries += binaries;
    }
    Ok(())
}
