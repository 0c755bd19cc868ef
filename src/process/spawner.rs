//! The spawner: one small process that forks a job's supervisor, so a job
//! costs a fork instead of an exec of the whole matrix binary.
//!
//! Part of `process`, used by [`super::spawn`] on Linux. Starting
//! `matrix __supervise` for each job means loading and relocating a 20 MB
//! executable every time: in a release of trivial jobs that was half of
//! all the CPU time. So the first job of a run starts `matrix __spawner`
//! once; matrix sends it each job (program, argv, added environment,
//! folder, log) as one datagram, and it forks. The child, still a
//! single-threaded copy of a small process, puts itself in a process group
//! of its own, opens the log as its stdout and stderr, and becomes the
//! job's supervisor ([`super::supervise::run_job`]): the same guarantees as
//! before (subreaper, death signal, the whole tree killed and reaped).
//! The spawner reaps its children and sends back each one's start (its
//! pid, which is its process group) and its raw wait status.
//!
//! Chain of death signals: the spawner gets SIGKILL when the matrix thread
//! that started it ends ([`super::spawn`]'s one lasting spawning thread,
//! which ends only with matrix), and each supervisor SIGTERM when the
//! spawner ends, so a killed matrix still takes every job's tree down. The
//! spawner runs in a process group of its own: a Ctrl-C on the terminal
//! reaches only matrix, which stops the jobs in order. A request too large
//! for a datagram, or a spawner that cannot start or has been killed, falls back
//! to the exec path. The spawner's socket belongs to the binary's one tokio
//! runtime (`cli::main`); library callers never set a supervisor, so they
//! never start it.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::{Arc, Mutex};

use nix::libc;
use tokio::sync::oneshot;

/// The hidden first argument that turns matrix into the spawner.
pub const SPAWNER_ARG: &str = "__spawner";

/// The largest request (a job's argv and environment) sent as one datagram;
/// a larger one takes the exec path.
const MAX_REQUEST: usize = 128 << 10;

/// A reply: job id, kind (started or ended), value (pid or wait status).
const REPLY_LEN: usize = 13;
const STARTED: u8 = 1;
const ENDED: u8 = 2;

/// One job for the spawner.
pub struct Request<'a> {
    pub program: &'a Path,
    pub argv: &'a [String],
    pub env: &'a std::collections::BTreeMap<String, String>,
    pub dir: &'a Path,
    pub log: &'a Path,
}

/// A job the spawner started: its supervisor's pid (and process group) and
/// the raw wait status to come.
pub struct Started {
    pub pid: u32,
    pub ended: oneshot::Receiver<i32>,
}

#[derive(Default)]
struct Waiter {
    started: Option<oneshot::Sender<i32>>,
    ended: Option<oneshot::Sender<i32>>,
}

/// matrix's side: the socket and the jobs waiting for a reply.
struct Handle {
    sock: tokio::net::UnixDatagram,
    waiting: Mutex<HashMap<u64, Waiter>>,
    next: std::sync::atomic::AtomicU64,
    /// False once the spawner ended (killed by someone): jobs then take
    /// the exec path.
    alive: std::sync::atomic::AtomicBool,
}

/// Started on the first job; None when it could not start (exec path).
static SPAWNER: tokio::sync::OnceCell<Option<Arc<Handle>>> = tokio::sync::OnceCell::const_new();

/// Starts a job through the spawner; Ok(None) when it must take the exec
/// path instead (no spawner, request too large).
pub async fn start(exe: &Path, req: &Request<'_>) -> io::Result<Option<Started>> {
    let Some(handle) = SPAWNER.get_or_init(|| launch(exe)).await.clone() else {
        return Ok(None);
    };
    let id = handle
        .next
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let Some(bytes) = encode(id, req) else {
        return Ok(None);
    };
    let (started_tx, started_rx) = oneshot::channel();
    let (ended_tx, ended) = oneshot::channel();
    lock(&handle.waiting).insert(
        id,
        Waiter {
            started: Some(started_tx),
            ended: Some(ended_tx),
        },
    );
    // Checked after the insert: `replies` clears the waiting jobs after it
    // marks the spawner gone, so a job never waits for a reply that cannot
    // come.
    if !handle.alive.load(std::sync::atomic::Ordering::SeqCst) {
        lock(&handle.waiting).remove(&id);
        return Ok(None);
    }
    if let Err(e) = handle.sock.send(&bytes).await {
        lock(&handle.waiting).remove(&id);
        // EMSGSIZE: more than the socket takes in one datagram.
        return match e.raw_os_error() {
            Some(libc::EMSGSIZE) | Some(libc::ENOBUFS) => Ok(None),
            _ => Err(e),
        };
    }
    let pid = started_rx
        .await
        .map_err(|_| io::Error::other("the job spawner ended"))?;
    match u32::try_from(pid) {
        Ok(pid) if pid > 1 => Ok(Some(Started { pid, ended })),
        // The fork failed: errno, negated.
        _ => Err(io::Error::from_raw_os_error(pid.saturating_neg())),
    }
}

fn lock(m: &Mutex<HashMap<u64, Waiter>>) -> std::sync::MutexGuard<'_, HashMap<u64, Waiter>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts `exe __spawner <pid>` with one end of a datagram pair as its
/// stdin, and the task that hands its replies out. None on failure.
async fn launch(exe: &Path) -> Option<Arc<Handle>> {
    let (ours, theirs) = UnixDatagram::pair().ok()?;
    ours.set_nonblocking(true).ok()?;
    let sock = tokio::net::UnixDatagram::from_std(ours).ok()?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg0("matrix")
        .arg(SPAWNER_ARG)
        .arg(std::process::id().to_string())
        .stdin(std::process::Stdio::from(OwnedFd::from(theirs)))
        .stdout(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    // From matrix's lasting thread: the spawner's PR_SET_PDEATHSIG fires
    // when the *thread* that started it ends, and it lives as long as the
    // run.
    let child = match super::spawn::spawn_lasting(cmd).await {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!("cannot start the job spawner: {e}; jobs start by exec");
            return None;
        }
    };
    let handle = Arc::new(Handle {
        sock,
        waiting: Mutex::new(HashMap::new()),
        next: std::sync::atomic::AtomicU64::new(1),
        alive: std::sync::atomic::AtomicBool::new(true),
    });
    tokio::spawn(replies(Arc::clone(&handle), child));
    Some(handle)
}

/// Hands each reply to its job until the spawner ends; then every job
/// still waiting gets an error (its supervisor had SIGTERM and stopped it).
async fn replies(handle: Arc<Handle>, mut child: tokio::process::Child) {
    let mut buf = [0u8; REPLY_LEN];
    loop {
        tokio::select! {
            got = handle.sock.recv(&mut buf) => match got {
                Ok(REPLY_LEN) => deliver(&handle, &buf),
                Ok(_) => {}
                Err(_) => break,
            },
            _ = child.wait() => break,
        }
    }
    handle
        .alive
        .store(false, std::sync::atomic::Ordering::SeqCst);
    lock(&handle.waiting).clear();
}

fn deliver(handle: &Handle, buf: &[u8; REPLY_LEN]) {
    let id = u64::from_le_bytes(buf[..8].try_into().unwrap_or_default());
    let value = i32::from_le_bytes(buf[9..].try_into().unwrap_or_default());
    let mut waiting = lock(&handle.waiting);
    let Some(w) = waiting.get_mut(&id) else {
        return;
    };
    match buf[8] {
        STARTED => {
            let started = value > 1;
            if let Some(tx) = w.started.take()
                && tx.send(value).is_err()
                && started
            {
                // The job that asked is gone: nobody would time out or
                // cancel its supervisor, so stop it now (as the exec path
                // does).
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(value),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            if !started {
                // The fork failed: no end will come.
                waiting.remove(&id);
            }
        }
        ENDED => {
            if let Some(tx) = w.ended.take() {
                let _ = tx.send(value);
            }
            waiting.remove(&id);
        }
        _ => {}
    }
}

// ------------------------------------------------------------- encoding

fn put(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u32).to_le_bytes());
    out.extend_from_slice(field);
}

/// id, program, dir, log, argc, argv..., envc, (key, value)...; None when
/// larger than [`MAX_REQUEST`].
fn encode(id: u64, req: &Request<'_>) -> Option<Vec<u8>> {
    let mut out = id.to_le_bytes().to_vec();
    for path in [req.program, req.dir, req.log] {
        put(&mut out, path.as_os_str().as_bytes());
    }
    out.extend_from_slice(&(req.argv.len() as u32).to_le_bytes());
    for a in req.argv {
        put(&mut out, a.as_bytes());
    }
    out.extend_from_slice(&(req.env.len() as u32).to_le_bytes());
    for (k, v) in req.env {
        put(&mut out, k.as_bytes());
        put(&mut out, v.as_bytes());
    }
    (out.len() <= MAX_REQUEST).then_some(out)
}

/// A request as the spawner reads it.
#[derive(Debug, PartialEq)]
struct Job {
    id: u64,
    program: OsString,
    dir: OsString,
    log: OsString,
    argv: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<usize> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize)
    }
    fn field(&mut self) -> Option<OsString> {
        let n = self.u32()?;
        Some(OsString::from_vec(self.take(n)?.to_vec()))
    }
}

fn decode(bytes: &[u8]) -> Option<Job> {
    let mut r = Reader(bytes);
    let id = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let (program, dir, log) = (r.field()?, r.field()?, r.field()?);
    let argc = r.u32()?;
    let argv = (0..argc).map(|_| r.field()).collect::<Option<Vec<_>>>()?;
    let envc = r.u32()?;
    let env = (0..envc)
        .map(|_| Some((r.field()?, r.field()?)))
        .collect::<Option<Vec<_>>>()?;
    (r.0.is_empty() && !argv.is_empty()).then_some(Job {
        id,
        program,
        dir,
        log,
        argv,
        env,
    })
}

// ------------------------------------------------------- the spawner

/// Runs the spawner if matrix was started as one; returns its exit code.
pub fn dispatch(args: &[OsString]) -> Option<u8> {
    if args.first().is_none_or(|a| a != SPAWNER_ARG) {
        return None;
    }
    let parent = args.get(1).and_then(|p| p.to_str()?.parse::<i32>().ok());
    Some(serve(parent))
}

extern "C" fn on_child(_: libc::c_int) {}

fn serve(parent: Option<i32>) -> u8 {
    use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
    if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err() {
        return 125;
    }
    if parent.is_none_or(|p| nix::unistd::getppid().as_raw() != p) {
        return 143;
    }
    // The socket off stdin (close-on-exec), /dev/null on it instead.
    // SAFETY: plain fd calls on fds this process owns.
    let sock = unsafe {
        let fd = libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3);
        if fd < 0 {
            return 125;
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::close(null);
        }
        UnixDatagram::from(OwnedFd::from_raw_fd(fd))
    };
    // SIGCHLD blocked except inside ppoll, which it then interrupts.
    let action = SigAction::new(
        SigHandler::Handler(on_child),
        SaFlags::SA_NOCLDSTOP,
        SigSet::empty(),
    );
    // SAFETY: the handler does nothing.
    if unsafe { signal::sigaction(Signal::SIGCHLD, &action) }.is_err()
        || SigSet::from(Signal::SIGCHLD).thread_block().is_err()
        || sock.set_nonblocking(true).is_err()
    {
        return 125;
    }
    let mut running: HashMap<i32, u64> = HashMap::new();
    let mut buf = vec![0u8; MAX_REQUEST];
    loop {
        reap(&sock, &mut running);
        loop {
            match sock.recv(&mut buf) {
                Ok(n) => match decode(&buf[..n]) {
                    Some(job) => fork_job(&sock, job, &mut running),
                    // Never sent by matrix; if it were, the job that
                    // asked gets a start error instead of waiting for ever.
                    None => {
                        if let Some(id) = buf[..n].first_chunk::<8>() {
                            reply(&sock, u64::from_le_bytes(*id), STARTED, -libc::EINVAL);
                        }
                    }
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return 0,
            }
        }
        let mut fds = [libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        let empty = SigSet::empty();
        // SAFETY: `fds` and the mask outlive the call.
        unsafe { libc::ppoll(fds.as_mut_ptr(), 1, std::ptr::null(), empty.as_ref()) };
    }
}

/// Sends a reply; blocks while matrix's side of the socket is full.
fn reply(sock: &UnixDatagram, id: u64, kind: u8, value: i32) {
    let mut msg = [0u8; REPLY_LEN];
    msg[..8].copy_from_slice(&id.to_le_bytes());
    msg[8] = kind;
    msg[9..].copy_from_slice(&value.to_le_bytes());
    loop {
        match sock.send(&msg) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => return,
        }
    }
}

/// Reaps every supervisor that ended and reports its raw wait status.
fn reap(sock: &UnixDatagram, running: &mut HashMap<i32, u64>) {
    loop {
        let mut status = 0;
        // SAFETY: `status` outlives the call.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
        if let Some(id) = running.remove(&pid) {
            reply(sock, id, ENDED, status);
        }
    }
}

fn fork_job(sock: &UnixDatagram, job: Job, running: &mut HashMap<i32, u64>) {
    let me = std::process::id() as i32;
    // SAFETY: the spawner is single-threaded, so the child may do anything.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            // A panic must end this child here: unwinding into the
            // spawner's loop would drop the socket it closed.
            let code = std::panic::catch_unwind(|| supervise_in_child(sock, me, &job));
            std::process::exit(code.map_or(125, i32::from));
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            // Here as well as in the child: matrix may signal the group at once.
            let _ = nix::unistd::setpgid(child, child);
            running.insert(child.as_raw(), job.id);
            reply(sock, job.id, STARTED, child.as_raw());
        }
        Err(e) => reply(sock, job.id, STARTED, -(e as i32)),
    }
}

/// In the forked child: what posix_spawn of `matrix __supervise` did (a
/// process group, the folder, the environment, the log as stdout and
/// stderr), then the supervisor itself.
fn supervise_in_child(sock: &UnixDatagram, spawner: i32, job: &Job) -> u8 {
    use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: restoring the default disposition has no handler to run.
    let _ = unsafe { signal::sigaction(Signal::SIGCHLD, &default) };
    let _ = SigSet::empty().thread_set_mask();
    // SAFETY: closing the spawner's socket, which this child does not use.
    unsafe { libc::close(sock.as_raw_fd()) };
    let _ = nix::unistd::setpgid(nix::unistd::Pid::from_raw(0), nix::unistd::Pid::from_raw(0));
    let setup = || -> io::Result<()> {
        let log = super::logfile::open_log(Path::new(&job.log))?;
        for fd in [1, 2] {
            // SAFETY: dup2 onto the standard descriptors.
            if unsafe { libc::dup2(log.as_raw_fd(), fd) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        std::env::set_current_dir(&job.dir)?;
        for (k, v) in &job.env {
            // set_var panics on these; config refuses them, this never
            // trusts that.
            let (kb, vb) = (k.as_bytes(), v.as_bytes());
            if kb.is_empty() || kb.contains(&b'=') || kb.contains(&0) || vb.contains(&0) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("invalid environment variable {k:?}"),
                ));
            }
            // SAFETY: this process has one thread.
            unsafe { std::env::set_var(k, v) };
        }
        Ok(())
    };
    if let Err(e) = setup() {
        eprintln!(
            "matrix: cannot start `{}`: {e}",
            job.argv[0].to_string_lossy()
        );
        return 127;
    }
    super::supervise::run_job(Some(spawner), OsStr::new(&job.program), &job.argv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A request for `/bin/sh` in /tmp, logging to /tmp/x.log.
    fn request<'a>(argv: &'a [String], env: &'a BTreeMap<String, String>) -> Request<'a> {
        Request {
            program: Path::new("/bin/sh"),
            argv,
            env,
            dir: Path::new("/tmp"),
            log: Path::new("/tmp/x.log"),
        }
    }

    #[test]
    fn a_request_round_trips_and_a_large_one_is_refused() {
        let argv = vec!["sh".to_string(), "-c".into(), "echo hi".into()];
        let env = BTreeMap::from([("A".to_string(), "1".to_string())]);
        let req = request(&argv, &env);
        let bytes = encode(7, &req).unwrap();
        let job = decode(&bytes).unwrap();
        assert_eq!(job.id, 7);
        assert_eq!(job.program, "/bin/sh");
        assert_eq!(job.argv, ["sh", "-c", "echo hi"].map(OsString::from));
        assert_eq!(job.env, vec![("A".into(), "1".into())]);
        // Cut anywhere, it is refused, never misread.
        for n in 0..bytes.len() {
            assert_eq!(decode(&bytes[..n]), None, "{n}");
        }
        let big = vec!["x".repeat(MAX_REQUEST)];
        let req = Request { argv: &big, ..req };
        assert!(encode(1, &req).is_none());
    }

    /// A request of exactly MAX_REQUEST bytes goes through a real datagram
    /// pair whole and reads back the same; one byte more takes the exec path.
    #[test]
    fn a_request_of_exactly_the_limit_crosses_the_socket_whole() {
        let env = BTreeMap::new();
        let fixed = 8 + (4 + 7) + (4 + 4) + (4 + 10) + 4 + 4 + 4;
        let argv = vec!["x".repeat(MAX_REQUEST - fixed)];
        let req = request(&argv, &env);
        let bytes = encode(9, &req).unwrap();
        assert_eq!(bytes.len(), MAX_REQUEST);
        let (a, b) = UnixDatagram::pair().unwrap();
        assert_eq!(a.send(&bytes).unwrap(), MAX_REQUEST);
        let mut buf = vec![0u8; MAX_REQUEST];
        let n = b.recv(&mut buf).unwrap();
        let job = decode(&buf[..n]).unwrap();
        assert_eq!((job.id, job.argv.len()), (9, 1));
        assert_eq!(job.argv[0].len(), MAX_REQUEST - fixed);
        let over = vec!["x".repeat(MAX_REQUEST - fixed + 1)];
        assert!(encode(9, &Request { argv: &over, ..req }).is_none());
    }
}
