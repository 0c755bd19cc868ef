//! Plan tests: target lists, rendered steps, and plan-time errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::config;

pub(crate) fn version() -> Version {
    Version {
        version: "1.2.3".into(),
        tag: "v1.2.3".into(),
        major: 1,
        minor: 2,
        patch: 3,
        prerelease: String::new(),
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        short_commit: "0123456".into(),
        commit_timestamp: 1_700_000_000,
        commit_date: "2023-11-14T22:13:20Z".into(),
        is_snapshot: false,
        timestamp: 1_700_000_000,
    }
}

fn request(filters: &[&str]) -> Request {
    Request {
        version: version(),
        root: PathBuf::from("/src/hello"),
        dist: PathBuf::from("/src/hello/dist"),
        filters: filters.iter().map(|s| s.to_string()).collect(),
        env: BTreeMap::from([("HOME".to_string(), "/home/me".to_string())]),
        push: false,
        oci_archives: false,
        images: true,
        has_changelog: false,
    }
}

pub(crate) fn plan_of(text: &str, filters: &[&str]) -> Result<Plan, PlanError> {
    let loaded =
        config::parse(Path::new("matrix.toml"), text.to_string()).map_err(|e| match e {
            config::LoadError::Invalid(e) => PlanError::Config(e),
            other => panic!("{other:?}"),
        })?;
    build(&loaded, &request(filters))
}

fn config_error(text: &str) -> ConfigError {
    match plan_of(text, &[]) {
        Err(PlanError::Config(e)) => e,
        Err(other) => panic!("expected a config error, got {other:?}"),
        Ok(_) => panic!("expected a config error, got a plan"),
    }
}

const GLIDE: &str = r#"
[project]
name = "hello"
license = "MIT"

[matrix]
os   = ["darwin", "linux", "freebsd", "openbsd", "windows"]
arch = ["amd64", "arm64", "386", "ppc64le", "s390x", "riscv64"]
exclude = [
  { os = "darwin",  arch = ["386", "ppc64le", "s390x", "riscv64"] },
  { os = "freebsd", arch = ["ppc64le", "s390x", "riscv64"] },
  { os = "openbsd", arch = ["ppc64le", "s390x", "riscv64"] },
  { os = "windows", arch = ["arm64", "ppc64le", "s390x", "riscv64"] },
]

[build]
command = "go build -trimpath -ldflags '-s -w -X main.version={{ version }}' -o {{ out }}/{{ bin }} ."
env = { CGO_ENABLED = "0", GOOS = "{{ os }}", GOARCH = "{{ arch }}", GOCACHE = "{{ env.HOME }}/.cache/go" }
binary = "hello"
timeout = "10m"

[archive]
name = "{{ project }}_{{ version }}_{{ os }}_{{ arch }}"
format = "tar.gz"
format-overrides = [ { when = { os = "windows" }, format = "zip" } ]
files = ["LICENSE", { src = "docs/*.md", dst = "doc" }]

[checksum]
name = "{{ project }}_{{ version }}_checksums.txt"
"#;

/// Used by reporter tests: two targets, six jobs.
pub(crate) fn sample_plan() -> Plan {
    let text = GLIDE.replace(
        "os   = [\"darwin\", \"linux\", \"freebsd\", \"openbsd\", \"windows\"]",
        "os = [\"linux\", \"windows\"]",
    );
    let text = text.replace(
        "arch = [\"amd64\", \"arm64\", \"386\", \"ppc64le\", \"s390x\", \"riscv64\"]",
        "arch = [\"amd64\"]",
    );
    let text = text
        .lines()
        .filter(|l| !l.starts_with("  {") && !l.starts_with("exclude") && *l != "]")
        .collect::<Vec<_>>()
        .join("\n");
    plan_of(&text, &[]).unwrap()
}

#[test]
fn glide_table_has_16_targets_in_order() {
    let plan = plan_of(GLIDE, &[]).unwrap();
    let ids: Vec<&str> = plan.targets.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "darwin/amd64",
            "darwin/arm64",
            "linux/amd64",
            "linux/arm64",
            "linux/386",
            "linux/ppc64le",
            "linux/s390x",
            "linux/riscv64",
            "freebsd/amd64",
            "freebsd/arm64",
            "freebsd/386",
            "openbsd/amd64",
            "openbsd/arm64",
            "openbsd/386",
            "windows/amd64",
            "windows/386",
        ]
    );
    assert_eq!(plan.jobs.len(), 16 * 2 + 2);
    assert_eq!(plan.checksum.file_name, "hello_1.2.3_checksums.txt");
}

#[test]
fn steps_are_rendered_per_target() {
    let plan = plan_of(GLIDE, &[]).unwrap();
    let win = plan.targets.iter().find(|t| t.id == "windows/386").unwrap();
    assert_eq!(win.slug, "windows-386");
    assert_eq!(win.build.binary, "hello.exe");
    assert_eq!(win.archive.format, Format::Zip);
    assert_eq!(win.archive.file_name, "hello_1.2.3_windows_386.zip");
    assert_eq!(
        win.build.out_dir,
        Path::new("/src/hello/dist/build/windows-386")
    );
    assert_eq!(
        win.build.argv,
        [
            "go",
            "build",
            "-trimpath",
            "-ldflags",
            "-s -w -X main.version=1.2.3",
            "-o",
            "/src/hello/dist/build/windows-386/hello.exe",
            "."
        ]
    );
    assert_eq!(win.build.env["GOOS"], "windows");
    assert_eq!(win.build.env["GOARCH"], "386");
    assert_eq!(win.build.env["GOCACHE"], "/home/me/.cache/go");
    assert_eq!(win.build.timeout, Some(Duration::from_secs(600)));
    let linux = plan.targets.iter().find(|t| t.id == "linux/arm64").unwrap();
    assert_eq!(linux.archive.file_name, "hello_1.2.3_linux_arm64.tar.gz");
    assert_eq!(linux.build.binary, "hello");
    assert_eq!(linux.archive.files[1].dst.as_deref(), Some("doc"));
}

#[test]
fn job_graph_links_builds_archives_and_release_files() {
    let plan = sample_plan();
    let ids: Vec<(&str, Vec<&str>)> = plan
        .jobs
        .iter()
        .map(|j| (j.id.as_str(), j.needs.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        ids,
        [
            ("build-linux-amd64", vec![]),
            ("archive-linux-amd64", vec!["build-linux-amd64"]),
            ("build-windows-amd64", vec![]),
            ("archive-windows-amd64", vec!["build-windows-amd64"]),
            (
                "checksums",
                vec!["archive-linux-amd64", "archive-windows-amd64"]
            ),
            ("manifest", vec!["checksums"]),
        ]
    );
}

#[test]
fn template_values_are_never_split_or_reparsed() {
    let text = GLIDE.replace(
        "command = \"go build",
        "command = \"echo {{ env.TRICKY }} go build",
    );
    let loaded = config::parse(Path::new("matrix.toml"), text).unwrap();
    let mut req = request(&["linux/amd64"]);
    req.env.insert("TRICKY".into(), "a b; rm -rf / $(x)".into());
    let plan = build(&loaded, &req).unwrap();
    assert_eq!(
        plan.targets[0].build.argv[..2],
        ["echo", "a b; rm -rf / $(x)"]
    );
}

#[test]
fn shell_and_overrides() {
    let text = GLIDE.replace(
        "timeout = \"10m\"",
        "timeout = \"10m\"\nflags = [\"-v\"]\noverrides = [\n  { when = { os = \"windows\" }, command = \"build.bat {{ arch }}\", shell = true, env = { CGO_ENABLED = \"1\", EXTRA = \"x\" } },\n  { when = { os = \"linux\", arch = [\"arm64\", \"386\"] }, flags = [\"-race\"], timeout = \"1h\" },\n]",
    );
    let plan = plan_of(&text, &[]).unwrap();
    let get = |id: &str| plan.targets.iter().find(|t| t.id == id).unwrap();
    let win = get("windows/amd64");
    assert_eq!(win.build.argv, ["sh", "-c", "build.bat amd64 -v"]);
    assert_eq!(win.build.env["CGO_ENABLED"], "1");
    assert_eq!(win.build.env["EXTRA"], "x");
    assert_eq!(win.build.env["GOOS"], "windows");
    let arm = get("linux/arm64");
    assert_eq!(arm.build.argv.last().unwrap(), "-race");
    assert_eq!(arm.build.timeout, Some(Duration::from_secs(3600)));
    let amd = get("linux/amd64");
    assert_eq!(amd.build.argv.last().unwrap(), "-v");
    assert!(!amd.build.env.contains_key("EXTRA"));
}

#[test]
fn target_filters() {
    let cases: [(&[&str], usize); 4] = [
        (&["linux/arm64"], 1),
        (&["linux/*"], 6),
        (&["*/386"], 4),
        (&["darwin/*", "windows/amd64"], 3),
    ];
    for (filters, n) in cases {
        assert_eq!(
            plan_of(GLIDE, filters).unwrap().targets.len(),
            n,
            "{filters:?}"
        );
    }
    match plan_of(GLIDE, &["plan9/*"]) {
        Err(PlanError::NoMatch { filter, available }) => {
            assert_eq!(filter, "plan9/*");
            assert!(available.starts_with("darwin/amd64, darwin/arm64"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrap_and_binary_format() {
    let text = GLIDE
        .replace(
            "format = \"tar.gz\"",
            "format = \"binary\"\nwrap-in-directory = true",
        )
        .replace("format = \"zip\"", "format = \"binary\"");
    let plan = plan_of(&text, &["windows/amd64", "linux/amd64"]).unwrap();
    assert_eq!(plan.targets[0].archive.file_name, "hello_1.2.3_linux_amd64");
    assert_eq!(
        plan.targets[1].archive.file_name,
        "hello_1.2.3_windows_amd64.exe"
    );
    assert_eq!(
        plan.targets[0].archive.wrap.as_deref(),
        Some("hello_1.2.3_linux_amd64")
    );
}

#[test]
fn zstd_level_is_planned_for_tar_zst_only() {
    let zst = GLIDE.replace("format = \"tar.gz\"", "format = \"tar.zst\"");
    let level_of = |text: &str| {
        let plan = plan_of(text, &["windows/amd64", "linux/amd64"]).unwrap();
        let json = serde_json::to_value(&plan.targets).unwrap();
        [0, 1].map(|t| json[t]["archive"].get("zstd_level").cloned())
    };
    // linux gets tar.zst, windows keeps its zip (no key at all).
    assert_eq!(level_of(&zst), [Some(3.into()), None]);
    let fast = zst.replace(
        "format = \"tar.zst\"",
        "format = \"tar.zst\"\nzstd-level = 1",
    );
    assert_eq!(level_of(&fast), [Some(1.into()), None]);
    assert_eq!(level_of(GLIDE), [None, None]);
}

/// `{{ cache }}` is the target's folder in the user's cache, per checkout;
/// a step that does not use it is not given one (its plan reads as before).
#[test]
fn the_cargo_preset_builds_in_the_targets_cache_folder() {
    let text = GLIDE.replace(
        "command = \"go build -trimpath -ldflags '-s -w -X main.version={{ version }}' -o {{ out }}/{{ bin }} .\"",
        "preset = \"cargo\"",
    );
    assert_ne!(text, GLIDE);
    let plan = plan_of(&text, &["linux/amd64"]).unwrap();
    let step = &plan.targets[0].build;
    let dir = step
        .cache_dir
        .as_deref()
        .expect("the preset uses {{ cache }}");
    let parent = dir.parent().unwrap();
    assert_eq!(
        parent.parent().unwrap(),
        Path::new("/home/me/.cache/matrix/targets")
    );
    let checkout = parent.file_name().unwrap().to_str().unwrap();
    assert!(checkout.starts_with("hello-") && checkout.len() == "hello-".len() + 12);
    assert_eq!(dir.file_name().unwrap(), "linux-amd64");
    assert_eq!(
        step.env["CARGO_TARGET_DIR"],
        dir.join("cargo").to_str().unwrap()
    );
    assert_eq!(
        step.artifact,
        dir.join("cargo/x86_64-unknown-linux-gnu/release/hello")
    );
    // Another checkout of the project gets its own folder.
    let loaded = config::parse(Path::new("matrix.toml"), text.clone()).unwrap();
    let mut req = request(&["linux/amd64"]);
    req.root = PathBuf::from("/elsewhere/hello");
    req.dist = req.root.join("dist");
    let other = build(&loaded, &req).unwrap();
    assert_ne!(other.targets[0].build.cache_dir.as_deref(), Some(dir));
    let plain = plan_of(GLIDE, &[]).unwrap();
    assert!(plain.targets.iter().all(|t| t.build.cache_dir.is_none()));
    let json = serde_json::to_string(&plain).unwrap();
    assert!(!json.contains("cache_dir"), "{json}");
}

#[test]
fn include_only_and_extra_axes() {
    let text = GLIDE.replace(
        "os   = [\"darwin\", \"linux\", \"freebsd\", \"openbsd\", \"windows\"]",
        "os   = [\"darwin\", \"linux\", \"freebsd\", \"openbsd\", \"windows\"]\ninclude = [ { os = \"linux\", arch = \"arm\", goarm = \"7\" } ]",
    );
    let plan = plan_of(&text, &["linux/arm"]).unwrap();
    assert_eq!(plan.targets[0].id, "linux/arm");
    assert_eq!(plan.targets[0].values["goarm"], "7");
}

/// Errors found at plan time, each at its line and column.
#[test]
fn plan_errors_point_into_the_file() {
    let cases: Vec<(String, &str, usize)> = vec![
        (
            GLIDE.replace("\"openbsd\", \"windows\"]", "\"openbsd\", \"windoes\"]"),
            "unknown os \"windoes\"",
            7,
        ),
        (
            GLIDE.replace("\"riscv64\"]\nexclude", "\"riscv46\"]\nexclude"),
            "unknown arch \"riscv46\"",
            8,
        ),
        (
            GLIDE.replace("main.version={{ version }}", "main.version={{ verison }}"),
            "unknown variable `verison`",
            17,
        ),
        (
            GLIDE.replace("{{ os }}_{{ arch }}\"", "{{ os }}\""),
            "would both write",
            23,
        ),
        (
            GLIDE.replace(
                "when = { os = \"windows\" }",
                "when = { oss = \"windows\" }",
            ),
            "`when` names `oss`",
            25,
        ),
        (
            GLIDE.replace(
                "{{ project }}_{{ version }}_checksums.txt",
                "{{ project }}_{{ version }}_linux_amd64.tar.gz",
            ),
            "same name as the archive",
            29,
        ),
        (
            GLIDE.replace("arch = [\"amd64\"", "version = [\"1\"]\narch = [\"amd64\""),
            "`version` is a variable matrix defines",
            8,
        ),
        (
            GLIDE.replace("{ os = \"darwin\",  arch", "{ os = \"darwin\",  cpu"),
            "not a matrix axis",
            10,
        ),
        (
            GLIDE.replace("GOARCH = \"{{ arch }}\"", "GOARCH = \"{{ arch \""),
            "syntax error",
            18,
        ),
    ];
    for (text, want, line) in cases {
        let err = config_error(&text);
        assert!(
            err.message.contains(want),
            "want {want:?} in {:?}",
            err.message
        );
        assert_eq!(err.line, line, "{want}");
        assert_eq!(err.file, "matrix.toml");
    }
}

#[test]
fn unknown_names_suggest_the_right_one() {
    let err = config_error(&GLIDE.replace(
        "\"amd64\", \"arm64\", \"386\"",
        "\"x86_64\", \"arm64\", \"386\"",
    ));
    assert!(
        err.help
            .as_deref()
            .unwrap()
            .starts_with("did you mean \"amd64\"?"),
        "{:?}",
        err.help
    );
}

#[test]
fn plans_are_deterministic() {
    let a = serde_json::to_string(&plan_of(GLIDE, &[]).unwrap()).unwrap();
    let b = serde_json::to_string(&plan_of(GLIDE, &[]).unwrap()).unwrap();
    assert_eq!(a, b);
}

/// Reproducible by default: every build job gets SOURCE_DATE_EPOCH (the
/// release timestamp); a value the config sets wins.
#[test]
fn build_jobs_get_source_date_epoch() {
    let plan = plan_of(GLIDE, &[]).unwrap();
    for t in &plan.targets {
        assert_eq!(t.build.env["SOURCE_DATE_EPOCH"], "1700000000", "{}", t.id);
    }
    let text = GLIDE.replace(
        "GOCACHE = \"{{ env.HOME }}/.cache/go\" }",
        "GOCACHE = \"{{ env.HOME }}/.cache/go\", SOURCE_DATE_EPOCH = \"42\" }",
    );
    assert_ne!(text, GLIDE);
    let plan = plan_of(&text, &[]).unwrap();
    for t in &plan.targets {
        assert_eq!(t.build.env["SOURCE_DATE_EPOCH"], "42", "{}", t.id);
    }
}

#[test]
fn image_flags_without_images_are_refused() {
    let loaded = config::parse(Path::new("matrix.toml"), GLIDE.to_string()).unwrap();
    for (push, oci, flag) in [(true, false, "--push"), (false, true, "--oci-dir")] {
        let mut req = request(&[]);
        req.push = push;
        req.oci_archives = oci;
        match build(&loaded, &req) {
            Err(e @ PlanError::NoImages { .. }) => {
                assert!(
                    e.to_string()
                        .starts_with(&format!("{flag} needs [images] in matrix.toml")),
                    "{e}"
                );
            }
            other => panic!("{flag}: {other:?}"),
        }
    }
}

mod channels;
mod containers;
mod fuzz;
mod jobs;
mod limits;
mod names;
mod universal;
