//! Build jobs in containers on a real engine: parallel containers and the
//! `--container-jobs` cap, cleanup on Ctrl-C, and the examples built in
//! their builder images giving the same binaries as on the host.
//!
//! Needs a running engine and the local base images that
//! scripts/setup-containers.sh makes (no registry is reachable here).

use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{Project, run};

/// The base every test container runs: a static busybox, made locally.
pub const BUSYBOX: &str = "matrix-base/busybox:amd64";

/// Whether a container engine with the local bases is ready. In CI its
/// absence fails the test; elsewhere the test is skipped with a hint.
pub fn require_engine() -> bool {
    let answers = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", BUSYBOX])
        .output()
        .is_ok_and(|o| o.status.success());
    if answers {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let hint = "run `bash scripts/setup-containers.sh` (as root it installs docker.io, starts dockerd and makes the local base images)";
    assert!(
        !ci,
        "a container engine with {BUSYBOX} is required in CI: {hint}"
    );
    eprintln!("SKIP: no container engine with {BUSYBOX}: {hint}");
    false
}

/// Containers carrying a label, running or not.
pub fn containers_with(label: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "--all",
            "--quiet",
            "--filter",
            &format!("label={label}"),
        ])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// A unique project name, so tests can find their own containers.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Four targets whose builds run `script` in the busybox container.
fn sleeper_config(name: &str, script: &str) -> String {
    format!(
        r#"[project]
name = "{name}"

[matrix]
os = ["linux"]
arch = ["amd64", "arm64", "386", "riscv64"]

[build]
container = "{BUSYBOX}"
command = ["sh", "-c", "{script}", "{{{{ out }}}}/{{{{ bin }}}}"]
binary = "hello"
verify = false
"#
    )
}

/// (start, end) seconds since boot that each job recorded.
fn spans(p: &Project) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(p.dist().join("build")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path().join("hello")).unwrap();
        let v: Vec<f64> = text
            .split_whitespace()
            .map(|w| w.parse().unwrap())
            .collect();
        out.push((v[0], v[1]));
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

// The kernel's uptime is one clock for every container on the machine.
const RECORD: &str = "read a b < /proc/uptime; sleep 2; read c d < /proc/uptime; echo $a $c > $0";

#[test]
fn containers_run_in_parallel_and_the_cap_serialises_them() {
    if !require_engine() {
        return;
    }
    let name = unique("par");
    let p = Project::with_config(&sleeper_config(&name, RECORD));
    let (code, out, err) = run(&mut p.matrix(&["build", "-j", "4"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let s = spans(&p);
    assert_eq!(s.len(), 4);
    let last_start = s.iter().map(|x| x.0).fold(f64::MIN, f64::max);
    let first_end = s.iter().map(|x| x.1).fold(f64::MAX, f64::min);
    assert!(
        last_start < first_end,
        "all four containers must overlap: {s:?}"
    );
    // Outputs belong to whoever ran matrix, not to the container's root.
    let me = nix::unistd::getuid().as_raw();
    let meta = std::fs::metadata(p.dist().join("build/linux-amd64/hello")).unwrap();
    assert_eq!(meta.uid(), me);

    let (code, out, err) =
        run(&mut p.matrix(&["build", "-j", "4", "--container-jobs", "1", "--clean"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let s = spans(&p);
    for pair in s.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "--container-jobs 1 must run one container at a time: {s:?}"
        );
    }
    assert!(containers_with(&format!("dev.matrix.project={name}")).is_empty());
}

#[test]
fn sigint_removes_this_runs_containers_only() {
    if !require_engine() {
        return;
    }
    let name = unique("int");
    // A container of "another run" of the same project must survive.
    let other = Command::new("docker")
        .args(["run", "--detach", "--label", "dev.matrix.run=someone-else"])
        .args([
            "--label",
            &format!("dev.matrix.project={name}"),
            BUSYBOX,
            "sleep",
            "300",
        ])
        .output()
        .unwrap();
    assert!(
        other.status.success(),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    let other_id = String::from_utf8_lossy(&other.stdout).trim().to_string();

    let p = Project::with_config(&sleeper_config(&name, "sleep 300"));
    let mut child = p.matrix(&["build", "-j", "4"]).spawn().unwrap();
    let label = format!("dev.matrix.project={name}");
    let start = Instant::now();
    while containers_with(&label).len() < 5 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "four containers did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let left = containers_with(&label);
    let _ = Command::new("docker")
        .args(["rm", "--force", &other_id])
        .output();
    assert_eq!(
        left.len(),
        1,
        "only the other run's container may be left, found {left:?}"
    );
    assert!(other_id.starts_with(&left[0]), "{left:?} vs {other_id}");
    assert!(!p.dist().join("manifest.json").exists());
}

#[test]
fn a_missing_image_is_named_before_any_job_runs() {
    if !require_engine() {
        return;
    }
    let p = Project::with_config(
        &sleeper_config(&unique("missing"), "true").replace(BUSYBOX, "matrix-test/no-such-image:1"),
    );
    let (code, _, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("image matrix-test/no-such-image:1 is not on docker"),
        "{err}"
    );
    assert!(!p.dist().join("logs").exists(), "no job may have started");
}

#[test]
fn an_engine_that_does_not_answer_is_named_with_the_fix() {
    if !require_engine() {
        return;
    }
    let p = Project::with_config(&sleeper_config(&unique("down"), "true"));
    let (code, _, err) = run(p
        .matrix(&["build"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("docker does not answer"), "{err}");
    assert!(
        err.contains("DOCKER_HOST"),
        "the help names the remote-engine setting: {err}"
    );
    assert!(!p.dist().join("logs").exists(), "no job may have started");
    let (code, _, err) = run(p.matrix(&["build"]).env("MATRIX_CONTAINER_ENGINE", "rkt"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("MATRIX_CONTAINER_ENGINE=\"rkt\""), "{err}");
}

#[test]
fn a_timed_out_container_job_is_removed() {
    if !require_engine() {
        return;
    }
    let name = unique("timeout");
    let config = sleeper_config(&name, "sleep 300")
        .replace("verify = false\n", "verify = false\ntimeout = \"2s\"\n");
    let p = Project::with_config(&config);
    let started = Instant::now();
    let (code, out, err) = run(&mut p.matrix(&["build", "-j", "4"]));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("timed out after 2s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(
        containers_with(&format!("dev.matrix.project={name}")).is_empty(),
        "a timed-out job's container must be removed"
    );
}
