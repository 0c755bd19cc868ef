//! Running one command as a supervised process group: the one way matrix
//! starts a process that may run long (a build, a smoke run, an image
//! build), and the short engine calls that must not hang.
//!
//! Part of `process`. A job's command is spawned from an argument vector
//! (no shell unless the plan says `sh -c`) with posix_spawn, in a process
//! group of its own so that cancellation and timeouts can kill everything
//! it started, not just the first process. In the `matrix` binary it runs under
//! [`super::supervise`], a subreaper that also catches what left the group
//! (`setsid`, double forks), forked by [`super::spawner`] (or, failing
//! that, started by exec). Output and errors go to the job's log file.
//! The short calls and tools below go through duct.

use std::collections::BTreeMap;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio_util::sync::CancellationToken;

/// How long a process group gets between SIGTERM and SIGKILL (and, under
/// a supervisor, every process of the job).
pub(crate) const GRACE: Duration = Duration::from_secs(3);

/// The hidden first argument that turns matrix into a job's supervisor.
pub const SUPERVISE_ARG: &str = "__supervise";

/// What a supervisor needs beyond its own grace to kill and reap a tree.
const SUPERVISOR_MARGIN: Duration = Duration::from_secs(2);

/// The executable that runs `matrix __supervise`: set once by the binary's
/// entry point. Unset (a library caller, unit tests), jobs run in a process
/// group only.
static SUPERVISOR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// Runs every process job under `exe __supervise` (see
/// [`super::supervise`]); `exe` must be the matrix binary.
pub fn use_supervisor(exe: std::path::PathBuf) {
    let _ = SUPERVISOR.set(exe);
}

/// How a supervised process ended.
#[derive(Debug)]
pub enum Ended {
    Exited(ExitStatus),
    TimedOut,
    Cancelled,
}

/// A process to supervise.
pub struct Spawn<'a> {
    pub argv: &'a [String],
    /// Added to the inherited environment.
    pub env: &'a BTreeMap<String, String>,
    pub dir: &'a Path,
    pub timeout: Option<Duration>,
}

/// Runs a process with its output appended to `log`. Errors are failures to
/// start (program not found, bad folder); a non-zero exit is `Ended::Exited`.
pub async fn run(spawn: Spawn<'_>, log: &Path, cancel: &CancellationToken) -> io::Result<Ended> {
    // Keys only: values may hold tokens a CI log must not show.
    tracing::debug!(
        command = %shell_words::join(spawn.argv),
        env = ?spawn.env.keys().collect::<Vec<_>>(),
        cwd = %spawn.dir.display(),
        timeout = ?spawn.timeout,
        log = %log.display(),
        "spawning"
    );
    let logfile = super::logfile::open_log(log)?;
    let program = spawn
        .argv
        .first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
    // Found here, so a missing program is a spawn error (with or without
    // the supervisor, not an exit status 127), and the program is a path:
    // std then starts it with posix_spawn (vfork), whose cost does not grow
    // with matrix's memory, even when the job's env sets PATH.
    let path = super::locate::resolve(program, spawn.env, spawn.dir)?;
    let supervisor = SUPERVISOR.get();
    let grace = match supervisor {
        // A supervisor kills the tree itself after GRACE; the group's
        // SIGKILL is only the last resort.
        Some(_) => GRACE + SUPERVISOR_MARGIN,
        None => GRACE,
    };
    #[cfg(target_os = "linux")]
    if let Some(exe) = supervisor {
        // A forked supervisor reports a missing folder only in the log, as
        // exit 127; the exec path fails to start: say so the same way.
        if !spawn.dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("the folder {} does not exist", spawn.dir.display()),
            ));
        }
        let request = super::spawner::Request {
            program: &path,
            argv: spawn.argv,
            env: spawn.env,
            dir: spawn.dir,
            log,
        };
        if let Some(started) = super::spawner::start(exe, &request).await? {
            drop(logfile);
            let waiter = async {
                let raw = started
                    .ended
                    .await
                    .map_err(|_| io::Error::other(SpawnerGone))?;
                Ok(ExitStatus::from_raw(raw))
            };
            return watch(started.pid, waiter, spawn.timeout, cancel, grace).await;
        }
    }
    // The fallback: the supervisor's PR_SET_PDEATHSIG fires when the
    // spawning *thread* ends, and a runtime worker is not lasting
    // (block_in_place hands the worker's core to a blocking-pool thread,
    // which ends after 10 s idle): so a supervisor is spawned by
    // `spawn_lasting`, from a thread that never ends.
    let mut cmd = match supervisor {
        None => {
            let mut cmd = tokio::process::Command::new(&path);
            cmd.arg0(program).args(&spawn.argv[1..]);
            cmd
        }
        Some(exe) => {
            let mut cmd = tokio::process::Command::new(exe);
            // `ps` and a lock holder's message then say `matrix __supervise`.
            cmd.arg0("matrix")
                .args(supervise_args(std::process::id(), &path, spawn.argv));
            cmd
        }
    };
    // Added to the inherited environment, never cleared and rebuilt, and
    // no pre_exec hook: either would make std fork instead.
    cmd.envs(spawn.env)
        .current_dir(spawn.dir)
        .stdin(Stdio::null())
        .stdout(logfile.try_clone()?)
        .stderr(logfile)
        // A group of its own: killpg reaches every descendant, and a Ctrl-C
        // on the terminal reaches only matrix, which then stops the jobs.
        // posix_spawn sets it (POSIX_SPAWN_SETPGROUP).
        .process_group(0);
    let mut child = match supervisor {
        None => cmd.spawn()?,
        Some(_) => spawn_lasting(cmd).await?,
    };
    let pgid = child.id().unwrap_or(0);
    watch(pgid, child.wait(), spawn.timeout, cancel, grace).await
}

/// The error of a job whose spawner ended while the job ran (someone
/// killed it): the job started, so this is not a start error.
#[derive(Debug)]
pub struct SpawnerGone;

impl std::fmt::Display for SpawnerGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("matrix's job spawner ended while the job ran")
    }
}

impl std::error::Error for SpawnerGone {}

/// Whether `e` says the job's spawner ended while the job ran.
pub fn spawner_gone(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<SpawnerGone>())
}

/// Waits for the process group `pgid`'s leader (`waiter`) to end, stops
/// the group on a timeout or a cancel, and SIGKILLs whatever is left of
/// the group in every case.
async fn watch(
    pgid: u32,
    waiter: impl std::future::Future<Output = io::Result<ExitStatus>>,
    timeout: Option<Duration>,
    cancel: &CancellationToken,
    grace: Duration,
) -> io::Result<Ended> {
    tokio::pin!(waiter);
    let timeout = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let ended = tokio::select! {
        status = &mut waiter => match status {
            Ok(status) => Ended::Exited(status),
            Err(e) => {
                // No word from the job (its spawner was killed): what is
                // left of the group must not outlive this call either.
                signal_group(pgid, Signal::SIGKILL);
                return Err(e);
            }
        },
        _ = cancel.cancelled() => Ended::Cancelled,
        _ = timeout => Ended::TimedOut,
    };
    if !matches!(ended, Ended::Exited(_)) {
        stop_group(pgid, grace, &mut waiter).await;
    }
    // Even after a clean exit, nothing the job left behind may outlive it.
    signal_group(pgid, Signal::SIGKILL);
    Ok(ended)
}

/// A spawn request for the spawner thread: the command, the runtime the
/// child belongs to, and where the child goes.
type Request = (
    tokio::process::Command,
    tokio::runtime::Handle,
    tokio::sync::oneshot::Sender<io::Result<tokio::process::Child>>,
);

/// Spawns `cmd` from a thread that lives as long as matrix (started on
/// first use), so that a supervisor's PR_SET_PDEATHSIG fires only when
/// matrix ends, never because the thread that happened to spawn it did.
pub(super) async fn spawn_lasting(
    cmd: tokio::process::Command,
) -> io::Result<tokio::process::Child> {
    static SPAWNER: std::sync::OnceLock<io::Result<std::sync::mpsc::Sender<Request>>> =
        std::sync::OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("matrix-spawner".into())
            .spawn(move || {
                for (mut cmd, runtime, reply) in rx {
                    let _in_runtime = runtime.enter();
                    // The asking job was dropped meanwhile: stop what it
                    // started (the supervisor forwards it to the job).
                    if let Err(Ok(orphan)) = reply.send(cmd.spawn()) {
                        signal_group(orphan.id().unwrap_or(0), Signal::SIGTERM);
                    }
                }
            })
            .map(|_| tx)
    });
    let spawner = spawner
        .as_ref()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot start the spawner thread: {e}")))?;
    let (reply, child) = tokio::sync::oneshot::channel();
    let gone = || io::Error::other("the spawner thread is gone");
    spawner
        .send((cmd, tokio::runtime::Handle::current(), reply))
        .map_err(|_| gone())?;
    child.await.map_err(|_| gone())?
}

/// `matrix __supervise <matrix pid> <program path> -- <argv...>`, read
/// by `supervise::dispatch`.
fn supervise_args(parent: u32, program: &Path, argv: &[String]) -> Vec<std::ffi::OsString> {
    let mut args = vec![
        std::ffi::OsString::from(SUPERVISE_ARG),
        std::ffi::OsString::from(parent.to_string()),
        program.as_os_str().to_owned(),
        std::ffi::OsString::from("--"),
    ];
    args.extend(argv.iter().map(std::ffi::OsString::from));
    args
}

/// SIGTERM, a grace period, then SIGKILL; waits for the leader to be reaped.
async fn stop_group<F>(pgid: u32, grace: Duration, waiter: &mut std::pin::Pin<&mut F>)
where
    F: std::future::Future,
{
    signal_group(pgid, Signal::SIGTERM);
    if tokio::time::timeout(grace, waiter.as_mut()).await.is_err() {
        signal_group(pgid, Signal::SIGKILL);
        waiter.as_mut().await;
    }
}

fn signal_group(pgid: u32, signal: Signal) {
    if pgid > 1 {
        // ESRCH (group already gone) is the normal case after an exit.
        let _ = killpg(Pid::from_raw(pgid as i32), signal);
    }
}

/// What a short command printed, and how it ended.
#[derive(Debug)]
pub struct Captured {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs a short command (an engine's `info`, `image inspect`, `pull`) with
/// no input and its output captured; `None` when it did not end within
/// `timeout`, and then it is killed. Blocks the calling thread, which
/// waits on the child's exit (no polling).
pub fn capture(program: &Path, args: &[&str], timeout: Duration) -> io::Result<Option<Captured>> {
    let handle = duct::cmd(program, args)
        .stdin_null()
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()?;
    match handle.wait_timeout(timeout)? {
        Some(out) => Ok(Some(Captured {
            status: out.status,
            stdout: out.stdout.clone(),
            stderr: out.stderr.clone(),
        })),
        None => {
            // kill() only signals. Not waited for here: a grandchild that
            // holds the output pipes would block the wait; duct reaps the
            // child at its next spawn.
            let _ = handle.kill();
            Ok(None)
        }
    }
}

/// [`capture`] in `dir` with exactly `env` as the environment (nothing
/// inherited): git for `matrix publish`'s tap commits, which must not see
/// the user's hooks or variables beyond those it needs. Only the last
/// [`MAX_STDERR`] bytes of stderr are kept.
pub fn capture_clean(
    program: &Path,
    args: &[std::ffi::OsString],
    dir: &Path,
    env: &[(String, String)],
    timeout: Duration,
) -> io::Result<Option<Captured>> {
    // stderr through a pipe of ours, so only its end is kept: a remote's
    // messages (git prints them) cannot fill the memory.
    let (stderr_read, stderr_write) = io::pipe()?;
    let tail = std::thread::spawn(move || tail(stderr_read, MAX_STDERR));
    // The expression, which holds our copy of the pipe's write end, is
    // dropped once started: the reader sees the end when the child closes.
    let handle = duct::cmd(program, args)
        .dir(dir)
        .full_env(env.iter().cloned())
        .stdin_null()
        .stdout_capture()
        .stderr_file(stderr_write)
        .unchecked()
        .start()?;
    match handle.wait_timeout(timeout)? {
        Some(out) => Ok(Some(Captured {
            status: out.status,
            stdout: out.stdout.clone(),
            stderr: tail.join().unwrap_or_default(),
        })),
        None => {
            // The reader is left to end with the pipe.
            let _ = handle.kill();
            Ok(None)
        }
    }
}

/// The most of a command's stderr [`capture_clean`] keeps: its end, where
/// the error is; the rest is read and dropped.
const MAX_STDERR: usize = 64 << 10;

/// The last `cap` bytes `reader` gives, read to its end with at most
/// twice `cap` held.
fn tail(mut reader: impl io::Read, cap: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => kept.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
        if kept.len() > 2 * cap {
            kept.drain(..kept.len() - cap);
        }
    }
    if kept.len() > cap {
        kept.drain(..kept.len() - cap);
    }
    kept
}

/// Where a tool's stdout or stderr goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// To matrix's own (the user's terminal).
    Inherit,
    Discard,
    /// Into [`std::process::Output`].
    Capture,
}

/// Runs a tool to its end with no input, on the calling thread:
/// `matrix doctor --install`'s apt-get, pip and zig, and the probes that ask
/// a compiler what it has. `env` is added to matrix's own environment.
pub fn tool(
    program: impl Into<std::ffi::OsString>,
    args: impl IntoIterator<Item = impl Into<std::ffi::OsString>>,
    env: &[(&str, &str)],
    stdout: Stream,
    stderr: Stream,
) -> io::Result<std::process::Output> {
    tool_without(program, args, env, &[], stdout, stderr)
}

/// [`tool`] with the variables named in `unset` taken out of the
/// environment it inherits (mksquashfs refuses some flags when
/// `SOURCE_DATE_EPOCH` is set).
pub fn tool_without(
    program: impl Into<std::ffi::OsString>,
    args: impl IntoIterator<Item = impl Into<std::ffi::OsString>>,
    env: &[(&str, &str)],
    unset: &[&str],
    stdout: Stream,
    stderr: Stream,
) -> io::Result<std::process::Output> {
    let program: std::ffi::OsString = program.into();
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let mut expr = duct::cmd(program, args).stdin_null().unchecked();
    for k in unset {
        expr = expr.env_remove(k);
    }
    for (k, v) in env {
        expr = expr.env(k, v);
    }
    expr = match stdout {
        Stream::Inherit => expr,
        Stream::Discard => expr.stdout_null(),
        Stream::Capture => expr.stdout_capture(),
    };
    expr = match stderr {
        Stream::Inherit => expr,
        Stream::Discard => expr.stderr_null(),
        Stream::Capture => expr.stderr_capture(),
    };
    expr.run()
}

/// Runs a tool to its end with `input` as its stdin and both outputs
/// captured, on the calling thread (`ssh-keygen -Y sign` and `-Y verify`
/// read the data they sign or check from stdin). `env` is added to matrix's
/// own environment.
pub fn tool_with_input(
    program: impl Into<std::ffi::OsString>,
    args: impl IntoIterator<Item = impl Into<std::ffi::OsString>>,
    env: &[(&str, &str)],
    input: &Path,
) -> io::Result<std::process::Output> {
    let program: std::ffi::OsString = program.into();
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    let mut expr = duct::cmd(program, args)
        .stdin_path(input)
        .stdout_capture()
        .stderr_capture()
        .unchecked();
    for (k, v) in env {
        expr = expr.env(k, v);
    }
    expr.run()
}

/// Runs a command to its end from async code, with no input and stderr
/// discarded; its stdout when `stdout` is asked for, else discarded too.
pub async fn output(program: &Path, args: Vec<String>, stdout: bool) -> io::Result<Vec<u8>> {
    let mut expr = duct::cmd(program, args)
        .stdin_null()
        .stderr_null()
        .unchecked();
    if !stdout {
        expr = expr.stdout_null();
    } else {
        expr = expr.stdout_capture();
    }
    tokio::task::spawn_blocking(move || expr.run().map(|out| out.stdout))
        .await
        .map_err(io::Error::other)?
}

/// "exit status 2" or "signal 9 (SIGKILL)".
pub fn describe(status: &ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(sig) => match Signal::try_from(sig) {
            Ok(s) => format!("signal {sig} ({})", s.as_str()),
            Err(_) => format!("signal {sig}"),
        },
        None => "unknown status".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::BuildStep;
    use std::collections::BTreeMap;

    fn step(argv: &[&str], timeout: Option<Duration>) -> BuildStep {
        BuildStep {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            shell: false,
            env: BTreeMap::from([("MATRIX_TEST_VAR".to_string(), "from env".to_string())]),
            dir: std::env::temp_dir(),
            out_dir: std::env::temp_dir(),
            binary: "x".into(),
            artifact: std::env::temp_dir().join("x"),
            preset: None,
            verify: false,
            smoke: None,
            timeout,
            container: None,
            no_cache: false,
            cache_dir: None,
        }
    }

    /// A command that floods stderr (a hostile git remote's messages)
    /// leaves only its last 64 KiB in memory, ending with what it said
    /// last; stdout is whole.
    #[test]
    fn capture_clean_keeps_the_end_of_a_flood_of_stderr() {
        let sh = Path::new("/bin/sh");
        let script = "head -c 5000000 /dev/zero >&2; echo the-end >&2; echo out";
        let args = ["-c", script].map(std::ffi::OsString::from);
        let path = std::env::var("PATH").unwrap_or_default();
        let got = capture_clean(
            sh,
            &args,
            &std::env::temp_dir(),
            &[("PATH".to_owned(), path)],
            Duration::from_secs(60),
        )
        .unwrap()
        .unwrap();
        assert!(got.status.success());
        assert_eq!(got.stdout, b"out\n");
        assert_eq!(got.stderr.len(), MAX_STDERR);
        assert!(got.stderr.ends_with(b"\0the-end\n"));
    }

    /// Running, not a zombie waiting for a reaper (PID 1 in a container may
    /// never reap orphans).
    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
    }

    #[test]
    fn the_supervisor_command_line() {
        let argv = vec!["sh".to_string(), "-c".into(), "echo hi".into()];
        let args = supervise_args(42, Path::new("/bin/sh"), &argv);
        let want = ["__supervise", "42", "/bin/sh", "--", "sh", "-c", "echo hi"];
        assert_eq!(args, want.map(std::ffi::OsString::from));
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("job.log");
        // The grandchild writes its pid, then both sleep; both must die.
        let s = step(
            &["sh", "-c", "sleep 300 & echo $! > pid; sleep 300"],
            Some(Duration::from_millis(300)),
        );
        let mut s = s;
        s.dir = dir.path().to_path_buf();
        let ended = run((&s).into(), &log, &CancellationToken::new())
            .await
            .unwrap();
        assert!(matches!(ended, Ended::TimedOut), "{ended:?}");
        let pid: i32 = std::fs::read_to_string(dir.path().join("pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(!alive(pid), "grandchild {pid} survived");
    }

    #[tokio::test]
    async fn cancel_stops_a_running_job() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("job.log");
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            c.cancel();
        });
        let started = std::time::Instant::now();
        let ended = run((&step(&["sleep", "300"], None)).into(), &log, &cancel)
            .await
            .unwrap();
        assert!(matches!(ended, Ended::Cancelled));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn missing_program_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = run(
            (&step(&["matrix-no-such-program"], None)).into(),
            &dir.path().join("l"),
            &CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
