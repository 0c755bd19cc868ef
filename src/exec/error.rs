//! How a job fails: one error per way, naming the job or target, the
//! command and where its log is.
//!
//! Part of `exec`; every kind of job returns it, and the CLI prints it.

use std::path::PathBuf;

use crate::inspect::VerifyError;
use crate::package::PackageError;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum JobError {
    #[error("{target}: `{command}` failed with {status}")]
    #[diagnostic(code(matrix::job::failed), help("full log: {}", log.display()))]
    Failed {
        target: String,
        command: String,
        status: String,
        tail: Vec<String>,
        log: PathBuf,
    },
    #[error("{target}: `{command}` timed out after {after}")]
    #[diagnostic(
        code(matrix::job::timeout),
        help("raise [build] timeout if the build needs longer; full log: {}", log.display())
    )]
    TimedOut {
        target: String,
        command: String,
        after: String,
        tail: Vec<String>,
        log: PathBuf,
    },
    #[error("{target}: cannot start `{program}`: {source}")]
    #[diagnostic(
        code(matrix::job::spawn),
        help("check that `{program}` is installed and on PATH, and that the build folder exists")
    )]
    Spawn {
        target: String,
        program: String,
        source: std::io::Error,
    },
    #[error("{target}: `{program}` was stopped: matrix's job spawner ended while it ran")]
    #[diagnostic(
        code(matrix::job::lost),
        help("the `matrix __spawner` process was killed from outside; run the build again")
    )]
    Lost { target: String, program: String },
    #[error("{target}: the build succeeded but did not write {}", path.display())]
    #[diagnostic(
        code(matrix::job::no_binary),
        help("the command must write the binary to {{{{ out }}}}/{{{{ bin }}}}; full log: {}", log.display())
    )]
    MissingBinary {
        target: String,
        path: PathBuf,
        log: PathBuf,
    },
    #[error("{target}: packaging failed: {source}")]
    #[diagnostic(code(matrix::job::package))]
    Package {
        target: String,
        #[source]
        #[diagnostic_source]
        source: PackageError,
    },
    #[error("{target}: cannot join the universal binary: {source}")]
    #[diagnostic(
        code(matrix::job::join),
        help(
            "[universal] darwin joins the darwin/amd64 and darwin/arm64 builds; both must write a thin Mach-O executable"
        )
    )]
    Join {
        target: String,
        #[source]
        source: crate::package::macho_fat::FatError,
    },
    #[error("{job}: cannot write {}: {source}", path.display())]
    #[diagnostic(code(matrix::job::io))]
    Io {
        job: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{target}: {source}")]
    #[diagnostic(
        code(matrix::job::verify),
        help(
            "the build wrote a binary for another platform; check the env the build got (GOOS/GOARCH, --target, CC) in the job's log, or set verify = false if the artifact is not an executable"
        )
    )]
    Verify {
        target: String,
        #[source]
        source: VerifyError,
    },
    #[error("{target}: smoke test `{command}` failed with {status}")]
    #[diagnostic(code(matrix::job::smoke), help("full log: {}", log.display()))]
    Smoke {
        target: String,
        command: String,
        status: String,
        tail: Vec<String>,
        log: PathBuf,
    },
    #[error("{job}: {source}")]
    #[diagnostic(code(matrix::job::image))]
    Image {
        job: String,
        /// Boxed to keep every job result small; its help is reached
        /// through [`JobError::nested_help`].
        #[source]
        source: Box<crate::image::ImageError>,
    },
    #[error("{job}: {} cannot be assembled without an engine: {why}", dockerfile.display())]
    #[diagnostic(
        code(matrix::job::not_native),
        help(
            "set [images] native = \"auto\" to build such Dockerfiles with the engine, or keep the Dockerfile to FROM scratch and COPY"
        )
    )]
    NotNative {
        job: String,
        dockerfile: PathBuf,
        why: String,
    },
    #[error("{job}: {source}")]
    #[diagnostic(code(matrix::job::publish))]
    Publish {
        job: String,
        /// Boxed like `Image`; its help is reached through `nested_help`.
        #[source]
        source: Box<crate::packager::PublishError>,
    },
    #[error("{job}: cannot make the SBOM from {}: {why}", path.display())]
    #[diagnostic(
        code(matrix::job::sbom),
        help("fix or remove the file, or leave [sbom] out of matrix.toml")
    )]
    Sbom {
        job: String,
        path: PathBuf,
        why: String,
    },
    #[error("{job}: the plan needs a container engine, and the run has none")]
    #[diagnostic(code(matrix::job::no_engine))]
    NoEngine { job: String },
    /// The sign job could not sign a file (the message names it, never
    /// the key).
    #[error("{message}")]
    #[diagnostic(code(matrix::job::sign))]
    Sign { message: String },
    #[error("cancelled")]
    Cancelled,
}

impl JobError {
    /// True for errors that a kill by cancellation would cause.
    pub fn is_consequence_of_cancel(&self) -> bool {
        matches!(
            self,
            JobError::Failed { .. } | JobError::MissingBinary { .. }
        )
    }

    /// The help of an error this one wraps without exposing it as a
    /// diagnostic source (boxed image errors).
    pub fn nested_help(&self) -> Option<String> {
        match self {
            JobError::Image { source, .. } => {
                miette::Diagnostic::help(source.as_ref()).map(|h| h.to_string())
            }
            JobError::Publish { source, .. } => {
                miette::Diagnostic::help(source.as_ref()).map(|h| h.to_string())
            }
            _ => None,
        }
    }

    /// The log lines to show under the error, if any.
    pub fn tail(&self) -> &[String] {
        match self {
            JobError::Failed { tail, .. }
            | JobError::TimedOut { tail, .. }
            | JobError::Smoke { tail, .. } => tail,
            _ => &[],
        }
    }
}

impl JobError {
    /// The error of job `target` whose `program` could not run: it did
    /// not start, or ([`JobError::Lost`]) its spawner ended while it ran.
    pub fn spawn(target: &str, program: String, source: std::io::Error) -> JobError {
        match crate::process::spawner_gone(&source) {
            true => JobError::Lost {
                target: target.to_string(),
                program,
            },
            false => JobError::Spawn {
                target: target.to_string(),
                program,
                source,
            },
        }
    }
}
