//! The errors a command can end with, and their exit codes.
//!
//! Each area keeps its own error enum (config, version, plan, package,
//! exec); this one only gathers them for the CLI and decides the exit code:
//! 2 for anything wrong before a job ran (config, usage, version, dist),
//! 1 when a job failed, 130 when interrupted.

use std::path::PathBuf;

use miette::Diagnostic;

use crate::config::LoadError;
use crate::plan::PlanError;
use crate::version::VersionError;

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Version(#[from] VersionError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Plan(#[from] PlanError),
    #[error("the dist folder {} is not empty ({entries} {})", dist.display(), if *entries == 1 { "entry" } else { "entries" })]
    #[diagnostic(
        code(matrix::dist::not_empty),
        help("pass --clean to remove its contents first, or choose another folder with --dist")
    )]
    DistNotEmpty { dist: PathBuf, entries: usize },
    #[error("refusing to clean {}: {reason}", dist.display())]
    #[diagnostic(
        code(matrix::dist::unsafe_clean),
        help("choose a dedicated output folder with --dist")
    )]
    UnsafeClean { dist: PathBuf, reason: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Locked(#[from] crate::exec::lock::LockError),
    // The OS error is in the message itself, not a `source`, so a
    // diagnostic does not print it twice.
    #[error("{}: {cause}", path.display())]
    #[diagnostic(code(matrix::io))]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{message}")]
    #[diagnostic(code(matrix::usage))]
    Usage { message: String },
    #[error("missing toolchains:\n{list}")]
    #[diagnostic(
        code(matrix::toolchain::missing),
        help(
            "run `matrix doctor --install` to install what matrix knows how to (it prints the commands and asks first), or install them as listed; `matrix doctor` shows every target's needs"
        )
    )]
    MissingTools { list: String },
    #[error("programs missing from container images:\n{list}")]
    #[diagnostic(
        code(matrix::toolchain::missing_in_image),
        help(
            "a containerised build finds its programs in its image, not on this machine: use an image that has them (a [builders.<name>] Dockerfile can add them), or fix [build] command; `matrix doctor` shows every image check"
        )
    )]
    MissingInImages { list: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Images(#[from] crate::toolchain::image_precheck::PrecheckError),
    #[error("{} has no section for version {version}", path.display())]
    #[diagnostic(
        code(matrix::notes::changelog),
        help(
            "add `## [{version}] - <date>` with this release's entries (Keep a Changelog: move them from Unreleased), set [release] notes = false, or build a --snapshot"
        )
    )]
    Changelog { path: PathBuf, version: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Merge(#[from] crate::merge::MergeError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    DistCheck(#[from] crate::dist_check::DistCheckError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Ci(#[from] crate::ci::CiError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Repo(#[from] crate::repo::RepoError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Init(#[from] crate::init::InitError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sign(#[from] crate::packager::sign::SignError),
    /// The details were already printed (job failures, an interrupt).
    #[error("{message}")]
    Reported { message: String, code: u8 },
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Reported { code, .. } => *code,
            _ => 2,
        }
    }

    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |cause| Error::Io { path, cause }
    }
}
