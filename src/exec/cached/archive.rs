//! Archive jobs through the action cache.
//!
//! Part of `exec::cached`. An archive's inputs are its plan step (file
//! name, format, files as globs, folder, zstd level), the content of every
//! file it packs (the binary its build made and each extra file, by size
//! and sha256), the time every entry carries and the checksum algorithm;
//! its one output is its file in dist/. A hit restores that file (re-hashed
//! against the record, with the mode the job gives it) and gives the
//! record the job gives: every field but size and digest comes from the
//! plan.

use std::collections::BTreeMap;
use std::path::Path;

use super::{At, Cache, NO_CACHE, content, through};
use crate::cache::Inputs;
use crate::cache::store::{OutputFile, Record, Saving, Store};
use crate::exec::context::Context;
use crate::exec::error::JobError;
use crate::package::archive::Format;
use crate::package::checksum::Algorithm;
use crate::package::manifest::Artifact;
use crate::plan::Plan;

/// Runs archive job `job` (target `t`), through the cache when there is one.
pub(in crate::exec) async fn archive(
    ctx: &Context,
    job: usize,
    t: usize,
) -> Result<Artifact, JobError> {
    let plan = &ctx.plan;
    through(
        ctx,
        job,
        |_, at| inputs(at, t),
        |cache, record, scratch| restore(plan, t, cache, record, scratch),
        crate::exec::jobs::archive(plan, t),
        |artifact, _| {
            Ok(vec![Saving {
                base: "dist".into(),
                path: artifact.path.clone(),
                file: plan.dist.join(&artifact.path),
            }])
        },
    )
    .await
}

/// Archive `t`'s inputs, or why it is not cached.
pub(super) fn inputs(at: &At<'_>, t: usize) -> Result<Inputs, String> {
    let plan = at.plan;
    let target = &plan.targets[t];
    if target.build.no_cache {
        return Err(NO_CACHE.into());
    }
    let step = &target.archive;
    let mut i = Inputs::default();
    i.set("matrix", env!("CARGO_PKG_VERSION"));
    i.set("archive", step);
    i.set(
        "binary",
        serde_json::json!({
            "name": target.build.binary,
            "content": at.made_file(&target.build.artifact)?,
        }),
    );
    let files = match step.format {
        Format::Binary => Vec::new(),
        _ => crate::package::files::resolve(&plan.root, &step.files)
            .map_err(|e| format!("its files cannot be listed: {e}"))?,
    };
    let mut packed = BTreeMap::new();
    for e in files {
        let mode = if e.executable { "755" } else { "644" };
        packed.insert(e.dest, format!("{} {mode}", content(&e.source)?));
    }
    i.set("files", packed);
    i.set("time", plan.version.timestamp);
    i.set("checksum", plan.checksum.algorithm.name());
    Ok(i)
}

/// The archive's record from its entry's one output: its digest is the
/// stored sha256 when the release uses sha256, else `hex` (hashed from
/// the restored file), else (`plan --cache-status`) the sha256.
pub(super) fn record_of(plan: &Plan, t: usize, out: &OutputFile, hex: Option<&str>) -> Artifact {
    let mut record =
        crate::exec::jobs::archive_record(plan, t, out.blob.size, hex.unwrap_or(&out.blob.sha256));
    if hex.is_none() && plan.checksum.algorithm != Algorithm::Sha256 {
        record.digest = format!("sha256:{}", out.blob.sha256);
    }
    record
}

/// The one output of archive `t`'s `record`: its file in dist/. A record
/// naming any other file, or more than one, is refused as corrupt. Reads
/// no blob: the restore and `plan --cache-status` both ask it.
pub(super) fn shape<'r>(
    plan: &Plan,
    t: usize,
    record: &'r Record,
) -> Result<&'r OutputFile, String> {
    let name = &plan.targets[t].archive.file_name;
    match record.outputs.as_slice() {
        [out] if out.base == "dist" && &out.path == name => Ok(out),
        _ => {
            let listed: Vec<String> = record
                .outputs
                .iter()
                .map(|o| format!("`{}` in `{}`", o.path, o.base))
                .collect();
            Err(format!(
                "it names {}; this job writes only `{name}` in dist/",
                if listed.is_empty() {
                    "no file".to_string()
                } else {
                    listed.join(", ")
                }
            ))
        }
    }
}

/// Puts a record's archive back into dist/ (its [`shape`] checked first).
fn restore(
    plan: &Plan,
    t: usize,
    cache: &Cache,
    record: &Record,
    scratch: &Path,
) -> Result<Artifact, String> {
    let name = &plan.targets[t].archive.file_name;
    let out = shape(plan, t, record)?;
    // Its mode is the one the job writes (0755 for a bare binary, else
    // 0644), whatever the entry says.
    let written = Record {
        outputs: vec![OutputFile {
            mode: plan.targets[t].archive.format.mode(),
            ..out.clone()
        }],
        log: None,
        ..record.clone()
    };
    let bases = BTreeMap::from([("dist".to_string(), plan.dist.clone())]);
    cache
        .store
        .restore(&written, &bases, &scratch.join("log"))
        .map_err(|e| e.to_string())?;
    let algorithm = plan.checksum.algorithm;
    if algorithm == Algorithm::Sha256 {
        return Ok(record_of(plan, t, out, None));
    }
    let path = plan.dist.join(name);
    let (hex, size) = crate::package::checksum::hash_file(&path, algorithm)
        .map_err(|e| format!("cannot hash the restored {name}: {e}"))?;
    if size != out.blob.size {
        return Err(format!("the restored {name} changed while it was hashed"));
    }
    Ok(record_of(plan, t, out, Some(&hex)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(path: &str) -> OutputFile {
        super::super::tests::output("dist", path)
    }

    #[test]
    fn a_record_naming_any_other_file_is_refused_before_dist_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        let cache = super::super::tests::cache(&dir.path().join("store"));
        let mut plan = crate::plan::tests::sample_plan();
        plan.dist = dir.path().join("dist");
        let name = plan.targets[0].archive.file_name.clone();
        for outputs in [
            vec![output(&name), output("hello_checksums.txt")],
            vec![output(&plan.targets[1].archive.file_name)],
            vec![],
        ] {
            let record = Record {
                format: crate::cache::FORMAT,
                key: "0".repeat(64),
                job: plan.jobs[0].id.to_string(),
                inputs: Inputs::default(),
                outputs,
                log: None,
            };
            let err = restore(&plan, 0, &cache, &record, dir.path()).unwrap_err();
            assert!(err.contains("this job writes only"), "{err}");
            assert!(!plan.dist.exists());
        }
    }

    /// A restored archive has the mode the job writes (a bare binary
    /// 0755, an archive 0644), whatever mode its entry gives it.
    #[test]
    fn a_restored_archive_has_the_mode_the_job_writes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = super::super::tests::cache(&dir.path().join("store"));
        let mut plan = crate::plan::tests::sample_plan();
        plan.dist = dir.path().join("dist");
        let made = dir.path().join("made");
        std::fs::write(&made, "an archive").unwrap();
        for (format, entry_mode, want) in [
            (Format::TarGz, 0o755, 0o644),
            (Format::Zip, 0o4777, 0o644),
            (Format::Binary, 0o644, 0o755),
        ] {
            plan.targets[0].archive.format = format;
            let name = plan.targets[0].archive.file_name.clone();
            let saving = Saving {
                base: "dist".into(),
                path: name.clone(),
                file: made.clone(),
            };
            let mut record = cache
                .store
                .save("archive-linux-amd64", &Inputs::default(), &[saving], None)
                .unwrap();
            record.outputs[0].mode = entry_mode;
            restore(&plan, 0, &cache, &record, dir.path()).unwrap();
            let mode = std::fs::metadata(plan.dist.join(&name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o7777, want, "{format}");
        }
    }

    #[test]
    fn what_it_packs_is_an_input_and_cache_false_is_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut plan = crate::plan::tests::sample_plan();
        plan.root = root.to_path_buf();
        plan.dist = root.join("dist");
        let binary = root.join("bin/hello");
        plan.targets[0].build.artifact = binary.clone();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(&binary, "one").unwrap();
        std::fs::write(root.join("LICENSE"), "MIT").unwrap();
        std::fs::write(root.join("docs/a.md"), "a").unwrap();
        let key = |plan: &Plan| inputs(&At::bare(plan), 0);
        let first = key(&plan).unwrap();
        std::fs::write(root.join("docs/a.md"), "b").unwrap();
        let second = key(&plan).unwrap();
        assert_eq!(second.changed_since(&first), ["files"]);
        std::fs::write(&binary, "two").unwrap();
        assert_eq!(key(&plan).unwrap().changed_since(&second), ["binary"]);
        // Before its build ran, the binary is not known.
        let seen = super::super::Foreseen::default();
        let at = At {
            foreseen: Some(&seen),
            ..At::bare(&plan)
        };
        assert!(
            inputs(&at, 0)
                .unwrap_err()
                .starts_with(super::super::UNKNOWN)
        );
        plan.targets[0].build.no_cache = true;
        assert_eq!(key(&plan).unwrap_err(), NO_CACHE);
    }
}
