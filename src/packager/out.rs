//! Writing a channel's files into dist/: each written atomically and
//! recorded as an artifact of the release.
//!
//! Part of `packager`: every kind's `write` hands what it rendered or
//! built to an [`Out`].

use std::path::{Path, PathBuf};

use super::PublishError;
use crate::package::checksum::Algorithm;
use crate::package::manifest::{Artifact, ArtifactKind};

/// Where one channel writes, and how its files are recorded.
pub struct Out<'a> {
    /// The release folder.
    pub dist: &'a Path,
    pub algorithm: Algorithm,
    /// The channel's name, for errors.
    pub channel: &'a str,
    /// The text of the user's template for the main file, if any.
    pub template: Option<String>,
    /// The threads a package's tool may use (mksquashfs's `-processors`):
    /// a package job's share of the machine.
    pub threads: usize,
}

impl Out<'_> {
    /// Writes one file of the release under dist/ and returns its record.
    pub fn emit(
        &self,
        rel: &str,
        bytes: &[u8],
        kind: ArtifactKind,
    ) -> Result<Artifact, PublishError> {
        let channel = self.channel;
        let path = self.dist.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(PublishError::io(channel, parent))?;
        }
        crate::package::atomic::write_atomic(&path, bytes)
            .map_err(PublishError::io(channel, &path))?;
        Ok(Artifact::of_bytes(rel, bytes, kind, self.algorithm))
    }

    /// The record of a file already written (packages built by a tool).
    pub fn record_file(&self, rel: &str, kind: ArtifactKind) -> Result<Artifact, PublishError> {
        let path = self.dist.join(rel);
        Artifact::of_file(rel, &path, kind, self.algorithm)
            .map_err(PublishError::io(self.channel, &path))
    }

    /// `path` relative to dist/.
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(self.dist)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }

    /// The text of a template file of the channel, if one is set.
    pub fn read_template(&self, path: &Option<PathBuf>) -> Result<Option<String>, PublishError> {
        read_template(self.channel, path)
    }
}

/// The text of the template file at `path`, if one is set.
pub fn read_template(
    channel: &str,
    path: &Option<PathBuf>,
) -> Result<Option<String>, PublishError> {
    match path {
        None => Ok(None),
        Some(p) => std::fs::read_to_string(p)
            .map(Some)
            .map_err(PublishError::io(channel, p)),
    }
}
