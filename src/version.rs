//! Release versions: the step that feeds `plan` its version and timestamps.
//!
//! Two halves, kept apart so the decision is testable without git:
//! [`git_facts`] asks git what is true about the checkout (HEAD, tags, dirty
//! files) and [`resolve`] turns those facts plus the user's request
//! (`--snapshot`, `MATRIX_VERSION`, `SOURCE_DATE_EPOCH`) into the one
//! [`Version`] every template and archive of the run uses. `resolve` is pure;
//! only `git_facts` spawns anything, and always as an argument vector.

pub mod calendar;
mod dirty;
pub(crate) use dirty::resolve_existing;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What git says about the checkout, gathered once per run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitFacts {
    /// Full hash of HEAD.
    pub commit: String,
    /// First 7 characters of [`GitFacts::commit`] (always 7, unlike
    /// `git rev-parse --short`, so names do not change as the repo grows).
    pub short_commit: String,
    /// Committer time of HEAD, seconds since the epoch.
    pub commit_timestamp: i64,
    /// Highest-precedence semver tag pointing at HEAD, as written.
    pub tag_at_head: Option<String>,
    /// Highest-precedence semver tag reachable from HEAD, as written.
    pub latest_tag: Option<String>,
    /// Uncommitted paths (relative to the repository root), sorted.
    pub dirty_files: Vec<String>,
    /// Every tag reachable from HEAD, as written (calendar versions count
    /// their patch level from these).
    pub merged_tags: Vec<String>,
    /// Every tag pointing at HEAD, as written.
    pub head_tags: Vec<String>,
}

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `--snapshot`: build an untagged, possibly dirty tree.
    pub snapshot: bool,
    /// `MATRIX_VERSION`: overrides the version git would give.
    pub env_version: Option<String>,
    /// `SOURCE_DATE_EPOCH`: overrides the timestamp of everything built.
    pub source_date_epoch: Option<String>,
    /// `[version] scheme = "calendar"`: versions are `<days since epoch>.<patch>`.
    pub calendar: Option<calendar::CalendarScheme>,
}

/// The version of this run, as templates and the manifest see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Version {
    /// Semver without a leading `v`: `1.2.3`, `0.0.2-rc.1`.
    pub version: String,
    /// The git tag: as written when released from a tag, else `v{version}`.
    pub tag: String,
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// Semver pre-release part, `""` for a plain release.
    pub prerelease: String,
    /// Full hash of HEAD, `""` outside a git repository.
    pub commit: String,
    /// 7-character hash of HEAD, `""` outside a git repository.
    pub short_commit: String,
    /// Committer time of HEAD (outside git: the `SOURCE_DATE_EPOCH` value).
    pub commit_timestamp: i64,
    /// [`Version::commit_timestamp`] as RFC 3339 UTC: `2026-11-23T10:00:00Z`.
    pub commit_date: String,
    pub is_snapshot: bool,
    /// The mtime of everything built: `SOURCE_DATE_EPOCH` if set, else the
    /// commit time, so rebuilding a commit gives identical archives.
    pub timestamp: i64,
}

/// Dirty files named in the error message; the rest are counted.
const DIRTY_SHOWN: usize = 10;

/// Why no version could be determined.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum VersionError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Calendar(#[from] calendar::CalendarError),
    #[error("git was not found on PATH")]
    #[diagnostic(
        code(matrix::version::git_not_found),
        help("install git, or set MATRIX_VERSION and SOURCE_DATE_EPOCH to build without it")
    )]
    GitNotFound {
        #[source]
        source: std::io::Error,
    },

    #[error("could not run git in {}", dir.display())]
    #[diagnostic(code(matrix::version::git_spawn))]
    GitSpawn {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{} is not inside a git work tree: {detail}", dir.display())]
    #[diagnostic(
        code(matrix::version::not_a_repo),
        help(
            "run matrix inside the project's git checkout, or set MATRIX_VERSION and SOURCE_DATE_EPOCH"
        )
    )]
    NotARepo { dir: PathBuf, detail: String },

    #[error("the git repository at {} has no commits yet", dir.display())]
    #[diagnostic(
        code(matrix::version::no_commits),
        help("commit something first (the version and timestamps come from HEAD)")
    )]
    NoCommits { dir: PathBuf },

    #[error("`git {args}` failed in {} ({status}): {stderr}", dir.display())]
    #[diagnostic(code(matrix::version::git_failed))]
    GitFailed {
        dir: PathBuf,
        args: String,
        status: String,
        stderr: String,
    },

    #[error("`git {args}` printed something unexpected: {output:?}")]
    #[diagnostic(code(matrix::version::git_output))]
    GitOutput { args: String, output: String },

    #[error("not in a git repository, so the version must come from MATRIX_VERSION")]
    #[diagnostic(
        code(matrix::version::no_git),
        help(
            "set MATRIX_VERSION (e.g. MATRIX_VERSION=1.2.3, or 1443.0 under [version] scheme = \"calendar\") and SOURCE_DATE_EPOCH, or run inside the git checkout"
        )
    )]
    NoGit,

    #[error("MATRIX_VERSION={value:?} is not a semantic version")]
    #[diagnostic(
        code(matrix::version::invalid_env_version),
        help("use MAJOR.MINOR.PATCH with an optional -prerelease, e.g. 1.2.3 or v1.3.0-rc.1")
    )]
    InvalidEnvVersion {
        value: String,
        #[source]
        source: semver::Error,
    },

    #[error("tag {tag:?} is not a semantic version")]
    #[diagnostic(
        code(matrix::version::invalid_tag),
        help("release tags look like v1.2.3 or v1.3.0-rc.1")
    )]
    InvalidTag {
        tag: String,
        #[source]
        source: semver::Error,
    },

    #[error("HEAD has no semver tag{}", match latest { Some(t) => format!(" (latest tag: {t})"), None => " (and no semver tag is reachable from it)".to_owned() })]
    #[diagnostic(
        code(matrix::version::no_tag_at_head),
        help("tag HEAD (git tag {suggestion}) or pass --snapshot")
    )]
    NoTagAtHead {
        latest: Option<String>,
        /// A tag the user could create: the next patch after `latest`.
        suggestion: String,
    },

    #[error("the working tree has uncommitted changes ({total} {}): {}", if *total == 1 { "file" } else { "files" }, dirty_list(files, *total))]
    #[diagnostic(
        code(matrix::version::dirty),
        help(
            "commit or stash them, or pass --snapshot; untracked folders matrix wrote (a dist, a shard, a merge output: they hold its manifest.json) are not counted"
        )
    )]
    Dirty {
        /// Up to ten of the dirty files.
        files: Vec<String>,
        total: usize,
    },

    #[error("SOURCE_DATE_EPOCH={value:?} is not a non-negative integer")]
    #[diagnostic(
        code(matrix::version::invalid_source_date_epoch),
        help(
            "set it to seconds since 1970-01-01 UTC, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)"
        )
    )]
    InvalidSourceDateEpoch { value: String },

    #[error("SOURCE_DATE_EPOCH is required outside a git repository")]
    #[diagnostic(
        code(matrix::version::missing_source_date_epoch),
        help(
            "without a commit there is no time to stamp the archives with; set SOURCE_DATE_EPOCH (seconds since 1970-01-01 UTC)"
        )
    )]
    MissingSourceDateEpoch,

    #[error("timestamp {timestamp} cannot be written as an RFC 3339 date")]
    #[diagnostic(code(matrix::version::invalid_timestamp))]
    InvalidTimestamp { timestamp: i64 },
}

fn dirty_list(files: &[String], total: usize) -> String {
    let mut out = files.join(", ");
    if total > files.len() {
        out.push_str(&format!(" and {} more", total - files.len()));
    }
    out
}

impl VersionError {
    /// True when matrix runs outside any git work tree (then only
    /// MATRIX_VERSION can give a version).
    pub fn is_not_a_repository(&self) -> bool {
        matches!(self, VersionError::NotARepo { .. })
    }

    /// True for the refusals `--snapshot` lifts: no tag at HEAD, a dirty tree.
    pub fn is_lifted_by_snapshot(&self) -> bool {
        matches!(
            self,
            VersionError::NoTagAtHead { .. } | VersionError::Dirty { .. }
        )
    }
}

/// The error a release of a checkout with uncommitted files ends with.
fn dirty_error(facts: &GitFacts) -> VersionError {
    VersionError::Dirty {
        files: facts
            .dirty_files
            .iter()
            .take(DIRTY_SHOWN)
            .cloned()
            .collect(),
        total: facts.dirty_files.len(),
    }
}

/// The version `matrix plan` and `matrix doctor` show, which only look and
/// so never need a tag: the release's own version when a release build
/// would go ahead, else the snapshot version a `--snapshot` build takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Looked {
    pub version: Version,
    /// Why a release build (no `--snapshot`) of this checkout would be
    /// refused, in the words of its error; `None` when it would go ahead.
    pub release_refused: Option<String>,
}

/// Resolves the version for a command that only looks. Where [`resolve`]
/// refuses a release for a missing tag or a dirty tree, this resolves the
/// snapshot instead and says why; every other error (a bad tag, a bad
/// MATRIX_VERSION, no git) is the same as for a build.
pub fn resolve_to_look(facts: Option<&GitFacts>, req: &Request) -> Result<Looked, VersionError> {
    let release = Request {
        snapshot: false,
        ..req.clone()
    };
    let release_refused = match resolve(facts, &release) {
        Ok(version) if !req.snapshot => {
            return Ok(Looked {
                version,
                release_refused: None,
            });
        }
        Ok(_) => None,
        Err(e) if req.snapshot || e.is_lifted_by_snapshot() => {
            let mut reasons = vec![e.to_string()];
            // The tag is checked first; a dirty tree is a second refusal.
            if matches!(e, VersionError::NoTagAtHead { .. })
                && let Some(f) = facts.filter(|f| !f.dirty_files.is_empty())
            {
                reasons.push(dirty_error(f).to_string());
            }
            Some(reasons.join("; "))
        }
        Err(e) => return Err(e),
    };
    let snapshot = Request {
        snapshot: true,
        ..req.clone()
    };
    Ok(Looked {
        version: resolve(facts, &snapshot)?,
        release_refused,
    })
}

/// Collects [`GitFacts`] for the checkout containing `repo_dir`. Untracked
/// files under any of `ignore` (e.g. the dist dir; relative paths are
/// relative to `repo_dir`) or in a folder matrix wrote do not count as
/// dirty; see [`dirty`] for the rule.
pub fn git_facts(repo_dir: &Path, ignore: &[PathBuf]) -> Result<GitFacts, VersionError> {
    Git {
        program: OsStr::new("git"),
        dir: repo_dir,
    }
    .facts(ignore)
}

/// The stdout of a read-only `git -C <dir> <args>` asked as [`git_facts`]
/// asks (no optional locks: the user's own git may be working there), or
/// why it failed; for other modules' questions about the checkout (the
/// cache's sources digest).
pub fn git_stdout(dir: &Path, args: &[&str]) -> Result<String, VersionError> {
    Git {
        program: OsStr::new("git"),
        dir,
    }
    .ok(args)
}

struct Git<'a> {
    program: &'a OsStr,
    dir: &'a Path,
}

/// How a git invocation ended, for the callers that expect failure.
enum Outcome {
    Ok(String),
    Failed { status: String, stderr: String },
}

impl Git<'_> {
    fn facts(&self, ignore: &[PathBuf]) -> Result<GitFacts, VersionError> {
        match self.run(&["rev-parse", "--is-inside-work-tree"])? {
            Outcome::Ok(out) if out.trim() == "true" => {}
            Outcome::Ok(_) => {
                return Err(VersionError::NotARepo {
                    dir: self.dir.to_path_buf(),
                    detail: "it is a bare repository or a .git directory".to_owned(),
                });
            }
            Outcome::Failed { stderr, .. } => {
                return Err(VersionError::NotARepo {
                    dir: self.dir.to_path_buf(),
                    detail: stderr,
                });
            }
        }
        // The other questions do not depend on each other: asked at once
        // (each git is a process start), judged in this order, so the
        // error is the one asking them in turn would give.
        let log = ["log", "-1", "--no-show-signature", "--format=%ct", "HEAD"];
        // for-each-ref rather than `git tag`: its output format is fixed
        // (no column.ui, no tag.sort), and it peels annotated tags the same.
        let tags = |filter: &str| -> Result<Vec<String>, VersionError> {
            let out = self.ok(&[
                "for-each-ref",
                "--format=%(refname:lstrip=2)",
                filter,
                "refs/tags",
            ])?;
            Ok(out.lines().map(str::to_owned).collect())
        };
        let (head, log_out, head_tags, merged_tags, dirty_files) = std::thread::scope(|s| {
            let head = s.spawn(|| self.run(&["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]));
            let log_out = s.spawn(|| self.ok(&log));
            let head_tags = s.spawn(|| tags("--points-at=HEAD"));
            let merged_tags = s.spawn(|| tags("--merged=HEAD"));
            let dirty = self.dirty_files(ignore);
            (
                joined(head),
                joined(log_out),
                joined(head_tags),
                joined(merged_tags),
                dirty,
            )
        });
        let commit = match head? {
            Outcome::Ok(out) => out.trim().to_owned(),
            Outcome::Failed { .. } => {
                return Err(VersionError::NoCommits {
                    dir: self.dir.to_path_buf(),
                });
            }
        };
        let short_commit: String = commit.chars().take(7).collect();

        // --no-show-signature: a user's log.showSignature would otherwise
        // mix gpg output into the timestamp.
        let out = log_out?;
        let commit_timestamp = out.trim().parse().map_err(|_| VersionError::GitOutput {
            args: log.join(" "),
            output: out.clone(),
        })?;
        let head_tags = head_tags?;
        let merged_tags = merged_tags?;
        let tag_at_head = highest_tag(head_tags.iter().map(String::as_str));
        let latest_tag = highest_tag(merged_tags.iter().map(String::as_str));
        let dirty_files = dirty_files?;
        Ok(GitFacts {
            commit,
            short_commit,
            commit_timestamp,
            tag_at_head,
            latest_tag,
            dirty_files,
            merged_tags,
            head_tags,
        })
    }

    fn dirty_files(&self, ignore: &[PathBuf]) -> Result<Vec<String>, VersionError> {
        dirty::dirty_files(self, ignore)
    }

    fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<String, VersionError> {
        match self.run(args)? {
            Outcome::Ok(out) => Ok(out),
            Outcome::Failed { status, stderr } => Err(VersionError::GitFailed {
                dir: self.dir.to_path_buf(),
                args: join_args(args),
                status,
                stderr,
            }),
        }
    }

    fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<Outcome, VersionError> {
        let argv = [OsStr::new("-C"), self.dir.as_os_str()]
            .into_iter()
            .chain(args.iter().map(AsRef::as_ref));
        let output = crate::process::tool(
            self.program,
            argv,
            // Read-only questions must not take index.lock: another git
            // process (an editor, a parallel build) may be working here.
            &[("GIT_OPTIONAL_LOCKS", "0")],
            crate::process::Stream::Capture,
            crate::process::Stream::Capture,
        )
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                VersionError::GitNotFound { source }
            } else {
                VersionError::GitSpawn {
                    dir: self.dir.to_path_buf(),
                    source,
                }
            }
        })?;
        if output.status.success() {
            Ok(Outcome::Ok(
                String::from_utf8_lossy(&output.stdout).into_owned(),
            ))
        } else {
            Ok(Outcome::Failed {
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }
}

/// What a scoped thread returned (its panic, if it panicked, goes on).
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn join_args<S: AsRef<OsStr>>(args: &[S]) -> String {
    args.iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses a tag as semver after dropping one leading `v`.
fn parse_tag(tag: &str) -> Result<semver::Version, semver::Error> {
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag))
}

/// The highest-precedence semver tag; non-semver tags are ignored. Ties in
/// precedence (`v1.0.0` and `1.0.0`, or differing build metadata) are broken
/// by the full version and then the name, so the choice never depends on the
/// order git listed them in.
fn highest_tag<'a>(tags: impl Iterator<Item = &'a str>) -> Option<String> {
    tags.filter_map(|t| parse_tag(t).ok().map(|v| (v, t)))
        .max_by(|(va, ta), (vb, tb)| {
            va.cmp_precedence(vb)
                .then_with(|| va.cmp(vb))
                .then_with(|| ta.cmp(tb))
        })
        .map(|(_, t)| t.to_owned())
}

/// Decides the version of this run from the git facts (None outside a git
/// repository) and the request.
pub fn resolve(facts: Option<&GitFacts>, req: &Request) -> Result<Version, VersionError> {
    let epoch = req
        .source_date_epoch
        .as_deref()
        .map(parse_epoch)
        .transpose()?;

    if let Some(scheme) = &req.calendar {
        return match &req.env_version {
            // MATRIX_VERSION is a calendar version here, not a semver one.
            Some(value) => calendar::from_env(value, facts, req, epoch),
            None => calendar::resolve(scheme, facts.ok_or(VersionError::NoGit)?, req, epoch),
        };
    }
    let (version, tag, is_snapshot) = if let Some(value) = &req.env_version {
        let version = value.strip_prefix('v').unwrap_or(value);
        semver::Version::parse(version).map_err(|source| VersionError::InvalidEnvVersion {
            value: value.clone(),
            source,
        })?;
        (version.to_owned(), format!("v{version}"), req.snapshot)
    } else {
        let facts = facts.ok_or(VersionError::NoGit)?;
        if req.snapshot {
            let base = next_patch(facts.latest_tag.as_deref())?;
            let version = format!("{base}-SNAPSHOT-{}", facts.short_commit);
            (version.clone(), format!("v{version}"), true)
        } else {
            let Some(tag) = &facts.tag_at_head else {
                return Err(VersionError::NoTagAtHead {
                    latest: facts.latest_tag.clone(),
                    suggestion: format!("v{}", next_patch(facts.latest_tag.as_deref())?),
                });
            };
            if !facts.dirty_files.is_empty() {
                return Err(dirty_error(facts));
            }
            let version = tag.strip_prefix('v').unwrap_or(tag);
            (version.to_owned(), tag.clone(), false)
        }
    };

    let parsed = semver::Version::parse(&version).map_err(|source| VersionError::InvalidTag {
        tag: tag.clone(),
        source,
    })?;
    let (commit, short_commit, commit_timestamp) = commit_of(facts, epoch)?;
    let commit_date = OffsetDateTime::from_unix_timestamp(commit_timestamp)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .ok_or(VersionError::InvalidTimestamp {
            timestamp: commit_timestamp,
        })?;

    Ok(Version {
        major: parsed.major,
        minor: parsed.minor,
        patch: parsed.patch,
        prerelease: parsed.pre.as_str().to_owned(),
        version,
        tag,
        commit,
        short_commit,
        commit_timestamp,
        commit_date,
        is_snapshot,
        timestamp: epoch.unwrap_or(commit_timestamp),
    })
}

/// The release after `tag`: 1.2.3 -> 1.2.4, but a pre-release 0.0.2-rc.1 ->
/// 0.0.2 (the release it was a candidate for); no tag -> 0.0.1.
fn next_patch(tag: Option<&str>) -> Result<semver::Version, VersionError> {
    let Some(tag) = tag else {
        return Ok(semver::Version::new(0, 0, 1));
    };
    let v = parse_tag(tag).map_err(|source| VersionError::InvalidTag {
        tag: tag.to_owned(),
        source,
    })?;
    let patch = if v.pre.is_empty() {
        v.patch.saturating_add(1)
    } else {
        v.patch
    };
    Ok(semver::Version::new(v.major, v.minor, patch))
}

/// The commit, its short form and its time; outside git there is no commit
/// to take a time from, so `SOURCE_DATE_EPOCH` (required then) stands in
/// for it and `commit_date` in templates is still a real, reproducible date.
pub(in crate::version) fn commit_of(
    facts: Option<&GitFacts>,
    epoch: Option<i64>,
) -> Result<(String, String, i64), VersionError> {
    match facts {
        Some(f) => Ok((f.commit.clone(), f.short_commit.clone(), f.commit_timestamp)),
        None => Ok((
            String::new(),
            String::new(),
            epoch.ok_or(VersionError::MissingSourceDateEpoch)?,
        )),
    }
}

/// SOURCE_DATE_EPOCH per reproducible-builds.org: ASCII digits only (no
/// sign, no fraction, no whitespace).
fn parse_epoch(value: &str) -> Result<i64, VersionError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VersionError::InvalidSourceDateEpoch {
            value: value.to_owned(),
        });
    }
    value
        .parse()
        .map_err(|_| VersionError::InvalidSourceDateEpoch {
            value: value.to_owned(),
        })
}

#[cfg(test)]
mod tests;
