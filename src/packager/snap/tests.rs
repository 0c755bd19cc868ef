//! Tests of the Snapcraft channel's rules and snapcraft.yaml (checked
//! against snapcraft's JSON Schema with Python's jsonschema), and the
//! fixtures and external-tool checks the .snap tests in `build/tests.rs`
//! share.
//!
//! Python (a venv with jsonschema and pyyaml, made on first use under
//! `$MATRIX_TOOLS` or ~/.cache/matrix-tools) and mksquashfs/unsquashfs are
//! external: without them a test says so and passes, unless CI is set,
//! where it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};

use super::*;
use crate::packager::input::{ChannelInput, Package, Release};
use crate::target::platform;

// ------------------------------------------------------------ fixtures

pub(super) fn release(version: &str) -> Release {
    Release {
        name: "hello".into(),
        description: "Says hello.".into(),
        homepage: "https://example.com/hello".into(),
        license: "MIT".into(),
        version: version.into(),
        tag: format!("v{version}"),
        prerelease: String::new(),
        commit: "abc1234def".into(),
        timestamp: 1_700_000_000,
        is_snapshot: false,
    }
}

pub(super) fn package(os: &str, arch: &str, format: Format) -> Package {
    let ext = format.extension();
    let slug = format!("hello_1.2.3_{os}_{arch}");
    let wrapped = !matches!(format, Format::Binary);
    Package {
        target: format!("{os}/{arch}"),
        os: os.into(),
        arch: arch.into(),
        variant: None,
        platform: platform(os, arch, None).unwrap(),
        file_name: format!("{slug}{ext}"),
        path: PathBuf::from(format!("dist/{slug}{ext}")),
        url: format!("https://example.com/dl/v1.2.3/{slug}{ext}"),
        sha256: format!("{:064x}", arch.len()),
        size: 1234,
        format,
        binary: "hello".into(),
        binary_in_archive: if wrapped {
            format!("{slug}/hello")
        } else {
            format!("{slug}{ext}")
        },
        binary_file: PathBuf::from("dist/build/hello"),
        files: if wrapped {
            vec![
                format!("{slug}/LICENSE"),
                format!("{slug}/completions/hello.bash"),
            ]
        } else {
            vec![]
        },
    }
}

pub(super) fn input(version: &str, packages: Vec<Package>) -> ChannelInput {
    ChannelInput {
        release: release(version),
        packages,
    }
}

pub(super) fn opts() -> SnapOptions {
    SnapOptions {
        channel: "snap".into(),
        name: "hello".into(),
        summary: "Says hello".into(),
        description: "Says hello.\nIn two lines: \"quoted\" too.".into(),
        grade: Grade::Stable,
        confinement: Confinement::Strict,
        base: "core24".into(),
        apps: vec![SnapApp {
            name: "hello".into(),
            command: "bin/hello".into(),
            plugs: vec!["network".into()],
        }],
    }
}

/// A change to the fixture options.
type Edit = fn(&mut SnapOptions);

pub(super) fn invalid_message(r: Result<impl std::fmt::Debug, PublishError>) -> String {
    match r {
        Err(PublishError::Invalid { message, .. }) => message,
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

// ------------------------------------------------------- external tools

pub(super) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

/// Skips (prints why, returns None) or, under CI, fails.
pub(crate) fn require<T>(what: Result<T, String>) -> Option<T> {
    match what {
        Ok(v) => Some(v),
        Err(why) if in_ci() => panic!("CI is set and {why}"),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

pub(crate) fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The venv's python with jsonschema and pyyaml, made on first use.
pub(crate) fn python() -> Result<PathBuf, String> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON.get_or_init(make_venv).clone()
}

fn make_venv() -> Result<PathBuf, String> {
    let tools = std::env::var_os("MATRIX_TOOLS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/matrix-tools")))
        .ok_or("neither MATRIX_TOOLS nor HOME is set (no place for the validation venv)")?;
    let venv = tools.join("venv-validate");
    let py = venv.join("bin/python");
    let ready = || {
        runs(
            py.to_str().unwrap_or_default(),
            &["-c", "import jsonschema, yaml"],
        )
    };
    if ready() {
        return Ok(py);
    }
    let base = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| runs(p, &["-c", "import venv, ensurepip"]))
        .ok_or("no python3 with venv and ensurepip (apt-get install python3-venv)")?;
    let venv_s = venv.to_str().ok_or("venv path is not UTF-8")?;
    if !runs(base, &["-m", "venv", "--clear", venv_s]) {
        return Err(format!("`{base} -m venv {venv_s}` failed"));
    }
    let py_s = py.to_str().unwrap_or_default();
    if !runs(
        py_s,
        &["-m", "pip", "install", "--quiet", "jsonschema", "pyyaml"],
    ) {
        return Err(format!(
            "`{py_s} -m pip install jsonschema pyyaml` failed (PyPI unreachable?)"
        ));
    }
    if ready() {
        Ok(py)
    } else {
        Err(format!("{py_s} still cannot import jsonschema and yaml"))
    }
}

fn schema() -> Result<PathBuf, String> {
    let candidates = [
        std::env::var_os("MATRIX_SCHEMAS").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas")),
    ];
    candidates
        .into_iter()
        .flatten()
        .map(|d| d.join("snapcraft.json"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "snapcraft.json not found (set MATRIX_SCHEMAS to the schemas folder)".to_string()
        })
}

pub(super) fn squashfs_tools() -> Result<(), String> {
    if runs("mksquashfs", &["-version"]) && runs("unsquashfs", &["-help"]) {
        Ok(())
    } else {
        Err("mksquashfs/unsquashfs are missing (apt-get install squashfs-tools)".into())
    }
}

/// Runs validate_schema.py; Err carries its stderr.
fn validate_yaml(python: &Path, schema: &Path, yaml: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("snapcraft.yaml");
    std::fs::write(&file, yaml).unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/packager/testdata/validate_schema.py");
    let out = Command::new(python)
        .arg(script)
        .arg(schema)
        .arg(&file)
        .output()
        .unwrap();
    match out.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        _ => panic!(
            "validator could not run: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// YAML to JSON with PyYAML, so tests check structure, not text.
pub(super) fn yaml_to_json(python: &Path, yaml: &str) -> Value {
    let mut child = Command::new(python)
        .args([
            "-c",
            "import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), yaml.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "PyYAML could not parse:\n{yaml}");
    serde_json::from_slice(&out.stdout).unwrap()
}

// ------------------------------------------------------------- versions

#[test]
fn snap_versions() {
    let long_build = format!("1.2.3-rc.1+{}", "b".repeat(30));
    let cases: [(&str, Option<&str>); 11] = [
        ("1.2.3", Some("1.2.3")),
        ("0.0.2-rc.1", Some("0.0.2-rc.1")),
        ("0.0.1-SNAPSHOT-abc1234", Some("0.0.1-SNAPSHOT-abc1234")),
        ("1.2.3+linux.5", Some("1.2.3+linux.5")),
        (&long_build, Some("1.2.3-rc.1")),
        ("1.0.0-alpha.beta.gamma.delta.epsilon", None),
        ("1.0.0-rc-", None),
        ("", None),
        ("1.2.3_4", None),
        ("v1.2.3", Some("v1.2.3")),
        (
            "12345678901234567890123456789012",
            Some("12345678901234567890123456789012"),
        ),
    ];
    for (version, want) in cases {
        let got = snap_version("snap", version).ok();
        assert_eq!(got.as_deref(), want, "{version}");
    }
    let msg = invalid_message(snap_version("snap", "1.0.0-alpha.beta.gamma.delta.epsilon"));
    assert!(msg.contains("longer than 32"), "{msg}");
    assert!(invalid_message(snap_version("snap", "1.0.0-rc-")).contains("start and end"));
    assert!(invalid_message(snap_version("snap", "1.2.3_4")).contains("`_`"));
}

// -------------------------------------------------------------- options

#[test]
fn option_rules() {
    let cases: [(&str, Edit, Option<&str>); 14] = [
        ("valid", |_| {}, None),
        ("40-char name", |o| o.name = "a".repeat(40), None),
        ("41-char name", |o| o.name = "a".repeat(41), Some("2 to 40")),
        ("1-char name", |o| o.name = "a".into(), Some("2 to 40")),
        ("uppercase", |o| o.name = "Hello".into(), Some("lowercase")),
        (
            "leading hyphen",
            |o| o.name = "-hello".into(),
            Some("hyphens"),
        ),
        (
            "double hyphen",
            |o| o.name = "he--llo".into(),
            Some("hyphens"),
        ),
        ("digits only", |o| o.name = "123".into(), Some("one letter")),
        ("78-char summary", |o| o.summary = "s".repeat(78), None),
        (
            "79-char summary",
            |o| o.summary = "s".repeat(79),
            Some("at most 78"),
        ),
        (
            "two-line summary",
            |o| o.summary = "a\nb".into(),
            Some("one line"),
        ),
        (
            "core22",
            |o| o.base = "core22".into(),
            Some("base `core22`"),
        ),
        (
            "bad plug",
            |o| o.apps[0].plugs = vec!["Net work".into()],
            Some("plug"),
        ),
        (
            "absolute command",
            |o| o.apps[0].command = "/usr/bin/hello".into(),
            Some("relative"),
        ),
    ];
    let input = input("1.2.3", vec![package("linux", "amd64", Format::TarGz)]);
    for (what, edit, want) in cases {
        let mut o = opts();
        edit(&mut o);
        let got = render_snapcraft(&input, &o, None);
        match want {
            None => assert!(got.is_ok(), "{what}: {got:?}"),
            Some(w) => {
                let msg = invalid_message(got);
                assert!(msg.contains(w), "{what}: {msg}");
            }
        }
    }
}

#[test]
fn packages_must_be_linux_with_a_snap_arch_each_once() {
    let cases: [(Vec<Package>, &str); 5] = [
        (
            vec![package("darwin", "arm64", Format::TarGz)],
            "Linux only",
        ),
        (
            vec![package("linux", "loong64", Format::TarGz)],
            "no snap architecture",
        ),
        (
            vec![
                package("linux", "amd64", Format::TarGz),
                package("linux", "amd64", Format::Zip),
            ],
            "two packages",
        ),
        (vec![package("linux", "amd64", Format::TarZst)], "tar.zst"),
        (vec![], "no Linux package"),
    ];
    for (packages, want) in cases {
        let msg = invalid_message(render_snapcraft(&input("1.2.3", packages), &opts(), None));
        assert!(msg.contains(want), "{want}: {msg}");
    }
    let mut o = opts();
    o.apps[0].command = "bin/other --flag".into();
    let input = input("1.2.3", vec![package("linux", "amd64", Format::TarGz)]);
    let msg = invalid_message(render_snapcraft(&input, &o, None));
    assert!(msg.contains("does not contain"), "{msg}");
}

// ----------------------------------------------------- snapcraft.yaml

#[test]
fn unpacked_paths_follow_craft_parts() {
    let mut bare_tar = package("linux", "amd64", Format::TarGz);
    bare_tar.binary_in_archive = "hello".into();
    bare_tar.files = vec!["LICENSE".into()];
    let mut only_bin_dir = bare_tar.clone();
    only_bin_dir.binary_in_archive = "bin/hello".into();
    only_bin_dir.files = vec![];
    let cases = [
        (package("linux", "amd64", Format::TarGz), "hello"),
        (package("linux", "amd64", Format::TarXz), "hello"),
        (
            package("linux", "amd64", Format::Zip),
            "hello_1.2.3_linux_amd64/hello",
        ),
        (
            package("linux", "amd64", Format::Binary),
            "hello_1.2.3_linux_amd64",
        ),
        (bare_tar, "hello"),
        // The only directory is common to every member, so it goes too.
        (only_bin_dir, "hello"),
    ];
    for (p, want) in cases {
        assert_eq!(
            unpacked_path(&p),
            want,
            "{:?} {}",
            p.format,
            p.binary_in_archive
        );
    }
}

#[test]
fn snapcraft_yaml_has_one_platform_and_part_per_arch() {
    let packages = vec![
        package("linux", "arm64", Format::TarGz),
        package("linux", "amd64", Format::TarGz),
        package("linux", "386", Format::Binary),
    ];
    let text = render_snapcraft(&input("0.0.2-rc.1", packages), &opts(), None).unwrap();
    // Without Python, the text itself still has to say the essentials.
    for line in [
        "name: \"hello\"",
        "base: core24",
        "version: \"0.0.2-rc.1\"",
        "confinement: strict",
        "  amd64:\n    build-on: [amd64]\n    build-for: [amd64]",
        "      - to arm64: \"https://example.com/dl/v1.2.3/hello_1.2.3_linux_arm64.tar.gz\"",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    let (amd64, arm64, i386) = (
        text.find("  amd64:"),
        text.find("  arm64:"),
        text.find("  i386:"),
    );
    assert!(
        amd64 < arm64 && arm64 < i386,
        "platforms are sorted:\n{text}"
    );

    let Some(py) = require(python()) else { return };
    let doc = yaml_to_json(&py, &text);
    assert_eq!(
        doc["description"],
        "Says hello.\nIn two lines: \"quoted\" too."
    );
    assert_eq!(doc["license"], "MIT");
    assert_eq!(
        doc["platforms"],
        json!({
            "amd64": {"build-on": ["amd64"], "build-for": ["amd64"]},
            "arm64": {"build-on": ["arm64"], "build-for": ["arm64"]},
            "i386": {"build-on": ["i386"], "build-for": ["i386"]},
        })
    );
    assert_eq!(
        doc["parts"]["hello-arm64"],
        json!({
            "plugin": "dump",
            "source": [{"to arm64": "https://example.com/dl/v1.2.3/hello_1.2.3_linux_arm64.tar.gz"}],
            "source-type": [{"to arm64": "tar"}],
            "source-checksum": [{"to arm64": format!("sha256/{:064x}", 5)}],
            "organize": [{"to arm64": {"hello": "bin/hello"}}],
            "permissions": [{"path": "bin/hello", "mode": "755"}],
        })
    );
    assert_eq!(
        doc["parts"]["hello-i386"]["source-type"],
        json!([{"to i386": "file"}])
    );
    assert_eq!(
        doc["parts"]["hello-i386"]["organize"],
        json!([{"to i386": {"hello_1.2.3_linux_386": "bin/hello"}}])
    );
    assert_eq!(doc["parts"].as_object().unwrap().len(), 3);
    assert_eq!(
        doc["apps"],
        json!({"hello": {"command": "bin/hello", "plugs": ["network"]}})
    );
}

#[test]
fn snapcraft_yaml_passes_the_schema_and_the_schema_bites() {
    let Some(py) = require(python()) else { return };
    let Some(schema) = require(schema()) else {
        return;
    };
    let variants: [(Vec<Package>, Edit); 3] = [
        (
            vec![
                package("linux", "amd64", Format::TarGz),
                package("linux", "arm64", Format::TarXz),
            ],
            |_| {},
        ),
        (vec![package("linux", "riscv64", Format::Zip)], |o| {
            o.confinement = Confinement::Classic;
            o.grade = Grade::Devel;
            o.apps[0].plugs.clear();
        }),
        (vec![package("linux", "s390x", Format::Binary)], |o| {
            o.confinement = Confinement::Devmode;
            o.apps.clear();
        }),
    ];
    for (packages, edit) in variants {
        let mut o = opts();
        edit(&mut o);
        let text = render_snapcraft(&input("1.2.3", packages), &o, None).unwrap();
        validate_yaml(&py, &schema, &text).unwrap_or_else(|e| panic!("{e}\n{text}"));

        let bogus = text.replacen(
            &format!("confinement: {}", yaml_name(o.confinement)),
            "confinement: bogus",
            1,
        );
        assert_ne!(bogus, text);
        let err = validate_yaml(&py, &schema, &bogus).expect_err("confinement: bogus must fail");
        assert!(err.contains("bogus"), "{err}");
    }
}

fn yaml_name(c: Confinement) -> String {
    serde_json::to_value(c)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn user_template_replaces_the_embedded_one() {
    let input = input("1.2.3", vec![package("linux", "amd64", Format::TarGz)]);
    let template = "{{ name }} {{ version }} {% for p in platforms %}{{ p.arch }}={{ p.part }} {% endfor %}{{ release.tag }}\n";
    let text = render_snapcraft(&input, &opts(), Some(template)).unwrap();
    assert_eq!(text, "hello 1.2.3 amd64=hello-amd64 v1.2.3\n");

    let err = render_snapcraft(&input, &opts(), Some("{{ no_such_variable }}")).unwrap_err();
    assert!(
        matches!(&err, PublishError::Template { template, message, .. }
            if template.contains("user") && message.contains("undefined")),
        "{err:?}"
    );
}

#[test]
fn rendering_is_deterministic_and_independent_of_package_order() {
    let a = vec![
        package("linux", "amd64", Format::TarGz),
        package("linux", "arm64", Format::TarGz),
    ];
    let b: Vec<Package> = a.iter().rev().cloned().collect();
    let first = render_snapcraft(&input("1.2.3", a), &opts(), None).unwrap();
    let second = render_snapcraft(&input("1.2.3", b), &opts(), None).unwrap();
    assert_eq!(first, second);
}
