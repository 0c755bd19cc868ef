//! The install lines `matrix ci` writes by default, and the flags that
//! choose them.
//!
//! The archive install is played for real: a release of matrix made the
//! way matrix releases itself (`matrix build` with the top-level
//! matrix.toml's archive and checksums names), served from a file:// URL
//! in place of the repository's release downloads, installed by the
//! generated lines on runners whose PATH has no matrix, which then run the
//! whole release with it. What stands in: the released `matrix` is a small
//! C program that runs the matrix under test (the real debug binary is
//! ~200 MB, too big to archive in a test), and curl reads file:// instead
//! of https.

use std::path::{Path, PathBuf};
use std::process::Command;

use matrix::ci::{PACKAGE, REPOSITORY, VERSION, archive_name, checksums_name};
use serde_json::Value;

use super::{Runner, assert_same_release, project, python, tools, workflow_with};
use crate::support::{Project, require, run};

/// The folder the generated lines download from.
fn release_url() -> String {
    format!("{REPOSITORY}/releases/download/v{VERSION}")
}

fn archive_tools() -> bool {
    require("cc", "apt-get install gcc")
        && require("curl", "apt-get install curl")
        && require("sha256sum", "apt-get install coreutils")
}

/// matrix's own release of this version, in the returned project's dist/:
/// the top-level matrix.toml with its [build] replaced by the stand-in's.
fn matrix_release() -> Project {
    let top = Path::new(env!("CARGO_MANIFEST_DIR")).join("matrix.toml");
    let mut config: toml::Table = toml::from_str(&std::fs::read_to_string(top).unwrap()).unwrap();
    let build: toml::Table = toml::from_str(
        r#"command = ["cc", "-O2", "-o", "{{ out }}/{{ bin }}", "standin.c"]
binary = "matrix""#,
    )
    .unwrap();
    config.insert("build".into(), toml::Value::Table(build));
    let real = assert_cmd::cargo::cargo_bin("matrix");
    let p = Project::new();
    p.file("matrix.toml", &toml::to_string(&config).unwrap());
    p.file("LICENSE", "MIT License\n");
    p.file("README.md", "# matrix\n");
    p.file(
        "CHANGELOG.md",
        &format!("# Changelog\n\n## {VERSION}\n\n- A release.\n"),
    );
    p.file(
        "real.h",
        &format!("#define REAL {:?}\n", real.display().to_string()),
    );
    p.file(
        "standin.c",
        "#include <stdio.h>\n#include <unistd.h>\n#include \"real.h\"\n\
         int main(int argc, char **argv) {\n  (void)argc;\n  execv(REAL, argv);\n  perror(REAL);\n  return 127;\n}\n",
    );
    p.commit();
    p.git(&["tag", &format!("v{VERSION}")]);
    let (code, _, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 0, "{err}");
    // The names the install lines download are the ones matrix.toml makes.
    for name in [archive_name(VERSION), checksums_name(VERSION)] {
        assert!(p.dist().join(&name).is_file(), "no {name} in the release");
    }
    p
}

/// Points every string of the CI file at `dir` instead of the release
/// downloads; returns how many strings changed.
fn serve_from(doc: &mut Value, dir: &Path) -> usize {
    let (from, to) = (release_url(), format!("file://{}", dir.display()));
    match doc {
        Value::String(s) if s.contains(&from) => {
            *s = s.replace(&from, &to);
            1
        }
        Value::Array(a) => a.iter_mut().map(|v| serve_from(v, dir)).sum(),
        Value::Object(o) => o.values_mut().map(|v| serve_from(v, dir)).sum(),
        _ => 0,
    }
}

const ARCHIVE: [&str; 4] = ["--install-from", "archive", "--toolchains", "check"];

#[test]
fn github_jobs_install_matrix_from_its_release_archive() {
    let Some(py) = python() else { return };
    if !tools() || !archive_tools() {
        return;
    }
    let release = matrix_release();
    let p = project();
    let mut doc = workflow_with(&py, &p, "github", 2, &ARCHIVE);
    // plan, build, merge: each job installs.
    assert_eq!(serve_from(&mut doc, &release.dist()), 3);
    let mut runner = Runner::new(&p, Some("v1.2.3"));
    runner.matrix_on_path = false;
    let (store, _) = super::github::play(&mut runner, &doc);
    runner.matrix_on_path = true;
    assert_same_release(&mut runner, &store.join("release"));
}

#[test]
fn gitlab_jobs_install_matrix_from_its_release_archive() {
    let Some(py) = python() else { return };
    if !tools() || !archive_tools() {
        return;
    }
    let release = matrix_release();
    let p = project();
    let sha = sha256(&release.dist().join(archive_name(VERSION)));
    let mut args = ARCHIVE.to_vec();
    args.extend(["--matrix-sha256", &sha]);
    let mut doc = workflow_with(&py, &p, "gitlab", 2, &args);
    // One before_script for every job.
    assert_eq!(serve_from(&mut doc, &release.dist()), 1);
    let mut runner = Runner::new(&p, Some("v1.2.3"));
    runner.matrix_on_path = false;
    let done = super::gitlab::play(&mut runner, &doc);
    runner.matrix_on_path = true;
    assert_same_release(&mut runner, &super::gitlab::release(&done, &doc));
}

fn sha256(file: &Path) -> String {
    let out = Command::new("sha256sum").arg(file).output().unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)[..64].to_owned()
}

/// The GitLab install lines of `matrix ci gitlab <args>`, served from `dir`.
fn install_lines(py: &Path, p: &Project, dir: &Path, args: &[&str]) -> String {
    let mut doc = workflow_with(py, p, "gitlab", 1, args);
    assert_eq!(serve_from(&mut doc, dir), 1);
    doc["default"]["before_script"][0]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The lines under `bash -e` (no pipefail: they must not need it), then
/// `matrix --version` from PATH; (success, stdout, stderr).
fn install(lines: &str, tmp: &Path) -> (bool, String, String) {
    let system = std::env::var("PATH").unwrap_or_default();
    let path: Vec<&str> = system
        .split(':')
        .filter(|d| !d.is_empty() && !Path::new(d).join("matrix").exists())
        .collect();
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-e", "-c"])
        .arg(format!("{lines}\ncommand -v matrix\nmatrix --version"))
        .env_clear()
        .env("PATH", path.join(":"))
        .env("TMPDIR", tmp)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A copy of the release's two files in a folder of its own, changed by
/// `edit`.
fn served(release: &Path, edit: impl FnOnce(&Path)) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("download");
    std::fs::create_dir(&dir).unwrap();
    for name in [archive_name(VERSION), checksums_name(VERSION)] {
        std::fs::copy(release.join(&name), dir.join(&name)).unwrap();
    }
    edit(&dir);
    std::fs::create_dir(tmp.path().join("tmp")).unwrap();
    (tmp, dir)
}

#[test]
fn archive_install_takes_only_what_checks_out() {
    let Some(py) = python() else { return };
    if !archive_tools() {
        return;
    }
    let release = matrix_release();
    let dist = release.dist();
    let archive = archive_name(VERSION);
    let sums = checksums_name(VERSION);
    let p = project();
    let good_sha = sha256(&dist.join(&archive));
    let wrong_sha = "0".repeat(64);
    let flip = |dir: &Path| {
        let file = dir.join(archive_name(VERSION));
        let mut bytes = std::fs::read(&file).unwrap();
        let last = bytes.len() - 9;
        bytes[last] ^= 1;
        std::fs::write(file, bytes).unwrap();
    };
    let unlisted = |dir: &Path| {
        let file = dir.join(checksums_name(VERSION));
        let text = std::fs::read_to_string(&file).unwrap();
        let other: String = text
            .lines()
            .filter(|l| !l.ends_with(&archive_name(VERSION)))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(file, other).unwrap();
    };
    let nothing = |_: &Path| {};
    let gone = |dir: &Path| std::fs::remove_file(dir.join(archive_name(VERSION))).unwrap();
    // (name, extra flags, edit of the served files, Ok or the error part)
    type Case<'a> = (&'a str, Vec<&'a str>, &'a dyn Fn(&Path), Result<(), String>);
    let cases: Vec<Case> = vec![
        ("checksums file", vec![], &nothing, Ok(())),
        (
            "pinned sha",
            vec!["--matrix-sha256", &good_sha],
            &nothing,
            Ok(()),
        ),
        (
            "changed archive",
            vec![],
            &flip,
            Err(format!("{archive}: FAILED")),
        ),
        (
            "changed archive, pinned",
            vec!["--matrix-sha256", &good_sha],
            &flip,
            Err(format!("{archive}: FAILED")),
        ),
        (
            "archive not in the checksums file",
            vec![],
            &unlisted,
            Err(format!("{sums} has no line for {archive}")),
        ),
        (
            "another pinned sha",
            vec!["--matrix-sha256", &wrong_sha],
            &nothing,
            Err(format!("{archive}: FAILED")),
        ),
        ("no archive", vec![], &gone, Err("curl: (37)".into())),
    ];
    for (name, flags, edit, want) in cases {
        let (tmp, dir) = served(&dist, edit);
        let mut args = vec!["--install-from", "archive"];
        args.extend(flags);
        let lines = install_lines(&py, &p, &dir, &args);
        let (ok, out, err) = install(&lines, &tmp.path().join("tmp"));
        match want {
            Ok(()) => {
                assert!(ok, "{name}: {err}\n{lines}");
                // On PATH, from a folder of its own under TMPDIR, and it runs.
                let first = out.lines().rev().nth(1).unwrap();
                assert!(
                    first.starts_with(&tmp.path().join("tmp").display().to_string()),
                    "{name}: {out}"
                );
                assert!(first.ends_with("/matrix"), "{name}: {out}");
                assert_eq!(
                    out.lines().last(),
                    Some(format!("matrix {VERSION}").as_str()),
                    "{name}"
                );
            }
            Err(part) => {
                assert!(!ok, "{name}: installed\n{out}");
                // sha256sum says FAILED on stdout, curl and ours on stderr.
                assert!(format!("{out}{err}").contains(&part), "{name}: {out}{err}");
                assert!(!out.contains(&format!("matrix {VERSION}")), "{name}: {out}");
            }
        }
    }
}

/// `matrix ci` without install flags: this version, from its tag, and a
/// warning on a build that may not be a published tag.
#[test]
fn default_install_pins_this_version() {
    let p = project();
    let (code, out, err) = run(&mut p.matrix(&["ci", "gitlab", "--shards", "2"]));
    assert_eq!(code, 0, "{err}");
    let line = format!("cargo install --locked --git {REPOSITORY} --tag v{VERSION} {PACKAGE}");
    assert!(out.contains(&format!("      {line}\n")), "{out}");
    assert!(out.contains("doctor $SNAPSHOT --install --yes"), "{out}");
    assert!(
        out.contains(&format!(
            "# Every job installs matrix {VERSION}, the version that wrote this file.\n"
        )),
        "{out}"
    );
    // The test binary is a debug build unless the tests run with --release.
    assert_eq!(
        err.contains(&format!("warning: this matrix {VERSION} is a debug build")),
        cfg!(debug_assertions),
        "{err}"
    );
    // The user's own command: no pin, no warning.
    let (code, out, err) = run(&mut p.matrix(&[
        "ci",
        "github",
        "--install",
        "pipx install my-matrix",
        "--toolchains",
        "none",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    assert!(out.contains("          pipx install my-matrix\n"), "{out}");
    assert!(!out.contains(" doctor "), "{out}");
    assert!(!out.contains("actions/cache"), "{out}");
}

#[test]
fn install_flags_that_do_not_go_together() {
    let p = project();
    let sha = "a".repeat(64);
    let cases: [(&[&str], &str); 4] = [
        (
            &["--matrix-sha256", &sha],
            "--matrix-sha256 pins the release archive: add --install-from archive",
        ),
        (
            &["--install", "x", "--install-from", "archive"],
            "cannot be used with",
        ),
        (
            &["--install", "x", "--matrix-sha256", &sha],
            "cannot be used with",
        ),
        (
            &["--install-from", "archive", "--matrix-sha256", "abc"],
            "is not a sha256 (64 hexadecimal digits)",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["ci", "github"];
        all.extend(args);
        let (code, out, err) = run(&mut p.matrix(&all));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
}
