//! Plan tests for the typed job graph: one id constructor, needs that
//! always name a job, and the release-wide rules for a whole release, a
//! shard and a merge.

use std::collections::BTreeSet;

use super::*;
use crate::plan::jobs::{Scope, Steps};
use crate::plan::shard::{restrict_to_merge, restrict_to_shard};

const BASE: &str = r#"
[project]
name = "hello"
description = "Says hello"
license = "MIT"
homepage = "https://example.org/hello"

[matrix]
os = ["linux", "windows"]
arch = ["amd64", "arm64"]

[build]
command = "go build -o {{ out }}/{{ bin }} ."
binary = "hello"
overrides = [ { when = { os = "linux", arch = "arm64" }, builder = "go" } ]

[builders.go]
dockerfile = "docker/builder-go.Dockerfile"

[release]
url = "https://dl.example/{{ tag }}/{{ artifact }}"

[channels.brew]
kind = "homebrew"
when = { os = "linux" }

[channels.scoop]
kind = "scoop"

[images]
repositories = ["127.0.0.1:5000/{{ project }}"]
dockerfile = "docker/hello.Dockerfile"

[images.matrix]
distro = ["scratch"]
platform = ["linux/amd64", "linux/arm64"]
"#;

fn release(push: bool, oci: bool) -> Plan {
    let loaded = config::parse(Path::new("matrix.toml"), BASE.to_string()).unwrap();
    let mut req = request(&[]);
    req.has_changelog = true;
    req.push = push;
    req.oci_archives = oci;
    build(&loaded, &req).unwrap()
}

fn needs<'a>(plan: &'a Plan, id: &str) -> Vec<&'a str> {
    let job = plan.jobs.iter().find(|j| j.id == id).unwrap();
    job.needs.iter().map(String::as_str).collect()
}

fn ids(plan: &Plan) -> Vec<&str> {
    plan.jobs.iter().map(|j| j.id.as_str()).collect()
}

#[test]
fn every_id_and_kind_is_made_from_the_typed_job() {
    for (push, oci) in [(false, false), (true, false), (false, true), (true, true)] {
        let plan = release(push, oci);
        let steps = plan.steps();
        for j in &plan.jobs {
            assert_eq!(j.id, steps.name(j.work()));
            assert_eq!(j.kind, j.work().kind());
        }
        let json = serde_json::to_value(&plan.jobs).unwrap();
        let image = json
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == "image-scratch-linux-arm64")
            .unwrap();
        assert_eq!(
            image,
            &serde_json::json!({
                "id": "image-scratch-linux-arm64", "kind": "image", "target": null,
                "item": 0, "platform": 1, "uses_engine": true,
                "needs": ["build-linux-arm64"],
            })
        );
    }
}

#[test]
fn a_need_that_names_no_job_is_a_plan_error() {
    let plan = release(false, false);
    let steps = plan.steps();
    let e = steps
        .wire(&[JobId::Archive(0), JobId::Manifest], Scope::Whole)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "job archive-linux-amd64 needs build-linux-amd64, which is no job of the plan"
    );
    assert!(matches!(e, GraphError::MissingNeed { .. }));
    // A build in a builder image the plan does not build.
    let no_builders = Steps {
        builders: &[],
        ..steps
    };
    let e = no_builders
        .wire(&no_builders.all(true), Scope::Whole)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "job build-linux-arm64 runs in builder \"go\", which the plan does not build"
    );
    // The same is a plan error through the plan's own error type.
    let e: PlanError = e.into();
    assert!(matches!(e, PlanError::Graph(GraphError::NoBuilder { .. })));
}

#[test]
fn the_release_wide_rules_hold_for_a_whole_release() {
    let plan = release(true, false);
    assert_eq!(
        needs(&plan, "checksums"),
        [
            "archive-linux-amd64",
            "archive-linux-arm64",
            "archive-windows-amd64",
            "archive-windows-arm64",
            "channel-brew",
            "channel-scoop",
            "release-notes"
        ]
    );
    assert_eq!(needs(&plan, "push-scratch"), ["index-scratch", "checksums"]);
    assert_eq!(needs(&plan, "manifest"), ["checksums", "push-scratch"]);
    let plan = release(false, true);
    assert!(needs(&plan, "checksums").contains(&"index-scratch"));
    assert_eq!(needs(&plan, "manifest"), ["checksums"]);
}

#[test]
fn a_shard_keeps_its_targets_jobs_and_the_builders_they_need() {
    let mut plan = release(true, false);
    restrict_to_shard(&mut plan, 1, 2, &BTreeSet::from([1, 2]), None).unwrap();
    assert_eq!(
        ids(&plan),
        [
            "builder-go",
            "build-linux-arm64",
            "archive-linux-arm64",
            "build-windows-amd64",
            "archive-windows-amd64",
            "image-scratch-linux-arm64",
            "manifest"
        ]
    );
    assert_eq!(
        needs(&plan, "manifest"),
        [
            "archive-linux-arm64",
            "archive-windows-amd64",
            "image-scratch-linux-arm64"
        ]
    );
    let mut plan = release(false, false);
    restrict_to_shard(&mut plan, 0, 2, &BTreeSet::from([0]), None).unwrap();
    assert_eq!(
        ids(&plan),
        [
            "build-linux-amd64",
            "archive-linux-amd64",
            "image-scratch-linux-amd64",
            "manifest"
        ]
    );
}

#[test]
fn a_merge_runs_the_release_wide_jobs_over_the_shards() {
    let mut plan = release(true, true);
    restrict_to_merge(&mut plan, &[]).unwrap();
    assert_eq!(
        ids(&plan),
        [
            "index-scratch",
            "channel-brew",
            "channel-scoop",
            "release-notes",
            "checksums",
            "push-scratch",
            "manifest"
        ]
    );
    assert!(needs(&plan, "index-scratch").is_empty());
    assert!(needs(&plan, "channel-brew").is_empty());
    assert_eq!(needs(&plan, "release-notes"), ["index-scratch"]);
    assert_eq!(
        needs(&plan, "checksums"),
        [
            "index-scratch",
            "channel-brew",
            "channel-scoop",
            "release-notes"
        ]
    );
    assert_eq!(needs(&plan, "manifest"), ["checksums", "push-scratch"]);
    // A partial merge: a channel left with no target is not run, and no
    // job waits for it.
    let mut plan = release(false, false);
    let missing = ["windows/amd64".to_string(), "windows/arm64".to_string()];
    restrict_to_merge(&mut plan, &missing).unwrap();
    assert_eq!(
        ids(&plan),
        [
            "index-scratch",
            "channel-brew",
            "release-notes",
            "checksums",
            "manifest"
        ]
    );
    assert_eq!(needs(&plan, "checksums"), ["channel-brew", "release-notes"]);
    assert_eq!(needs(&plan, "manifest"), ["checksums", "index-scratch"]);
}

/// Package jobs in a whole release, a shard (none) and a merge (those of
/// the targets it has; a channel left with none is not run either).
#[test]
fn package_jobs_in_a_shard_and_a_merge() {
    let text = format!(
        "{BASE}\n[channels.deb]\nkind = \"deb\"\nmaintainer = \"Hello Authors <hello@example.org>\"\n"
    );
    let loaded = config::parse(Path::new("matrix.toml"), text).unwrap();
    let mut req = request(&[]);
    req.has_changelog = true;
    let whole = build(&loaded, &req).unwrap();
    let packages = |plan: &Plan| -> Vec<String> {
        plan.jobs
            .iter()
            .filter(|j| j.kind == JobKind::Package)
            .map(|j| j.id.clone())
            .collect()
    };
    let both = ["package-deb-linux-amd64", "package-deb-linux-arm64"];
    assert_eq!(packages(&whole), both);
    assert_eq!(
        needs(&whole, "package-deb-linux-amd64"),
        ["archive-linux-amd64"]
    );
    let channel = needs(&whole, "channel-deb");
    assert!(both.iter().all(|p| channel.contains(p)), "{channel:?}");
    assert!(both.iter().all(|p| needs(&whole, "checksums").contains(p)));

    let mut shard = whole.clone();
    restrict_to_shard(&mut shard, 1, 2, &BTreeSet::from([0, 1]), None).unwrap();
    assert!(packages(&shard).is_empty(), "{:?}", ids(&shard));

    let mut merge = whole.clone();
    restrict_to_merge(&mut merge, &[]).unwrap();
    assert_eq!(packages(&merge), both);
    assert!(needs(&merge, "package-deb-linux-amd64").is_empty());

    let mut partial = whole.clone();
    restrict_to_merge(&mut partial, &["linux/arm64".to_string()]).unwrap();
    assert_eq!(packages(&partial), ["package-deb-linux-amd64"]);
    assert_eq!(needs(&partial, "channel-deb"), ["package-deb-linux-amd64"]);

    let mut no_linux = whole;
    let linux = ["linux/amd64".to_string(), "linux/arm64".to_string()];
    restrict_to_merge(&mut no_linux, &linux).unwrap();
    assert!(packages(&no_linux).is_empty());
    assert!(
        !ids(&no_linux).contains(&"channel-deb"),
        "{:?}",
        ids(&no_linux)
    );
}

#[test]
fn sbom_jobs_follow_their_archive_and_precede_the_checksums() {
    let plain = release(false, false);
    assert!(plain.sboms.is_empty());
    assert!(plain.jobs.iter().all(|j| j.kind != JobKind::Sbom));
    assert!(!serde_json::to_string(&plain).unwrap().contains("sboms"));

    let text = format!("{BASE}\n[sbom]\nformats = [\"spdx\"]\n");
    let loaded = config::parse(Path::new("matrix.toml"), text).unwrap();
    let mut req = request(&[]);
    req.has_changelog = true;
    let mut plan = build(&loaded, &req).unwrap();
    assert_eq!(plan.sboms.len(), plan.targets.len());
    assert_eq!(
        plan.sboms[0].files[0].file_name,
        format!("{}.spdx.json", plan.targets[0].archive.file_name)
    );
    assert_eq!(needs(&plan, "sbom-linux-amd64"), ["archive-linux-amd64"]);
    let sums = needs(&plan, "checksums");
    for t in &plan.targets {
        assert!(
            sums.contains(&format!("sbom-{}", t.slug).as_str()),
            "{sums:?}"
        );
    }
    // A shard makes none; a merge makes those of the targets it has.
    let mut shard = plan.clone();
    restrict_to_shard(&mut shard, 1, 2, &BTreeSet::from([1, 2]), None).unwrap();
    assert!(shard.jobs.iter().all(|j| j.kind != JobKind::Sbom));
    restrict_to_merge(&mut plan, &["windows/arm64".to_string()]).unwrap();
    let merged: Vec<&str> = plan
        .jobs
        .iter()
        .filter(|j| j.kind == JobKind::Sbom)
        .map(|j| j.id.as_str())
        .collect();
    assert_eq!(
        merged,
        ["sbom-linux-amd64", "sbom-linux-arm64", "sbom-windows-amd64"]
    );
    assert_eq!(needs(&plan, "sbom-linux-amd64"), Vec::<&str>::new());
}

fn signed(sign: &str) -> Plan {
    let text = format!("{BASE}\n[sign]\n{sign}\n");
    let loaded = config::parse(Path::new("matrix.toml"), text).unwrap();
    let mut req = request(&[]);
    req.has_changelog = true;
    build(&loaded, &req).unwrap()
}

#[test]
fn the_sign_job_follows_the_checksums_and_the_manifest_waits_for_it() {
    let plan = signed("method = \"minisign\"\nkey-env = \"KEY\"");
    let ids: Vec<&str> = plan.jobs.iter().map(|j| j.id.as_str()).collect();
    let at = |id: &str| ids.iter().position(|i| *i == id).unwrap();
    assert_eq!(at("sign"), at("checksums") + 1);
    assert_eq!(needs(&plan, "sign"), ["checksums"]);
    assert!(needs(&plan, "manifest").contains(&"sign"));
    let step = plan.sign.as_ref().unwrap();
    assert_eq!(step.public_key, "hello.pub");
    // The plan names where the key comes from, and nothing else of it.
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["sign"]["key-env"], "KEY");
    assert_eq!(json["sign"]["artifacts"], "checksums");
    // A shard does not sign; its merge does.
    let mut shard = plan.clone();
    restrict_to_shard(&mut shard, 0, 2, &BTreeSet::from([0]), None).unwrap();
    assert!(shard.jobs.iter().all(|j| j.kind != JobKind::Sign));
    let mut merge = plan.clone();
    restrict_to_merge(&mut merge, &[]).unwrap();
    assert_eq!(needs(&merge, "sign"), ["checksums"]);
    assert!(needs(&merge, "manifest").contains(&"sign"));
}

#[test]
fn an_unsigned_plan_has_no_sign_job_and_no_sign_key() {
    let plan = release(false, false);
    assert!(plan.jobs.iter().all(|j| j.kind != JobKind::Sign));
    let json = serde_json::to_value(&plan).unwrap();
    assert!(json.get("sign").is_none());
}
