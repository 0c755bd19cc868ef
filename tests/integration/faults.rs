//! Faults from outside a run: signals at random moments with jobs whose
//! grandchildren try to outlive them, a full disk, a read-only dist, two
//! runs on one dist, a partial `--target` release, and the logs every job
//! leaves.
//!
//! The disk faults mount a small tmpfs as dist/ (root only); in CI a
//! failing mount fails the test, elsewhere it is skipped with the reason.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Project, require, run, script_config, wait_until};

/// A tag unique to this test process and call, put in the argv of every
/// process a job starts, so survivors can be found in /proc.
pub(crate) fn marker(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("matrixfault{}{name}{nanos}", std::process::id())
}

/// A job that starts a `setsid` grandchild and a double-forked one (both
/// sleeping long, `marker` in their argv), writes the binary, then sleeps.
fn leaky_build(marker: &str, sleep: u32) -> String {
    format!(
        r#"command = ["sh", "-c", "setsid sh -c 'sleep 300; : {marker}' </dev/null >/dev/null 2>&1 & (sh -c 'sleep 300; : {marker}' </dev/null >/dev/null 2>&1 &); printf '#!/bin/sh\n' > \"$0\"; chmod +x \"$0\"; sleep {sleep}; : {marker}", "{{{{ out }}}}/{{{{ bin }}}}"]"#
    )
}

/// Live (not zombie) processes whose command line holds `marker`.
pub(crate) fn survivors(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !cmdline.contains(marker) {
            continue;
        }
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        });
        if !zombie {
            found.push(format!("{pid}: {cmdline}"));
        }
    }
    found
}

/// Kills (by pid) whatever a failed assertion would otherwise leave behind.
pub(crate) fn kill_survivors(marker: &str) {
    for line in survivors(marker) {
        if let Some(pid) = line.split(':').next().and_then(|p| p.parse::<i32>().ok()) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("matrix starts")
}

fn finish(child: Child) -> (i32, String, String) {
    let out = child.wait_with_output().expect("matrix ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn two_targets(build: &str) -> Project {
    Project::with_config(&script_config(
        r#"os = ["linux"]
arch = ["amd64", "arm64"]"#,
        build,
    ))
}

fn release_files(dist: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dist)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "logs" && n != "build")
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn sigint_and_sigterm_leave_no_process_behind() {
    let mut seed = std::process::id() as u64;
    for (round, signal) in ["INT", "TERM", "INT", "TERM"].into_iter().enumerate() {
        let tag = marker(&format!("sig{round}"));
        let p = two_targets(&leaky_build(&tag, 60));
        let child = spawn(&mut p.matrix(&["build", "-j", "2"]));
        let pid = child.id();
        // Once both jobs run (their grandchildren exist), a random moment.
        let logs = p.dist().join("logs");
        wait_until("the build jobs", Duration::from_secs(60), || {
            logs.join("build-linux-amd64.log").exists() && survivors(&tag).len() >= 4
        });
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis((seed >> 33) % 800));
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let (code, out, err) = finish(child);
        let left = survivors(&tag);
        kill_survivors(&tag);
        assert!(left.is_empty(), "SIG{signal}: survivors: {left:#?}");
        assert_eq!(code, 130, "SIG{signal}\n{out}\n{err}");
        assert!(err.contains("interrupted"), "{err}");
        assert_eq!(release_files(&p.dist()), Vec::<String>::new(), "{out}");
    }
}

#[test]
fn a_finished_job_leaves_no_process_behind() {
    let tag = marker("end");
    let p = two_targets(&leaky_build(&tag, 0));
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    let left = survivors(&tag);
    kill_survivors(&tag);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(left.is_empty(), "survivors: {left:#?}");
}

#[test]
fn a_job_starts_with_the_signal_mask_matrix_was_given_and_sigpipe_at_its_default() {
    // The job's own view of its signals, as the binary's content: the
    // supervisor blocks the signals it waits for, and that must not reach
    // the job (a blocked SIGTERM would make every cancel wait for the
    // SIGKILL). matrix inherits this test's mask, so the job gets it too.
    // matrix ignores SIGPIPE (Rust's runtime does), and an ignored signal
    // survives exec: the job must get it back at its default, or `yes |
    // head` in a build script would loop writing into a closed pipe.
    let p = two_targets(
        r#"command = ["sh", "-c", "grep -E '^Sig(Blk|Ign)' /proc/self/status > \"$0\"", "{{ out }}/{{ bin }}"]"#,
    );
    let (code, out, err) = run(&mut p.matrix(&["build", "--target", "linux/amd64"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let job = std::fs::read_to_string(p.dist().join("build/linux-amd64/hello")).unwrap();
    let field = |name: &str| {
        job.lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .to_string()
    };
    let ours = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    let ours = ours.lines().find(|l| l.starts_with("SigBlk")).unwrap();
    assert_eq!(field("SigBlk"), ours, "the job's signal mask");
    let ignored = field("SigIgn");
    let hex = ignored.trim_start_matches("SigIgn:").trim();
    let ignored_set = u64::from_str_radix(hex, 16).unwrap();
    assert_eq!(
        ignored_set & (1 << (13 - 1)),
        0,
        "SIGPIPE ignored in the job: {ignored}"
    );
}

#[test]
fn a_job_runs_under_a_supervisor_forked_by_the_spawner() {
    // Not an exec of the matrix binary per job (issue 15): the job's parent
    // is a fork of `matrix __spawner <matrix pid>`, a subreaper, in a
    // process group of its own that the job shares.
    let p = two_targets(
        r#"command = ["sh", "-c", "{ tr '\\0' ' ' < /proc/$PPID/cmdline; echo; grep -E '^(Pid|PPid)' /proc/$PPID/status; ps -o pgid= -p $$ $PPID; } > \"$0\"", "{{ out }}/{{ bin }}"]"#,
    );
    let (code, out, err) = run(&mut p.matrix(&["build", "--target", "linux/amd64"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let job = std::fs::read_to_string(p.dist().join("build/linux-amd64/hello")).unwrap();
    let lines: Vec<&str> = job.lines().collect();
    assert!(lines[0].starts_with("matrix __spawner "), "{job}");
    let field = |l: &str| l.split_whitespace().nth(1).unwrap().to_string();
    let (supervisor, spawner) = (field(lines[1]), field(lines[2]));
    assert_ne!(supervisor, spawner, "{job}");
    // Both the supervisor and the job are in the supervisor's group.
    assert_eq!(lines[3].trim(), supervisor, "{job}");
    assert_eq!(lines[4].trim(), supervisor, "{job}");
}

/// The spawner killed under a running job: that job's tree dies with it
/// (its supervisor had SIGTERM) and the job fails saying so; the next job
/// starts by exec and builds.
#[test]
fn a_killed_spawner_stops_its_jobs_and_the_next_ones_start_by_exec() {
    let tag = marker("spawner");
    let build = format!(
        r#"command = ["sh", "-c", "case {{{{ arch }}}} in amd64) sleep 60; : {tag};; esac; printf '#!/bin/sh\n' > \"$0\"; chmod +x \"$0\"", "{{{{ out }}}}/{{{{ bin }}}}"]"#
    );
    let p = two_targets(&build);
    let child = spawn(&mut p.matrix(&["build", "-j", "1", "--keep-going"]));
    let matrix = child.id().to_string();
    wait_until("the amd64 job", Duration::from_secs(60), || {
        !survivors(&tag).is_empty()
    });
    let spawner = survivors(&format!("__spawner {matrix}"))
        .into_iter()
        .filter_map(|l| l.split(':').next()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/status"))
                .is_ok_and(|s| s.contains(&format!("\nPPid:\t{matrix}\n")))
        })
        .expect("matrix's spawner");
    let killed = Command::new("kill")
        .args(["-KILL", &spawner.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (code, out, err) = finish(child);
    let left = survivors(&tag);
    kill_survivors(&tag);
    assert!(left.is_empty(), "survivors: {left:#?}");
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains("`sh` was stopped: matrix's job spawner ended while it ran"),
        "{err}"
    );
    assert!(
        p.dist().join("build/linux-arm64/hello").is_file(),
        "{out}\n{err}"
    );
}

/// A tmpfs mounted over a folder for one test; unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, options: &str) -> Option<Mount> {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(at)
            .output()
            .expect("mount runs");
        if out.status.success() {
            return Some(Mount(at.to_path_buf()));
        }
        let why = String::from_utf8_lossy(&out.stderr);
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!ci, "mounting a tmpfs is needed in CI (run as root): {why}");
        eprintln!("SKIP: cannot mount a tmpfs (needs root): {why}");
        None
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_names_the_os_error_and_lists_nothing() {
    // The binary fits (700 kB of noise in 1 MiB); its archive does not.
    let p = Project::with_config(&script_config(
        r#"os = ["linux"]
arch = ["amd64"]"#,
        r#"command = ["sh", "-c", "head -c 700000 /dev/urandom > \"$0\" && chmod +x \"$0\"", "{{ out }}/{{ bin }}"]"#,
    ));
    let Some(_mount) = Mount::tmpfs(&p.dist(), "size=1m") else {
        return;
    };
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains("hello_1.2.3_linux_amd64.tar.gz"), "{err}");
    // Nothing incomplete, and nothing that looks like a release.
    assert_eq!(release_files(&p.dist()), Vec::<String>::new());
    let log = std::fs::read_to_string(p.dist().join("logs/archive-linux-amd64.log")).unwrap();
    assert!(log.contains("No space left on device"), "{log}");
}

#[test]
fn a_read_only_dist_is_refused_with_the_os_error() {
    let p = Project::with_config(&script_config(
        r#"os = ["linux"]
arch = ["amd64"]"#,
        crate::support::WRITE_BINARY,
    ));
    let Some(_mount) = Mount::tmpfs(&p.dist(), "ro,size=1m") else {
        return;
    };
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(err.contains(".matrix.lock"), "{err}");
    assert!(std::fs::read_dir(p.dist()).unwrap().next().is_none());
}

#[test]
fn two_builds_on_one_dist_exactly_one_wins() {
    require("sha256sum", "apt-get install coreutils");
    let p = two_targets(
        r#"command = ["sh", "-c", "printf '#!/bin/sh\n' > \"$0\"; chmod +x \"$0\"; sleep 1", "{{ out }}/{{ bin }}"]"#,
    );
    for round in 0..3 {
        let args: &[&str] = if round == 0 {
            &["build"]
        } else {
            &["build", "--clean"]
        };
        let a = spawn(&mut p.matrix(args));
        let b = spawn(&mut p.matrix(args));
        let (pids, results) = ([a.id(), b.id()], [finish(a), finish(b)]);
        let winners: Vec<usize> = (0..2).filter(|&i| results[i].0 == 0).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:#?}");
        let (w, l) = (winners[0], 1 - winners[0]);
        let (code, _, err) = &results[l];
        assert_eq!(*code, 2, "round {round}: {err}");
        assert!(
            err.contains("is in use by another matrix run")
                && err.contains(&format!("pid {}", pids[w])),
            "round {round}: {err}"
        );
        assert!(err.contains("matrix build"), "the holder's command: {err}");
        let sums = Command::new("sha256sum")
            .args(["--check", "--strict", "hello_1.2.3_checksums.txt"])
            .current_dir(p.dist())
            .output()
            .unwrap();
        assert!(
            sums.status.success(),
            "{}",
            String::from_utf8_lossy(&sums.stdout)
        );
        assert!(!p.dist().join(".matrix.lock").exists());
    }
}

#[test]
fn clean_on_a_dist_in_use_deletes_nothing() {
    let p = two_targets(
        r#"command = ["sh", "-c", "printf '#!/bin/sh\n' > \"$0\"; chmod +x \"$0\"; sleep 3", "{{ out }}/{{ bin }}"]"#,
    );
    let first = spawn(&mut p.matrix(&["build"]));
    let holder = first.id();
    let log = p.dist().join("logs/build-linux-amd64.log");
    wait_until("the first build's jobs", Duration::from_secs(60), || {
        log.exists()
    });
    let (code, out, err) = run(&mut p.matrix(&["build", "--clean"]));
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains(&format!("pid {holder}")), "{err}");
    assert!(log.exists(), "--clean deleted a running build's files");
    let (code, out, err) = finish(first);
    assert_eq!(code, 0, "the first build: {out}\n{err}");
    assert!(p.dist().join("hello_1.2.3_checksums.txt").is_file());
}

#[test]
fn a_partial_target_build_needs_allow_partial_to_verify_and_publish() {
    // A real x86-64 binary, so `verify` checks what a release has.
    let p = two_targets(r#"command = ["cp", "/bin/true", "{{ out }}/{{ bin }}"]"#);
    let config = std::fs::read_to_string(p.path().join("matrix.toml"))
        .unwrap()
        .replace("verify = false\n", "");
    p.file("matrix.toml", &config);
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    let (code, out, err) = run(&mut p.matrix(&["build", "--target", "linux/amd64"]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("partial release"), "{err}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.dist().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["missing_targets"],
        serde_json::json!(["linux/arm64"])
    );
    let ids: Vec<&str> = manifest["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["linux/amd64", "linux/arm64"]);

    let (code, out, _) = run(&mut p.matrix(&["verify", "dist"]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("linux/arm64: missing"), "{out}");
    let (code, out, err) = run(&mut p.matrix(&["verify", "--allow-partial", "dist"]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.ends_with("ok\n"), "{out}");

    let repo = p.path().join("../repo");
    let (code, out, err) = run(&mut p.matrix(&["publish", "dist", "--to", "../repo"]));
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(err.contains("linux/arm64 is missing"), "{err}");
    let published = std::fs::read_dir(&repo)
        .map(|d| {
            d.flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(published, 0, "publish wrote into the repository");
    let (code, out, err) =
        run(&mut p.matrix(&["publish", "dist", "--to", "../repo", "--allow-partial"]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("published 1.2.3"), "{out}");
}

#[test]
fn a_complete_build_is_not_partial() {
    let p = two_targets(crate::support::WRITE_BINARY);
    let (code, out, err) = run(&mut p.matrix(&["build", "--target", "linux/*"]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!err.contains("partial"), "{err}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.dist().join("manifest.json")).unwrap()).unwrap();
    assert!(
        manifest
            .get("missing_targets")
            .is_none_or(|m| m.as_array().is_some_and(|a| a.is_empty())),
        "{manifest}"
    );
}

#[test]
fn every_job_has_its_log() {
    let p = two_targets(crate::support::WRITE_BINARY);
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, plan, err) = run(&mut p.matrix(&["plan", "--json"]));
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let jobs: Vec<&str> = plan["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert!(
        jobs.contains(&"checksums") && jobs.contains(&"manifest"),
        "{jobs:?}"
    );
    for id in jobs {
        let log = p.dist().join("logs").join(format!("{id}.log"));
        let text =
            std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        assert!(text.lines().last() == Some("# ok"), "{id}: {text}");
    }
    let sums = std::fs::read_to_string(p.dist().join("logs/checksums.log")).unwrap();
    assert!(
        sums.contains("# wrote hello_1.2.3_checksums.txt ("),
        "{sums}"
    );
}

/// mingw's GNU ld stamps the PE header with SOURCE_DATE_EPOCH, which every
/// build job gets: two builds at different times give the same bytes, with
/// no `--no-insert-timestamp` in the Makefile.
#[test]
fn hello_c_windows_builds_are_identical_at_different_times() {
    let tools = [
        ("make", "apt-get install make"),
        (
            "x86_64-w64-mingw32-gcc",
            "bash scripts/install-toolchains.sh",
        ),
        ("i686-w64-mingw32-gcc", "bash scripts/install-toolchains.sh"),
    ];
    if !tools.iter().all(|(tool, install)| require(tool, install)) {
        return;
    }
    let p = crate::cross::example("hello-c");
    let makefile = std::fs::read_to_string(p.path().join("Makefile")).unwrap();
    assert!(!makefile.contains("--no-insert-timestamp"));
    let build = |args: &[&str]| {
        let (code, out, err) = run(&mut p.matrix(args));
        assert_eq!(code, 0, "{out}\n{err}");
        std::fs::read_to_string(p.dist().join("hello-c_1.2.3_checksums.txt")).unwrap()
    };
    let first = build(&["build", "--target", "windows/*/*"]);
    std::thread::sleep(Duration::from_millis(2100));
    let second = build(&["build", "--clean", "--target", "windows/*/*"]);
    assert_eq!(first.lines().count(), 2, "{first}");
    assert_eq!(first, second, "the Windows archives differ between builds");
    let log = std::fs::read_to_string(p.dist().join("logs/build-windows-amd64-gnu.log")).unwrap();
    assert!(log.contains("# env: SOURCE_DATE_EPOCH="), "{log}");
}

#[test]
fn a_timeout_leaves_no_process_behind() {
    let tag = marker("timeout");
    let build = format!("{}\ntimeout = \"1s\"", leaky_build(&tag, 60));
    let p = two_targets(&build);
    let started = Instant::now();
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    let left = survivors(&tag);
    kill_survivors(&tag);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("timed out after 1s"), "{err}");
    assert!(left.is_empty(), "survivors: {left:#?}");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(release_files(&p.dist()), Vec::<String>::new());
}

/// matrix itself killed outright: each supervisor learns it from
/// PR_SET_PDEATHSIG and takes the job's whole tree down; the lock dies
/// with matrix, so the next run is not blocked.
#[test]
fn a_killed_matrix_leaves_no_process_and_no_lock_behind() {
    let tag = marker("kill9");
    let build = format!(
        r#"command = ["sh", "-c", "setsid sh -c 'sleep 300; : {tag}' </dev/null >/dev/null 2>&1 & printf '#!/bin/sh\n' > \"$0\"; chmod +x \"$0\"; sleep ${{FAULT_SLEEP:-0}}; : {tag}", "{{{{ out }}}}/{{{{ bin }}}}"]"#
    );
    let p = two_targets(&build);
    let child = spawn(p.matrix(&["build"]).env("FAULT_SLEEP", "60"));
    let pid = child.id();
    wait_until("the build jobs", Duration::from_secs(60), || {
        survivors(&tag).len() >= 4
    });
    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (code, _, _) = finish(child);
    assert_eq!(code, -1, "killed by a signal");
    // The supervisors' grace (3 s) and a margin.
    let start = Instant::now();
    while !survivors(&tag).is_empty() && start.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = survivors(&tag);
    kill_survivors(&tag);
    assert!(left.is_empty(), "survivors: {left:#?}");
    assert!(
        p.dist().join(".matrix.lock").exists(),
        "the crash left its lock file"
    );
    let (code, out, err) = run(p.matrix(&["build", "--clean"]).env("FAULT_SLEEP", "0"));
    let left = survivors(&tag);
    kill_survivors(&tag);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(left.is_empty(), "survivors: {left:#?}");
}

#[test]
fn merge_into_a_dist_in_use_is_refused() {
    let p = two_targets(
        r#"command = ["sh", "-c", "printf '#!/bin/sh\n' > \"$0\"; chmod +x \"$0\"; sleep ${FAULT_SLEEP:-0}", "{{ out }}/{{ bin }}"]"#,
    );
    p.file(".gitignore", "dist/\nshards/\n");
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    let (code, out, err) = run(&mut p.matrix(&["build", "--shard", "1/1", "--dist", "shards/s1"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let first = spawn(p.matrix(&["build"]).env("FAULT_SLEEP", "3"));
    let holder = first.id();
    let log = p.dist().join("logs/build-linux-amd64.log");
    wait_until("the build's jobs", Duration::from_secs(60), || log.exists());
    let (code, out, err) = run(&mut p.matrix(&["merge", "shards/s1", "--dist", "dist", "--clean"]));
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("in use by another matrix run") && err.contains(&format!("pid {holder}")),
        "{err}"
    );
    assert!(
        log.exists(),
        "the merge's --clean deleted a running build's files"
    );
    let (code, out, err) = finish(first);
    assert_eq!(code, 0, "the build: {out}\n{err}");
}
