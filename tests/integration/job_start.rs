//! How jobs start: what a job finds when it
//! starts (its descriptors, its environment) and what a job can make matrix
//! do through the files it shares with it (dist/logs). Each test is a
//! question asked with the real binary, kept so the answer stays right.

use crate::support::{KillOnDrop, Project, run, script_config, wait_until};

fn two_targets(build: &str) -> Project {
    Project::with_config(&script_config(
        r#"os = ["linux"]
arch = ["amd64", "arm64"]"#,
        build,
    ))
}

/// A job plants links in dist/logs where the next jobs' logs go (the other
/// target's build log, which matrix starts afresh, and its own archive
/// job's log, which matrix appends to): matrix must not write through
/// them. The jobs whose log is a link fail, naming it.
#[test]
fn a_link_planted_at_a_log_name_is_never_written_through() {
    let outside = tempfile::tempdir().unwrap();
    let (first, second) = (outside.path().join("a"), outside.path().join("b"));
    for f in [&first, &second] {
        std::fs::write(f, "keep\n").unwrap();
    }
    let build = format!(
        r#"command = ["sh", "-c", "logs=$(dirname \"$0\")/../../logs; case {{{{ arch }}}} in amd64) ln -s {} \"$logs/build-linux-arm64.log\"; ln -s {} \"$logs/archive-linux-amd64.log\";; esac; printf '#!/bin/sh\n' > \"$0\"; chmod +x \"$0\"", "{{{{ out }}}}/{{{{ bin }}}}"]"#,
        first.display(),
        second.display()
    );
    let p = two_targets(&build);
    let (code, out, err) = run(&mut p.matrix(&["build", "-j", "1", "--keep-going"]));
    assert_eq!(std::fs::read_to_string(&first).unwrap(), "keep\n");
    assert_eq!(std::fs::read_to_string(&second).unwrap(), "keep\n");
    assert_eq!(code, 1, "{out}\n{err}");
    let err: String = err.split_whitespace().filter(|w| *w != "|").collect();
    for log in ["build-linux-arm64.log", "archive-linux-amd64.log"] {
        assert!(err.contains(&format!("logs/{log}")), "{log}: {err}");
    }
    assert!(err.contains("isasymboliclink"), "{err}");
}

/// A job swaps the whole logs folder for a link to a folder elsewhere
/// (moving matrix's aside): no later log, header or note of any job is
/// written there; the jobs whose log cannot be opened fail, naming it.
#[test]
fn a_logs_folder_swapped_for_a_link_is_never_written_through() {
    let outside = tempfile::tempdir().unwrap();
    let build = format!(
        r#"command = ["sh", "-c", "logs=$(dirname \"$0\")/../../logs; case {{{{ arch }}}} in amd64) mv \"$logs\" \"$logs.moved\" && ln -s {} \"$logs\";; esac; printf '#!/bin/sh\n' > \"$0\"; chmod +x \"$0\"", "{{{{ out }}}}/{{{{ bin }}}}"]"#,
        outside.path().display()
    );
    let p = two_targets(&build);
    let (code, out, err) = run(&mut p.matrix(&["build", "-j", "1", "--keep-going"]));
    let written: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    assert!(written.is_empty(), "{written:?}");
    assert_eq!(code, 1, "{out}\n{err}");
    let err: String = err.split_whitespace().filter(|w| *w != "|").collect();
    assert!(err.contains("logs/build-linux-arm64.log"), "{err}");
    assert!(err.contains("thelogsfolderisasymboliclink"), "{err}");
}

/// A failing job leaves a FIFO at its own log's name: matrix, which shows
/// the end of a failed job's log, must not wait on it for a writer that
/// never comes. The run ends, failing that job.
#[test]
fn a_fifo_left_at_a_failed_jobs_log_does_not_hang_the_run() {
    let build = r#"command = ["sh", "-c", "log=$(dirname \"$0\")/../../logs/build-linux-{{ arch }}.log; rm -f \"$log\" && mkfifo \"$log\"; exit 3", "{{ out }}/{{ bin }}"]"#;
    let p = two_targets(build);
    let mut run = KillOnDrop(
        p.matrix(&["build", "-j", "1", "--keep-going"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut status = None;
    wait_until(
        "matrix to end (not to wait on the FIFO)",
        std::time::Duration::from_secs(60),
        || {
            status = run.0.try_wait().unwrap();
            status.is_some()
        },
    );
    let status = status.unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut run.0.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("build-linux-amd64"), "{err}");
}

/// Every job of a `-j 8` run (other jobs' logs open meanwhile) starts with
/// stdin, stdout and stderr and nothing else of matrix's: no spawner
/// socket, no lock file, no other log, forked by the spawner or (a request
/// over its 128 KiB) on the exec path. matrix is started with only 0-2
/// open, so what the job holds beyond them came from matrix.
#[test]
fn a_job_inherits_no_descriptor_of_matrix() {
    for exec_path in [false, true] {
        let seen = tempfile::tempdir().unwrap();
        let big = "x".repeat(70_000);
        let env = if exec_path {
            format!("\nenv = {{ PADDING_BIG1 = \"{big}\", PADDING_BIG2 = \"{big}\" }}")
        } else {
            String::new()
        };
        let build = format!(
            r#"command = ["sh", "-c", "sleep 0.3; ls -l /proc/self/fd > {}/{{{{ arch }}}}; printf '#!/bin/sh\n' > \"$0\"; chmod +x \"$0\"", "{{{{ out }}}}/{{{{ bin }}}}"]{env}"#,
            seen.path().display()
        );
        let p = Project::with_config(&script_config(
            r#"os = ["linux"]
arch = ["amd64", "arm64", "386", "ppc64le", "s390x", "riscv64", "arm"]"#,
            &build,
        ));
        let mut cmd = p.matrix(&["build", "-j", "8"]);
        // SAFETY: close_range is async-signal-safe and touches no memory.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                nix::libc::close_range(3, u32::MAX, 0);
                Ok(())
            })
        };
        let (code, out, err) = run(&mut cmd);
        assert_eq!(code, 0, "{out}\n{err}");
        let mut count = 0;
        for list in std::fs::read_dir(seen.path()).unwrap().flatten() {
            count += 1;
            let text = std::fs::read_to_string(list.path()).unwrap();
            // `ls -l` lines end `<fd> -> <target>`; fd 3 is ls reading the folder.
            let fds: Vec<&str> = text
                .lines()
                .filter_map(|l| l.split_once(" -> "))
                .map(|(l, _)| l.rsplit(' ').next().unwrap())
                .collect();
            assert_eq!(fds, ["0", "1", "2", "3"], "exec path {exec_path}: {text}");
            let name = list.file_name().into_string().unwrap();
            assert!(text.contains(" 0 -> /dev/null\n"), "{text}");
            assert!(text.contains(&format!("/{name}\n")), "stdout: {text}");
            let log = format!("logs/build-linux-{name}.log\n");
            assert!(
                text.contains(&format!(" 2 -> {}/{log}", p.dist().display())),
                "{text}"
            );
        }
        assert_eq!(count, 7);
    }
}

/// A job's environment is matrix's own plus what the plan adds
/// (SOURCE_DATE_EPOCH, the step's `env`), nothing matrix-internal, both
/// when the spawner forks its supervisor and on the exec path (a request
/// over the spawner's 128 KiB); the PATH `env` sets is the one the program
/// is looked up in.
#[test]
fn a_job_gets_matrix_environment_and_the_plans_nothing_else() {
    for exec_path in [false, true] {
        let seen = tempfile::tempdir().unwrap();
        let bin = seen.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        // A program found only on the job's PATH: env itself, no shell
        // between (a shell adds PWD).
        let env = crate::support::which("env").unwrap();
        std::os::unix::fs::symlink(env, bin.join("job-env")).unwrap();
        let path = format!("{}:/usr/bin:/bin", bin.display());
        let big = "x".repeat(70_000);
        let bigs = if exec_path {
            format!(", PADDING_BIG1 = \"{big}\", PADDING_BIG2 = \"{big}\"")
        } else {
            String::new()
        };
        let build = format!(
            r#"command = ["job-env"]
shell = false
env = {{ PATH = "{path}", JOB_SET = "by {{{{ arch }}}}"{bigs} }}
artifact = "{}/job-env""#,
            bin.display()
        );
        let p = Project::with_config(&script_config(
            r#"os = ["linux"]
arch = ["amd64"]"#,
            &build,
        ));
        let home = p.path().join("home");
        let mut cmd = p.matrix(&["build"]);
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &home)
            .env("NO_COLOR", "1")
            .env("CI", "true")
            .env("USER_KEPT", "from the user");
        let (code, out, err) = run(&mut cmd);
        assert_eq!(code, 0, "{out}\n{err}");
        let log = std::fs::read_to_string(p.dist().join("logs/build-linux-amd64.log")).unwrap();
        let mut vars: Vec<&str> = log.lines().filter(|l| !l.starts_with('#')).collect();
        vars.sort();
        let mut want = vec![
            "CI=true".to_string(),
            format!("HOME={}", home.display()),
            "NO_COLOR=1".into(),
            format!("PATH={path}"),
        ];
        if exec_path {
            want.push(format!("PADDING_BIG1={big}"));
            want.push(format!("PADDING_BIG2={big}"));
        }
        want.extend([
            "USER_KEPT=from the user".into(),
            "JOB_SET=by amd64".into(),
            "SOURCE_DATE_EPOCH=1767323045".into(),
        ]);
        want.sort();
        assert_eq!(vars, want, "exec path: {exec_path}");
    }
}

/// A job whose every process ignores SIGTERM, with a `setsid` grandchild
/// and a double-forked one, and which closed its stdout and stderr: a
/// timeout still ends the whole tree (SIGKILL after the grace), promptly.
#[test]
fn a_job_that_ignores_sigterm_and_left_its_group_is_killed_on_timeout() {
    use crate::faults::{kill_survivors, marker, survivors};
    let tag = marker("deaf");
    let build = format!(
        r#"command = ["sh", "-c", '''trap "" TERM; setsid sh -c 'sleep 300; : {tag}' </dev/null >/dev/null 2>&1 & (sh -c 'sleep 300; : {tag}' </dev/null >/dev/null 2>&1 &); exec >&- 2>&-; sleep 300; : {tag}''']
timeout = "1s""#
    );
    let p = two_targets(&build);
    let started = std::time::Instant::now();
    let (code, out, err) = run(&mut p.matrix(&["build", "-j", "8"]));
    let took = started.elapsed();
    let left = survivors(&tag);
    kill_survivors(&tag);
    assert!(left.is_empty(), "survivors: {left:#?}");
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("timed out after 1s"), "{err}");
    // 1 s, then the supervisor's 3 s grace before its SIGKILL.
    assert!(took < std::time::Duration::from_secs(15), "{took:?}");
}

/// An executable script with no `#!` line runs with /bin/sh, as execvp
/// (and so every job before posix_spawn, and make, and a shell) runs it;
/// posix_spawnp alone fails it with "Exec format error".
#[test]
fn a_script_without_a_shebang_runs_with_sh() {
    let p = Project::with_config(&script_config(
        r#"os = ["linux"]
arch = ["amd64"]"#,
        r#"command = ["./build.sh", "{{ out }}/{{ bin }}"]"#,
    ));
    p.file(
        "build.sh",
        "printf '#!/bin/sh\\n' > \"$1\"; chmod +x \"$1\"; echo \"ran by $0\"\n",
    );
    let script = p.path().join("build.sh");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (code, out, err) = run(&mut p.matrix(&["build", "--snapshot"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let log = std::fs::read_to_string(p.dist().join("logs/build-linux-amd64.log")).unwrap();
    assert!(log.contains("ran by "), "{log}");
}

/// matrix on a terminal: a job that reads /dev/tty (ssh or gpg asking for
/// a passphrase, a prompt) is in a background process group, so the read
/// stopped it (SIGTTIN) and the run hung until the timeout, or for ever.
/// Jobs have no controlling terminal: the open fails at once, and says so.
#[test]
fn a_job_cannot_wait_on_the_terminal() {
    if !crate::support::require("script", "apt-get install bsdutils") {
        return;
    }
    let p = Project::with_config(&script_config(
        r#"os = ["linux"]
arch = ["amd64"]"#,
        r#"command = ["sh", "-c", "if read x < /dev/tty; then echo read a line; fi; printf '#!/bin/sh\n' > \"$0\"; chmod +x \"$0\"", "{{ out }}/{{ bin }}"]
timeout = "20s""#,
    ));
    let matrix = p.matrix(&["build"]);
    let line = format!("{} build", matrix.get_program().to_string_lossy());
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .current_dir(p.path())
        .stdin(std::process::Stdio::null());
    for (k, v) in matrix.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let started = std::time::Instant::now();
    let (code, out, err) = run(&mut cmd);
    let took = started.elapsed();
    let log = std::fs::read_to_string(p.dist().join("logs/build-linux-amd64.log")).unwrap();
    assert_eq!(code, 0, "{out}\n{err}\n{log}");
    assert!(took < std::time::Duration::from_secs(15), "{took:?}");
    assert!(log.contains("/dev/tty: No such device or address"), "{log}");
}
