//! Tap and bucket commits: `matrix publish` commits a channel's file (a
//! Homebrew formula, a Scoop manifest) from dist/ to a git repository.
//!
//! Part of `repo`. The file committed is the release's own: the manifest
//! is checked and the whole of `matrix verify` run first (unless the
//! directory publish just did), then the file is read from dist/ without
//! following a link and its bytes must match the manifest's size and
//! digest; those bytes, held in memory, are what git stores.
//!
//! Per repository, in a temporary folder that is removed afterwards:
//! 1. `git ls-remote` finds the branch; `git fetch --depth 1` takes its tip
//!    (an absent branch starts with a root commit);
//! 2. the blob is stored with `git hash-object --no-filters`, the tip's
//!    tree read into an index, the file's entry set, and the tree written,
//!    all without a working tree, so nothing in the remote's tree (a link
//!    where the file goes) is ever followed;
//! 3. the same tree as the tip's means the file is already there: no
//!    commit (publishing again is harmless);
//! 4. one commit on top of the tip, pushed as `<commit>:refs/heads/<branch>`:
//!    no `--force`, no `+`, so a remote that moved since the fetch refuses
//!    it and nothing lands.
//!
//! git runs through `process` with an environment of only what it needs
//! (PATH, HOME for its config and credential helpers, ssh and proxy
//! variables), `GIT_TERMINAL_PROMPT=0` and `core.hooksPath=/dev/null`; the
//! URL shown in messages has its user name taken out.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::RepoError;
use super::nofollow::{self, Found};
use super::publish::{check_manifest, read_manifest, verify};
use crate::package::checksum::Hasher;
use crate::packager::tap::{parse_author, redact};

/// One commit `matrix publish` is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapRequest {
    /// The channel's name in matrix.toml.
    pub channel: String,
    /// The channel's file, relative to dist/.
    pub file: String,
    pub url: String,
    pub branch: String,
    /// The file's path in the repository (rendered and checked).
    pub path: String,
    /// The commit message (rendered).
    pub message: String,
    /// `Name <mail>`; git's user.name and user.email when absent.
    pub author: Option<String>,
}

/// What happened to one [`TapRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapReport {
    pub channel: String,
    /// The URL without credentials.
    pub remote: String,
    pub branch: String,
    pub path: String,
    pub size: u64,
    pub author: String,
    pub message: String,
    pub action: TapAction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TapAction {
    /// Pushed: the new commit's id.
    Committed(String),
    /// The branch already holds these bytes at the path: no commit.
    Unchanged,
    /// `--dry-run`: a commit would be made.
    WouldCommit,
}

/// What the options of [`commit_files`] say.
#[derive(Debug, Clone, Copy)]
pub struct TapOptions {
    pub allow_partial: bool,
    /// The release was just checked by the directory publish.
    pub verified: bool,
    pub dry_run: bool,
}

/// The most a channel file may weigh (formulae and manifests are small).
const MAX_FILE_BYTES: u64 = 16 << 20;
/// A network step (ls-remote, fetch, push).
const NETWORK: Duration = Duration::from_secs(600);
/// A local step.
const LOCAL: Duration = Duration::from_secs(120);

/// The variables git keeps from matrix's environment: what finds programs,
/// its config and credential helpers, ssh keys and proxies.
const PASSED: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "XDG_CONFIG_HOME",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "SSH_AUTH_SOCK",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// Commits every request's file, in order, after checking the release in
/// `release_dir`. `project_dir` is where git is asked for user.name and
/// user.email when a request has no author.
pub fn commit_files(
    release_dir: &Path,
    requests: &[TapRequest],
    project_dir: &Path,
    options: TapOptions,
) -> Result<Vec<TapReport>, RepoError> {
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    let manifest = read_manifest(release_dir)?;
    if !options.verified {
        check_manifest(release_dir, &manifest, options.allow_partial)?;
        verify(release_dir, options.allow_partial)?;
    }
    let program = crate::process::find_program("git").ok_or_else(|| RepoError::TapGit {
        channel: requests[0].channel.clone(),
        remote: redact(&requests[0].url),
        action: "(finding the program)".into(),
        detail: "git is not on PATH; install git".into(),
    })?;
    // Every file and author first, so a missing one stops the publish
    // before any repository gets a commit.
    let mut ready = Vec::with_capacity(requests.len());
    for request in requests {
        let bytes = release_file(release_dir, &manifest, request)?;
        let author = match &request.author {
            Some(a) => a.clone(),
            None => git_author(&program, project_dir, request)?,
        };
        ready.push((request, bytes, author));
    }
    ready
        .iter()
        .map(|(request, bytes, author)| {
            let who = Who {
                author,
                timestamp: manifest.timestamp,
            };
            commit_one(&program, request, bytes, &who, options.dry_run)
        })
        .collect()
}

/// The channel's file from dist/, exactly as the manifest records it.
fn release_file(
    release_dir: &Path,
    manifest: &crate::package::manifest::Manifest,
    request: &TapRequest,
) -> Result<Vec<u8>, RepoError> {
    let problem = |problem: String| RepoError::TapFile {
        channel: request.channel.clone(),
        problem,
    };
    let Some(artifact) = manifest.artifacts.iter().find(|a| a.path == request.file) else {
        return Err(problem(format!(
            "the release in {} has no {} to commit (built without this channel?)",
            release_dir.display(),
            request.file
        )));
    };
    let Some((algorithm, want)) = super::parse_digest(&artifact.digest) else {
        return Err(problem(format!("{} has an unusable digest", request.file)));
    };
    let limit = artifact.size.min(MAX_FILE_BYTES);
    let bytes = match nofollow::read(release_dir, Path::new(&request.file), limit) {
        Ok(Found::Yes(bytes)) => bytes,
        Ok(Found::Missing) => return Err(problem(format!("{} is missing", request.file))),
        Err(e) => return Err(e.into()),
    };
    let mut h = Hasher::new(algorithm);
    h.update(&bytes);
    if bytes.len() as u64 != artifact.size || h.finalize_hex() != want {
        return Err(problem(format!(
            "{} does not match its size and digest in the manifest",
            request.file
        )));
    }
    Ok(bytes)
}

/// git in a folder of its own, with the environment it needs only.
struct Git<'a> {
    program: &'a Path,
    dir: PathBuf,
    env: Vec<(String, String)>,
    request: &'a TapRequest,
}

impl Git<'_> {
    fn new<'a>(program: &'a Path, dir: &Path, request: &'a TapRequest) -> Git<'a> {
        let mut env: Vec<(String, String)> = PASSED
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect();
        env.push(("GIT_TERMINAL_PROMPT".into(), "0".into()));
        // The fetch leaves out blobs (`--filter=blob:none`); nothing may
        // fetch one behind our back (git 2.44+).
        env.push(("GIT_NO_LAZY_FETCH".into(), "1".into()));
        env.push(("LC_ALL".into(), "C".into()));
        Git {
            program,
            dir: dir.to_path_buf(),
            env,
            request,
        }
    }

    fn with_author(mut self, name: &str, mail: &str, timestamp: i64) -> Self {
        let date = format!("@{timestamp} +0000");
        for (k, v) in [
            ("GIT_AUTHOR_NAME", name),
            ("GIT_AUTHOR_EMAIL", mail),
            ("GIT_AUTHOR_DATE", &date),
            ("GIT_COMMITTER_NAME", name),
            ("GIT_COMMITTER_EMAIL", mail),
            ("GIT_COMMITTER_DATE", &date),
        ] {
            self.env.push((k.into(), v.into()));
        }
        self
    }

    /// Runs `git -c core.hooksPath=/dev/null <args>` with only the https,
    /// ssh and file transports allowed (never `ext::` or `fd::`, whatever
    /// the user's config says); its trimmed stdout, or the exit status with
    /// stderr's last lines (credentials taken out).
    fn output(&self, action: &str, args: &[&str], timeout: Duration) -> Result<Run, RepoError> {
        let mut argv: Vec<OsString> = [
            "core.hooksPath=/dev/null",
            "protocol.allow=never",
            "protocol.https.allow=always",
            "protocol.ssh.allow=always",
            "protocol.file.allow=always",
        ]
        .iter()
        .flat_map(|c| [OsString::from("-c"), OsString::from(c)])
        .collect();
        argv.extend(args.iter().map(OsString::from));
        let failed = |detail: String| RepoError::TapGit {
            channel: self.request.channel.clone(),
            remote: redact(&self.request.url),
            action: action.to_string(),
            detail,
        };
        let captured =
            crate::process::capture_clean(self.program, &argv, &self.dir, &self.env, timeout)
                .map_err(|e| failed(format!("could not run git: {e}")))?
                .ok_or_else(|| failed(format!("it took longer than {}s", timeout.as_secs())))?;
        Ok(Run {
            ok: captured.status.success(),
            status: crate::process::describe(&captured.status),
            stdout: String::from_utf8_lossy(&captured.stdout).trim().to_string(),
            stderr: self.clean(&String::from_utf8_lossy(&captured.stderr)),
        })
    }

    /// [`Self::output`], failing unless git succeeded.
    fn run(&self, action: &str, args: &[&str], timeout: Duration) -> Result<String, RepoError> {
        let run = self.output(action, args, timeout)?;
        if run.ok {
            return Ok(run.stdout);
        }
        Err(self.failed(action, &run))
    }

    fn failed(&self, action: &str, run: &Run) -> RepoError {
        RepoError::TapGit {
            channel: self.request.channel.clone(),
            remote: redact(&self.request.url),
            action: action.to_string(),
            detail: if run.stderr.is_empty() {
                run.status.clone()
            } else {
                format!("{}: {}", run.status, run.stderr)
            },
        }
    }

    /// The last lines of git's stderr, with the URL as given replaced by
    /// its redacted form.
    fn clean(&self, stderr: &str) -> String {
        let text = stderr.replace(&self.request.url, &redact(&self.request.url));
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(5)..].join(" / ")
    }
}

struct Run {
    ok: bool,
    status: String,
    stdout: String,
    stderr: String,
}

/// user.name and user.email as git in `project_dir` sees them.
fn git_author(
    program: &Path,
    project_dir: &Path,
    request: &TapRequest,
) -> Result<String, RepoError> {
    let git = Git::new(program, project_dir, request);
    let get = |key: &str| -> Result<Option<String>, RepoError> {
        let run = git.output("config", &["config", "--get", key], LOCAL)?;
        Ok((run.ok && !run.stdout.is_empty()).then_some(run.stdout))
    };
    match (get("user.name")?, get("user.email")?) {
        (Some(name), Some(mail)) => {
            let author = format!("{name} <{mail}>");
            if parse_author(&author).is_some() {
                return Ok(author);
            }
            Err(RepoError::TapAuthor {
                channel: request.channel.clone(),
                remote: redact(&request.url),
            })
        }
        _ => Err(RepoError::TapAuthor {
            channel: request.channel.clone(),
            remote: redact(&request.url),
        }),
    }
}

/// Who commits and when: the author (`Name <mail>`) and the release's
/// time, so the same release gives the same commit on the same base.
struct Who<'a> {
    author: &'a str,
    timestamp: i64,
}

fn commit_one(
    program: &Path,
    request: &TapRequest,
    bytes: &[u8],
    who: &Who,
    dry_run: bool,
) -> Result<TapReport, RepoError> {
    let Some((name, mail)) = parse_author(who.author) else {
        return Err(RepoError::TapAuthor {
            channel: request.channel.clone(),
            remote: redact(&request.url),
        });
    };
    let temp = tempfile::Builder::new()
        .prefix("matrix-tap-")
        .tempdir()
        .map_err(RepoError::io(
            "create a temporary folder in",
            std::env::temp_dir(),
        ))?;
    let work = temp.path().join("repo");
    std::fs::create_dir(&work).map_err(RepoError::io("create", &work))?;
    let blob_file = temp.path().join("file");
    std::fs::write(&blob_file, bytes).map_err(RepoError::io("write", &blob_file))?;
    let git = Git::new(program, &work, request).with_author(name, mail, who.timestamp);
    let url = request.url.as_str();
    let head = format!("refs/heads/{}", request.branch);

    git.run("init", &["init", "-q"], LOCAL)?;
    let base = fetch_base(&git, url, &head)?;
    let blob_path = blob_file.to_string_lossy().into_owned();
    let blob = git.run(
        "hash-object",
        &["hash-object", "-w", "--no-filters", "--", &blob_path],
        LOCAL,
    )?;
    let entry = format!("100644,{blob},{}", request.path);
    git.run(
        "update-index",
        &["update-index", "--add", "--cacheinfo", &entry],
        LOCAL,
    )?;
    // The base's blobs were not fetched.
    let tree = git.run("write-tree", &["write-tree", "--missing-ok"], LOCAL)?;
    let report = |action| TapReport {
        channel: request.channel.clone(),
        remote: redact(url),
        branch: request.branch.clone(),
        path: request.path.clone(),
        size: bytes.len() as u64,
        author: format!("{name} <{mail}>"),
        message: request.message.clone(),
        action,
    };
    if let Some(base) = &base {
        let base_tree = git.run(
            "rev-parse",
            &["rev-parse", &format!("{base}^{{tree}}")],
            LOCAL,
        )?;
        if base_tree == tree {
            return Ok(report(TapAction::Unchanged));
        }
    }
    if dry_run {
        return Ok(report(TapAction::WouldCommit));
    }
    let mut args = vec!["commit-tree", tree.as_str()];
    if let Some(base) = &base {
        args.extend(["-p", base.as_str()]);
    }
    args.extend(["-m", request.message.as_str()]);
    let commit = git.run("commit-tree", &args, LOCAL)?;
    push(&git, request, &commit, &head)?;
    Ok(report(TapAction::Committed(commit)))
}

/// The tip of `head` on the remote, fetched without its blobs and read
/// into the index, or `None` when the branch does not exist yet.
fn fetch_base(git: &Git, url: &str, head: &str) -> Result<Option<String>, RepoError> {
    let listed = git.run(
        "ls-remote",
        &["ls-remote", "--heads", "--", url, head],
        NETWORK,
    )?;
    let exists = listed
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(head));
    Ok(if exists {
        let refspec = format!("{head}:refs/matrix/base");
        git.run(
            "fetch",
            // The tip's commit and trees only: a hostile tap's blobs are
            // never downloaded.
            &[
                "fetch",
                "-q",
                "--depth=1",
                "--filter=blob:none",
                "--no-tags",
                "--",
                url,
                &refspec,
            ],
            NETWORK,
        )?;
        let base = git.run(
            "rev-parse",
            &["rev-parse", "--verify", "refs/matrix/base^{commit}"],
            LOCAL,
        )?;
        git.run("read-tree", &["read-tree", &base], LOCAL)?;
        Some(base)
    } else {
        None
    })
}

/// Pushes `commit` to `head`; a refused push says whether the branch
/// moved since the fetch.
fn push(git: &Git, request: &TapRequest, commit: &str, head: &str) -> Result<(), RepoError> {
    let url = request.url.as_str();
    let refspec = format!("{commit}:{head}");
    let pushed = git.output(
        "push",
        &["push", "--porcelain", "--", url, &refspec],
        NETWORK,
    )?;
    if pushed.ok {
        return Ok(());
    }
    // `--porcelain`: a refused ref is a line `!<TAB>from:to<TAB>summary`.
    let refused = pushed
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("!\t"))
        .and_then(|l| l.split('\t').nth(1))
        .map(str::to_string);
    match refused {
        Some(summary) if moved(&summary) => Err(RepoError::TapMoved {
            channel: request.channel.clone(),
            remote: redact(url),
            branch: request.branch.clone(),
            detail: format!("git push: {summary}"),
        }),
        Some(summary) => Err(RepoError::TapGit {
            channel: request.channel.clone(),
            remote: redact(url),
            action: "push".into(),
            detail: format!("{summary}; {}", pushed.stderr),
        }),
        None => Err(git.failed("push", &pushed)),
    }
}

/// Whether a refused push says the branch is not where the fetch saw it
/// (rather than, say, a protected branch or a declining hook).
fn moved(summary: &str) -> bool {
    [
        "fetch first",
        "non-fast-forward",
        "stale info",
        "failed to update ref",
        "cannot lock ref",
        "already exists",
    ]
    .iter()
    .any(|s| summary.contains(s))
}

#[cfg(test)]
mod tests {
    use super::moved;

    #[test]
    fn what_a_moved_branch_looks_like() {
        for summary in [
            "[rejected] (fetch first)",
            "[rejected] (non-fast-forward)",
            "[remote rejected] (failed to update ref)",
        ] {
            assert!(moved(summary), "{summary}");
        }
        assert!(!moved("[remote rejected] (pre-receive hook declined)"));
        assert!(!moved("[remote rejected] (protected branch hook declined)"));
    }
}
