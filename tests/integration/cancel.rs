//! Ctrl-C during a build: every job's process group is killed, nothing that
//! looks complete is written, and matrix exits 130.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{KillOnDrop, Project, script_config, wait_until};

/// Processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(marker) {
            found.push(format!("{}: {text}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

#[test]
fn sigint_kills_jobs_and_exits_130() {
    // A unique sleep length marks this test's processes; each job starts a
    // background grandchild too, which must die with its group.
    let marker = format!("4{:07}", std::process::id());
    let build = format!(
        "command = [\"sh\", \"-c\", \"sleep {marker} & echo started; sleep {marker}; echo never\"]"
    );
    let p = Project::with_config(&script_config(
        "os = [\"linux\", \"windows\"]\narch = [\"amd64\", \"arm64\"]",
        &build,
    ));
    let mut child = KillOnDrop(p.matrix(&["build", "-j", "4"]).spawn().unwrap());
    let logs = p.dist().join("logs");
    wait_until("four jobs to start", Duration::from_secs(30), || {
        std::fs::read_dir(&logs).map_or(0, |d| {
            d.flatten()
                .filter(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("started")))
                .count()
        }) == 4
    });
    // "started" is printed before the foreground sleep has exec'd.
    wait_until("two sleeps per job", Duration::from_secs(10), || {
        processes_with(&marker)
            .iter()
            .filter(|p| p.contains(": sleep "))
            .count()
            == 8
    });

    kill(Pid::from_raw(child.0.id() as i32), Signal::SIGINT).unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "matrix did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    // matrix waits for each group leader; give the kernel a moment to tear
    // down the rest (a zombie has an empty command line, so it never matches).
    wait_until(
        "the jobs' processes to vanish",
        Duration::from_secs(5),
        || processes_with(&marker).is_empty(),
    );
    assert!(!p.dist().join("manifest.json").exists());
    assert!(!p.dist().join("hello_1.2.3_checksums.txt").exists());
    let archives: Vec<_> = std::fs::read_dir(p.dist())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("hello_1.2.3_"))
        .collect();
    assert!(archives.is_empty(), "no archive of an unfinished build");
}
