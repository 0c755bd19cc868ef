//! Package jobs (one target's .deb, .rpm, .msi or .snap: the channel
//! kinds whose registry line names `cache_tools` and that make one package
//! per target) through the action cache. Channel jobs render a few small
//! text files from the records, which costs less than a look-up, and
//! always run.
//!
//! Part of `exec::cached`. A package job's inputs are its channel's plan
//! step (its settings and download URL template, its kind's planned work;
//! of its targets, this one only, so a change to another target leaves
//! the package alone), the release it describes (name, description,
//! version, commit, time...), the package's input (the archive's record,
//! the binary's content), the content and executable bit of every project
//! file its step names (templates, scripts, files it installs), the
//! identity of the programs its kind runs (mksquashfs, wixl, msibuild)
//! and the checksum algorithm. Its output is the one package file it
//! wrote, plus its record (as `artifacts.json` in the entry); a hit
//! restores the file (the one the plan puts there for this target, see
//! `package_path`; 0644, as every kind writes it), re-hashes it against
//! its record and gives the record back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{At, Cache, NO_CACHE, UNKNOWN, through};
use crate::cache::Inputs;
use crate::cache::store::{OutputFile, Record, Saving, Store};
use crate::exec::context::{Context, Output};
use crate::exec::error::JobError;
use crate::package::manifest::Artifact;
use crate::packager::input::Package;
use crate::plan::Plan;

/// The entry's file holding the record of the package a job wrote.
const RECORDS: &str = "artifacts.json";
/// Largest records file read back.
const MAX_RECORDS: u64 = 4 << 20;

/// Runs package job `job` (channel `c`'s package of target `t`), through
/// the cache when there is one.
pub(in crate::exec) async fn package(
    ctx: &Context,
    job: usize,
    c: usize,
    t: usize,
) -> Result<Output, JobError> {
    let plan = &ctx.plan;
    through(
        ctx,
        job,
        |cache, at| inputs(cache, at, c, t),
        |cache, record, scratch| {
            let path = package_path(plan, c, t, &ctx.artifacts)?;
            restore(plan, &path, cache, record, scratch).map(|extra| Output {
                extra,
                ..Output::default()
            })
        },
        crate::exec::channels::run_package(ctx, job, c, t),
        |output, scratch| saving(plan, &output.extra, scratch),
    )
    .await
}

/// Channel `c`'s package of target `t`, from the plan and the archive's
/// record in `artifacts`.
fn planned(plan: &Plan, c: usize, t: usize, artifacts: &[Artifact]) -> Result<Package, String> {
    let step = &plan.channels[c];
    let url = step
        .url(t)
        .ok_or_else(|| format!("channel {} does not ship {}", step.name, plan.targets[t].id))?;
    crate::exec::channels::package(plan, &step.name, t, url, artifacts).map_err(|e| e.to_string())
}

/// Where in dist/ channel `c`'s package of target `t` goes, as the plan
/// and the archives' records decide: the only file its entry may restore.
fn package_path(plan: &Plan, c: usize, t: usize, artifacts: &[Artifact]) -> Result<String, String> {
    let package = planned(plan, c, t, artifacts)?;
    plan.channels[c]
        .packager
        .package_file(&crate::exec::channels::release(plan), &package)
        .map_err(|e| e.to_string())
}

/// The inputs of channel `c`'s package of target `t`, or why it is not
/// cached.
pub(super) fn inputs(cache: &Cache, at: &At<'_>, c: usize, t: usize) -> Result<Inputs, String> {
    let plan = at.plan;
    let step = &plan.channels[c];
    let tools = step
        .kind
        .packager()
        .cache_tools
        .ok_or("its files cost less to render than to look up")?;
    if !step.config.cache {
        return Err(NO_CACHE.into());
    }
    let id = &plan.targets[t].id;
    if at.foreseen.is_some() && !at.artifacts.iter().any(|a| a.target.as_ref() == Some(id)) {
        return Err(format!("{UNKNOWN}the archive of {id} is made first"));
    }
    let package = planned(plan, c, t, at.artifacts)?;
    let binary = at.made_file(&package.binary_file)?;
    // The channel's settings with this target alone among its targets.
    let mut channel = serde_json::to_value(step).map_err(|e| e.to_string())?;
    channel["targets"] = serde_json::json!([[id, package.url]]);
    let mut i = Inputs::default();
    i.set("matrix", env!("CARGO_PKG_VERSION"));
    i.set("channel", &channel);
    i.set("packaging", &step.packager);
    i.set("release", crate::exec::channels::release(plan));
    i.set("package", &package);
    i.set("binary", binary);
    let mut named = BTreeMap::new();
    for value in [
        channel,
        serde_json::to_value(&step.packager).unwrap_or_default(),
    ] {
        project_files(plan, &value, &mut named)?;
    }
    i.set("files", named);
    let programs: BTreeMap<&str, String> = tools
        .iter()
        .map(|p| (*p, cache.identities.of(p, &BTreeMap::new(), &plan.root)))
        .collect();
    i.set("tools", programs);
    i.set("checksum", plan.checksum.algorithm.name());
    Ok(i)
}

/// The content and executable bit of every file of the project a step's
/// JSON names (its strings that are paths of regular files in the
/// project, dist/ left out: those are inputs by their records). A link is
/// an input by its target's name; the packager refuses or reads it as it
/// always does.
fn project_files(
    plan: &Plan,
    value: &serde_json::Value,
    named: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    match value {
        serde_json::Value::String(s) => {
            let path = PathBuf::from(s);
            if !path.is_absolute() || !path.starts_with(&plan.root) || path.starts_with(&plan.dist)
            {
                return Ok(());
            }
            // A file's executable bit is in its state: deb and rpm install
            // an executable file 0755, any other 0644.
            let state = match path.symlink_metadata() {
                Ok(m) if m.file_type().is_symlink() || m.is_file() => {
                    crate::cache::sources::file_state(&path)
                        .map_err(|e| format!("cannot read `{s}`: {e}"))?
                }
                _ => return Ok(()),
            };
            named.insert(super::shown(&plan.root, &path), state);
        }
        serde_json::Value::Array(items) => {
            for item in items {
                project_files(plan, item, named)?;
            }
        }
        serde_json::Value::Object(map) => {
            for item in map.values() {
                project_files(plan, item, named)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The package a job wrote, and its record in the scratch folder.
fn saving(plan: &Plan, written: &[Artifact], scratch: &Path) -> Result<Vec<Saving>, String> {
    let records = scratch.join(RECORDS);
    let bytes = serde_json::to_vec_pretty(written).map_err(|e| e.to_string())?;
    std::fs::write(&records, bytes).map_err(|e| e.to_string())?;
    let mut files: Vec<Saving> = written
        .iter()
        .map(|a| Saving {
            base: "dist".into(),
            path: a.path.clone(),
            file: plan.dist.join(&a.path),
        })
        .collect();
    files.push(Saving {
        base: "meta".into(),
        path: RECORDS.into(),
        file: records,
    });
    Ok(files)
}

/// Whether a record of channel `c`'s package of target `t` has the shape
/// its restore accepts, with `artifacts` the archives' records (for
/// `plan --cache-status`).
pub(super) fn usable(
    plan: &Plan,
    c: usize,
    t: usize,
    artifacts: &[Artifact],
    record: &Record,
) -> Result<(), String> {
    shape(&package_path(plan, c, t, artifacts)?, record)
}

/// Whether a record names exactly the package at `path` in dist/ and its
/// records file, nothing else (another target's package in the same
/// folder too). Reads no blob: the restore and `plan --cache-status` both
/// ask it.
fn shape(path: &str, record: &Record) -> Result<(), String> {
    let allowed =
        |base: &str, p: &str| (base == "dist" && p == path) || (base == "meta" && p == RECORDS);
    if let Some(o) = record.outputs.iter().find(|o| !allowed(&o.base, &o.path)) {
        return Err(format!(
            "it names `{}` in `{}`; this job writes only `{path}` in dist/",
            o.path, o.base
        ));
    }
    let count = |base: &str| record.outputs.iter().filter(|o| o.base == base).count();
    match (count("dist"), count("meta")) {
        (1, 1) => Ok(()),
        (files, records) => Err(format!(
            "it names `{path}` {files} times and its {RECORDS} {records} times; a package job writes each once"
        )),
    }
}

/// Puts a record's package back at `path` in dist/ (where the plan puts
/// this job's package, see [`package_path`]) and gives back its record.
/// A record of another [`shape`] is refused as corrupt, and so is a
/// records file that does not list exactly the one package the entry
/// holds: it is checked before dist/ is written. The restored file's
/// record is made anew from its bytes and must equal the listed one, else
/// the file is taken out of dist/ again.
fn restore(
    plan: &Plan,
    path: &str,
    cache: &Cache,
    record: &Record,
    scratch: &Path,
) -> Result<Vec<Artifact>, String> {
    shape(path, record)?;
    let bases = BTreeMap::from([
        ("dist".to_string(), plan.dist.clone()),
        ("meta".to_string(), scratch.to_path_buf()),
    ]);
    let (meta, files): (Vec<_>, Vec<_>) = record
        .outputs
        .iter()
        .cloned()
        .partition(|o| o.base == "meta");
    // Every package kind writes its file 0644: so is a restored one,
    // whatever the entry says.
    let part = |outputs: Vec<OutputFile>| Record {
        outputs: outputs
            .into_iter()
            .map(|o| OutputFile {
                mode: crate::package::atomic::DEFAULT_MODE,
                ..o
            })
            .collect(),
        log: None,
        ..record.clone()
    };
    let log = scratch.join("log");
    cache
        .store
        .restore(&part(meta), &bases, &log)
        .map_err(|e| e.to_string())?;
    let bytes = crate::package::capped::read(&scratch.join(RECORDS), MAX_RECORDS)
        .map_err(|e| format!("its {RECORDS}: {e}"))?;
    let written: Vec<Artifact> =
        serde_json::from_slice(&bytes).map_err(|e| format!("its {RECORDS}: {e}"))?;
    check_listed(&written, &files)?;
    cache
        .store
        .restore(&part(files), &bases, &log)
        .map_err(|e| e.to_string())?;
    let algorithm = plan.checksum.algorithm;
    for a in &written {
        let file = plan.dist.join(&a.path);
        let refused = match Artifact::of_file(&a.path, &file, a.kind, algorithm) {
            Ok(made) if &made == a => continue,
            Ok(_) => format!("the restored {} does not match its record", a.path),
            Err(e) => format!("cannot hash the restored {}: {e}", a.path),
        };
        // Not left in dist/ looking like a package, should the job that
        // runs instead fail.
        let _ = std::fs::remove_file(&file);
        return Err(refused);
    }
    Ok(written)
}

/// Whether the records file lists the one file the entry holds in dist/,
/// as a package named by its path, and nothing else.
fn check_listed(written: &[Artifact], files: &[OutputFile]) -> Result<(), String> {
    use crate::package::manifest::ArtifactKind;
    let held: BTreeSet<&str> = files.iter().map(|o| o.path.as_str()).collect();
    let [a] = written else {
        return Err(format!(
            "its {RECORDS} lists {} files; a package job writes one",
            written.len()
        ));
    };
    if a.kind != ArtifactKind::Package {
        return Err(format!(
            "its {RECORDS} lists `{}` as {:?}; a package job writes a package",
            a.path, a.kind
        ));
    }
    if a.name != a.path || a.target.is_some() || a.format.is_some() || a.binary.is_some() {
        return Err(format!(
            "its {RECORDS} gives `{}` a name, target or format; a package has none",
            a.path
        ));
    }
    if held.len() != 1 || !held.contains(a.path.as_str()) {
        return Err(format!(
            "its {RECORDS} lists `{}`, the entry holds {} files",
            a.path,
            held.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::output;
    use super::*;

    const CONFIG: &str = r#"
[project]
name = "hello"
description = "Hello."
license = "MIT"

[matrix]
os = ["linux"]
arch = ["amd64"]

[build]
command = "true"
binary = "hello"

[channels.deb]
kind = "deb"
maintainer = "Hello Authors <hello@example.org>"
"#;

    /// Where the plan puts the package the tests' entries hold.
    const AMD64: &str = "deb/hello_amd64.deb";

    #[test]
    fn a_record_may_write_only_its_own_package() {
        let (dir, cache, plan) = setup();
        assert!(plan.channels[0].per_target());
        for hostile in [
            // Another target's package, in the same folder: it would
            // overwrite that package and list it twice.
            output("dist", "deb/hello_arm64.deb"),
            output("dist", "deb/../deb/hello_amd64.deb"),
            output("dist", "hello_1.0.0_linux_amd64.tar.gz"),
            output("dist", "rpm/hello.rpm"),
            output("root", "deb/hello.deb"),
            output("meta", "other.json"),
        ] {
            let record = Record {
                format: crate::cache::FORMAT,
                key: "0".repeat(64),
                job: "package-deb-linux-amd64".into(),
                inputs: Inputs::default(),
                outputs: vec![output("dist", "deb/hello_amd64.deb"), hostile],
                log: None,
            };
            let err = restore(&plan, AMD64, &cache, &record, dir.path()).unwrap_err();
            assert!(err.contains("writes only `deb/hello_amd64.deb`"), "{err}");
            assert!(!plan.dist.exists());
        }
        // Its package without its records file, or twice: refused by its
        // shape, before a blob is read.
        for outputs in [
            vec![output("dist", AMD64)],
            vec![
                output("dist", AMD64),
                output("dist", AMD64),
                output("meta", RECORDS),
            ],
        ] {
            let record = Record {
                format: crate::cache::FORMAT,
                key: "0".repeat(64),
                job: "package-deb-linux-amd64".into(),
                inputs: Inputs::default(),
                outputs,
                log: None,
            };
            let err = shape(AMD64, &record).unwrap_err();
            assert!(err.contains("a package job writes each once"), "{err}");
        }
    }

    /// Stores an entry of channel `deb` holding `package` and `extra` more
    /// files, with `records` as its records file.
    fn entry(
        cache: &Cache,
        dir: &Path,
        package: &str,
        extra: &[&str],
        records: &[Artifact],
    ) -> Record {
        let files = dir.join("made");
        let mut saving = Vec::new();
        for path in std::iter::once(&package).chain(extra) {
            std::fs::create_dir_all(files.join("deb")).unwrap();
            std::fs::write(files.join(path), "a package").unwrap();
            saving.push(Saving {
                base: "dist".into(),
                path: path.to_string(),
                file: files.join(path),
            });
        }
        std::fs::write(files.join(RECORDS), serde_json::to_vec(records).unwrap()).unwrap();
        saving.push(Saving {
            base: "meta".into(),
            path: RECORDS.into(),
            file: files.join(RECORDS),
        });
        cache
            .store
            .save("package-deb-linux-amd64", &Inputs::default(), &saving, None)
            .unwrap()
    }

    /// A change made to a records file.
    type Edit = fn(&mut Vec<Artifact>);

    /// A store and the deb channel's plan, dist/ in a fresh folder.
    fn setup() -> (tempfile::TempDir, Cache, Plan) {
        let dir = tempfile::tempdir().unwrap();
        let cache = super::super::tests::cache(&dir.path().join("store"));
        let mut plan = crate::plan::tests::plan_of(CONFIG, &[]).unwrap();
        plan.dist = dir.path().join("dist");
        (dir, cache, plan)
    }

    /// The record of a package `name` made of the bytes an [`entry`] holds.
    fn package_record(dir: &Path, plan: &Plan, name: &str) -> Artifact {
        use crate::package::manifest::ArtifactKind;
        let made = dir.join("bytes");
        std::fs::write(&made, "a package").unwrap();
        Artifact::of_file(name, &made, ArtifactKind::Package, plan.checksum.algorithm).unwrap()
    }

    #[test]
    fn a_records_file_saying_other_than_its_bytes_is_refused_and_leaves_no_package() {
        use crate::package::manifest::ArtifactKind;
        let (dir, cache, plan) = setup();
        let honest = package_record(dir.path(), &plan, AMD64);
        // The honest entry is restored as it was made.
        let record = entry(
            &cache,
            dir.path(),
            AMD64,
            &[],
            std::slice::from_ref(&honest),
        );
        let back = restore(&plan, AMD64, &cache, &record, dir.path()).unwrap();
        assert_eq!(back, std::slice::from_ref(&honest));
        std::fs::remove_dir_all(&plan.dist).unwrap();
        let edits: [(&[&str], Edit); 8] = [
            // A per-target archive in the manifest, of a target it names.
            (&[], |w| {
                w[0].kind = ArtifactKind::Archive;
                w[0].target = Some("linux-amd64".into());
            }),
            (&[], |w| w[0].name = "hello_1.0.0_linux_amd64.tar.gz".into()),
            (&[], |w| w[0].kind = ArtifactKind::Checksums),
            (&[], |w| w[0].kind = ArtifactKind::Channel),
            // A file the manifest would not list, or one listed twice.
            (&["deb/unlisted.deb"], |_| {}),
            (&[], |w| w.push(w[0].clone())),
            // A digest or size other than the bytes': found once they are
            // in dist/, and they are taken out again.
            (&[], |w| w[0].digest = format!("sha256:{}", "0".repeat(64))),
            (&[], |w| w[0].size += 1),
        ];
        for (extra, edit) in edits {
            let mut records = vec![honest.clone()];
            edit(&mut records);
            let record = entry(&cache, dir.path(), AMD64, extra, &records);
            let err = restore(&plan, AMD64, &cache, &record, dir.path()).unwrap_err();
            assert!(
                err.contains(RECORDS)
                    || err.contains("twice")
                    || err.contains("writes only")
                    || err.contains("does not match its record"),
                "{err}"
            );
            if err.contains("does not match its record") {
                assert!(!plan.dist.join(AMD64).exists(), "{err}");
            } else {
                assert!(!plan.dist.exists(), "{err}");
            }
        }
    }

    /// Every package kind writes its file 0644 (`Out::emit`, the snap's
    /// mksquashfs output made so): a restored one is too, whatever mode
    /// its entry gives it.
    #[test]
    fn a_restored_package_has_the_mode_the_job_writes() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, cache, plan) = setup();
        let honest = package_record(dir.path(), &plan, AMD64);
        let mut record = entry(&cache, dir.path(), AMD64, &[], &[honest]);
        for o in &mut record.outputs {
            o.mode = 0o4777;
        }
        restore(&plan, AMD64, &cache, &record, dir.path()).unwrap();
        let mode = std::fs::metadata(plan.dist.join(AMD64))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o644);
    }

    /// A whole, self-consistent entry of another target's package (its
    /// file, its record made from its bytes) restores nothing for this
    /// target: it would overwrite that target's package and list it twice
    /// in the manifest and checksums, and this target's not at all.
    #[test]
    fn an_entry_holding_another_targets_package_is_refused() {
        let (dir, cache, plan) = setup();
        let other = "deb/hello_arm64.deb";
        let record = package_record(dir.path(), &plan, other);
        let entry = entry(&cache, dir.path(), other, &[], &[record]);
        let err = restore(&plan, AMD64, &cache, &entry, dir.path()).unwrap_err();
        assert!(err.contains("writes only `deb/hello_amd64.deb`"), "{err}");
        assert!(!plan.dist.exists());
    }

    #[test]
    fn a_project_file_its_step_names_is_an_input() {
        let dir = tempfile::tempdir().unwrap();
        let mut plan = crate::plan::tests::plan_of(CONFIG, &[]).unwrap();
        plan.root = dir.path().to_path_buf();
        plan.dist = dir.path().join("dist");
        let script = dir.path().join("pkg/postinst");
        std::fs::create_dir_all(script.parent().unwrap()).unwrap();
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let step = serde_json::json!({ "scripts": { "postinst": script }, "root": dir.path() });
        let mut named = BTreeMap::new();
        project_files(&plan, &step, &mut named).unwrap();
        assert_eq!(named.keys().collect::<Vec<_>>(), ["pkg/postinst"]);
        let first = named.clone();
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        project_files(&plan, &step, &mut named).unwrap();
        assert_ne!(named, first);
        // Made executable, the same bytes install 0755 instead of 0644.
        let written = named.clone();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        project_files(&plan, &step, &mut named).unwrap();
        assert_ne!(named, written, "the executable bit is an input");
    }
}
