//! `matrix plan`, `matrix targets`, `matrix schema`: what would happen.

use crate::support::{Project, WRITE_BINARY, redact, run, script_config};

const GLIDE_AXES: &str = r#"os   = ["darwin", "linux", "freebsd", "openbsd", "windows"]
arch = ["amd64", "arm64", "386", "ppc64le", "s390x", "riscv64"]
exclude = [
  { os = "darwin",  arch = ["386", "ppc64le", "s390x", "riscv64"] },
  { os = "freebsd", arch = ["ppc64le", "s390x", "riscv64"] },
  { os = "openbsd", arch = ["ppc64le", "s390x", "riscv64"] },
  { os = "windows", arch = ["arm64", "ppc64le", "s390x", "riscv64"] },
]"#;

#[test]
fn plan_prints_targets_and_jobs() {
    let p = Project::with_config(&script_config(GLIDE_AXES, WRITE_BINARY));
    let (code, out, err) = run(&mut p.matrix(&["plan"]));
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("plan_glide", redact(&out, &p));
    assert!(!p.dist().exists(), "plan must not touch the disk");
}

/// A snap channel makes one package job per snap, each needing its
/// target's archive; the channel job needs them all, the checksums the
/// channel. A `--target` filter keeps the package jobs of its targets.
#[test]
fn a_snap_channel_makes_one_package_job_per_snap() {
    let axes = "os = [\"linux\", \"windows\"]\narch = [\"amd64\", \"arm64\", \"riscv64\"]\nexclude = [ { os = \"windows\", arch = [\"arm64\", \"riscv64\"] } ]";
    let mut toml = script_config(axes, WRITE_BINARY);
    toml.push_str("\n[release]\nurl = \"https://example.org/{{ artifact }}\"\n\n[channels.snap]\nkind = \"snapcraft\"\nsummary = \"Hello\"\n");
    let p = Project::with_config(&toml);
    let jobs = |args: &[&str]| {
        let mut all = vec!["plan", "--json"];
        all.extend_from_slice(args);
        let (code, out, err) = run(&mut p.matrix(&all));
        assert_eq!(code, 0, "{err}");
        let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
        let jobs: Vec<serde_json::Value> = plan["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| !["build", "archive"].contains(&j["kind"].as_str().unwrap()))
            .cloned()
            .collect();
        serde_json::to_string_pretty(&jobs).unwrap()
    };
    insta::assert_snapshot!("snap_package_jobs", jobs(&[]));
    let one = jobs(&["--target", "linux/arm64"]);
    assert!(one.contains("\"package-snap-linux-arm64\""), "{one}");
    assert!(!one.contains("package-snap-linux-amd64"), "{one}");
}

#[test]
fn plan_json_is_the_whole_plan() {
    let p = Project::with_config(&script_config(GLIDE_AXES, WRITE_BINARY));
    let (code, out, err) = run(&mut p.matrix(&["plan", "--json", "--target", "linux/*"]));
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["format_version"], 1);
    assert_eq!(plan["version"]["version"], "1.2.3");
    assert_eq!(plan["version"]["tag"], "v1.2.3");
    let ids: Vec<&str> = plan["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "linux/amd64",
            "linux/arm64",
            "linux/386",
            "linux/ppc64le",
            "linux/s390x",
            "linux/riscv64"
        ]
    );
    assert_eq!(plan["jobs"].as_array().unwrap().len(), 6 * 2 + 2);
}

#[test]
fn snapshot_version_comes_from_the_next_patch() {
    let p = Project::with_config(&script_config(
        "os = [\"linux\"]\narch = [\"amd64\"]",
        WRITE_BINARY,
    ));
    p.file("new.txt", "uncommitted\n");
    let (code, out, err) = run(&mut p.matrix(&["plan", "--json", "--snapshot"]));
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let short = p.git(&["rev-parse", "HEAD"])[..7].to_string();
    assert_eq!(
        plan["version"]["version"],
        format!("1.2.4-SNAPSHOT-{short}")
    );
    assert_eq!(plan["version"]["is_snapshot"], true);
}

#[test]
fn matrix_version_overrides_git() {
    let p = Project::with_config(&script_config(
        "os = [\"linux\"]\narch = [\"amd64\"]",
        WRITE_BINARY,
    ));
    let (code, out, err) = run(p
        .matrix(&["plan", "--json"])
        .env("MATRIX_VERSION", "v0.0.2-rc.1"));
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["version"]["version"], "0.0.2-rc.1");
    assert_eq!(
        plan["targets"][0]["archive"]["file_name"],
        "hello_0.0.2-rc.1_linux_amd64.tar.gz"
    );
}

#[test]
fn targets_lists_known_names() {
    let p = Project::new();
    let (code, out, _) = run(&mut p.matrix(&["targets"]));
    assert_eq!(code, 0);
    insta::assert_snapshot!("targets", out);
    let (code, out, _) = run(&mut p.matrix(&["targets", "--json"]));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let oses: Vec<&str> = v["os"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    for os in ["darwin", "linux", "freebsd", "openbsd", "windows"] {
        assert!(oses.contains(&os), "{os}");
    }
}

#[test]
fn schema_describes_every_section() {
    let p = Project::new();
    let (code, out, _) = run(&mut p.matrix(&["schema"]));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let props = v["properties"].as_object().unwrap();
    let keys: Vec<&str> = props.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "archive",
            "build",
            "builders",
            "cache",
            "channels",
            "checksum",
            "ci",
            "container",
            "images",
            "limits",
            "matrix",
            "project",
            "release",
            "sbom",
            "sign",
            "universal",
            "version"
        ]
    );
    assert_eq!(
        v["required"],
        serde_json::json!(["project", "matrix", "build"])
    );
    let text = out.to_string();
    assert!(text.contains("format-overrides"), "kebab-case keys");
    assert!(text.contains("\"tar.zst\""), "formats are enumerated");
    assert!(
        text.contains("floating-tags") && text.contains("pass-env"),
        "{text}"
    );
}

#[test]
fn own_release_plans() {
    // The repository's own matrix.toml must stay valid.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("matrix"));
    cmd.args(["-c", "matrix.toml", "plan", "--json"])
        .current_dir(root)
        .env("MATRIX_VERSION", "0.1.0")
        .env("SOURCE_DATE_EPOCH", "0");
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["targets"][0]["id"], "linux/amd64");
    assert_eq!(
        plan["targets"][0]["values"]["triple"],
        "x86_64-unknown-linux-gnu"
    );
}
