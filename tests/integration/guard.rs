//! Plan-time guarantees: a channel that cannot ship a target, a name that
//! is not a plain file name and a flag combination that would be ignored
//! all stop before any job runs (exit 2), and the commands that only look
//! (`plan`, `doctor`, `schema`) work in an untagged or dirty checkout.

use crate::support::{Project, WRITE_BINARY, redact, run, script_config};

const AXES: &str = "os = [\"linux\", \"windows\"]\narch = [\"amd64\", \"arm64\"]";

const RELEASE_URL: &str = "\n[release]\nurl = \"https://dl.example/{{ tag }}/{{ artifact }}\"\n";

/// The script config with a release URL and `extra` after it.
fn config(extra: &str) -> String {
    format!("{}{RELEASE_URL}{extra}", script_config(AXES, WRITE_BINARY))
}

/// Runs `matrix <args>` on a tagged project; expects exit 2 and an
/// untouched dist, and returns the redacted stderr.
fn refused(config: &str, args: &[&str]) -> String {
    let p = Project::with_config(config);
    let (code, out, err) = run(&mut p.matrix(args));
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    assert!(!p.dist().exists(), "nothing may be written on a plan error");
    redact(&err, &p)
}

#[test]
fn a_chocolatey_when_that_selects_windows_arm64_is_a_plan_error() {
    let text = config("\n[channels.choco]\nkind = \"chocolatey\"\nwhen = { os = \"windows\" }\n");
    // `build` stops at the plan: no build ran, nothing was written.
    let err = refused(&text, &["build"]);
    insta::assert_snapshot!(err);
    assert_eq!(refused(&text, &["plan"]), err);
}

#[test]
fn a_default_chocolatey_channel_leaves_windows_arm64_out_and_says_so() {
    let p = Project::with_config(&config("\n[channels.choco]\nkind = \"chocolatey\"\n"));
    let (code, out, err) = run(&mut p.matrix(&["plan", "--json"]));
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let channel = &plan["channels"][0];
    assert_eq!(channel["name"], "choco");
    let shipped: Vec<&str> = channel["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            plan["targets"][t[0].as_u64().unwrap() as usize]["id"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(shipped, ["windows/amd64"]);
    assert_eq!(
        plan["warnings"],
        serde_json::json!([
            "channel choco leaves out windows/arm64: chocolatey ships windows/amd64, windows/386 only (set the channel's `when` to choose its targets)"
        ])
    );
    let (code, out, err) = run(&mut p.matrix(&["plan"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("warning: channel choco leaves out windows/arm64"),
        "{out}"
    );
}

#[test]
fn a_windows_tar_archive_for_chocolatey_is_a_plan_error() {
    let text = config("\n[channels.choco]\nkind = \"chocolatey\"\n").replace(
        "format-overrides = [ { when = { os = \"windows\" }, format = \"zip\" } ]\n",
        "",
    );
    let err = refused(&text, &["plan"]);
    insta::assert_snapshot!(err);
}

#[test]
fn binary_dot_dot_is_a_plan_error() {
    let text = script_config(AXES, WRITE_BINARY).replace("binary = \"hello\"", "binary = \"..\"");
    let err = refused(&text, &["plan"]);
    insta::assert_snapshot!(err);
    assert_eq!(refused(&text, &["build"]), err);
}

#[test]
fn an_archive_name_rendering_to_dot_dot_for_one_target_is_a_plan_error() {
    let text = script_config(AXES, WRITE_BINARY).replace(
        "name = \"{{ project }}_{{ version }}_{{ os }}_{{ arch }}\"",
        "name = \"{% if arch == 'arm64' %}..{% else %}{{ project }}_{{ os }}_{{ arch }}{% endif %}\"",
    );
    let err = refused(&text, &["build"]);
    insta::assert_snapshot!(err);
}

#[test]
fn a_files_dst_outside_the_archive_is_a_plan_error() {
    let text = script_config(AXES, WRITE_BINARY).replace(
        "files = [\"LICENSE\", \"README.md\"]",
        "files = [\"LICENSE\", { src = \"README.md\", dst = \"../up\" }]",
    );
    let err = refused(&text, &["build"]);
    assert!(
        err.contains("unsafe archive path `../up`: it contains `..`"),
        "{err}"
    );
    assert!(err.contains("archive.files[1].dst"), "{err}");
}

#[test]
fn plan_format_json_prints_the_plan_like_json() {
    let p = Project::with_config(&script_config(AXES, WRITE_BINARY));
    let (code, json, err) = run(&mut p.matrix(&["plan", "--json"]));
    assert_eq!(code, 0, "{err}");
    let (code, format_json, err) = run(&mut p.matrix(&["plan", "--format", "json"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(format_json, json);
    let plan: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(plan["format_version"], 1);
    // With --shards, --json is --format json too: the assignment.
    let (code, a, err) = run(&mut p.matrix(&["plan", "--shards", "2", "--json"]));
    assert_eq!(code, 0, "{err}");
    let (code, b, err) = run(&mut p.matrix(&["plan", "--shards", "2", "--format", "json"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(a, b);
    let split: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(split["shards"].as_array().unwrap().len(), 2, "{a}");
}

#[test]
fn flag_combinations_that_would_be_ignored_are_usage_errors() {
    let p = Project::with_config(&script_config(AXES, WRITE_BINARY));
    let cases: [(&[&str], &str); 10] = [
        (&["plan", "--format", "github"], "--shards <N>"),
        (&["plan", "--format", "gitlab"], "--shards <N>"),
        (
            &["plan", "--json", "--format", "github"],
            "'--json' cannot be used with '--format <FORMAT>'",
        ),
        (
            &["plan", "--json", "--format", "json"],
            "'--json' cannot be used with '--format <FORMAT>'",
        ),
        (&["plan", "--history", "manifest.json"], "--shards <N>"),
        (
            &["plan", "--shards", "2", "--target", "linux/*"],
            "'--shards <N>' cannot be used with '--target <ID>'",
        ),
        (&["build", "--history", "manifest.json"], "--shard <I/N>"),
        (
            &["build", "--push"],
            "--push needs [images] in matrix.toml: there is no image to push",
        ),
        (
            &["plan", "--oci-dir"],
            "--oci-dir needs [images] in matrix.toml: there is no image to write",
        ),
        (
            &["build", "--shard", "1/2", "--target", "linux/*"],
            "'--shard <I/N>' cannot be used with '--target <ID>'",
        ),
    ];
    for (args, want) in cases {
        let (code, out, err) = run(&mut p.matrix(args));
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // Unpack limits with no shard archive to unpack.
    std::fs::create_dir_all(p.path().join("shard-1")).unwrap();
    let (code, _, err) = run(&mut p.matrix(&["merge", "shard-1", "--max-unpack-bytes", "8GiB"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "--max-unpack-bytes limits unpacking a shard archive, and every shard given is a folder"
        ),
        "{err}"
    );
    assert!(!p.dist().exists());
}

/// A project one commit past its tag, so HEAD has none.
fn untagged() -> Project {
    let p = Project::with_config(&script_config(AXES, WRITE_BINARY));
    p.file("more.txt", "x\n");
    p.commit();
    p
}

#[test]
fn plan_doctor_and_schema_work_without_a_tag() {
    let p = untagged();
    let short = p
        .git(&["rev-parse", "--short=7", "HEAD"])
        .trim()
        .to_string();
    let note = format!(
        "note: showing the snapshot version 1.2.4-SNAPSHOT-{short}; a release build would refuse this checkout: HEAD has no semver tag (latest tag: v1.2.3)\n"
    );
    let (code, out, err) = run(&mut p.matrix(&["plan"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, note);
    assert!(
        out.contains(&format!("version  1.2.4-SNAPSHOT-{short} (tag v1.2.4-SNAPSHOT-{short}, commit {short}, snapshot)")),
        "{out}"
    );
    // --quiet and --snapshot (which asks for that version) drop the note.
    for flag in ["--quiet", "--snapshot"] {
        let (code, _, err) = run(&mut p.matrix(&["plan", flag]));
        assert_eq!((code, err.as_str()), (0, ""), "{flag}");
    }
    let (code, out, err) = run(&mut p.matrix(&["plan", "--json"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, note);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["version"]["is_snapshot"], true);
    assert_eq!(
        plan["release_refused"],
        "HEAD has no semver tag (latest tag: v1.2.3)"
    );
    let (code, out, err) = run(&mut p.matrix(&["doctor"]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(err, note);
    let (code, out, err) = run(&mut p.matrix(&["schema"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"properties\""));
    // What feeds or makes a release stays strict.
    for args in [&["build"][..], &["plan", "--shards", "2"]] {
        let (code, out, err) = run(&mut p.matrix(args));
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(
            err.contains("HEAD has no semver tag (latest tag: v1.2.3)"),
            "{err}"
        );
    }
    assert!(!p.dist().exists());
}

#[test]
fn plan_works_with_an_uncommitted_matrix_toml() {
    let p = Project::with_config(&script_config(AXES, WRITE_BINARY));
    let text = std::fs::read_to_string(p.path().join("matrix.toml")).unwrap();
    p.file(
        "matrix.toml",
        &text.replace("A test release.", "A changed release."),
    );
    let (code, out, err) = run(&mut p.matrix(&["plan", "--json"]));
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["project"]["description"], "A changed release.");
    assert_eq!(plan["version"]["is_snapshot"], true);
    assert_eq!(
        plan["release_refused"],
        "the working tree has uncommitted changes (1 file): matrix.toml"
    );
    assert!(
        err.starts_with("note: showing the snapshot version 1.2.4-SNAPSHOT-"),
        "{err}"
    );
    let (code, _, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("uncommitted changes (1 file): matrix.toml"),
        "{err}"
    );
}

#[test]
fn a_releasable_checkout_plans_its_release_without_a_note() {
    let p = Project::with_config(&script_config(AXES, WRITE_BINARY));
    let (code, out, err) = run(&mut p.matrix(&["plan", "--json"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, "");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["version"]["version"], "1.2.3");
    assert_eq!(plan["version"]["is_snapshot"], false);
    assert_eq!(plan["release_refused"], serde_json::Value::Null);
}
