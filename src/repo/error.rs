//! [`RepoError`]: everything that can go wrong publishing a release into a
//! repository or pointing a channel at one.
//!
//! Part of `repo`. Variants name the release, version, channel or path
//! involved; problems found while checking a release are collected, so one
//! run reports every missing or damaged file rather than the first.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RepoError {
    #[error("could not {action} {}", path.display())]
    #[diagnostic(code(matrix::repo::io))]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("could not read the release manifest {}", path.display())]
    #[diagnostic(
        code(matrix::repo::manifest),
        help(
            "publish a dist/ directory written by `matrix build` (manifest.json is written last, when the build succeeded)"
        )
    )]
    Manifest {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{} is not a matrix manifest (format {format:?})", path.display())]
    #[diagnostic(
        code(matrix::repo::not_a_manifest),
        help("publish a dist/ directory written by `matrix build`")
    )]
    NotAManifest { path: PathBuf, format: String },

    #[error("version {version:?} cannot name a release in a repository: {reason}")]
    #[diagnostic(
        code(matrix::repo::invalid_version),
        help(
            "versions are used as directory names: letters, digits, `.`, `_`, `+` and `-`, not starting with `.` or `-`"
        )
    )]
    InvalidVersion { version: String, reason: String },

    #[error("the release in {} is incomplete: {}", release_dir.display(), problems.join("; "))]
    #[diagnostic(
        code(matrix::repo::incomplete),
        help(
            "only complete releases are published; rebuild it with `matrix build` and publish the new dist/"
        )
    )]
    Incomplete {
        release_dir: PathBuf,
        problems: Vec<String>,
    },

    #[error("{} is a symbolic link; matrix never follows links inside a release or a repository", path.display())]
    #[diagnostic(
        code(matrix::repo::symlink),
        help(
            "a link there could publish a file from elsewhere or write outside the repository; replace it with the real file or directory (only the folder you name on the command line may itself be a link)"
        )
    )]
    Symlink { path: PathBuf },

    #[error("{:?} is not a plain path below {}", rel.display(), root.display())]
    #[diagnostic(
        code(matrix::repo::not_below),
        help(
            "every path matrix reads or writes in a release or a repository is a sequence of plain names below it: no `..`, `.`, root or prefix"
        )
    )]
    NotBelow { root: PathBuf, rel: PathBuf },

    #[error("{} is not a directory", path.display())]
    #[diagnostic(
        code(matrix::repo::not_a_directory),
        help("the repository needs a directory there; move the file away")
    )]
    NotADirectory { path: PathBuf },

    #[error("{} is not a regular file", path.display())]
    #[diagnostic(
        code(matrix::repo::not_a_file),
        help("only regular files are published or served; remove what is there")
    )]
    NotAFile { path: PathBuf },

    #[error("`matrix verify` refuses the release in {}: {}", release_dir.display(), problems.join("; "))]
    #[diagnostic(
        code(matrix::repo::unverified),
        help(
            "publish only what `matrix verify` accepts; run it on the folder to see every problem, then rebuild or re-merge the release"
        )
    )]
    Unverified {
        release_dir: PathBuf,
        problems: Vec<String>,
    },

    #[error("version {version} is already published in {}", repo.display())]
    #[diagnostic(
        code(matrix::repo::already_published),
        help("a published version is never overwritten or reused; release a new version")
    )]
    AlreadyPublished { version: String, repo: PathBuf },

    #[error("cannot publish {version}: {} already exists with other content ({detail})", path.display())]
    #[diagnostic(
        code(matrix::repo::conflict),
        help(
            "the path belongs to another release or to an unfinished publish of a different build; use a layout that includes {{{{ version }}}}, or remove the leftover if no release records it"
        )
    )]
    Conflict {
        version: String,
        path: PathBuf,
        detail: String,
    },

    #[error("layout template {template:?} failed for {artifact}: {message}")]
    #[diagnostic(
        code(matrix::repo::layout),
        help(
            "variables: version, project, artifact, target, values, debian_arch, os, arch; use `| default(\"...\")` for values a target may lack"
        )
    )]
    Layout {
        template: String,
        artifact: String,
        message: String,
    },

    #[error("layout puts {artifact} at {path:?}, which {reason}")]
    #[diagnostic(
        code(matrix::repo::layout_path),
        help(
            "a layout renders a relative path inside the repository, without `..`, empty parts, or the reserved top-level .matrix/, versions/ and channels/"
        )
    )]
    LayoutPath {
        artifact: String,
        path: String,
        reason: &'static str,
    },

    #[error("layout puts both {first} and {second} at {path:?}")]
    #[diagnostic(
        code(matrix::repo::layout_collision),
        help(
            "include {{{{ artifact }}}} (or {{{{ target }}}}) in the layout so every artifact gets a path of its own"
        )
    )]
    LayoutCollision {
        path: String,
        first: String,
        second: String,
    },

    #[error("the apt {what} {value:?} is not allowed")]
    #[diagnostic(code(matrix::repo::apt_option), help("allowed: {allowed}"))]
    AptOption {
        what: &'static str,
        value: String,
        allowed: &'static str,
    },

    #[error("gpg could not sign the apt Release with key {key:?}: {problem}")]
    #[diagnostic(
        code(matrix::repo::apt_sign),
        help(
            "[sign] key-id names a secret key in GNUPGHOME's keyring (see gpg --list-secret-keys); passphrase-env the variable holding its passphrase"
        )
    )]
    AptSign { key: String, problem: String },

    #[error("cannot index {} for apt: it {problem}", path.display())]
    #[diagnostic(
        code(matrix::repo::apt),
        help(
            "pool/ holds the .deb files matrix published (ar archives with control.tar.gz); remove or replace the file named"
        )
    )]
    Apt { path: PathBuf, problem: String },

    #[error("{name:?} is not a valid channel name")]
    #[diagnostic(
        code(matrix::repo::invalid_channel),
        help(
            "channel names are 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit (e.g. stable, beta, lts-2024)"
        )
    )]
    InvalidChannel { name: String },

    #[error("version {version} is not published in {}", repo.display())]
    #[diagnostic(
        code(matrix::repo::not_published),
        help(
            "publish the release first; a channel only ever points at a complete, published version"
        )
    )]
    NotPublished { version: String, repo: PathBuf },

    #[error("published version {version} is damaged: {}", problems.join("; "))]
    #[diagnostic(
        code(matrix::repo::damaged),
        help(
            "its files no longer match its record, so no channel may point at it; restore them from the release's dist/ (published versions cannot be re-published)"
        )
    )]
    Damaged {
        version: String,
        problems: Vec<String>,
    },

    #[error("channel {name} at {} is not a link to a published version: {detail}", path.display())]
    #[diagnostic(
        code(matrix::repo::broken_channel),
        help("set it again with a published version, or remove the entry")
    )]
    BrokenChannel {
        name: String,
        path: PathBuf,
        detail: String,
    },

    #[error(
        "channel {channel}: {remote} branch {branch} moved while matrix was publishing ({detail}); nothing was pushed, and the remote holds only what others pushed"
    )]
    #[diagnostic(
        code(matrix::repo::tap_moved),
        help(
            "someone pushed to the branch after matrix fetched it; run `matrix publish --channels-only` again to commit on top of the new tip (matrix never force-pushes)"
        )
    )]
    TapMoved {
        channel: String,
        remote: String,
        branch: String,
        detail: String,
    },

    #[error("channel {channel}: git {action} for {remote} failed: {detail}")]
    #[diagnostic(
        code(matrix::repo::tap_git),
        help(
            "check the url and branch under the channel's tap or bucket, and that git can reach it with your credentials (a credential helper or an ssh agent; git never prompts here)"
        )
    )]
    TapGit {
        channel: String,
        remote: String,
        action: String,
        detail: String,
    },

    #[error("channel {channel}: no author for the commit to {remote}")]
    #[diagnostic(
        code(matrix::repo::tap_author),
        help(
            "set author = \"Name <mail>\" in the channel's tap or bucket, or git's user.name and user.email (git config --global user.name ...)"
        )
    )]
    TapAuthor { channel: String, remote: String },

    #[error("channel {channel}: {problem}")]
    #[diagnostic(
        code(matrix::repo::tap_file),
        help(
            "publish commits the file the release recorded in dist/, byte for byte; rebuild the release with this matrix.toml, or fix the channel's tap or bucket"
        )
    )]
    TapFile { channel: String, problem: String },
}

impl From<super::nofollow::Refused> for RepoError {
    fn from(r: super::nofollow::Refused) -> Self {
        use super::nofollow::Refused;
        match r {
            Refused::Symlink(path) => RepoError::Symlink { path },
            Refused::NotADirectory(path) => RepoError::NotADirectory { path },
            Refused::NotAFile(path) => RepoError::NotAFile { path },
            Refused::NotBelow { root, rel } => RepoError::NotBelow { root, rel },
            Refused::TooLarge { path, size, limit } => RepoError::Io {
                action: "read",
                path,
                source: std::io::Error::other(format!(
                    "it is {size} bytes, more than the {limit} read whole"
                )),
            },
            Refused::Io {
                action,
                path,
                source,
            } => RepoError::Io {
                action,
                path,
                source,
            },
        }
    }
}

impl RepoError {
    /// An [`RepoError::Io`] maker for `map_err`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> RepoError {
        let path = path.into();
        move |source| RepoError::Io {
            action,
            path,
            source,
        }
    }
}
