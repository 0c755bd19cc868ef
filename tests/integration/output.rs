//! What a run tells its user: the summary's closing lines (dist folder,
//! artifacts by kind, wall time), the files each channel job wrote, counts
//! in the right number, and debug logs that only `-vv` shows.

use crate::support::{Project, WRITE_BINARY, run, script_config};

/// The summary's `key  value` line for `key`.
fn closing<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key).map(str::trim))
        .unwrap_or_else(|| panic!("no `{key}` line in:\n{out}"))
}

#[test]
fn the_summary_ends_with_dist_artifacts_and_time() {
    let p = Project::with_config(&script_config(
        "os = [\"linux\"]\narch = [\"amd64\"]",
        WRITE_BINARY,
    ));
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    // One target, counted in the singular.
    assert!(
        err.contains("matrix: building hello 1.2.3 (1 target, 4 jobs)"),
        "{err}"
    );
    let tail: Vec<&str> = out.lines().rev().take(3).collect();
    assert!(tail[2].starts_with("dist "), "{out}");
    assert!(tail[1].starts_with("artifacts "), "{out}");
    assert!(tail[0].starts_with("time "), "{out}");
    assert_eq!(
        closing(&out, "dist"),
        p.dist().display().to_string(),
        "{out}"
    );
    assert_eq!(
        closing(&out, "artifacts"),
        "3 (1 archive, 1 checksums file, 1 manifest)"
    );
    let time = regex::Regex::new(r"^\d+\.\ds in total$|^\d+m\d\ds in total$").unwrap();
    assert!(time.is_match(closing(&out, "time")), "{out}");
}

#[test]
fn a_failed_run_counts_only_what_it_left() {
    let build = r#"command = ["sh", "-c", "test {{ arch }} = amd64 && printf x > \"$0\"", "{{ out }}/{{ bin }}"]"#;
    let p = Project::with_config(&script_config(
        "os = [\"linux\"]\narch = [\"amd64\", \"arm64\"]",
        build,
    ));
    let (code, out, err) = run(&mut p.matrix(&["build", "--keep-going", "-j", "1"]));
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    // No checksums file or manifest is left by a failed run.
    assert_eq!(closing(&out, "artifacts"), "1 (1 archive)", "{out}");
}

#[test]
fn channel_rows_name_the_files_they_wrote() {
    let mut config = script_config(
        "os = [\"linux\", \"windows\"]\narch = [\"amd64\"]",
        WRITE_BINARY,
    );
    config.push_str(
        r#"
[release]
url = "https://github.com/example/hello/releases/download/{{ tag }}/{{ artifact }}"
notes = false

[channels.brew]
kind = "homebrew"
desc = "Test release"

[channels.scoop]
kind = "scoop"
"#,
    );
    let p = Project::with_config(&config);
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let row = |file: &str| {
        out.lines()
            .find(|l| l.split_whitespace().any(|w| w == file))
            .unwrap_or_else(|| panic!("no row names {file}:\n{out}"))
    };
    assert!(
        row("homebrew/hello.rb").starts_with("(channel-brew)"),
        "{out}"
    );
    assert!(
        row("scoop/hello.json").starts_with("(channel-scoop)"),
        "{out}"
    );
    assert!(!out.contains("(channel-brew)  ok      0.0s  -"), "{out}");
    assert_eq!(
        closing(&out, "artifacts"),
        "6 (2 archives, 1 checksums file, 2 channel files, 1 manifest)"
    );
    // The plain log names them too.
    assert!(err.contains("-> homebrew/hello.rb"), "{err}");
}

#[test]
fn debug_logs_need_two_v() {
    let config = script_config("os = [\"linux\"]\narch = [\"amd64\"]", WRITE_BINARY);
    let once = Project::with_config(&config);
    let (code, out, v) = run(&mut once.matrix(&["build", "-v"]));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {v}");
    let twice = Project::with_config(&config);
    let (code, out, vv) = run(&mut twice.matrix(&["build", "-vv"]));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {vv}");

    assert!(!v.contains("DEBUG"), "-v shows debug logs:\n{v}");
    assert!(v.contains("INFO") && v.contains("running the plan"), "{v}");
    // -vv: each job's start and end, and the process with its env keys
    // (never their values) and folder.
    for wanted in [
        "DEBUG",
        "job starts job=build-linux-amd64",
        "job ends job=archive-linux-amd64",
        "spawning command=sh -c",
        "env=[\"SOURCE_DATE_EPOCH\"]",
        "cwd=",
    ] {
        assert!(vv.contains(wanted), "-vv lacks {wanted:?}:\n{vv}");
    }
    assert!(!vv.contains('\u{1b}'), "colour codes in a log:\n{vv}");
}
