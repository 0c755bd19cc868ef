//! What every channel renderer reads: the release and the archives it
//! ships, taken from the records the manifest is made of (digests and sizes
//! are never recomputed from memory), plus where each archive can be
//! downloaded.
//!
//! Part of `packager`. Built by `exec` from the plan and the finished jobs'
//! artifacts, and by `merge` (later) from shard manifests, so the renderers
//! are pure functions of this input.

use std::path::PathBuf;

use serde::Serialize;

use crate::package::archive::Format;
use crate::target::Platform;

/// The release as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct Release {
    /// Project name (letters, digits, `.`, `_`, `-`).
    pub name: String,
    pub description: String,
    pub homepage: String,
    /// SPDX license expression, possibly empty.
    pub license: String,
    /// Semver without a `v`: `1.2.3`, `0.0.2-rc.1`, `0.0.1-SNAPSHOT-abc1234`.
    pub version: String,
    /// The git tag, e.g. `v1.2.3`.
    pub tag: String,
    /// Semver pre-release part, `""` for a final release.
    pub prerelease: String,
    pub commit: String,
    /// Seconds since the epoch every file carries (SOURCE_DATE_EPOCH or
    /// the commit time); use it for any timestamp a package needs.
    pub timestamp: i64,
    pub is_snapshot: bool,
}

/// One target's archive, as the channel ships it.
#[derive(Debug, Clone, Serialize)]
pub struct Package {
    /// Target id, e.g. `linux/arm64`.
    pub target: String,
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
    /// The knowledge-base row: `snap_arch`, `debian_arch`, `homebrew_cpu`
    /// (`arm`/`intel`), `choco_bitness` (32/64), ...
    #[serde(skip)]
    pub platform: &'static Platform,
    /// The archive's file name in dist/.
    pub file_name: String,
    /// The archive on disk.
    pub path: PathBuf,
    /// Where users download it (the channel's `url` template, rendered).
    pub url: String,
    /// sha256 of the archive, lowercase hex (from the manifest record).
    pub sha256: String,
    pub size: u64,
    pub format: Format,
    /// File name of the executable, e.g. `hello` or `hello.exe`.
    pub binary: String,
    /// Path of the executable inside the archive (`hello`, or
    /// `hello_1.2.3_linux_amd64/hello` when wrapped in a folder); for
    /// `Format::Binary` the archive is the executable itself.
    pub binary_in_archive: String,
    /// The built executable on disk (`dist/build/<slug>/hello`), for
    /// packages that embed it.
    pub binary_file: PathBuf,
    /// Every other file inside the archive, by its path there (LICENSE,
    /// completions/..., man/...).
    pub files: Vec<String>,
}

impl Package {
    /// A universal macOS binary (`[universal] darwin`): its `arch` is
    /// `universal` and its `platform` the first thin target's (darwin/amd64).
    pub fn is_universal(&self) -> bool {
        self.arch == crate::target::UNIVERSAL_ARCH
    }
}

/// Everything one channel renders from.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelInput {
    pub release: Release,
    /// The packages the channel's `when` selected, in plan order.
    pub packages: Vec<Package>,
}
