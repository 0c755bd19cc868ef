//! Test support: throwaway projects in git repositories, the real binary,
//! and the tools end-to-end tests need.

use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::cargo_bin;

/// Fixed identity and dates, so commits (and their hashes) are reproducible.
const GIT_ENV: [(&str, &str); 6] = [
    ("GIT_AUTHOR_NAME", "Test"),
    ("GIT_AUTHOR_EMAIL", "test@example.org"),
    ("GIT_COMMITTER_NAME", "Test"),
    ("GIT_COMMITTER_EMAIL", "test@example.org"),
    ("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z"),
    ("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z"),
];

/// A project folder inside a temporary git repository.
pub struct Project {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

impl Project {
    /// An empty repository; add files, then `commit` and `tag`.
    pub fn new() -> Project {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("project");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let p = Project { _tmp: tmp, dir };
        p.git(&["init", "-q", "-b", "main"]);
        p.file(".gitignore", "dist/\n");
        p
    }

    /// A project with `matrix.toml` = `config`, a LICENSE and README,
    /// committed and tagged v1.2.3.
    pub fn with_config(config: &str) -> Project {
        let p = Project::new();
        p.file("matrix.toml", config);
        p.file("LICENSE", "MIT License\n");
        p.file("README.md", "# hello\n");
        p.commit();
        p.git(&["tag", "v1.2.3"]);
        p
    }

    pub fn file(&self, name: &str, text: &str) -> &Project {
        let path = self.dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, text).expect("write");
        self
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(&self.dir)
            .envs(GIT_ENV)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn commit(&self) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", "release"]);
    }

    /// `matrix <args>` in the project folder, with a clean, plain environment.
    pub fn matrix(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(cargo_bin("matrix"));
        cmd.args(args)
            .current_dir(&self.dir)
            .env("NO_COLOR", "1")
            .env("CI", "true")
            .env_remove("MATRIX_VERSION")
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("MATRIX_LOG");
        cmd
    }

    pub fn dist(&self) -> PathBuf {
        self.dir.join("dist")
    }

    /// A cache home of the project's own (beside it, gone with it): give
    /// it as `XDG_CACHE_HOME` to a build whose `{{ cache }}` would
    /// otherwise stay in the user's cache (the cargo presets' target
    /// folders).
    pub fn cache_home(&self) -> PathBuf {
        self._tmp.path().join("cache")
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

/// Output of a finished command: (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("matrix runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether a tool the test needs is installed. In CI a missing tool fails the
/// test; on a developer machine the test is skipped with how to install it.
pub fn require(tool: &str, install: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "{tool} is required in CI; install it with: {install} (or run scripts/setup.sh)"
    );
    eprintln!(
        "SKIP: {tool} is not installed; install it with: {install} (or run scripts/setup.sh)"
    );
    false
}

/// Replaces what differs between machines and runs in snapshots: the
/// temporary project folder and commit hashes.
pub fn redact(text: &str, project: &Project) -> String {
    let root = project.path().display().to_string();
    let text = text.replace(&root, "[PROJECT]");
    let hash = regex::Regex::new(r"\b[0-9a-f]{7,40}\b").expect("regex");
    hash.replace_all(&text, "[HASH]").into_owned()
}

/// A config whose builds are tiny shell scripts: fast, and portable to any
/// machine with `sh`, for tests of the pipeline itself.
pub fn script_config(targets: &str, build: &str) -> String {
    format!(
        r#"[project]
name = "hello"
description = "A test release."
homepage = "https://example.org/hello"
license = "MIT"

[matrix]
{targets}

[build]
{build}
binary = "hello"
verify = false

[archive]
name = "{{{{ project }}}}_{{{{ version }}}}_{{{{ os }}}}_{{{{ arch }}}}"
format-overrides = [ {{ when = {{ os = "windows" }}, format = "zip" }} ]
files = ["LICENSE", "README.md"]
"#
    )
}

/// A build command that writes a small executable script as the binary.
pub const WRITE_BINARY: &str = r#"command = ["sh", "-c", "printf '#!/bin/sh\necho hello {{ os }}/{{ arch }}\n' > \"$0\" && chmod +x \"$0\"", "{{ out }}/{{ bin }}"]"#;

/// The path of a program on PATH.
pub fn which(tool: &str) -> Option<std::path::PathBuf> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// The names of the `.tar.gz` and `.zip` archives in `dist`, sorted.
pub fn archive_names(dist: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dist)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tar.gz") || n.ends_with(".zip"))
        .collect();
    names.sort();
    names
}

/// A running matrix, killed if the test fails half-way so no run outlives
/// it.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Polls `done` until it holds, failing the test after `timeout`.
pub fn wait_until(what: &str, timeout: std::time::Duration, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
