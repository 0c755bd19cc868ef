//! Unit tests of the merge checks; the end-to-end shard/merge runs are in
//! tests/integration/shards.rs.

use super::*;

#[test]
fn names_must_stay_inside_the_folder() {
    let dir = Path::new("/s");
    for bad in [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a//b",
        "./a",
        "a\\b",
        "a\nb",
    ] {
        assert!(check_name(dir, bad).is_err(), "{bad:?} was accepted");
    }
    for good in ["hello_1.2.3_linux_amd64.tar.gz", "snap/hello.snap"] {
        assert!(check_name(dir, good).is_ok(), "{good:?} was refused");
    }
}

#[test]
fn unknown_files_and_symlinks_are_found() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifest.json"), "{}").unwrap();
    std::fs::write(dir.path().join("a.tar.gz"), "x").unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(dir.path().join("logs/build.log"), "x").unwrap();
    let recorded: BTreeSet<PathBuf> = [PathBuf::from("a.tar.gz")].into();
    assert!(find_unknown(dir.path(), &recorded).is_ok());
    std::fs::write(dir.path().join("extra.txt"), "x").unwrap();
    assert!(matches!(
        find_unknown(dir.path(), &recorded),
        Err(MergeError::Unknown { .. })
    ));
    std::fs::remove_file(dir.path().join("extra.txt")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
    assert!(matches!(
        find_unknown(dir.path(), &recorded),
        Err(MergeError::Symlink { .. })
    ));
}

// The plan decides: shard identity, records, jobs.

use crate::package::archive::Format;
use crate::package::manifest::{ChecksumFile, Job, Project, ShardInfo};
use owned::ShardError;

const FOUR: &str = r#"
[project]
name = "hello"
license = "MIT"

[matrix]
os = ["linux", "windows"]
arch = ["amd64", "arm64"]

[build]
command = "true {{ out }}"
binary = "hello"
# These tests are about records: the archives are stand-in bytes, so the
# merge-time binary check (tested in dist_check) is off.
verify = false

[archive]
name = "{{ project }}_{{ version }}_{{ os }}_{{ arch }}"
format-overrides = [ { when = { os = "windows" }, format = "zip" } ]

[checksum]
name = "{{ project }}_{{ version }}_checksums.txt"
"#;

fn four_plan(dist: &Path) -> Plan {
    plan_from(FOUR, dist)
}

fn plan_from(text: &str, dist: &Path) -> Plan {
    let loaded = crate::config::parse(Path::new("matrix.toml"), text.to_string()).unwrap();
    crate::plan::build(
        &loaded,
        &crate::plan::Request {
            version: crate::plan::tests::version(),
            root: PathBuf::from("/src/hello"),
            dist: dist.to_path_buf(),
            filters: vec![],
            env: BTreeMap::new(),
            push: false,
            oci_archives: false,
            images: true,
            has_changelog: false,
        },
    )
    .unwrap()
}

/// What `build --shard index/total` owns, by the same split.
fn owned_ids(plan: &Plan, index: usize, total: usize) -> Vec<String> {
    let w: Vec<(String, f64)> = plan.targets.iter().map(|t| (t.id.clone(), 1.0)).collect();
    crate::shard::assign(&w, total)
        .get(index)
        .unwrap()
        .targets
        .clone()
}

fn shard(plan: &Plan, dir: &Path, index: usize, total: usize, targets: Vec<String>) -> Shard {
    let v = &plan.version;
    Shard {
        dir: dir.to_path_buf(),
        manifest: Manifest {
            format: crate::package::manifest::FORMAT.into(),
            format_version: 1,
            project: Project {
                name: "hello".into(),
                description: String::new(),
                homepage: String::new(),
                license: "MIT".into(),
            },
            version: v.version.clone(),
            tag: v.tag.clone(),
            commit: v.commit.clone(),
            commit_date: v.commit_date.clone(),
            timestamp: v.timestamp,
            is_snapshot: false,
            config_sha256: plan.config_sha256.clone(),
            checksum: ChecksumFile {
                algorithm: Algorithm::Sha256,
                file: plan.checksum.file_name.clone(),
            },
            targets: vec![],
            artifacts: vec![],
            images: vec![],
            shard: Some(ShardInfo {
                index,
                total,
                targets,
                weights: None,
            }),
            image_parts: vec![],
            missing_targets: vec![],
            jobs: vec![],
        },
    }
}

/// A shard exactly as `build --shard index/total` leaves it: its archives
/// (a few bytes each) with correct records, and its jobs.
fn honest_shard(plan: &Plan, root: &Path, index: usize, total: usize) -> Shard {
    let dir = root.join(format!("shard-{index}"));
    std::fs::create_dir_all(&dir).unwrap();
    let ids = owned_ids(plan, index, total);
    let mut s = shard(plan, &dir, index, total, ids.clone());
    for id in &ids {
        let t = plan.targets.iter().position(|t| &t.id == id).unwrap();
        let p = owned::planned(plan, t);
        s.manifest
            .artifacts
            .push(record(&dir, p.name, id.as_bytes()));
        let a = s.manifest.artifacts.last_mut().unwrap();
        a.kind = p.kind;
        a.format = Some(p.format);
        a.target = Some(id.clone());
        for kind in ["build", "archive"] {
            s.manifest.jobs.push(Job {
                id: format!("{kind}-{}", plan.targets[t].slug),
                kind: kind.into(),
                target: Some(id.clone()),
                status: "ok".into(),
                duration_ms: 10 * (t as u64 + 1),
                restored: false,
            });
        }
    }
    s.manifest.artifacts.sort_by(|a, b| a.name.cmp(&b.name));
    std::fs::write(dir.join("manifest.json"), s.manifest.to_json().unwrap()).unwrap();
    s
}

/// Writes `bytes` as `name` into `dir` and returns a correct record of it.
fn record(dir: &Path, name: &str, bytes: &[u8]) -> Artifact {
    std::fs::write(dir.join(name), bytes).unwrap();
    Artifact::of_bytes(name, bytes, ArtifactKind::Archive, Algorithm::Sha256)
}

#[test]
fn honest_shards_merge_and_keep_their_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = four_plan(&tmp.path().join("dist"));
    let shards: Vec<Shard> = (1..=3)
        .map(|i| honest_shard(&plan, tmp.path(), i, 3))
        .collect();
    let checked = check(&plan, &shards, false).unwrap();
    assert_eq!(checked.artifacts.len(), 4);
    assert!(checked.missing.is_empty());
    // Every build and archive job, once, in plan order.
    let ids: Vec<&str> = checked.jobs.iter().map(|j| j.id.as_str()).collect();
    let order: Vec<&str> = plan
        .jobs
        .iter()
        .map(|j| j.id.as_str())
        .filter(|id| ids.contains(id))
        .collect();
    assert_eq!(ids, order);
    assert_eq!(ids.len(), 8, "{ids:?}");
    // Those records are what `plan --history` reads: real weights, not
    // the equal fallback.
    let history = serde_json::json!({ "jobs": checked.jobs });
    let targets: Vec<String> = plan.targets.iter().map(|t| t.id.clone()).collect();
    let w = crate::shard::weights(&targets, Some(&serde_json::from_value(history).unwrap()));
    assert_eq!(w, vec![20.0, 40.0, 60.0, 80.0]);
}

#[test]
fn shard_identity_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = four_plan(&tmp.path().join("dist"));
    let d = tmp.path();
    let refused = |shards: &[Shard]| check(&plan, shards, true).unwrap_err();
    for (index, total) in [(7, 3), (0, 3), (1, 0), (1, crate::shard::MAX_SHARDS + 1)] {
        let e = refused(&[shard(&plan, d, index, total, vec![])]);
        assert!(
            matches!(e, MergeError::Plan(ShardError::ShardIndex { .. })),
            "{index}/{total}: {e}"
        );
        assert!(e.to_string().contains("manifest.json"), "{e}");
    }
    let e = refused(&[
        shard(&plan, d, 1, 2, owned_ids(&plan, 1, 2)),
        shard(&plan, d, 2, 3, owned_ids(&plan, 2, 3)),
    ]);
    assert!(
        matches!(e, MergeError::Plan(ShardError::MixedTotals { .. })),
        "{e}"
    );
    let e = refused(&[
        shard(&plan, d, 1, 2, owned_ids(&plan, 1, 2)),
        shard(&plan, d, 1, 2, owned_ids(&plan, 1, 2)),
    ]);
    assert!(matches!(e, MergeError::DuplicateShard { .. }), "{e}");
    // Claiming more than it owns cannot hide a missing target.
    let all: Vec<String> = plan.targets.iter().map(|t| t.id.clone()).collect();
    let e = refused(&[shard(&plan, d, 1, 2, all.clone())]);
    let MergeError::Plan(ShardError::WrongTargets { listed, owned, .. }) = &e else {
        panic!("{e}");
    };
    assert_eq!((listed, owned), (&all, &owned_ids(&plan, 1, 2)));
    assert!(e.to_string().contains(&all.join(", ")), "{e}");
}

#[test]
fn recorded_weights_decide_the_split_and_must_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = four_plan(&tmp.path().join("dist"));
    let d = tmp.path();
    let ids: Vec<String> = plan.targets.iter().map(|t| t.id.clone()).collect();
    // One heavy target gets a shard of its own.
    let heavy: BTreeMap<String, f64> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), if i == 2 { 100.0 } else { 1.0 }))
        .collect();
    let with = |index, targets: Vec<String>, w: &BTreeMap<String, f64>| {
        let mut s = shard(&plan, d, index, 2, targets);
        s.manifest.shard.as_mut().unwrap().weights = Some(w.clone());
        s
    };
    let alone = vec![ids[2].clone()];
    let rest = vec![ids[0].clone(), ids[1].clone(), ids[3].clone()];
    let owned = owned::identify(
        &plan,
        &[with(1, alone.clone(), &heavy), with(2, rest, &heavy)],
    )
    .unwrap();
    assert_eq!(owned[0].targets, BTreeSet::from([2]));
    // Equal weights would split 2 and 2: this list is refused under them.
    let e = owned::identify(&plan, &[shard(&plan, d, 1, 2, alone.clone())]).unwrap_err();
    assert!(
        matches!(e, MergeError::Plan(ShardError::WrongTargets { .. })),
        "{e}"
    );
    // Shards of one merge share one split.
    let e = owned::identify(
        &plan,
        &[
            with(1, alone.clone(), &heavy),
            shard(&plan, d, 2, 2, owned_ids(&plan, 2, 2)),
        ],
    )
    .unwrap_err();
    assert!(
        matches!(e, MergeError::Plan(ShardError::MixedWeights { .. })),
        "{e}"
    );
    let mut extra = heavy.clone();
    extra.insert("plan9/amd64".into(), 1.0);
    let mut negative = heavy.clone();
    negative.insert(ids[0].clone(), -1.0);
    let mut lacking = heavy.clone();
    lacking.remove(&ids[0]);
    for w in [extra, negative, lacking] {
        let e = owned::identify(&plan, &[with(1, alone.clone(), &w)]).unwrap_err();
        assert!(
            matches!(e, MergeError::Plan(ShardError::BadWeights { .. })),
            "{w:?}: {e}"
        );
    }
}

#[test]
fn records_must_be_the_plans() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = four_plan(&tmp.path().join("dist"));
    let good = honest_shard(&plan, tmp.path(), 1, 2);
    let other = honest_shard(&plan, tmp.path(), 2, 2);
    let owned = owned::identify(&plan, std::slice::from_ref(&good)).unwrap();
    let owned = &owned[0];
    let dir = &good.dir;
    for a in &good.manifest.artifacts {
        assert!(owned::check_record(&plan, dir, owned, a).is_ok(), "{a:?}");
    }
    let a = &good.manifest.artifacts[0];
    let with = |edit: &dyn Fn(&mut Artifact)| {
        let mut a = a.clone();
        edit(&mut a);
        owned::check_record(&plan, dir, owned, &a).unwrap_err()
    };
    // The other shard's archive, correct record and all.
    let theirs = &other.manifest.artifacts[0];
    let e = owned::check_record(&plan, dir, owned, theirs).unwrap_err();
    assert!(
        matches!(e, MergeError::Plan(ShardError::NotPlanned { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("does not own"), "{e}");
    let e = with(&|a| {
        a.name = "extra.tar.gz".into();
        a.path = a.name.clone();
    });
    assert!(
        matches!(e, MergeError::Plan(ShardError::NotPlanned { .. })),
        "{e}"
    );
    for name in [
        plan.checksum.file_name.as_str(),
        "manifest.json",
        "RELEASE_NOTES.md",
    ] {
        let e = with(&|a| {
            a.name = name.into();
            a.path = name.into();
        });
        assert!(
            matches!(e, MergeError::Plan(ShardError::ReleaseWide { .. })),
            "{name}: {e}"
        );
    }
    for kind in [
        ArtifactKind::Package,
        ArtifactKind::Notes,
        ArtifactKind::Channel,
        ArtifactKind::Checksums,
        ArtifactKind::Image,
    ] {
        let e = with(&|a| a.kind = kind);
        assert!(
            matches!(e, MergeError::Plan(ShardError::ReleaseWide { .. })),
            "{kind:?}: {e}"
        );
    }
    // Relabelled: another owned target, another format, a bare binary.
    let t2 = good.manifest.shard.as_ref().unwrap().targets[1].clone();
    assert_ne!(a.target.as_ref(), Some(&t2));
    for e in [
        with(&|a| a.target = Some(t2.clone())),
        with(&|a| a.target = None),
        with(&|a| a.format = Some(Format::TarXz)),
        with(&|a| a.kind = ArtifactKind::Binary),
        with(&|a| a.path = format!("sub/{}", a.name)),
    ] {
        assert!(
            matches!(e, MergeError::Plan(ShardError::Mislabelled { .. })),
            "{e}"
        );
        assert!(e.to_string().contains("the plan makes it"), "{e}");
    }
}

#[test]
fn a_shard_without_its_archive_leaves_its_target_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = four_plan(&tmp.path().join("dist"));
    let mut first = honest_shard(&plan, tmp.path(), 1, 2);
    let second = honest_shard(&plan, tmp.path(), 2, 2);
    let dropped = first.manifest.artifacts.remove(0);
    std::fs::remove_file(first.dir.join(&dropped.path)).unwrap();
    let shards = [first, second];
    let e = check(&plan, &shards, false).unwrap_err();
    let MergeError::Incomplete { missing } = &e else {
        panic!("{e}");
    };
    assert_eq!(missing, &vec![dropped.target.clone().unwrap()]);
    let checked = check(&plan, &shards, true).unwrap();
    assert_eq!(checked.missing, vec![dropped.target.unwrap()]);
    assert_eq!(checked.artifacts.len(), 3);
}

#[test]
fn job_records_must_be_the_shards_jobs() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = four_plan(&tmp.path().join("dist"));
    let good = honest_shard(&plan, tmp.path(), 1, 2);
    let other = honest_shard(&plan, tmp.path(), 2, 2);
    let owned = owned::identify(&plan, std::slice::from_ref(&good)).unwrap();
    let (dir, owned) = (&good.dir, &owned[0]);
    let mut jobs = good.manifest.jobs.clone();
    jobs.push(Job {
        id: "manifest".into(),
        kind: "manifest".into(),
        target: None,
        status: "ok".into(),
        duration_ms: 1,
        restored: false,
    });
    let kept = owned::check_jobs(&plan, dir, owned, &jobs).unwrap();
    assert_eq!(
        kept, good.manifest.jobs,
        "the shard's manifest job is dropped"
    );
    let refused = |edit: &dyn Fn(&mut Vec<Job>)| {
        let mut jobs = good.manifest.jobs.clone();
        edit(&mut jobs);
        let e = owned::check_jobs(&plan, dir, owned, &jobs).unwrap_err();
        assert!(
            matches!(e, MergeError::Plan(ShardError::BadJob { .. })),
            "{e}"
        );
        e
    };
    let e = refused(&|j| j.push(other.manifest.jobs[0].clone()));
    assert!(e.to_string().contains("runs no job of that id"), "{e}");
    refused(&|j| j.push(j[0].clone()));
    refused(&|j| j[0].target = other.manifest.jobs[0].target.clone());
    refused(&|j| j[0].kind = "checksums".into());
    refused(&|j| j[0].status = "great".into());
    refused(&|j| {
        j.push(Job {
            id: "checksums".into(),
            kind: "checksums".into(),
            target: None,
            status: "ok".into(),
            duration_ms: 1,
            restored: false,
        })
    });
}

/// Package jobs are the merge's own: a shard's record of one is refused
/// like any job the shard does not run.
#[test]
fn a_shard_hands_in_no_package_job() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "{FOUR}\n[channels.deb]\nkind = \"deb\"\nmaintainer = \"Hello Authors <hello@example.org>\"\nsummary = \"Hello\"\n"
    );
    let plan = plan_from(&text, &tmp.path().join("dist"));
    let id = "package-deb-linux-amd64";
    assert!(plan.jobs.iter().any(|j| j.id == id), "{:?}", plan.jobs);
    let shard = honest_shard(&plan, tmp.path(), 1, 1);
    let owned = owned::identify(&plan, std::slice::from_ref(&shard)).unwrap();
    let mut jobs = shard.manifest.jobs.clone();
    jobs.push(Job {
        id: id.into(),
        kind: "package".into(),
        target: Some("linux/amd64".into()),
        status: "ok".into(),
        duration_ms: 1,
        restored: false,
    });
    let e = owned::check_jobs(&plan, &shard.dir, &owned[0], &jobs).unwrap_err();
    assert!(e.to_string().contains("runs no job of that id"), "{e}");
}

#[test]
fn image_platforms_are_the_plans_and_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "{FOUR}\n[images]\nrepositories = [\"example.org/hello\"]\ndockerfile = \"Dockerfile\"\n\
         [images.matrix]\nplatform = [\"linux/amd64\", \"linux/arm64\"]\n"
    );
    let loaded = crate::config::parse(Path::new("matrix.toml"), text).unwrap();
    let mut request = crate::plan::Request {
        version: crate::plan::tests::version(),
        root: PathBuf::from("/src/hello"),
        dist: tmp.path().join("dist"),
        filters: vec![],
        env: BTreeMap::new(),
        push: false,
        oci_archives: false,
        images: true,
        has_changelog: false,
    };
    let plan = crate::plan::build(&loaded, &request).unwrap();
    let variant = plan.images.as_ref().unwrap().variants[0].clone();
    let part = |platform: &str| crate::package::manifest::ImagePart {
        variant: variant.id.clone(),
        platform: platform.into(),
        descriptor: crate::image::oci::Descriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: format!("sha256:{}", "0".repeat(64)),
            size: 1,
            platform: None,
            annotations: BTreeMap::new(),
        },
        native: true,
        local_tag: None,
    };
    let s = shard(&plan, tmp.path(), 1, 1, owned_ids(&plan, 1, 1));
    let owned = &owned::identify(&plan, std::slice::from_ref(&s)).unwrap()[0];
    let check = |parts: &[crate::package::manifest::ImagePart]| {
        owned::check_image_parts(&plan, tmp.path(), owned, parts)
    };
    assert!(
        check(&[part("linux/amd64"), part("linux/arm64")])
            .unwrap()
            .is_empty()
    );
    // A platform left out: its target is not complete.
    let lacking = check(&[part("linux/amd64")]).unwrap();
    let arm = plan
        .targets
        .iter()
        .position(|t| t.id == "linux/arm64")
        .unwrap();
    assert_eq!(lacking.keys().copied().collect::<Vec<_>>(), vec![arm]);
    for parts in [
        vec![part("linux/amd64"), part("linux/amd64")],
        vec![part("linux/s390x")],
        vec![crate::package::manifest::ImagePart {
            variant: "other".into(),
            ..part("linux/amd64")
        }],
    ] {
        let e = check(&parts).unwrap_err();
        assert!(
            matches!(e, MergeError::Plan(ShardError::BadImagePart { .. })),
            "{e}"
        );
    }
    // Another shard's platform.
    let half = shard(&plan, tmp.path(), 1, 2, owned_ids(&plan, 1, 2));
    let owned = &owned::identify(&plan, std::slice::from_ref(&half)).unwrap()[0];
    let foreign = ["linux/amd64", "linux/arm64"]
        .into_iter()
        .find(|p| {
            !owned
                .targets
                .contains(&plan.targets.iter().position(|t| t.id == *p).unwrap())
        })
        .unwrap();
    let e = owned::check_image_parts(&plan, tmp.path(), owned, &[part(foreign)]).unwrap_err();
    assert!(e.to_string().contains("does not own"), "{e}");
    // Without images planned, any image part is refused.
    request.images = false;
    let plain = crate::plan::build(&loaded, &request).unwrap();
    let e =
        owned::check_image_parts(&plain, tmp.path(), owned, &[part("linux/amd64")]).unwrap_err();
    assert!(
        matches!(e, MergeError::Plan(ShardError::BadImagePart { .. })),
        "{e}"
    );
}

#[test]
fn a_shard_manifest_must_be_a_regular_file() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real.json");
    std::fs::write(&real, "{}").unwrap();
    std::os::unix::fs::symlink(&real, tmp.path().join("manifest.json")).unwrap();
    let e = read_shard(tmp.path()).unwrap_err();
    assert!(matches!(e, MergeError::Symlink { .. }), "{e}");
    std::fs::remove_file(tmp.path().join("manifest.json")).unwrap();
    std::fs::create_dir(tmp.path().join("manifest.json")).unwrap();
    let e = read_shard(tmp.path()).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
}

#[test]
fn an_image_manifest_blob_is_read_only_when_manifest_sized() {
    let tmp = tempfile::tempdir().unwrap();
    let small = tmp.path().join("small");
    std::fs::write(&small, br#"{"schemaVersion":2}"#).unwrap();
    assert_eq!(
        super::read_image_manifest(&small).unwrap(),
        br#"{"schemaVersion":2}"#
    );
    // A sparse 1 GiB blob: refused after reading no more than the cap.
    let huge = tmp.path().join("huge");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let err = super::read_image_manifest(&huge).unwrap_err();
    assert!(err.contains("larger than 4194304 bytes"), "{err}");
    assert!(err.contains("huge"), "{err}");
}

#[test]
fn a_shard_file_changed_after_the_check_never_reaches_dist() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = four_plan(&tmp.path().join("dist"));
    let shards: Vec<Shard> = (1..=3)
        .map(|i| honest_shard(&plan, tmp.path(), i, 3))
        .collect();
    let checked = check(&plan, &shards, false).unwrap();
    // Another process rewrites one archive between the check and the copy.
    let (src, a) = &checked.artifacts[0];
    let mut bytes = std::fs::read(src).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(src, &bytes).unwrap();
    let err = super::stage(&plan, &checked).unwrap_err();
    assert!(
        matches!(&err, MergeError::Tampered { name, expected, .. } if name == &a.name && expected == &a.digest),
        "{err:?}"
    );
    // Neither the copy nor its temporary file is left in dist/.
    let left: Vec<_> = std::fs::read_dir(&plan.dist)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}
