//! The CI files `matrix ci github|gitlab` writes, played job by job the way
//! a runner would: every job in a fresh `git clone` of the project at the
//! release tag (or on its branch, for a snapshot run), the job's own `run:`
//! / `script:` lines run by bash with the runner's variables, artifacts
//! moved exactly where the upload/download steps or GitLab's artifact rules
//! put them. The release the last job leaves must verify and carry the same
//! checksums file as one `matrix build` of the same commit.
//!
//! What is stood in for, and how: `matrix` is the binary under test, put on
//! PATH (the install step is the `--install` command, which only checks it
//! is there; install.rs plays the default installs); the toolchain step is
//! the default `matrix doctor --install --yes`, which finds the cross
//! compilers already there and installs nothing (installing them is
//! doctor's own test); `actions/*` steps are done by this file, following
//! their documented behaviour (checkout = the clone; upload-artifact of a folder
//! keeps its contents without hidden files or modes; download-artifact of
//! several artifacts puts each in `<path>/<name>/`); `gh` is a script that
//! records its arguments, since no GitHub is reachable. GitHub expressions
//! are evaluated from a fixed table: one the table does not know fails the
//! test, so a new expression in the workflow is noticed. GitLab's `image:`
//! is not pulled: the jobs run on this machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{Project, require, run};

/// Three Linux targets, each built by its real GNU cross compiler in a
/// fraction of a second; verify checks every binary's machine.
const CONFIG: &str = r#"[project]
name = "hello"
description = "A test release."
license = "MIT"

[matrix]
os = ["linux"]
arch = ["amd64", "arm64", "386"]

[build]
preset = "gcc-cross"
command = ["sh", "-c", "$CC -O2 -o \"$0\" hello.c", "{{ out }}/{{ bin }}"]
binary = "hello"

[archive]
name = "{{ project }}_{{ version }}_{{ os }}_{{ arch }}"
files = ["LICENSE"]
"#;

const INSTALL: &str = "command -v matrix";

pub(crate) fn tools() -> bool {
    let debs = "apt-get install gcc-x86-64-linux-gnu gcc-aarch64-linux-gnu gcc-i686-linux-gnu";
    require("x86_64-linux-gnu-gcc", debs)
        && require("aarch64-linux-gnu-gcc", debs)
        && require("i686-linux-gnu-gcc", debs)
        && require("jq", "apt-get install jq")
}

/// The project, committed and tagged v1.2.3, with nothing ignored: a shard
/// or dist folder left in a checkout must not pass for a source change, nor
/// hide one, without help from a .gitignore.
pub(crate) fn project() -> Project {
    let p = Project::new();
    std::fs::remove_file(p.path().join(".gitignore")).unwrap();
    p.file("matrix.toml", CONFIG);
    p.file("LICENSE", "MIT License\n");
    p.file(
        "hello.c",
        "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n",
    );
    p.commit();
    p.git(&["tag", "v1.2.3"]);
    p
}

fn python() -> Option<PathBuf> {
    let py = PathBuf::from(std::env::var("HOME").ok()?)
        .join(".cache/matrix-tools/venv-validate/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        ok || !ci,
        "{} lacks pyyaml: run scripts/setup.sh",
        py.display()
    );
    if !ok {
        eprintln!("SKIP: no pyyaml venv; run scripts/setup.sh");
    }
    ok.then_some(py)
}

/// The CI file `matrix ci <kind>` writes, parsed by a real YAML parser.
fn workflow(py: &Path, p: &Project, kind: &str, shards: usize) -> Value {
    workflow_with(py, p, kind, shards, &["--install", INSTALL])
}

/// The CI file `matrix ci <kind> --shards <shards> <args>` writes, parsed.
fn workflow_with(py: &Path, p: &Project, kind: &str, shards: usize, args: &[&str]) -> Value {
    let shards = shards.to_string();
    let mut all = vec!["ci", kind, "--shards", &shards];
    all.extend(args);
    let (code, text, err) = run(&mut p.matrix(&all));
    assert_eq!(code, 0, "{err}");
    let out = Command::new(py)
        .args([
            "-c",
            "import sys, yaml, json; json.dump(yaml.safe_load(sys.stdin), sys.stdout)",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "{text}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A runner: fresh clones of the origin, bash, and an artifact store.
struct Runner {
    origin: PathBuf,
    work: tempfile::TempDir,
    /// `Some(tag)`: a tag run; `None`: a run on `main` (a snapshot).
    tag: Option<&'static str>,
    /// The folder of the matrix under test, first on PATH while
    /// `matrix_on_path`; a job that installs matrix itself runs without it.
    bin: PathBuf,
    matrix_on_path: bool,
    /// The subjects (name, hex digest) GitHub's attestation step was given.
    attested: Vec<(String, String)>,
    /// The stubs, then this machine's PATH without any folder that holds
    /// a `matrix`.
    path: String,
    jobs: usize,
}

impl Runner {
    fn new(p: &Project, tag: Option<&'static str>) -> Runner {
        let work = tempfile::tempdir().unwrap();
        let stubs = work.path().join("stubs");
        std::fs::create_dir(&stubs).unwrap();
        let gh = stubs.join("gh");
        // Records where it ran and its arguments, one a line.
        std::fs::write(
            &gh,
            "#!/bin/sh\n{ pwd; printf '%s\\n' \"$@\"; } > \"$GH_RECORD\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&gh, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let bin = assert_cmd::cargo::cargo_bin("matrix");
        let system = std::env::var("PATH").unwrap_or_default();
        let mut path = vec![stubs.display().to_string()];
        path.extend(
            system
                .split(':')
                .filter(|d| !d.is_empty() && !Path::new(d).join("matrix").exists())
                .map(str::to_owned),
        );
        Runner {
            origin: p.path().to_path_buf(),
            work,
            tag,
            bin: bin.parent().unwrap().to_path_buf(),
            matrix_on_path: true,
            attested: Vec::new(),
            path: path.join(":"),
            jobs: 0,
        }
    }

    /// PATH for a job: the matrix under test (when on), stubs, the rest.
    fn path(&self) -> String {
        if self.matrix_on_path {
            format!("{}:{}", self.bin.display(), self.path)
        } else {
            self.path.clone()
        }
    }

    /// A folder for one job's temporary files ($RUNNER_TEMP, $TMPDIR).
    fn temp(&self) -> PathBuf {
        let dir = self.work.path().join(format!("tmp-{}", self.jobs));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A fresh clone for one job, checked out where the run was started.
    fn checkout(&mut self, job: &str) -> PathBuf {
        self.jobs += 1;
        let dir = self.work.path().join(format!("{}-{job}", self.jobs));
        let git = |args: &[&str]| {
            let out = Command::new("git").args(args).output().unwrap();
            assert!(out.status.success(), "git {args:?}: {out:?}");
        };
        git(&[
            "clone",
            "-q",
            self.origin.to_str().unwrap(),
            dir.to_str().unwrap(),
        ]);
        git(&[
            "-C",
            dir.to_str().unwrap(),
            "checkout",
            "-q",
            self.tag.unwrap_or("main"),
        ]);
        dir
    }

    /// Runs `script` with bash in `dir` like a runner: `-e`, pipefail, the
    /// variables given; panics with the output if it fails.
    fn bash(&self, job: &str, dir: &Path, script: &str, vars: &BTreeMap<String, String>) {
        let out = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(dir)
            .env_clear()
            .env("PATH", self.path())
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .env("CI", "true")
            .env("NO_COLOR", "1")
            .envs(vars)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "job {job} failed ({}):\n{script}\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Copies the files under `from` into `to`, the way an artifact travels:
/// regular files only, mode 0644; `hidden` says whether dot-files go too.
fn copy_artifact(from: &Path, to: &Path, hidden: bool) -> usize {
    let mut copied = 0;
    for entry in walkdir::WalkDir::new(from).min_depth(1) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let is_hidden = rel
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
        if !entry.file_type().is_file() || (is_hidden && !hidden) {
            continue;
        }
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(&dest, std::fs::read(entry.path()).unwrap()).unwrap();
        copied += 1;
    }
    copied
}

/// One `matrix build` of the same commit in a fresh clone: the reference.
fn single_build(runner: &mut Runner) -> PathBuf {
    let dir = runner.checkout("single");
    let snapshot = if runner.tag.is_some() {
        ""
    } else {
        "--snapshot"
    };
    let vars = BTreeMap::new();
    runner.bash(
        "single",
        &dir,
        &format!("matrix build {snapshot} --dist dist"),
        &vars,
    );
    dir.join("dist")
}

/// The released files are the single build's: same checksums file, same
/// artifact records, and `matrix verify` accepts it.
fn assert_same_release(runner: &mut Runner, release: &Path) {
    let single = single_build(runner);
    let manifest = |dir: &Path| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
    };
    let (ours, theirs) = (manifest(release), manifest(&single));
    let sums = ours["checksum"]["file"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(release.join(sums)).unwrap(),
        std::fs::read_to_string(single.join(sums)).unwrap(),
        "checksums file"
    );
    assert_eq!(ours["artifacts"], theirs["artifacts"]);
    assert_eq!(ours["targets"].as_array().unwrap().len(), 3);
    assert!(ours["missing_targets"].as_array().is_none_or(Vec::is_empty));
    let out = Command::new(assert_cmd::cargo::cargo_bin("matrix"))
        .arg("verify")
        .arg(release)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// The documented local shard flow, in the checkout itself and with
/// nothing in .gitignore: `build --shard i/N --dist shard-i` for each i,
/// then `merge shard-* --dist dist`. Every run after the first sees the
/// earlier shard folders as untracked files, which must not count as
/// changes; a real change beside them still must.
#[test]
fn local_shard_flow_in_a_clean_tagged_checkout() {
    if !tools() {
        return;
    }
    let p = project();
    for i in 1..=3 {
        let (code, _, err) = run(&mut p.matrix(&[
            "build",
            "--shard",
            &format!("{i}/3"),
            "--dist",
            &format!("shard-{i}"),
        ]));
        assert_eq!(code, 0, "shard {i}: {err}");
    }
    // A new source file is still a change, shard folders or not.
    p.file("extra.c", "int x;\n");
    let (code, _, err) = run(&mut p.matrix(&["merge", "shard-1", "shard-2", "shard-3"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("uncommitted changes (1 file): extra.c"),
        "{err}"
    );
    assert!(!p.dist().exists(), "nothing merged");
    std::fs::remove_file(p.path().join("extra.c")).unwrap();

    let (code, _, err) = run(&mut p.matrix(&["merge", "shard-1", "shard-2", "shard-3"]));
    assert_eq!(code, 0, "{err}");
    let mut runner = Runner::new(&p, Some("v1.2.3"));
    assert_same_release(&mut runner, &p.dist());
    // And a build into yet another folder, with four matrix folders around.
    let (code, _, err) = run(&mut p.matrix(&["build", "--dist", "again"]));
    assert_eq!(code, 0, "{err}");
}

mod github;
mod gitlab;
mod install;
