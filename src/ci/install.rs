//! How a CI runner gets matrix: the shell lines of the "Install matrix"
//! step of every generated job.
//!
//! The default is this very version of matrix, so a workflow keeps working
//! the way it did when it was written: `cargo install` of the git tag
//! `v<version>` from matrix's repository (Cargo.toml's `repository`, read
//! through `CARGO_PKG_REPOSITORY` so the URL is written down once), or the
//! linux/amd64 release archive of that tag, checked with `sha256sum`. A
//! user's own command (`matrix ci --install`) is used as given.

use semver::Version;
use serde::Serialize;

use super::{CiError, Provider};

/// Where matrix's source and releases live.
pub const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");
/// The version of this build, which the default install pins.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The cargo package that holds the `matrix` binary.
pub const PACKAGE: &str = env!("CARGO_PKG_NAME");

/// How the runners install matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    /// `cargo install --locked --git <repository> --tag v<version> <package>`.
    Cargo { repository: String, version: String },
    /// The release archive `matrix_<version>_linux_amd64.tar.gz` from
    /// `<repository>/releases/download/v<version>/`, checked against the
    /// pinned sha256 when there is one, else against the release's
    /// checksums file.
    Archive {
        repository: String,
        version: String,
        sha256: Option<String>,
    },
    /// The user's shell command, as given.
    Command(String),
}

impl Install {
    /// This build of matrix, compiled on the runner from its tag.
    pub fn cargo() -> Install {
        Install::Cargo {
            repository: REPOSITORY.into(),
            version: VERSION.into(),
        }
    }

    /// This build's release archive, with its sha256 pinned when given.
    pub fn archive(sha256: Option<String>) -> Install {
        Install::Archive {
            repository: REPOSITORY.into(),
            version: VERSION.into(),
            sha256,
        }
    }

    /// The user's command.
    pub fn command(command: impl Into<String>) -> Install {
        Install::Command(command.into())
    }

    /// The version a default install pins, None for the user's command.
    pub fn pinned_version(&self) -> Option<&str> {
        match self {
            Install::Cargo { version, .. } | Install::Archive { version, .. } => Some(version),
            Install::Command(_) => None,
        }
    }

    /// The GitHub workflow caches what a cargo install built under this
    /// key: a pinned tag builds the same binary every time, so only the
    /// first job of the first run pays for the compile. Other installs are
    /// a download (archive) or unknown to matrix (a command): no cache.
    pub(super) fn cache_key(&self) -> Option<String> {
        match self {
            Install::Cargo { version, .. } => Some(format!("{PACKAGE}-v{version}")),
            _ => None,
        }
    }

    /// Rejects values that would make a broken or misleading step.
    pub(super) fn check(&self, file: &'static str) -> Result<(), CiError> {
        let bad = |value: &str, problem: String, help: &str| CiError::Option {
            file,
            option: "install",
            value: value.to_string(),
            problem,
            help: Some(help.to_string()),
        };
        match self {
            Install::Command(command) => {
                if command.trim().is_empty() {
                    return Err(bad(
                        command,
                        "is empty, so the runners would have no matrix".into(),
                        "leave --install out to install this version of matrix, or pass a command",
                    ));
                }
                // Lines go into a YAML block scalar, indented: YAML also
                // breaks lines at CR (and, in 1.1, NEL, LS, PS), which the
                // indenting does not see, so such a "line" would start at
                // column 0 and end the block, writing keys of its own.
                if command.chars().any(|c| {
                    (c.is_control() && c != '\n' && c != '\t')
                        || matches!(c, '\u{2028}' | '\u{2029}')
                }) {
                    return Err(bad(
                        command,
                        "contains a control character other than a newline or a tab (a carriage return?)".into(),
                        "give plain lines separated by newlines",
                    ));
                }
            }
            Install::Cargo {
                repository,
                version,
            }
            | Install::Archive {
                repository,
                version,
                ..
            } => {
                if Version::parse(version).is_err() {
                    return Err(bad(
                        version,
                        "the version to pin is not a semantic version".into(),
                        "give a version like 1.2.3, whose tag is v1.2.3",
                    ));
                }
                let host = repository.strip_prefix("https://").unwrap_or("");
                if host.is_empty()
                    || host.starts_with('/')
                    || repository
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control())
                {
                    return Err(bad(
                        repository,
                        "the repository is not an https URL".into(),
                        "give the URL of matrix's repository, like https://github.com/<owner>/<name>",
                    ));
                }
            }
        }
        if let Install::Archive {
            sha256: Some(sha), ..
        } = self
            && !is_sha256(sha)
        {
            return Err(CiError::Option {
                file,
                option: "install.sha256",
                value: sha.clone(),
                problem: "is not a sha256 (64 hexadecimal digits)".into(),
                help: Some("copy the archive's line from the release's checksums file".into()),
            });
        }
        Ok(())
    }

    /// The step's shell lines for `ci`.
    pub(super) fn script(&self, ci: Provider) -> Result<String, CiError> {
        let file = super::file(ci);
        self.check(file)?;
        match self {
            Install::Command(command) => Ok(command.trim().to_string()),
            Install::Cargo {
                repository,
                version,
            } => Ok(format!(
                "cargo install --locked --git {} --tag {} {PACKAGE}",
                shell_words::quote(repository),
                shell_words::quote(&format!("v{version}")),
            )),
            Install::Archive {
                repository,
                version,
                sha256,
            } => {
                let ctx = ArchiveContext {
                    version,
                    url: format!(
                        "{}/releases/download/v{version}",
                        repository.trim_end_matches('/')
                    ),
                    archive: archive_name(version),
                    checksums: checksums_name(version),
                    sha256: sha256.as_deref().map(str::to_ascii_lowercase),
                    github: ci == Provider::Github,
                };
                let text = super::render(file, ARCHIVE, &ctx)?;
                Ok(text.trim().to_string())
            }
        }
    }
}

const ARCHIVE: &str = include_str!("templates/install-archive.sh.j2");

#[derive(Serialize)]
struct ArchiveContext<'a> {
    version: &'a str,
    /// The release's download folder, without a trailing slash.
    url: String,
    archive: String,
    checksums: String,
    sha256: Option<String>,
    /// GitHub steps are separate shells, so PATH goes to $GITHUB_PATH;
    /// GitLab runs before_script and script in one shell.
    github: bool,
}

/// matrix's release archive for linux/amd64, named as the top-level
/// matrix.toml names it (`{{ project }}_{{ version }}_{{ os }}_{{ arch }}`,
/// tar.gz); the only target matrix releases itself for.
pub fn archive_name(version: &str) -> String {
    format!("matrix_{version}_linux_amd64.tar.gz")
}

/// The checksums file of matrix's release, named as the top-level
/// matrix.toml names it.
pub fn checksums_name(version: &str) -> String {
    format!("matrix_{version}_checksums.txt")
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Why a workflow pinned to `version` may not find it, if it may not.
/// Only a build knows its version, not whether that version was released:
/// a pre-release version, or a debug build (`cargo build` in a working
/// tree), is most likely not a published tag. A release build of an
/// untagged commit cannot be told from a released one; the message says
/// what to check either way.
pub fn pin_warning(version: &str, debug_build: bool) -> Option<String> {
    let pre_release = Version::parse(version)
        .map(|v| !v.pre.is_empty() || !v.build.is_empty())
        .unwrap_or(true);
    let why = if pre_release {
        format!("matrix {version} is not a release version (it has a pre-release or build part)")
    } else if debug_build {
        format!("this matrix {version} is a debug build, most likely of a working tree")
    } else {
        return None;
    };
    Some(format!(
        "{why}: the workflow installs matrix from the tag v{version} of {REPOSITORY}, \
         which must exist when the workflow runs; pass --install with another command \
         (for example `cargo install --locked --git {REPOSITORY} --rev <commit> {PACKAGE}`) \
         to install it another way"
    ))
}
