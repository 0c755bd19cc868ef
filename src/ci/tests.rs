use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use super::*;
use crate::shard;

const INSTALL: &str = "cargo install --locked --git https://example.com/matrix.git matrix";

fn install() -> Install {
    Install::command(INSTALL)
}

/// Options with values that need quoting everywhere they land.
fn awkward() -> CiOptions {
    CiOptions {
        shards: 3,
        config: "release dir/it's matrix.toml".into(),
        install: Install::command(
            "  curl -fsSL https://example.com/install.sh -o /tmp/i.sh\nsh /tmp/i.sh --to \"$HOME/.cargo/bin\" # pinned: 1.2\n",
        ),
        toolchains: Toolchains::Install,
        runs_on: "self-hosted: #1".into(),
        image: "registry.example.com/rust:1 # cross".into(),
        dist: "out dir/".into(),
        attestations: true,
        images: false,
        registry_cache: false,
        sign_secrets: Vec::new(),
    }
}

/// The venv's python with jsonschema and pyyaml. None (after saying why)
/// when it is missing outside CI; on CI a missing venv fails the test.
fn python() -> Option<PathBuf> {
    let tools = std::env::var_os("MATRIX_TOOLS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/matrix-tools")));
    let py = tools.map(|t| t.join("venv-validate/bin/python"));
    let ready = py.as_ref().is_some_and(|py| {
        Command::new(py)
            .args(["-c", "import jsonschema, yaml"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if ready {
        return py;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "{py:?} cannot import jsonschema and yaml: run scripts/setup.sh"
    );
    eprintln!("skipped: no venv with jsonschema and pyyaml at {py:?} (run scripts/setup.sh)");
    None
}

fn schema() -> PathBuf {
    std::env::var_os("MATRIX_SCHEMAS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas"))
        .join("github-workflow.json")
}

/// validate_schema.py on `yaml`; Err carries the validator's report.
fn validate(python: &Path, yaml: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("release.yml");
    std::fs::write(&file, yaml).unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/packager/testdata/validate_schema.py");
    let out = Command::new(python)
        .arg(script)
        .arg(schema())
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

/// The YAML as PyYAML reads it, as JSON; a top-level `on` (YAML 1.1's
/// True) gets its name back.
fn load(python: &Path, yaml: &str) -> Value {
    let code = "import sys, json, yaml\n\
                d = yaml.safe_load(sys.stdin)\n\
                if isinstance(d, dict) and True in d: d['on'] = d.pop(True)\n\
                print(json.dumps(d))";
    let mut child = Command::new(python)
        .args(["-c", code])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "PyYAML rejects the file: {}\n{yaml}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `bash -n`: the script parses as bash.
fn assert_bash(script: &str) {
    let out = Command::new("bash")
        .args(["-n", "-c", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn line_with<'a>(script: &'a str, needle: &str) -> &'a str {
    script
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{script}"))
}

#[test]
fn github_workflow_passes_the_schema() {
    let Some(py) = python() else { return };
    let mut options = vec![
        CiOptions::new(1, install()),
        CiOptions::new(4, install()),
        awkward(),
        CiOptions {
            images: true,
            ..awkward()
        },
        CiOptions {
            attestations: false,
            images: true,
            ..awkward()
        },
        CiOptions {
            registry_cache: true,
            ..awkward()
        },
    ];
    options.push(CiOptions::new(GITHUB_MAX_SHARDS, install()));
    for opts in options {
        let yaml = github_workflow(&opts).unwrap();
        if let Err(e) = validate(&py, &yaml) {
            panic!("{opts:?}:\n{e}\n{yaml}");
        }
    }
}

#[test]
fn github_workflow_validation_bites() {
    let Some(py) = python() else { return };
    let yaml = github_workflow(&CiOptions::new(4, install())).unwrap();
    // (name, broken file, part of the report). A job is "one of" a normal
    // or a reusable-workflow job in the schema, so the report names the job
    // rather than the key.
    let merge_runs_on = "    needs: build\n    runs-on: \"ubuntu-latest\"\n";
    let cases = [
        (
            "merge without runs-on",
            yaml.replace(merge_runs_on, "    needs: build\n"),
            "(at /jobs/merge)",
        ),
        (
            "unknown job key",
            yaml.replace("    needs: plan\n", "    needs: plan\n    run-on: linux\n"),
            "(at /jobs/build)",
        ),
        (
            "matrix that is neither a mapping nor an expression",
            yaml.replace(
                "matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}",
                "matrix: 4",
            ),
            "(at /jobs/build)",
        ),
    ];
    for (name, broken, want) in cases {
        assert_ne!(broken, yaml, "{name}: the edit did not apply");
        let err = validate(&py, &broken).expect_err(name);
        assert!(err.contains(want), "{name}: {err}");
    }
}

#[test]
fn github_workflow_jobs_and_commands() {
    let Some(py) = python() else { return };
    let opts = awkward();
    let doc = load(&py, &github_workflow(&opts).unwrap());
    assert_eq!(doc["on"]["push"]["tags"], json!(["v*"]));
    assert!(
        doc["on"]
            .as_object()
            .unwrap()
            .contains_key("workflow_dispatch")
    );
    let jobs = &doc["jobs"];
    assert_eq!(
        jobs.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["build", "merge", "plan"]
    );
    for job in ["plan", "build", "merge"] {
        assert_eq!(jobs[job]["runs-on"], json!(opts.runs_on), "{job}");
        let checkout = &jobs[job]["steps"][0];
        assert_eq!(checkout["uses"], "actions/checkout@v4", "{job}");
        assert_eq!(checkout["with"]["fetch-depth"], 0, "{job}");
        // The whole install command, first line's indent aside.
        let Install::Command(command) = &opts.install else {
            unreachable!()
        };
        assert_eq!(
            jobs[job]["steps"][1]["run"],
            json!(format!("{}\n", command.trim()))
        );
        for step in jobs[job]["steps"].as_array().unwrap() {
            if let Some(run) = step["run"].as_str() {
                assert_bash(run);
            }
        }
    }

    let plan = jobs["plan"]["steps"][2]["run"].as_str().unwrap();
    assert!(plan.contains("--shards 3 --format github"), "{plan}");
    assert!(
        plan.contains(r#"echo "matrix=$matrix" >> "$GITHUB_OUTPUT""#),
        "{plan}"
    );
    assert_eq!(
        jobs["plan"]["outputs"]["matrix"],
        "${{ steps.shards.outputs.matrix }}"
    );
    assert_eq!(jobs["plan"]["steps"][2]["id"], "shards");

    let build = &jobs["build"];
    assert_eq!(build["needs"], "plan");
    assert_eq!(build["strategy"]["fail-fast"], false);
    assert_eq!(
        build["strategy"]["matrix"],
        "${{ fromJSON(needs.plan.outputs.matrix) }}"
    );
    // The toolchains of the shard's targets, each as --target=<id>.
    let step = &build["steps"][2];
    assert_eq!(step["env"]["TARGETS"], "${{ matrix.targets }}");
    let run = step["run"].as_str().unwrap();
    let words = shell_words::split(line_with(run, " doctor ")).unwrap();
    assert_eq!(
        words,
        [
            "matrix",
            "--config",
            "release dir/it's matrix.toml",
            "doctor",
            "$SNAPSHOT",
            "${ids[@]/#/--target=}",
            "--install",
            "--yes"
        ]
    );
    let step = &build["steps"][3];
    assert_eq!(
        step["env"]["SHARD_DIST"],
        "out dir/shard-${{ matrix.index }}"
    );
    let words = shell_words::split(step["run"].as_str().unwrap().trim()).unwrap();
    assert_eq!(
        words,
        [
            "matrix",
            "--config",
            "release dir/it's matrix.toml",
            "build",
            "$SNAPSHOT",
            "--shard",
            "$SHARD",
            "--dist",
            "$SHARD_DIST"
        ]
    );
    let upload = &build["steps"][4];
    assert_eq!(upload["uses"], "actions/upload-artifact@v4");
    assert_eq!(upload["with"]["name"], "shard-${{ matrix.index }}");
    assert_eq!(upload["with"]["path"], "out dir/shard-${{ matrix.index }}");

    let merge = &jobs["merge"];
    assert_eq!(merge["needs"], "build");
    assert_eq!(merge["permissions"]["contents"], "write");
    let download = &merge["steps"][2];
    assert_eq!(download["uses"], "actions/download-artifact@v4");
    assert_eq!(
        download["with"],
        json!({"pattern": "shard-*", "path": "shards"})
    );
    let run = merge["steps"][3]["run"].as_str().unwrap();
    let words = shell_words::split(line_with(run, " merge ")).unwrap();
    assert_eq!(
        words,
        [
            "matrix",
            "--config",
            "release dir/it's matrix.toml",
            "merge",
            "$SNAPSHOT",
            "shards/*",
            "--dist",
            "out dir"
        ]
    );
    let words = shell_words::split(line_with(run, " verify ")).unwrap();
    assert_eq!(words[3..], ["verify", "out dir"]);
    // Then, on a tag, the attestation steps (tests/attest.rs), the upload
    // and the GitHub release.
    let steps = merge["steps"].as_array().unwrap();
    let named = |name: &str| steps.iter().position(|s| s["name"] == name).unwrap();
    let upload = steps
        .iter()
        .position(|s| s["uses"] == "actions/upload-artifact@v4")
        .unwrap();
    assert_eq!(steps[upload]["with"]["path"], "out dir");
    assert!(named("Attest the release files") < upload);
    let publish = named("Publish the GitHub release");
    assert_eq!(publish, steps.len() - 1);
    assert_eq!(steps[publish]["if"], "github.ref_type == 'tag'");
}

#[test]
fn github_matrix_keys_are_what_the_plan_prints() {
    // Every `matrix.<key>` the workflow reads is a key of the JSON that
    // `matrix plan --format github` writes, so no job sees an empty value.
    let a = shard::assign(
        &[("linux/amd64".into(), 1.0), ("linux/arm64".into(), 1.0)],
        2,
    );
    let printed: Value = serde_json::from_str(&shard::render(
        &a,
        shard::Format::Ci(shard::Provider::Github),
    ))
    .unwrap();
    let keys: Vec<&String> = printed["include"][0].as_object().unwrap().keys().collect();
    let yaml = github_workflow(&CiOptions::new(2, install())).unwrap();
    let expr = regex::Regex::new(r"\$\{\{[^}]*\}\}").unwrap();
    let key = regex::Regex::new(r"\bmatrix\.(\w+)").unwrap();
    let mut used: Vec<&str> = expr
        .find_iter(&yaml)
        .flat_map(|e| key.captures_iter(e.as_str()))
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    used.sort_unstable();
    used.dedup();
    assert_eq!(used, ["index", "shard", "targets"]);
    for key in used {
        assert!(keys.iter().any(|k| *k == key), "{key} not in {keys:?}");
    }
}

#[test]
fn gitlab_pipeline_has_one_build_job_per_shard() {
    let Some(py) = python() else { return };
    for shards in [1, 3, GITLAB_MAX_SHARDS] {
        let mut opts = awkward();
        opts.shards = shards;
        let doc = load(&py, &gitlab_ci(&opts).unwrap());
        assert_eq!(doc["stages"], json!(["plan", "build", "merge"]));
        let labels: Vec<String> = (1..=shards).map(|i| format!("{i}/{shards}")).collect();
        assert_eq!(
            doc["build"]["parallel"]["matrix"],
            json!([{ "SHARD": labels }])
        );
        assert_eq!(doc["build"]["stage"], "build");
        assert_eq!(doc["build"]["artifacts"]["paths"], json!(["shards/"]));
        assert_eq!(
            doc["merge"]["needs"],
            json!([{"job": "build", "artifacts": true}])
        );
        assert_eq!(doc["merge"]["artifacts"]["paths"], json!(["out dir"]));
        assert_eq!(doc["default"]["image"], json!(opts.image));
        assert_eq!(doc["variables"]["GIT_DEPTH"], "0");

        let script = |job: &str| -> String {
            let parts: Vec<&str> = doc["default"]["before_script"]
                .as_array()
                .unwrap()
                .iter()
                .chain(doc[job]["script"].as_array().unwrap())
                .map(|s| s.as_str().unwrap())
                .collect();
            parts.join("\n")
        };
        for job in ["plan", "build", "merge"] {
            assert_bash(&script(job));
        }
        let plan = script("plan");
        let words = shell_words::split(line_with(&plan, " plan ")).unwrap();
        // Captured, never redirected: a file created before matrix runs
        // would be an uncommitted change in the checkout.
        assert_eq!(
            words[..4],
            [
                "shards=$(matrix",
                "--config",
                "release dir/it's matrix.toml",
                "plan"
            ]
        );
        assert!(!plan.contains("> shards.json"), "{plan}");
        assert_eq!(doc["build"]["dependencies"], json!([]));
        assert!(
            plan.contains(&format!("--shards {shards} --format json")),
            "{plan}"
        );
        let build = script("build");
        let words = shell_words::split(line_with(&build, " doctor ")).unwrap();
        assert_eq!(words[3..], ["doctor", "$SNAPSHOT", "--install", "--yes"]);
        // Before the build, and only in the build job.
        assert!(build.find(" doctor ") < build.find(" build "), "{build}");
        for job in ["plan", "merge"] {
            assert!(!script(job).contains(" doctor "), "{job}");
        }
        assert!(
            build.contains(r#"--shard "$SHARD" --dist "shards/shard-${SHARD%/*}""#),
            "{build}"
        );
        let merge = script("merge");
        let words = shell_words::split(line_with(&merge, " merge ")).unwrap();
        assert_eq!(
            words[3..],
            ["merge", "$SNAPSHOT", "shards/*", "--dist", "out dir"]
        );
    }
}

#[test]
fn gitlab_shard_folder_is_the_index() {
    // The build script names its folder after i in "i/N"; check the shell
    // expansion on a real bash rather than trusting it.
    for (shard, want) in [("1/4", "shards/shard-1\n"), ("12/16", "shards/shard-12\n")] {
        let out = Command::new("bash")
            .args(["-c", r#"echo "shards/shard-${SHARD%/*}""#])
            .env("SHARD", shard)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    }
}

#[test]
fn options_that_cannot_work_are_rejected() {
    let with = |f: fn(&mut CiOptions)| {
        let mut o = CiOptions::new(4, install());
        f(&mut o);
        o
    };
    // (name, options, generator, option named in the error)
    type Generate = fn(&CiOptions) -> Result<String, CiError>;
    let cases: Vec<(&str, CiOptions, Generate, &str)> = vec![
        (
            "no shards",
            with(|o| o.shards = 0),
            github_workflow,
            "shards",
        ),
        (
            "GitHub's matrix cap",
            with(|o| o.shards = 257),
            github_workflow,
            "shards",
        ),
        (
            "GitLab's parallel cap",
            with(|o| o.shards = 201),
            gitlab_ci,
            "shards",
        ),
        (
            "empty install",
            with(|o| o.install = Install::command(" \n")),
            gitlab_ci,
            "install",
        ),
        (
            "config with a newline",
            with(|o| o.config = "a\nb".into()),
            github_workflow,
            "config",
        ),
        (
            "empty dist",
            with(|o| o.dist = String::new()),
            gitlab_ci,
            "dist",
        ),
        (
            "empty runner",
            with(|o| o.runs_on = " ".into()),
            github_workflow,
            "runs_on",
        ),
        (
            "image with a tab",
            with(|o| o.image = "rust\t1".into()),
            gitlab_ci,
            "image",
        ),
    ];
    for (name, opts, generate, option) in cases {
        match generate(&opts) {
            Err(CiError::Option { option: got, .. }) => assert_eq!(got, option, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // The limits themselves are fine.
    assert!(github_workflow(&with(|o| o.shards = 256)).is_ok());
    assert!(gitlab_ci(&with(|o| o.shards = 200)).is_ok());
}

#[test]
fn same_options_same_files() {
    let opts = awkward();
    assert_eq!(
        github_workflow(&opts).unwrap(),
        github_workflow(&opts).unwrap()
    );
    assert_eq!(gitlab_ci(&opts).unwrap(), gitlab_ci(&opts).unwrap());
    assert_ne!(
        gitlab_ci(&opts).unwrap(),
        gitlab_ci(&CiOptions { shards: 4, ..opts }).unwrap()
    );
}

#[test]
fn the_files_start_with_their_header_not_a_template_comment() {
    let opts = CiOptions::new(2, install());
    for text in [github_workflow(&opts).unwrap(), gitlab_ci(&opts).unwrap()] {
        assert!(text.starts_with("# Release "), "{text}");
        assert!(!text.contains("[[") && !text.contains("[%") && !text.contains("[#"));
        assert!(text.ends_with("\n") && !text.ends_with("\n\n"));
    }
}

mod attest;
mod install;
mod lint;

#[test]
fn a_registry_cache_gives_the_build_jobs_its_credentials() {
    let Some(py) = python() else { return };
    let step = |doc: &Value| {
        doc["jobs"]["build"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["run"].as_str().is_some_and(|r| r.contains("--shard")))
            .unwrap()
            .clone()
    };
    let plain = load(&py, &github_workflow(&awkward()).unwrap());
    assert_eq!(plain["jobs"]["build"]["permissions"], Value::Null);
    assert_eq!(step(&plain)["env"]["MATRIX_REGISTRY_USER"], Value::Null);
    let opts = CiOptions {
        registry_cache: true,
        ..awkward()
    };
    let yaml = github_workflow(&opts).unwrap();
    let doc = load(&py, &yaml);
    assert_eq!(
        doc["jobs"]["build"]["permissions"],
        json!({ "contents": "read", "packages": "write" })
    );
    let env = &step(&doc)["env"];
    assert_eq!(
        env["MATRIX_REGISTRY_PASSWORD"],
        "${{ secrets.MATRIX_REGISTRY_PASSWORD || github.token }}"
    );
    assert!(
        yaml.contains("# The build jobs share the action cache"),
        "{yaml}"
    );
}
