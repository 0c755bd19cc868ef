//! The release from Rust, as a library user calls it: a tiny project whose
//! builds are shell scripts, built, merged, verified and published without
//! the CLI.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::*;
use crate::package::manifest::{ArtifactKind, Manifest};

const CONFIG: &str = r#"[project]
name = "hello"
description = "A test release."
homepage = "https://example.org/hello"
license = "MIT"

[matrix]
os = ["linux"]
arch = ["amd64", "arm64"]

[build]
command = ["sh", "-c", "printf '#!/bin/sh\necho hello {{ os }}/{{ arch }}\n' > \"$0\" && chmod +x \"$0\"", "{{ out }}/{{ bin }}"]
binary = "hello"
verify = false

[archive]
name = "{{ project }}_{{ version }}_{{ os }}_{{ arch }}"
format = "binary"
"#;

/// A git repository holding `CONFIG` as matrix.toml, tagged v1.2.3.
fn project() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("project");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("matrix.toml"), CONFIG).expect("write");
    std::fs::write(dir.join(".gitignore"), "dist*/\n").expect("write");
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &["commit", "-q", "-m", "release"],
        &["tag", "v1.2.3"],
    ] {
        let out = Command::new("git")
            .args(args)
            .current_dir(&dir)
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.org")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.org")
            .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
            .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }
    (tmp, dir)
}

fn plan_options(dir: &Path, dist: &str) -> PlanOptions {
    PlanOptions {
        dist: dir.join(dist),
        ..PlanOptions::new(dir.join("matrix.toml"))
    }
}

fn quiet() -> Arc<dyn crate::report::Reporter> {
    Arc::new(crate::report::Quiet)
}

fn manifest(dist: &Path) -> Manifest {
    Manifest::read(&dist.join(crate::plan::MANIFEST)).expect("a manifest")
}

/// The names of the release's per-target artifacts.
fn binaries(m: &Manifest) -> Vec<&str> {
    m.artifacts
        .iter()
        .filter(|a| a.target.is_some())
        .map(|a| a.name.as_str())
        .collect()
}

async fn build_into(dir: &Path, dist: &str, shard: Option<&str>) -> (Finished, Vec<String>) {
    let opts = BuildOptions {
        shard: shard.map(String::from),
        ..BuildOptions::new(plan_options(dir, dist))
    };
    let mut warnings = Vec::new();
    let finished = build(
        &opts,
        &mut |w| warnings.push(w),
        quiet(),
        CancellationToken::new(),
    )
    .await
    .expect("the build starts");
    (finished, warnings)
}

#[tokio::test]
async fn build_makes_a_release_that_verifies() {
    let (_tmp, dir) = project();
    let (finished, warnings) = build_into(&dir, "dist", None).await;
    assert!(finished.succeeded(), "{}", finished.summary());
    assert_eq!(finished.failed(), 0);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(finished.summary().contains("hello_1.2.3_linux_amd64"));
    drop(finished);

    let m = manifest(&dir.join("dist"));
    assert_eq!(m.version, "1.2.3");
    assert!(m.missing_targets.is_empty() && m.shard.is_none());
    assert_eq!(
        binaries(&m),
        ["hello_1.2.3_linux_amd64", "hello_1.2.3_linux_arm64"]
    );
    for a in &m.artifacts {
        assert!(a.digest.starts_with("sha256:"), "{a:?}");
        assert!(dir.join("dist").join(&a.path).is_file(), "{a:?}");
    }
    assert!(
        m.artifacts
            .iter()
            .any(|a| a.kind == ArtifactKind::Checksums)
    );

    // A second build into the same dist/ needs `clean`.
    let opts = BuildOptions::new(plan_options(&dir, "dist"));
    let err = prepare_build(&opts, &mut |_| {}).err().expect("refused");
    assert!(matches!(err, Error::DistNotEmpty { .. }), "{err:?}");
}

#[tokio::test]
async fn a_build_of_some_targets_is_partial() {
    let (_tmp, dir) = project();
    let opts = BuildOptions::new(PlanOptions {
        targets: vec!["linux/amd64".into()],
        ..plan_options(&dir, "dist")
    });
    let mut warnings = Vec::new();
    let prepared = prepare_build(&opts, &mut |w| warnings.push(w)).expect("prepared");
    assert_eq!(prepared.options.seed.missing_targets, ["linux/arm64"]);
    assert_eq!(
        warnings,
        [
            "a partial release: 1 of 2 targets not built (linux/arm64); verify and publish need --allow-partial"
        ]
    );
    let finished = prepared.run(quiet(), CancellationToken::new()).await;
    assert!(finished.succeeded(), "{}", finished.summary());
}

#[tokio::test]
async fn merge_joins_shards_into_the_release_a_build_makes() {
    let (_tmp, dir) = project();
    let mut shards = Vec::new();
    for (i, name) in [(1, "dist-1"), (2, "dist-2")] {
        let (finished, _) = build_into(&dir, name, Some(&format!("{i}/2"))).await;
        assert!(finished.succeeded(), "{}", finished.summary());
        assert!(manifest(&dir.join(name)).shard.is_some());
        shards.push(dir.join(name));
    }
    let opts = MergeOptions {
        plan: plan_options(&dir, "dist"),
        shards,
        clean: false,
        allow_partial: false,
        raise: crate::merge::unpack::Raise::default(),
    };
    let mut warnings = Vec::new();
    let finished = merge(
        &opts,
        &mut |w| warnings.push(w),
        quiet(),
        CancellationToken::new(),
    )
    .await
    .expect("the merge starts");
    assert!(finished.succeeded(), "{}", finished.summary());
    assert!(warnings.is_empty(), "{warnings:?}");
    drop(finished);
    let merged = manifest(&dir.join("dist"));
    assert!(merged.shard.is_none());
    assert_eq!(
        binaries(&merged),
        ["hello_1.2.3_linux_amd64", "hello_1.2.3_linux_arm64"]
    );

    // Byte for byte what one machine makes.
    let (finished, _) = build_into(&dir, "dist-whole", None).await;
    assert!(finished.succeeded(), "{}", finished.summary());
    let whole = manifest(&dir.join("dist-whole"));
    let digests = |m: &Manifest| -> Vec<(String, String)> {
        m.artifacts
            .iter()
            .map(|a| (a.name.clone(), a.digest.clone()))
            .collect()
    };
    assert_eq!(digests(&merged), digests(&whole));
}

#[tokio::test]
async fn verify_passes_a_release_and_fails_a_flipped_byte() {
    let (_tmp, dir) = project();
    let (finished, _) = build_into(&dir, "dist", None).await;
    assert!(finished.succeeded(), "{}", finished.summary());
    drop(finished);
    let opts = VerifyOptions {
        dir: dir.join("dist"),
        allow_partial: false,
        flat: false,
    };
    let report = verify(&opts).expect("a release");
    assert!(report.ok(), "{:?}", report.problems);
    // Both binaries and the checksums file at least.
    assert!(report.files >= 3, "{report:?}");

    let binary = dir.join("dist").join("hello_1.2.3_linux_arm64");
    let mut bytes = std::fs::read(&binary).expect("read");
    bytes[0] ^= 1;
    std::fs::write(&binary, bytes).expect("write");
    let report = verify(&opts).expect("a release");
    assert!(!report.ok());
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.starts_with("hello_1.2.3_linux_arm64:")),
        "{:?}",
        report.problems
    );
    // Not a release at all: an error, not a report.
    let empty = tempfile::tempdir().expect("tempdir");
    assert!(
        verify(&VerifyOptions {
            dir: empty.path().to_path_buf(),
            allow_partial: false,
            flat: false,
        })
        .is_err()
    );
}

#[tokio::test]
async fn publish_copies_a_verified_release_into_a_repository() {
    let (tmp, dir) = project();
    let (finished, _) = build_into(&dir, "dist", None).await;
    assert!(finished.succeeded(), "{}", finished.summary());
    drop(finished);
    let repo = tmp.path().join("repo");
    let opts = PublishOptions::to_repository(dir.join("dist"), repo.clone(), "flat");
    let report = publish(&opts)
        .expect("published")
        .repository
        .expect("a directory publish");
    assert_eq!(report.version, "1.2.3");
    let names: Vec<&str> = report.files.iter().map(|f| f.name.as_str()).collect();
    assert!(names.contains(&"hello_1.2.3_linux_amd64"), "{names:?}");
    for f in &report.files {
        assert!(!f.reused, "{f:?}");
        let copied = std::fs::read(repo.join(&f.path)).expect("copied");
        assert_eq!(copied.len() as u64, f.size, "{f:?}");
    }
    assert!(report.record.is_file());
    // A version is published once.
    let again = publish(&opts).expect_err("refused");
    assert!(
        matches!(
            &again,
            Error::Repo(crate::repo::RepoError::AlreadyPublished { .. })
        ),
        "{again:?}"
    );
}

/// The order the build jobs of a `--clean -j 1` rebuild start in, after
/// `prepare` did what it likes to dist/ (the first build's output).
async fn rebuild_start_order(prepare: impl FnOnce(&Path)) -> Vec<String> {
    let (_tmp, dir) = project();
    let (finished, _) = build_into(&dir, "dist", None).await;
    assert!(finished.succeeded(), "{}", finished.summary());
    drop(finished);
    prepare(&dir.join("dist"));
    let recording = Arc::new(crate::report::Recording::default());
    let opts = BuildOptions {
        clean: true,
        jobs: Some(1),
        ..BuildOptions::new(plan_options(&dir, "dist"))
    };
    let finished = build(
        &opts,
        &mut |_| {},
        recording.clone(),
        CancellationToken::new(),
    )
    .await
    .expect("the build starts");
    assert!(finished.succeeded(), "{}", finished.summary());
    let events = recording.events.lock().expect("events").clone();
    events
        .into_iter()
        .filter(|(id, what)| what == "started" && id.starts_with("build-"))
        .map(|(id, _)| id)
        .collect()
}

/// The first build's manifest with arm64's build made the longest job.
fn arm64_was_slow(dist: &Path) -> String {
    let path = dist.join(crate::plan::MANIFEST);
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("manifest")).expect("json");
    for job in m["jobs"].as_array_mut().expect("jobs") {
        if job["id"] == "build-linux-arm64" {
            job["duration_ms"] = 60_000.into();
        }
    }
    serde_json::to_string(&m).expect("json")
}

#[tokio::test]
async fn a_rebuild_starts_the_job_that_took_longest_last_time_first() {
    let order = rebuild_start_order(|dist| {
        let text = arm64_was_slow(dist);
        std::fs::write(dist.join(crate::plan::MANIFEST), text).expect("write");
    })
    .await;
    assert_eq!(order, ["build-linux-arm64", "build-linux-amd64"]);
}

#[tokio::test]
async fn a_previous_manifest_that_is_not_json_or_a_link_is_ignored() {
    let garbage = rebuild_start_order(|dist| {
        std::fs::write(
            dist.join(crate::plan::MANIFEST),
            "{\"jobs\": [1, {\"id\": 7",
        )
        .expect("write");
    })
    .await;
    assert_eq!(
        garbage,
        ["build-linux-amd64", "build-linux-arm64"],
        "plan order"
    );
    // A link is not followed, even to a manifest that would reorder.
    let linked = rebuild_start_order(|dist| {
        let text = arm64_was_slow(dist);
        // Beside the project, whose git tree must stay clean.
        let outside = dist.join("../../elsewhere.json");
        std::fs::write(&outside, text).expect("write");
        let path = dist.join(crate::plan::MANIFEST);
        std::fs::remove_file(&path).expect("rm");
        std::os::unix::fs::symlink(&outside, &path).expect("symlink");
    })
    .await;
    assert_eq!(
        linked,
        ["build-linux-amd64", "build-linux-arm64"],
        "plan order"
    );
}
