//! A hostile shard against `matrix merge`: the plan, computed again from
//! the checkout, decides what each shard owns and holds; whatever a shard
//! adds, relabels or claims beyond that is refused with its manifest named,
//! and nothing is written to dist/.
//!
//! The project builds six tiny shell-script targets, so three shards take
//! well under a second; each test builds its own and breaks one thing.

use serde_json::Value;

use crate::support::{Project, run};

const CHECKSUMS: &str = "hello_1.2.3_checksums.txt";

/// Six targets; the build sleeps a little so every job records a duration
/// well above a millisecond (see `a_merged_manifest_keeps_the_shard_jobs`).
const CONFIG: &str = r#"[project]
name = "hello"
description = "A test release."
homepage = "https://example.org/hello"
license = "MIT"

[matrix]
os = ["linux", "windows", "darwin"]
arch = ["amd64", "arm64"]

[build]
command = ["sh", "-c", "sleep 0.02; printf '#!/bin/sh\necho hello\n' > \"$0\" && chmod +x \"$0\"", "{{ out }}/{{ bin }}"]
binary = "hello"
verify = false

[archive]
name = "{{ project }}_{{ version }}_{{ os }}_{{ arch }}"
format-overrides = [ { when = { os = "windows" }, format = "zip" } ]
files = ["LICENSE"]
"#;

/// The project, committed and tagged, with `shards/shard-<i>` built by
/// `matrix build --shard i/3` (shard folders relative to the project, so
/// messages name them briefly).
fn three_shards() -> Project {
    let p = Project::new();
    p.file(".gitignore", "dist/\nshards/\nextra/\n");
    p.file("matrix.toml", CONFIG);
    p.file("LICENSE", "MIT License\n");
    p.commit();
    p.git(&["tag", "v1.2.3"]);
    for i in 1..=3 {
        build_shard(&p, &format!("{i}/3"), &format!("shards/shard-{i}"), &[]);
    }
    p
}

fn build_shard(p: &Project, spec: &str, dist: &str, extra: &[&str]) {
    let mut args = vec!["build", "--shard", spec, "--dist", dist];
    args.extend(extra);
    let (code, out, err) = run(&mut p.matrix(&args));
    assert_eq!(code, 0, "build --shard {spec}: {out}\n{err}");
}

fn shard(i: usize) -> String {
    format!("shards/shard-{i}")
}

fn all() -> Vec<String> {
    (1..=3).map(shard).collect()
}

/// `matrix merge <dirs> --dist dist [extra]`; stderr with the diagnostic's
/// line wrapping undone, so sentences can be searched.
fn merge(p: &Project, dirs: &[String], extra: &[&str]) -> (i32, String) {
    let mut args: Vec<&str> = vec!["merge"];
    args.extend(dirs.iter().map(String::as_str));
    args.extend(["--dist", "dist"]);
    args.extend(extra);
    let (code, out, err) = run(&mut p.matrix(&args));
    let words: Vec<&str> = err.split_whitespace().filter(|w| *w != "|").collect();
    (code, format!("{out}\n{}", words.join(" ")))
}

/// The merge was refused (exit 2), its message names `file` and says
/// `says`, and dist/ holds neither a checksums file nor a manifest.
fn assert_refused(p: &Project, (code, err): (i32, String), file: &str, says: &str) {
    assert_eq!(code, 2, "{err}");
    assert!(mentions(&err, file), "names {file}: {err}");
    assert!(mentions(&err, says), "says {says:?}: {err}");
    for f in [CHECKSUMS, "manifest.json"] {
        assert!(
            !p.dist().join(f).exists(),
            "dist/{f} was written by a refused merge"
        );
    }
}

/// Whether `err` says `text`: miette wraps long lines anywhere, even
/// inside a path, so spaces do not count.
fn mentions(err: &str, text: &str) -> bool {
    let squash = |s: &str| s.split_whitespace().collect::<String>();
    squash(err).contains(&squash(text))
}

fn read_manifest(p: &Project, dir: &str) -> Value {
    let text = std::fs::read_to_string(p.path().join(dir).join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn edit_manifest(p: &Project, dir: &str, edit: impl FnOnce(&mut Value)) {
    let mut m = read_manifest(p, dir);
    edit(&mut m);
    let path = p.path().join(dir).join("manifest.json");
    std::fs::write(path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
}

/// Adds to shard `dir` a file `name` holding a copy of the shard's first
/// archive, with a record that is correct for those bytes.
fn smuggle(p: &Project, dir: &str, name: &str, edit: impl FnOnce(&mut Value)) {
    let m = read_manifest(p, dir);
    let first = m["artifacts"][0].clone();
    let from = p.path().join(dir).join(first["path"].as_str().unwrap());
    let to = p.path().join(dir).join(name);
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::copy(from, to).unwrap();
    let mut record = first;
    record["name"] = name.into();
    record["path"] = name.into();
    edit(&mut record);
    edit_manifest(p, dir, |m| {
        m["artifacts"].as_array_mut().unwrap().push(record);
    });
}

/// A clean merge of the three shards works: the attacks below are refused
/// for what they change, not for the setup.
#[test]
fn honest_shards_merge() {
    let p = three_shards();
    let (code, err) = merge(&p, &all(), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(p.dist().join(CHECKSUMS).is_file());
    let m = read_manifest(&p, "dist");
    assert_eq!(m["artifacts"].as_array().unwrap().len(), 7);
    assert!(m.get("missing_targets").is_none(), "{m}");
}

#[test]
fn an_extra_archive_with_a_correct_record_is_refused() {
    let p = three_shards();
    // Another shard's archive, with its own correct record.
    let theirs = read_manifest(&p, &shard(2))["artifacts"][0].clone();
    let name = theirs["name"].as_str().unwrap().to_string();
    std::fs::copy(
        p.path().join(shard(2)).join(&name),
        p.path().join(shard(1)).join(&name),
    )
    .unwrap();
    edit_manifest(&p, &shard(1), |m| {
        m["artifacts"].as_array_mut().unwrap().push(theirs);
    });
    let out = merge(&p, &[shard(1), shard(3)], &["--allow-partial"]);
    assert_refused(&p, out, "shards/shard-1/manifest.json", &name);

    // A name no target of the plan writes.
    let p = three_shards();
    smuggle(&p, &shard(1), "hello_1.2.3_plan9_amd64.tar.gz", |_| {});
    let out = merge(&p, &all(), &[]);
    assert_refused(
        &p,
        out,
        "shards/shard-1/manifest.json",
        "\"hello_1.2.3_plan9_amd64.tar.gz\", which is not an artifact the plan gives shard 1/3",
    );
}

#[test]
fn an_extra_package_notes_or_install_script_is_refused() {
    for (name, kind, says) in [
        (
            "snap/hello_1.2.3_amd64.snap",
            "package",
            "a release-wide file",
        ),
        ("RELEASE_NOTES.md", "notes", "a release-wide file"),
        ("RELEASE_NOTES.md", "archive", "a release-wide file"),
        (
            "install.sh",
            "archive",
            "which is not an artifact the plan gives",
        ),
        ("install.sh", "channel", "a release-wide file"),
    ] {
        let p = three_shards();
        smuggle(&p, &shard(2), name, |r| r["kind"] = kind.into());
        let out = merge(&p, &all(), &[]);
        assert_refused(&p, out.clone(), "shards/shard-2/manifest.json", name);
        assert!(mentions(&out.1, says), "{name} as {kind}: {}", out.1);
    }
}

#[test]
fn a_record_named_like_the_checksums_file_is_refused() {
    let p = three_shards();
    smuggle(&p, &shard(3), CHECKSUMS, |_| {});
    let out = merge(&p, &all(), &[]);
    assert_refused(&p, out, "shards/shard-3/manifest.json", CHECKSUMS);
    // A record of the manifest itself (its digest cannot match, but the
    // name is refused before anything is hashed).
    let p = three_shards();
    let first = read_manifest(&p, &shard(3))["artifacts"][0].clone();
    edit_manifest(&p, &shard(3), |m| {
        let mut record = first;
        record["name"] = "manifest.json".into();
        record["path"] = "manifest.json".into();
        m["artifacts"].as_array_mut().unwrap().push(record);
    });
    let out = merge(&p, &all(), &[]);
    assert_refused(
        &p,
        out,
        "shards/shard-3/manifest.json",
        "records \"manifest.json\" (archive), a release-wide file",
    );
}

#[test]
fn swapped_targets_are_refused() {
    let p = three_shards();
    let mut swapped = (String::new(), String::new());
    edit_manifest(&p, &shard(1), |m| {
        let a = m["artifacts"].as_array_mut().unwrap();
        assert_eq!(a.len(), 2, "shard 1/3 of six targets owns two");
        let t0 = a[0]["target"].clone();
        a[0]["target"] = a[1]["target"].clone();
        a[1]["target"] = t0;
        swapped = (
            a[0]["name"].as_str().unwrap().to_string(),
            a[0]["target"].as_str().unwrap().to_string(),
        );
    });
    let (name, target) = swapped;
    let out = merge(&p, &all(), &[]);
    assert_refused(
        &p,
        out.clone(),
        "shards/shard-1/manifest.json",
        &format!("{name} is recorded as path {name}, kind"),
    );
    assert!(
        mentions(&out.1, &format!("target {target}, but the plan makes it")),
        "{}",
        out.1
    );
}

#[test]
fn a_shard_claiming_more_targets_than_it_owns_is_refused() {
    let p = three_shards();
    // Shard 1 says it holds every target: with shard 3 left out, the old
    // merge saw no missing target.
    let every: Vec<Value> = read_manifest(&p, "shards/shard-1")["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(every.len(), 6);
    let owned = read_manifest(&p, &shard(1))["shard"]["targets"].clone();
    edit_manifest(&p, &shard(1), |m| m["shard"]["targets"] = every.into());
    for extra in [&[][..], &["--allow-partial"][..]] {
        let out = merge(&p, &[shard(1), shard(2)], extra);
        assert_refused(
            &p,
            out.clone(),
            "shards/shard-1/manifest.json",
            "shard 1/3 lists the targets [linux/amd64, linux/arm64, windows/amd64, windows/arm64, darwin/amd64, darwin/arm64], but the plan gives it [",
        );
        for t in owned.as_array().unwrap() {
            assert!(mentions(&out.1, t.as_str().unwrap()), "{}", out.1);
        }
    }
}

#[test]
fn a_shard_without_one_of_its_archives_leaves_that_target_missing() {
    let p = three_shards();
    let mut dropped = Value::Null;
    edit_manifest(&p, &shard(2), |m| {
        dropped = m["artifacts"].as_array_mut().unwrap().remove(0);
    });
    let name = dropped["path"].as_str().unwrap();
    let target = dropped["target"].as_str().unwrap();
    std::fs::remove_file(p.path().join(shard(2)).join(name)).unwrap();
    // Its `targets` list still names the target: it is not believed.
    let out = merge(&p, &all(), &[]);
    assert_refused(
        &p,
        out,
        "the shards lack 1 target",
        &format!("the shards lack 1 target: {target}"),
    );
    let (code, err) = merge(&p, &all(), &["--allow-partial"]);
    assert_eq!(code, 0, "{err}");
    let m = read_manifest(&p, "dist");
    assert_eq!(m["missing_targets"], serde_json::json!([target]), "{m}");
    let sums = std::fs::read_to_string(p.dist().join(CHECKSUMS)).unwrap();
    assert_eq!(sums.lines().count(), 5, "{sums}");
    assert!(!sums.contains(name), "{sums}");
}

#[test]
fn index_7_of_3_is_refused() {
    let p = three_shards();
    edit_manifest(&p, &shard(3), |m| m["shard"]["index"] = 7.into());
    let out = merge(&p, &all(), &["--allow-partial"]);
    assert_refused(
        &p,
        out,
        "shards/shard-3/manifest.json",
        "shard 7/3 does not exist",
    );
}

#[test]
fn index_0_is_refused() {
    let p = three_shards();
    edit_manifest(&p, &shard(1), |m| m["shard"]["index"] = 0.into());
    let out = merge(&p, &all(), &["--allow-partial"]);
    assert_refused(
        &p,
        out,
        "shards/shard-1/manifest.json",
        "shard 0/3 does not exist",
    );
}

#[test]
fn mixed_totals_are_refused() {
    let p = three_shards();
    // A real shard of another split: 1/2 beside 2/3 and 3/3.
    build_shard(&p, "1/2", "shards/half-1", &[]);
    let out = merge(
        &p,
        &["shards/half-1".into(), shard(2), shard(3)],
        &["--allow-partial"],
    );
    assert_refused(
        &p,
        out,
        "shards/shard-2/manifest.json",
        "shard 2/3 is one of 3, but shards/half-1/manifest.json is one of 2",
    );
}

#[test]
fn the_same_index_twice_is_refused() {
    let p = three_shards();
    let status = std::process::Command::new("cp")
        .args(["-a", "shards/shard-1", "shards/again-1"])
        .current_dir(p.path())
        .status()
        .unwrap();
    assert!(status.success());
    let out = merge(
        &p,
        &[shard(1), "shards/again-1".into(), shard(2), shard(3)],
        &[],
    );
    assert_refused(&p, out, "shards/again-1", "shard 1/3 is given twice");
}

/// The merged manifest lists every shard job, so `--history` from a merged
/// release splits by real durations; shards built with that history record
/// its weights and merge again.
#[test]
fn a_merged_manifest_keeps_the_shard_jobs() {
    let p = three_shards();
    let (code, err) = merge(&p, &all(), &[]);
    assert_eq!(code, 0, "{err}");
    let m = read_manifest(&p, "dist");
    let jobs = m["jobs"].as_array().unwrap();
    let mut total = 0.0;
    for t in m["targets"].as_array().unwrap() {
        let id = t["id"].as_str().unwrap();
        let mine: Vec<&Value> = jobs.iter().filter(|j| j["target"] == id).collect();
        let kinds: Vec<&str> = mine.iter().map(|j| j["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["build", "archive"], "{id}: {jobs:?}");
        assert!(mine.iter().all(|j| j["status"] == "ok"));
        total += mine
            .iter()
            .map(|j| j["duration_ms"].as_f64().unwrap())
            .sum::<f64>();
    }
    assert!(total >= 6.0 * 20.0, "each build sleeps 20 ms: {total}");
    // `plan --shards` weighs by those durations, not by count (which would
    // total 6).
    let (code, out, err) = run(&mut p.matrix(&[
        "plan",
        "--shards",
        "2",
        "--format",
        "json",
        "--history",
        "dist/manifest.json",
    ]));
    assert_eq!(code, 0, "{err}");
    let split: Value = serde_json::from_str(&out).unwrap();
    let weighed: f64 = split["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["weight"].as_f64().unwrap())
        .sum();
    assert_eq!(weighed, total, "{out}");

    // Shards split by that history record their weights; the merge
    // computes the same split from them.
    std::fs::rename(p.dist(), p.path().join("extra")).unwrap();
    for i in 1..=2 {
        build_shard(
            &p,
            &format!("{i}/2"),
            &format!("shards/h-{i}"),
            &["--history", "extra/manifest.json"],
        );
    }
    let h = read_manifest(&p, "shards/h-1");
    assert_eq!(h["shard"]["weights"].as_object().unwrap().len(), 6, "{h}");
    let (code, err) = merge(&p, &["shards/h-1".into(), "shards/h-2".into()], &[]);
    assert_eq!(code, 0, "{err}");
    // Mixed with a shard of a split without it: refused.
    std::fs::remove_dir_all(p.dist()).unwrap();
    build_shard(&p, "2/2", "shards/plain-2", &[]);
    let out = merge(
        &p,
        &["shards/h-1".into(), "shards/plain-2".into()],
        &["--allow-partial"],
    );
    assert_refused(
        &p,
        out,
        "shards/plain-2/manifest.json",
        "its targets were split with other weights (--history) than those of shards/h-1/manifest.json",
    );
}
