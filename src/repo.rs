//! A directory repository of published releases, and its release channels.
//!
//! The last step of the flow: `matrix build` leaves a complete release in
//! dist/ (manifest.json written last); [`publish`] copies it into a
//! repository directory that outlives any build, and [`channel_set`] points
//! a named channel (stable, beta, ...) at one of its versions. The
//! repository holds, besides the artifacts at the paths its [`Layout`]
//! gives them:
//!
//! ```text
//! <repo>/.matrix/releases/<version>.json   the publication record, written last
//! <repo>/.matrix/tmp/                      staging; renamed from, never served
//! <repo>/versions/<version>/manifest.json  the release's manifest
//! <repo>/channels/<name> -> ../versions/<version>
//! ```
//!
//! Both manifest copies are the release's manifest with each artifact's
//! `path` rewritten to its place in the repository (relative to the
//! repository root), so a reader finds every file without knowing the
//! layout used. A version is published exactly when its record exists, and
//! the record is created only after every file is in place, with a
//! create-if-absent rename, so neither a crash nor a concurrent publish of
//! the same version can leave a version that looks published but is not,
//! or publish one version twice.
//!
//! [`commit_files`] (`tap.rs`) is the other half of `matrix publish`: it
//! commits a channel's file from dist/ (a Homebrew formula, a Scoop
//! manifest) to the git repository its `tap` or `bucket` names, one commit
//! per release, never forced.

mod apt;
mod channel;
mod error;
mod layout;
pub(crate) use crate::package::nofollow;
mod publish;
mod tap;

use std::path::{Path, PathBuf};

pub use apt::{
    AptOptions, index as apt_index, layout as apt_layout, write_index as apt_write_index,
};
pub use channel::{channel_list, channel_set};
pub use error::RepoError;
pub use layout::{FLAT, GARDENLINUX, Layout};
pub use publish::{
    PublishReport, PublishedFile, preview, publish, publish_then, publish_with, read_manifest,
};
pub use tap::{TapAction, TapOptions, TapReport, TapRequest, commit_files};

use crate::package::Algorithm;

/// Where the repository keeps its own state.
const STATE_DIR: &str = ".matrix";
/// One directory per published version, what channels link to.
const VERSIONS_DIR: &str = "versions";
const CHANNELS_DIR: &str = "channels";
/// The manifest's name inside a version's directory (and in dist/).
const MANIFEST: &str = "manifest.json";

/// Top-level names a layout may not place artifacts under.
const RESERVED: [&str; 3] = [STATE_DIR, VERSIONS_DIR, CHANNELS_DIR];

/// The record that makes `version` published, relative to the repository
/// root (every path below the root is walked without following links).
fn record_path(version: &str) -> PathBuf {
    Path::new(STATE_DIR)
        .join("releases")
        .join(format!("{version}.json"))
}

fn staging_dir() -> PathBuf {
    Path::new(STATE_DIR).join("tmp")
}

fn version_dir(version: &str) -> PathBuf {
    Path::new(VERSIONS_DIR).join(version)
}

/// The most a record or a version's manifest copy may weigh when read whole.
const MAX_RECORD_BYTES: u64 = 64 << 20;

/// Versions become directory and file names: one plain path component of a
/// conservative alphabet (covers semver, with build metadata, and calendar
/// versions), not hidden, not an option.
fn check_version(version: &str) -> Result<(), RepoError> {
    let invalid = |reason: &str| RepoError::InvalidVersion {
        version: version.to_owned(),
        reason: reason.to_owned(),
    };
    let Some(first) = version.chars().next() else {
        return Err(invalid("it is empty"));
    };
    if version.len() > 128 {
        return Err(invalid("it is longer than 128 characters"));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(invalid("it must start with a letter or digit"));
    }
    if let Some(c) = version
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-')))
    {
        return Err(invalid(&format!("it contains {c:?}")));
    }
    Ok(())
}

/// `sha256:<hex>` split into its algorithm and lowercase hex.
fn parse_digest(digest: &str) -> Option<(Algorithm, &str)> {
    let (name, hex) = digest.split_once(':')?;
    let algorithm = match name {
        "sha256" => Algorithm::Sha256,
        "sha512" => Algorithm::Sha512,
        _ => return None,
    };
    let well_formed = hex.len() == algorithm.hex_len()
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    well_formed.then_some((algorithm, hex))
}

/// Whether a manifest's `path` stays inside the directory it is relative
/// to: not absolute, no `..`, no empty part. A tampered manifest must not
/// make publish read, or a channel check hash, files elsewhere.
fn is_inner_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

#[cfg(test)]
mod tests;
