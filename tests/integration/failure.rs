//! A failing job: exit 1, the target, command, status and log tail are
//! shown; fail-fast stops the rest; --keep-going finishes the others.

use crate::support::{Project, WRITE_BINARY, run, script_config};

const AXES: &str = "os = [\"linux\", \"windows\"]\narch = [\"amd64\", \"arm64\"]";

/// `os/arch` fails after printing 30 numbered lines; the others succeed.
fn failing_project(os: &str, arch: &str) -> Project {
    let build = format!(
        "{WRITE_BINARY}\noverrides = [ {{ when = {{ os = \"{os}\", arch = \"{arch}\" }}, command = [\"sh\", \"-c\", \"for i in $(seq 1 30); do echo line $i; done; echo boom >&2; exit 7\"] }} ]"
    );
    Project::with_config(&script_config(AXES, &build))
}

#[test]
fn failure_is_reported_with_the_log_tail() {
    let p = failing_project("windows", "arm64");
    let (code, out, err) = run(&mut p.matrix(&["build", "-j", "1"]));
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(err.contains("error: windows/arm64: `sh -c"), "{err}");
    assert!(err.contains("failed with exit status 7"), "{err}");
    assert!(err.contains("last 20 lines of the log"), "{err}");
    assert!(
        err.contains("| line 30\n") && err.contains("| boom\n") && err.contains("| line 12\n"),
        "{err}"
    );
    assert!(
        !err.contains("| line 11\n"),
        "only the last 20 lines: {err}"
    );
    let log = p.dist().join("logs/build-windows-arm64.log");
    assert!(
        err.contains(&log.display().to_string()),
        "the full log path is named: {err}"
    );
    assert!(std::fs::read_to_string(&log).unwrap().contains("line 1\n"));
    assert!(!p.dist().join("manifest.json").exists());
    assert!(!p.dist().join("hello_1.2.3_checksums.txt").exists());
    let row = out
        .lines()
        .find(|l| l.starts_with("windows/arm64"))
        .unwrap();
    assert!(row.contains("failed"), "{out}");
}

#[test]
fn keep_going_finishes_the_other_targets() {
    let p = failing_project("windows", "arm64");
    let (code, out, err) = run(&mut p.matrix(&["build", "--keep-going", "-j", "1"]));
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    for name in [
        "hello_1.2.3_linux_amd64.tar.gz",
        "hello_1.2.3_linux_arm64.tar.gz",
        "hello_1.2.3_windows_amd64.zip",
    ] {
        assert!(p.dist().join(name).is_file(), "{name} was not built: {out}");
    }
    assert!(!p.dist().join("hello_1.2.3_windows_arm64.zip").exists());
    // Incomplete release: no checksums file or manifest that would look final.
    assert!(!p.dist().join("manifest.json").exists());
    assert!(!p.dist().join("hello_1.2.3_checksums.txt").exists());
    let statuses: Vec<(&str, &str)> = out
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| {
            let mut f = l.split_whitespace();
            (f.next().unwrap(), f.next().unwrap())
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("linux/amd64", "ok"),
            ("linux/arm64", "ok"),
            ("windows/amd64", "ok"),
            ("windows/arm64", "failed"),
            ("(checksums)", "skipped"),
            ("(manifest)", "skipped"),
        ]
    );
}

#[test]
fn fail_fast_cancels_pending_targets() {
    let p = failing_project("linux", "amd64");
    // One job at a time in plan order, the first target fails: the rest never start.
    let (code, out, err) = run(&mut p.matrix(&["build", "-j", "1"]));
    assert_eq!(code, 1, "{err}");
    for id in ["linux/arm64", "windows/amd64", "windows/arm64"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(id) && l.contains("cancelled")),
            "{id}: {out}"
        );
        assert!(
            !p.dist()
                .join(format!("logs/build-{}.log", id.replace('/', "-")))
                .exists(),
            "{id} ran"
        );
    }
}

#[test]
fn missing_program_is_named() {
    let p = Project::with_config(&script_config(
        AXES,
        "command = \"matrix-no-such-compiler {{ out }}\"",
    ));
    // Found missing when the plan is checked, before any job runs.
    let (code, _, err) = run(&mut p.matrix(&["build", "--target", "linux/amd64"]));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("linux/amd64: matrix-no-such-compiler (for command)"),
        "{err}"
    );
}

/// A build folder that does not exist is a start error naming it, however
/// the job is started (forked by the spawner or by exec).
#[test]
fn a_missing_build_folder_is_a_start_error() {
    let build = format!("{WRITE_BINARY}\ndir = \"missing\"");
    let p = Project::with_config(&script_config(
        "os = [\"linux\"]\narch = [\"amd64\"]",
        &build,
    ));
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(err.contains("cannot start `sh`"), "{err}");
    assert!(err.contains("missing"), "{err}");
    assert!(!err.contains("exit status 127"), "{err}");
}
