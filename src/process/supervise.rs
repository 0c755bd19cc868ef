//! The per-job supervisor: nothing a build job starts outlives it.
//!
//! Part of `process`, used by [`super::spawn`] on Linux. A process group is
//! not enough: a job's `setsid` or double-forked grandchild leaves the group
//! and the kill. So every process job runs under a supervisor, a small
//! synchronous copy of matrix (forked by the spawner, `super::spawner`, or
//! started as `matrix __supervise` when the spawner cannot take the job)
//! that
//!
//! - becomes a child subreaper (PR_SET_CHILD_SUBREAPER), so every orphan of
//!   the job is re-parented to it instead of to init;
//! - asks for SIGTERM when its parent dies (PR_SET_PDEATHSIG), even by
//!   SIGKILL: matrix, or the spawner, which gets SIGKILL when matrix dies;
//! - runs the job and, when it ends, SIGKILLs and reaps every descendant
//!   left (found through `/proc/*/stat` parent links), repeating until it
//!   has no child at all;
//! - on SIGTERM/SIGINT/SIGHUP (matrix cancelling, a timeout, matrix gone)
//!   forwards SIGTERM to every descendant, gives them [`GRACE`], then kills
//!   the rest the same way;
//! - gives up matrix's controlling terminal, so a job that would read it
//!   fails at once instead of stopping in the background for ever;
//! - exits like the job did (its exit code, or the same signal).
//!
//! It has no signal handlers: SIGTERM, SIGINT, SIGHUP and SIGCHLD are
//! blocked and taken with `sigtimedwait`, so the supervisor sleeps until
//! the job or a stop request wakes it, and reports a job's end at once
//! (a short job costs no polling interval), with no signal-safety puzzles.
//! The job starts by posix_spawn (a vfork) with an empty signal mask and
//! SIGPIPE at its default.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsString;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::spawn::{GRACE, SUPERVISE_ARG as ARG};

/// The pause between two rounds of killing what is left.
const POLL: Duration = Duration::from_millis(20);

/// Rounds of kill-and-reap before giving up on a process that keeps forking
/// faster than it is killed (each round takes at least [`POLL`]).
const KILL_ROUNDS: usize = 500;

/// Runs the supervisor if matrix was started as one; returns its exit code.
/// Also runs the job spawner ([`super::spawner`]), which forks supervisors.
pub fn dispatch() -> Option<u8> {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if let Some(code) = super::spawner::dispatch(&args) {
        return Some(code);
    }
    if args.first().is_none_or(|a| a != ARG) {
        return None;
    }
    Some(main(&args[1..]))
}

fn main(args: &[OsString]) -> u8 {
    match args {
        [parent, program, dashes, argv @ ..] if dashes == "--" && !argv.is_empty() => {
            run_job(parent.to_string_lossy().parse::<i32>().ok(), program, argv)
        }
        _ => {
            eprintln!("matrix {ARG}: usage: {ARG} <pid> <program> -- <argv...>");
            2
        }
    }
}

/// Supervises `program` run as `argv` (with `argv[0]` as its name) and
/// returns the exit code to end with; `parent` is the process whose end
/// must end the job (matrix, or the spawner that forked this process).
pub(super) fn run_job(parent: Option<i32>, program: &std::ffi::OsStr, argv: &[OsString]) -> u8 {
    if let Err(e) = become_reaper() {
        // Without it, nothing could be promised: refuse to run the job.
        eprintln!("matrix {ARG}: cannot become a child subreaper: {e}");
        return 125;
    }
    // matrix may have died before PR_SET_PDEATHSIG took effect.
    if parent.is_some_and(|p| nix::unistd::getppid() != Pid::from_raw(p)) {
        return 143;
    }
    detach_terminal();
    let child = match spawn(program, argv) {
        Ok(pid) => pid,
        Err(e) => {
            let e = std::io::Error::from(e);
            eprintln!("matrix: cannot start `{}`: {e}", argv[0].to_string_lossy());
            return if e.kind() == std::io::ErrorKind::PermissionDenied {
                126
            } else {
                127
            };
        }
    };
    let status = supervise(child);
    kill_all();
    match status {
        Some(WaitStatus::Exited(_, code)) => u8::try_from(code).unwrap_or(1),
        Some(WaitStatus::Signaled(_, sig, _)) => die_like(sig),
        // Told to stop before the job ended.
        _ => 143,
    }
}

/// Starts `program` as `argv` with this process's environment, by
/// posix_spawn (a vfork: no page tables copied, however large the
/// supervisor). The supervisor blocks the signals it waits for and matrix
/// ignores SIGPIPE: the job starts with no signal blocked and SIGPIPE at
/// its default, as a shell would start it. An executable that is not one
/// the kernel runs (a script with no `#!` line) runs with /bin/sh, as
/// execvp runs it (posix_spawnp no longer does).
fn spawn(program: &std::ffi::OsStr, argv: &[OsString]) -> nix::Result<Pid> {
    use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawnp};
    use std::ffi::{CStr, CString};
    use std::os::unix::ffi::OsStrExt;
    let c = |s: &std::ffi::OsStr| CString::new(s.as_bytes()).map_err(|_| Errno::EINVAL);
    let program = c(program)?;
    let argv = argv.iter().map(|a| c(a)).collect::<nix::Result<Vec<_>>>()?;
    let env = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            c(&kv)
        })
        .collect::<nix::Result<Vec<_>>>()?;
    let mut attr = PosixSpawnAttr::init()?;
    attr.set_sigmask(&SigSet::empty())?;
    attr.set_sigdefault(&SigSet::from(Signal::SIGPIPE))?;
    attr.set_flags(
        PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
    )?;
    let actions = PosixSpawnFileActions::init()?;
    match posix_spawnp(&program, &actions, &attr, &argv, &env) {
        Err(Errno::ENOEXEC) => {
            const SH: &CStr = c"/bin/sh";
            let mut script = vec![SH.to_owned(), program];
            script.extend(argv.into_iter().skip(1));
            posix_spawnp(SH, &actions, &attr, &script, &env)
        }
        started => started,
    }
}

/// Drops the controlling terminal matrix runs on, for the supervisor and
/// so for the job: a job is in a background process group, so reading
/// /dev/tty (ssh or gpg asking for a passphrase) would stop it (SIGTTIN)
/// and hang the run; without one the open fails at once and the job says
/// why. The supervisor stays in its process group (no setsid), which
/// matrix signals. TIOCNOTTY detaches a process that is not a session
/// leader from the terminal without a signal to anyone.
fn detach_terminal() {
    use nix::libc;
    // SAFETY: an fd this function opens and closes, and an ioctl that
    // takes no argument.
    unsafe {
        let fd = libc::open(
            c"/dev/tty".as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if fd >= 0 {
            libc::ioctl(fd, libc::TIOCNOTTY);
            libc::close(fd);
        }
    }
}

/// The signals the supervisor waits for, blocked so that they stay
/// pending until it takes them.
fn watched() -> SigSet {
    let mut set = SigSet::empty();
    for sig in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGCHLD,
    ] {
        set.add(sig);
    }
    set
}

fn become_reaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)?;
    // Blocked before the death signal is asked for, so none is lost.
    watched().thread_block()?;
    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)?;
    Ok(())
}

/// Waits for the job; on a stop request, SIGTERMs the whole tree and waits
/// [`GRACE`]. Returns the job's status, or None if it had to be stopped.
fn supervise(child: Pid) -> Option<WaitStatus> {
    let mut stopping: Option<Instant> = None;
    loop {
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) if status.pid() == Some(child) => {
                    if matches!(status, WaitStatus::Exited(..) | WaitStatus::Signaled(..)) {
                        return Some(status);
                    }
                }
                // An orphan re-parented to us: reaped, nothing else to do.
                Ok(_) => {}
            }
        }
        let left = match stopping {
            None => None,
            Some(since) => match GRACE.checked_sub(since.elapsed()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return None,
            },
        };
        match next_signal(left) {
            // A child changed state, or the grace ran out: look again.
            None | Some(Signal::SIGCHLD) => {}
            Some(_) if stopping.is_none() => {
                signal_all(Signal::SIGTERM);
                stopping = Some(Instant::now());
            }
            Some(_) => {}
        }
    }
}

/// The next of the [`watched`] signals, waiting at most `timeout` (for
/// ever with None); None when the time ran out first.
fn next_signal(timeout: Option<Duration>) -> Option<Signal> {
    let set = watched();
    let ts = timeout.map(|t| nix::libc::timespec {
        tv_sec: t.as_secs() as nix::libc::time_t,
        tv_nsec: t.subsec_nanos() as nix::libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const nix::libc::timespec);
    // SAFETY: `set` and `ts` outlive the call; a null siginfo is allowed.
    let sig = unsafe { nix::libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), ts_ptr) };
    // -1: EAGAIN (time ran out) or EINTR.
    Signal::try_from(sig).ok()
}

/// SIGKILLs every descendant and reaps them, until no child is left.
fn kill_all() {
    for _ in 0..KILL_ROUNDS {
        // With no child left there is no descendant either (an orphan of
        // the job is re-parented to us): the usual end, without a /proc scan.
        if !reap() {
            return;
        }
        signal_all(Signal::SIGKILL);
        if !reap() {
            return;
        }
        std::thread::sleep(POLL);
    }
    eprintln!("matrix {ARG}: processes of the job keep forking; giving up on them");
}

/// Reaps every child that has ended; false when no child is left.
fn reap() -> bool {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return true,
            Ok(_) | Err(Errno::EINTR) => continue,
            // ECHILD: nothing left to wait for.
            Err(_) => return false,
        }
    }
}

fn signal_all(sig: Signal) {
    for pid in descendants(std::process::id() as i32) {
        // ESRCH: it ended meanwhile.
        let _ = signal::kill(Pid::from_raw(pid), sig);
    }
}

/// Every process below `root`, from the parent links in /proc.
fn descendants(root: i32) -> BTreeSet<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            if let Some(ppid) = parent_of(pid) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut found = BTreeSet::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        for &c in children.get(&p).into_iter().flatten() {
            if found.insert(c) {
                todo.push(c);
            }
        }
    }
    found
}

/// The ppid field of /proc/<pid>/stat: `pid (comm) state ppid ...`, where
/// comm may hold spaces and parentheses, hence the last `)`.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Ends the supervisor by the signal that ended the job, so matrix reports
/// "signal 11 (SIGSEGV)" as it would without a supervisor.
fn die_like(sig: Signal) -> u8 {
    // No core file of the supervisor itself.
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: restoring the default disposition has no handler to run.
    let _ = unsafe { signal::sigaction(sig, &default) };
    let _ = SigSet::from(sig).thread_unblock();
    let _ = signal::raise(sig);
    128u8.saturating_add(sig as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_links_come_from_proc() {
        let me = std::process::id() as i32;
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        assert_eq!(parent_of(pid), Some(me));
        assert!(descendants(me).contains(&pid));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
