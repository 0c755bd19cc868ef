//! `[sbom]`: the CycloneDX and SPDX documents of real Go, Rust and C
//! builds, validated against the official schemas (tests/schemas), their
//! Go modules checked against `go version -m`, their crates against
//! Cargo.lock, and rebuilt to prove they are reproducible.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::cross::example;
use crate::support::{Project, redact, require, run, script_config};

fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas")
}

/// The validation venv scripts/setup.sh makes (jsonschema); in CI its
/// absence is a failure, on a dev machine a skip.
fn python() -> Option<PathBuf> {
    let py = PathBuf::from(std::env::var("HOME").ok()?)
        .join(".cache/matrix-tools/venv-validate/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import jsonschema, referencing, yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        ok || !ci,
        "{} lacks jsonschema: run scripts/setup.sh",
        py.display()
    );
    if !ok {
        eprintln!("SKIP schema checks: no validation venv; run scripts/setup.sh");
    }
    ok.then_some(py)
}

/// Validates `file` against `schema` (relative to tests/schemas).
fn validate(py: &Path, schema: &str, file: &Path) {
    let out = Command::new(py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/packager/testdata/validate_schema.py"))
        .arg(schemas().join(schema))
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} against {schema}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn with_sbom(p: &Project) {
    let config = std::fs::read_to_string(p.dir.join("matrix.toml")).unwrap();
    p.file("matrix.toml", &format!("{config}\n[sbom]\n"));
}

fn retag(p: &Project) {
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
}

/// Every SBOM of every archive in dist/ is valid; each names its archive
/// and its sha256. Returns the (archive, cdx, spdx) documents.
fn check_documents(p: &Project, py: Option<&Path>) -> Vec<(String, Value, Value)> {
    let dist = p.dist();
    let manifest = json(&dist.join("manifest.json"));
    let artifacts = manifest["artifacts"].as_array().unwrap();
    let sums = std::fs::read_to_string(
        std::fs::read_dir(&dist)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with("_checksums.txt"))
            .unwrap(),
    )
    .unwrap();
    let mut out = Vec::new();
    for a in artifacts.iter().filter(|a| a["kind"] == "archive") {
        let archive = a["name"].as_str().unwrap().to_string();
        let cdx_name = format!("{archive}.cdx.json");
        let spdx_name = format!("{archive}.spdx.json");
        for name in [&cdx_name, &spdx_name] {
            let record = artifacts
                .iter()
                .find(|r| r["name"] == name.as_str())
                .unwrap_or_else(|| panic!("{name} is not in the manifest"));
            assert_eq!(record["kind"], "sbom");
            assert_eq!(record["target"], a["target"]);
            assert!(record.get("binary").is_none(), "{record}");
            assert!(
                sums.lines().any(|l| l.ends_with(&format!("  {name}"))),
                "{name} is not in the checksums file:\n{sums}"
            );
        }
        let (cdx_path, spdx_path) = (dist.join(&cdx_name), dist.join(&spdx_name));
        if let Some(py) = py {
            validate(py, "cyclonedx/bom-1.6.schema.json", &cdx_path);
            validate(py, "spdx-2.3.schema.json", &spdx_path);
        }
        let (cdx, spdx) = (json(&cdx_path), json(&spdx_path));
        let digest = sha256(&dist.join(&archive));
        assert_eq!(cdx["metadata"]["component"]["name"], archive.as_str());
        assert_eq!(
            cdx["metadata"]["component"]["hashes"][0]["content"],
            digest.as_str()
        );
        assert_eq!(spdx["packages"][0]["name"], archive.as_str());
        assert_eq!(
            spdx["packages"][0]["checksums"][0]["checksumValue"],
            digest.as_str()
        );
        // The commit's time, not the clock.
        let date = manifest["commit_date"].as_str().unwrap();
        assert_eq!(cdx["metadata"]["timestamp"], date);
        assert_eq!(spdx["creationInfo"]["created"], date);
        out.push((archive, cdx, spdx));
    }
    assert!(!out.is_empty());
    out
}

/// The components of a CycloneDX document whose `matrix:go:module` is
/// `role`, as (path, version, replaced-by).
fn go_modules(cdx: &Value, role: &str) -> BTreeSet<(String, String, String)> {
    let prop = |c: &Value, name: &str| -> String {
        c["properties"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == name)
            .map(|p| p["value"].as_str().unwrap().to_string())
            .unwrap_or_default()
    };
    cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| prop(c, "matrix:go:module") == role)
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["version"].as_str().unwrap_or_default().to_string(),
                prop(c, "matrix:go:replaced-by"),
            )
        })
        .collect()
}

/// `go version -m`'s `dep` lines with their `=>` replacements.
fn go_version_m(binary: &Path) -> BTreeSet<(String, String, String)> {
    let out = Command::new("go")
        .arg("version")
        .arg("-m")
        .arg(binary)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut deps: Vec<(String, String, String)> = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.trim_start().split('\t').collect();
        match fields.as_slice() {
            ["dep", path, version, ..] => {
                deps.push((path.to_string(), version.to_string(), String::new()))
            }
            ["=>", path, ..] => deps.last_mut().unwrap().2 = path.to_string(),
            _ => {}
        }
    }
    deps.into_iter().collect()
}

/// hello-go with one dependency, a local module swapped in by `replace`,
/// so the build info has `dep` and `=>` lines without a network.
fn go_project() -> Project {
    let p = example("hello-go");
    with_sbom(&p);
    let go_mod = std::fs::read_to_string(p.dir.join("go.mod")).unwrap();
    p.file(
        "go.mod",
        &format!(
            "{go_mod}\nrequire example.org/greet v0.1.0\n\nreplace example.org/greet => ./greet\n"
        ),
    );
    p.file("greet/go.mod", "module example.org/greet\n\ngo 1.19\n");
    p.file(
        "greet/greet.go",
        "package greet\n\n// Word is linked into hello.\nvar Word = \"hello\"\n",
    );
    p.file(
        "greet_use.go",
        "package main\n\nimport \"example.org/greet\"\n\nvar _ = greet.Word\n",
    );
    retag(&p);
    p
}

const GO_TARGETS: [(&str, &str); 3] = [
    ("linux/amd64", "linux-amd64/hello"),
    ("windows/amd64", "windows-amd64/hello.exe"),
    ("darwin/arm64", "darwin-arm64/hello"),
];

fn build_go(p: &Project, clean: bool) {
    let mut args = vec!["build"];
    if clean {
        args.push("--clean");
    }
    for (t, _) in GO_TARGETS {
        args.extend(["--target", t]);
    }
    let (code, out, err) = run(&mut p.matrix(&args));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("6 SBOMs"), "{out}");
}

#[test]
fn go_sboms_are_valid_match_go_version_m_and_are_reproducible() {
    if !require("go", "apt-get install golang-go") {
        return;
    }
    let py = python();
    let p = go_project();
    build_go(&p, false);
    let docs = check_documents(&p, py.as_deref());
    assert_eq!(docs.len(), GO_TARGETS.len());
    for (target, binary) in GO_TARGETS {
        let (archive, cdx, spdx) = docs
            .iter()
            .find(|(a, _, _)| a.contains(&target.replace('/', "_")))
            .unwrap();
        let binary = p.dist().join("build").join(binary);
        let expected = go_version_m(&binary);
        assert_eq!(
            expected.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(),
            ["example.org/greet"],
            "{archive}: the test's dependency is in the binary"
        );
        assert_eq!(go_modules(cdx, "dep"), expected, "{archive}");
        assert_eq!(go_modules(cdx, "main").len(), 1);
        // SPDX lists the same modules, with their purls.
        let purls: BTreeSet<&str> = spdx["packages"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["externalRefs"].as_array().into_iter().flatten())
            .map(|r| r["referenceLocator"].as_str().unwrap())
            .collect();
        assert!(
            purls.contains("pkg:golang/example.org/greet@v0.1.0"),
            "{purls:?}"
        );
        // The Go that built it, and the build settings.
        let tools = &cdx["metadata"]["tools"]["components"];
        assert_eq!(tools[1]["name"], "go");
        assert!(tools[1]["version"].as_str().unwrap().starts_with("go1."));
        let goos = target.split('/').next().unwrap();
        assert!(
            cdx["metadata"]["properties"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "matrix:go:build:GOOS" && p["value"] == goos),
            "{archive}"
        );
        // The binary as packaged, with its digest.
        let bin_name = binary.file_name().unwrap().to_str().unwrap();
        let file = cdx["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "file" && c["name"] == bin_name)
            .unwrap();
        assert_eq!(file["hashes"][0]["content"], sha256(&binary).as_str());
    }

    // Two builds of one commit: byte-identical SBOMs.
    let first: Vec<(String, Vec<u8>)> = docs
        .iter()
        .flat_map(|(a, _, _)| [format!("{a}.cdx.json"), format!("{a}.spdx.json")])
        .map(|n| {
            let bytes = std::fs::read(p.dist().join(&n)).unwrap();
            (n, bytes)
        })
        .collect();
    build_go(&p, true);
    for (name, bytes) in &first {
        assert!(
            std::fs::read(p.dist().join(name)).unwrap() == *bytes,
            "{name} differs between two builds of one commit"
        );
    }
}

#[test]
fn rust_sboms_list_the_cargo_lock_packages() {
    if !require("cargo", "https://rustup.rs") {
        return;
    }
    let py = python();
    let p = example("hello-rust");
    with_sbom(&p);
    // A second package in the lock file: a path dependency.
    let manifest = std::fs::read_to_string(p.dir.join("Cargo.toml")).unwrap();
    p.file(
        "Cargo.toml",
        &manifest.replace(
            "[workspace]",
            "[dependencies]\ngreet = { path = \"greet\" }\n\n[workspace]",
        ),
    );
    p.file(
        "greet/Cargo.toml",
        "[package]\nname = \"greet\"\nversion = \"0.3.1\"\nedition = \"2021\"\n",
    );
    p.file("greet/src/lib.rs", "pub const WORD: &str = \"hello\";\n");
    let lock = std::fs::read_to_string(p.dir.join("Cargo.lock")).unwrap();
    p.file(
        "Cargo.lock",
        &format!("{lock}\n[[package]]\nname = \"greet\"\nversion = \"0.3.1\"\n").replace(
            "version = \"0.0.0\"\n",
            "version = \"0.0.0\"\ndependencies = [\n \"greet\",\n]\n",
        ),
    );
    retag(&p);
    let (code, out, err) = run(p
        .matrix(&["build", "--target", "linux/amd64"])
        .env("XDG_CACHE_HOME", p.cache_home()));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let docs = check_documents(&p, py.as_deref());
    let (_, cdx, spdx) = &docs[0];
    let lock: toml::Value =
        toml::from_str(&std::fs::read_to_string(p.dir.join("Cargo.lock")).unwrap()).unwrap();
    let expected: BTreeSet<String> = lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "pkg:cargo/{}@{}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(expected.len(), 2, "{expected:?}");
    let purls: BTreeSet<String> = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str().map(String::from))
        .collect();
    assert_eq!(purls, expected);
    let spdx_purls: BTreeSet<String> = spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["externalRefs"].as_array().into_iter().flatten())
        .map(|r| r["referenceLocator"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(spdx_purls, expected);
    let tools = &cdx["metadata"]["tools"]["components"];
    assert_eq!(tools[1]["name"], "rustc");
    assert!(
        tools[1]["version"]
            .as_str()
            .unwrap()
            .starts_with("rustc 1."),
        "{tools}"
    );
}

#[test]
fn c_sboms_name_the_compiler_and_the_files() {
    if !require("gcc", "apt-get install gcc") || !require("make", "apt-get install make") {
        return;
    }
    let py = python();
    let p = example("hello-c");
    with_sbom(&p);
    retag(&p);
    let (code, out, err) = run(&mut p.matrix(&["build", "--target", "linux/amd64/gnu"]));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let docs = check_documents(&p, py.as_deref());
    let (_, cdx, spdx) = &docs[0];
    let tools = &cdx["metadata"]["tools"]["components"];
    assert!(
        tools[1]["name"].as_str().unwrap().ends_with("gcc"),
        "{tools}"
    );
    assert!(!tools[1]["version"].as_str().unwrap().is_empty(), "{tools}");
    let files = spdx["files"].as_array().unwrap();
    let binary = p.dist().join("build/linux-amd64-gnu/hello");
    // SPDX 2.3 wants a SHA1 for every file; `sha1sum` is the other opinion.
    let sha1 = Command::new("sha1sum").arg(&binary).output().unwrap();
    let sha1 = String::from_utf8(sha1.stdout).unwrap();
    let sha1 = sha1.split_whitespace().next().unwrap();
    let digest = |f: &Value, algorithm: &str| {
        f["checksums"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["algorithm"] == algorithm)
            .map(|c| c["checksumValue"].as_str().unwrap().to_string())
    };
    assert!(
        files.iter().any(|f| f["fileName"] == "./hello"
            && digest(f, "SHA256").as_deref() == Some(sha256(&binary).as_str())
            && digest(f, "SHA1").as_deref() == Some(sha1)),
        "{files:?}"
    );
    // No language packages for C: files only.
    assert!(
        cdx["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["type"] == "file")
    );
}

#[test]
fn a_hostile_binary_gives_an_sbom_without_go_modules() {
    // The Go header, then a length that runs past the end of the file.
    let mut garbage = b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\xff Go buildinf:\x08\x02".to_vec();
    garbage.extend_from_slice(&[0; 16]);
    garbage.extend_from_slice(&[0xff; 40]);
    let p = Project::with_config(&format!(
        "{}\n[sbom]\nformats = [\"cyclonedx\"]\n",
        script_config(
            "os = [\"linux\"]\narch = [\"amd64\"]",
            r#"command = ["cp", "garbage.bin", "{{ out }}/{{ bin }}"]"#
        )
    ));
    std::fs::write(p.dir.join("garbage.bin"), &garbage).unwrap();
    retag(&p);
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let cdx_path = p.dist().join("hello_1.2.3_linux_amd64.tar.gz.cdx.json");
    let cdx = json(&cdx_path);
    assert!(
        cdx["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["type"] == "file")
    );
    assert!(
        !p.dist()
            .join("hello_1.2.3_linux_amd64.tar.gz.spdx.json")
            .exists()
    );

    // `matrix verify` checks the SBOM names its archive's digest: an SBOM
    // rewritten with its records updated to match still fails.
    let (code, out, err) = run(&mut p.matrix(&["verify", "dist"]));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let mut forged = cdx.clone();
    forged["metadata"]["component"]["hashes"][0]["content"] = "0".repeat(64).into();
    let bytes = serde_json::to_vec_pretty(&forged).unwrap();
    std::fs::write(&cdx_path, &bytes).unwrap();
    let digest = sha256(&cdx_path);
    let manifest_path = p.dist().join("manifest.json");
    let mut manifest = json(&manifest_path);
    for a in manifest["artifacts"].as_array_mut().unwrap() {
        if a["kind"] == "sbom" {
            a["digest"] = format!("sha256:{digest}").into();
            a["size"] = bytes.len().into();
        }
    }
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let sums_path = p.dist().join("hello_1.2.3_checksums.txt");
    let sums: String = std::fs::read_to_string(&sums_path)
        .unwrap()
        .lines()
        .map(|l| match l.split_once("  ") {
            Some((_, name)) if name.ends_with(".cdx.json") => format!("{digest}  {name}\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&sums_path, sums).unwrap();
    let (code, out, err) = run(&mut p.matrix(&["verify", "dist"]));
    assert_ne!(code, 0, "stdout: {out}\nstderr: {err}");
    let said: String = format!("{out}{err}")
        .split_whitespace()
        .filter(|w| *w != "|")
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        said.contains("hello_1.2.3_linux_amd64.tar.gz.cdx.json: names hello_1.2.3_linux_amd64.tar.gz with sha256 0000"),
        "stdout: {out}\nstderr: {err}"
    );
}

#[test]
fn bad_sbom_config_is_a_located_error() {
    for (sbom, wanted) in [
        ("formats = []", "`formats` is empty"),
        (
            "formats = [\"spdx\", \"spdx\"]",
            "format \"spdx\" is listed twice",
        ),
        ("formats = [\"swid\"]", "swid"),
        ("format = [\"spdx\"]", "format"),
    ] {
        let p = Project::with_config(&format!(
            "{}\n[sbom]\n{sbom}\n",
            script_config("os = [\"linux\"]\narch = [\"amd64\"]", "command = \"true\"")
        ));
        let (code, _, err) = run(&mut p.matrix(&["plan"]));
        assert_eq!(code, 2, "{sbom}: {err}");
        let err = redact(&err, &p);
        assert!(err.contains(wanted), "{sbom}: {err}");
        assert!(err.contains("matrix.toml:"), "{sbom}: no location: {err}");
    }
}

#[test]
fn a_merge_makes_the_sboms_a_single_machine_makes() {
    let p = Project::with_config(&format!(
        "{}\n[sbom]\n",
        script_config(
            "os = [\"linux\", \"windows\"]\narch = [\"amd64\", \"arm64\"]",
            crate::support::WRITE_BINARY
        )
    ));
    p.file(".gitignore", "dist/\nshards/\nmerged/\n");
    retag(&p);
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let mut dirs = Vec::new();
    for i in 1..=2 {
        let dir = p.dir.join(format!("shards/shard-{i}"));
        let (code, out, err) = run(&mut p.matrix(&[
            "build",
            "--shard",
            &format!("{i}/2"),
            "--dist",
            dir.to_str().unwrap(),
        ]));
        assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
        // A shard makes no SBOM: the merge makes them all.
        assert!(!std::fs::read_dir(&dir).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".cdx.json")
        }));
        dirs.push(dir.display().to_string());
    }
    let mut args = vec!["merge"];
    args.extend(dirs.iter().map(String::as_str));
    args.extend(["--dist", "merged"]);
    let (code, out, err) = run(&mut p.matrix(&args));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("8 SBOMs"), "{out}");
    let merged = p.dir.join("merged");
    let sbom_names: Vec<String> = std::fs::read_dir(p.dist())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.ends_with(".cdx.json") || n.ends_with(".spdx.json") || n.ends_with("_checksums.txt")
        })
        .collect();
    assert_eq!(sbom_names.len(), 9, "{sbom_names:?}");
    for name in sbom_names {
        assert!(
            std::fs::read(p.dist().join(&name)).unwrap()
                == std::fs::read(merged.join(&name)).unwrap(),
            "{name}: the merge's differs from the single build's"
        );
    }
}

/// The `cargo auditable` section, added to a real executable with
/// objcopy: zlib-compressed JSON in `.dep-v0`.
#[test]
fn a_cargo_auditable_section_is_read() {
    if !require("objcopy", "apt-get install binutils") {
        return;
    }
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let json = br#"{"packages":[{"name":"hello","version":"0.1.0","source":"local","root":true,"dependencies":[1]},{"name":"itoa","version":"1.0.11","source":"crates.io"}]}"#;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(json).unwrap();
    let section = tmp.path().join("dep-v0.zlib");
    std::fs::write(&section, z.finish().unwrap()).unwrap();
    let exe = tmp.path().join("ls");
    let out = Command::new("objcopy")
        .arg(format!("--add-section=.dep-v0={}", section.display()))
        .arg(crate::support::which("ls").unwrap())
        .arg(&exe)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&exe).unwrap();
    let crates = matrix::packager::sbom::cargo::from_binary(&bytes).unwrap();
    let names: Vec<(&str, &str)> = crates
        .iter()
        .map(|c| (c.name.as_str(), c.version.as_str()))
        .collect();
    assert_eq!(names, [("hello", "0.1.0"), ("itoa", "1.0.11")]);
    assert!(crates[1].source.starts_with("registry+"));
    // The same file cut short: no section, no panic.
    assert!(matrix::packager::sbom::cargo::from_binary(&bytes[..bytes.len() / 3]).is_none());
}
