//! Plan tests for `[universal] darwin`: the joined target, its jobs in a
//! whole release, a shard and a merge, its place in Homebrew, and its
//! errors and notes.

use std::collections::BTreeSet;

use super::*;
use crate::plan::shard::{restrict_to_merge, restrict_to_shard};

const UNIVERSAL: &str = r#"
[project]
name = "hello"
description = "Says hello"
license = "MIT"
homepage = "https://example.org/hello"

[matrix]
os = ["darwin", "linux"]
arch = ["amd64", "arm64"]

[build]
command = "go build -o {{ out }}/{{ bin }} ."
env = { GOOS = "{{ os }}", GOARCH = "{{ arch }}" }
binary = "hello"

[archive]
name = "{{ project }}_{{ version }}_{{ os }}_{{ arch }}"

[release]
url = "https://dl.example/{{ tag }}/{{ artifact }}"

[channels.brew]
kind = "homebrew"

[channels.deb]
kind = "deb"
maintainer = "Hello <hello@example.org>"

[universal]
darwin = true
"#;

fn ids(plan: &Plan) -> Vec<&str> {
    plan.jobs.iter().map(|j| j.id.as_str()).collect()
}

fn needs<'a>(plan: &'a Plan, id: &str) -> Vec<&'a str> {
    let job = plan.jobs.iter().find(|j| j.id == id).unwrap();
    job.needs.iter().map(String::as_str).collect()
}

#[test]
fn darwin_universal_joins_the_two_darwin_builds() {
    let plan = plan_of(UNIVERSAL, &[]).unwrap();
    let u = plan.targets.last().unwrap();
    assert_eq!(u.id, "darwin/universal");
    assert_eq!(u.slug, "darwin-universal");
    assert_eq!(u.values["arch"], "universal");
    assert_eq!(u.archive.file_name, "hello_1.2.3_darwin_universal.tar.gz");
    assert!(u.build.argv.is_empty() && u.build.env.is_empty());
    assert_eq!(
        u.build.artifact,
        PathBuf::from("/src/hello/dist/build/darwin-universal/hello")
    );
    let joined: Vec<&str> = u
        .joins
        .iter()
        .flatten()
        .map(|&t| plan.targets[t].id.as_str())
        .collect();
    assert_eq!(joined, ["darwin/amd64", "darwin/arm64"]);
    assert_eq!(
        needs(&plan, "build-darwin-universal"),
        ["build-darwin-amd64", "build-darwin-arm64"]
    );
    assert_eq!(
        needs(&plan, "archive-darwin-universal"),
        ["build-darwin-universal"]
    );
    assert!(needs(&plan, "checksums").contains(&"archive-darwin-universal"));
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);

    // Homebrew ships it in place of the thin darwin targets; deb ignores it.
    let shipped = |name: &str| -> Vec<&str> {
        let c = plan.channels.iter().find(|c| c.name == name).unwrap();
        c.targets
            .iter()
            .map(|(t, _)| plan.targets[*t].id.as_str())
            .collect()
    };
    assert_eq!(
        shipped("brew"),
        ["linux/amd64", "linux/arm64", "darwin/universal"]
    );
    assert_eq!(shipped("deb"), ["linux/amd64", "linux/arm64"]);
    assert_eq!(
        plan.channels[0].targets[2].1,
        "https://dl.example/v1.2.3/hello_1.2.3_darwin_universal.tar.gz"
    );
    // The plan JSON names it like any target, with what it joins.
    let json = serde_json::to_string(&plan).unwrap();
    assert!(json.contains(r#""id":"darwin/universal""#), "{json}");
    assert!(json.contains(r#""joins":[0,1]"#), "{json}");
}

#[test]
fn shards_never_get_the_joined_target_and_the_merge_makes_it() {
    let plan = plan_of(UNIVERSAL, &[]).unwrap();
    let mut shard = plan.clone();
    restrict_to_shard(&mut shard, 0, 2, &BTreeSet::from([0, 2]), None).unwrap();
    assert!(
        !ids(&shard).iter().any(|id| id.contains("universal")),
        "{:?}",
        ids(&shard)
    );
    let mut merge = plan.clone();
    restrict_to_merge(&mut merge, &[]).unwrap();
    assert_eq!(
        ids(&merge)[..2],
        ["build-darwin-universal", "archive-darwin-universal"]
    );
    // The thin builds are the shards': the merge stages their binaries.
    assert!(needs(&merge, "build-darwin-universal").is_empty());
    assert_eq!(
        needs(&merge, "archive-darwin-universal"),
        ["build-darwin-universal"]
    );
    assert!(needs(&merge, "checksums").contains(&"archive-darwin-universal"));
    // A partial merge without darwin/arm64: no universal binary, and
    // Homebrew is left with what there is.
    let mut partial = plan.clone();
    restrict_to_merge(&mut partial, &["darwin/arm64".to_string()]).unwrap();
    assert!(
        !ids(&partial).iter().any(|id| id.contains("universal")),
        "{:?}",
        ids(&partial)
    );
}

#[test]
fn a_missing_darwin_target_is_an_error_at_the_key() {
    let text = UNIVERSAL.replace(
        "arch = [\"amd64\", \"arm64\"]",
        "arch = [\"amd64\", \"arm64\"]\nexclude = [{ os = \"darwin\", arch = \"arm64\" }]",
    );
    let err = config_error(&text);
    let shown = format!("{:?}", miette::Report::new(err));
    assert!(
        shown.contains("but the matrix has no darwin/arm64 target"),
        "{shown}"
    );
    assert!(shown.contains("matrix.toml:32:10"), "{shown}");
}

#[test]
fn a_filter_that_drops_a_darwin_target_is_a_note() {
    let plan = plan_of(UNIVERSAL, &["darwin/arm64", "linux/*"]).unwrap();
    assert!(plan.targets.iter().all(|t| t.of_matrix()));
    assert_eq!(
        plan.warnings,
        [
            "darwin/arm64: no universal binary is made, --target leaves out its darwin/amd64 partner ([universal] darwin)"
        ]
    );
    let plan = plan_of(UNIVERSAL, &["darwin/*"]).unwrap();
    assert_eq!(plan.targets.last().unwrap().id, "darwin/universal");
    assert!(
        plan.unfiltered.iter().any(|t| t.id == "darwin/universal"),
        "a partial build's manifest lists the joined target"
    );
}

#[test]
fn unknown_keys_in_universal_are_refused() {
    let err = config_error(&UNIVERSAL.replace("darwin = true", "darwn = true"));
    let shown = format!("{:?}", miette::Report::new(err));
    assert!(shown.contains("darwn"), "{shown}");
}
