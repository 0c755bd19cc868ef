//! The release-channel parts of `matrix.toml`: `[release]` (download URLs,
//! release notes) and `[channels.<name>]` (Homebrew, Snapcraft, Chocolatey,
//! Scoop inputs rendered from the release's own records).
//!
//! Part of the first stage of the flow (config). A channel is one table
//! whatever its kind; keys that belong to another kind are errors at plan
//! time, at their line and column.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::When;

/// `[release]`: settings for the release as a whole.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Release {
    /// Where users download an artifact (template; `{{ artifact }}` is its
    /// file name), e.g.
    /// `https://github.com/o/r/releases/download/{{ tag }}/{{ artifact }}`.
    #[serde(default)]
    pub url: Option<String>,
    /// Write dist/RELEASE_NOTES.md: `true` requires the changelog to have
    /// this version's section (a snapshot only warns), `false` never writes
    /// notes; unset writes them when the changelog file exists.
    #[serde(default)]
    pub notes: Option<bool>,
    /// The Keep a Changelog file the notes take this version's section from.
    #[serde(default = "default_changelog")]
    pub changelog: String,
    /// Text for the notes' "Known Limitations" section.
    #[serde(default)]
    pub known_limitations: Option<String>,
    /// Your own release-notes template instead of the built-in one.
    #[serde(default)]
    pub notes_template: Option<String>,
}

impl Default for Release {
    fn default() -> Self {
        Release {
            url: None,
            notes: None,
            changelog: default_changelog(),
            known_limitations: None,
            notes_template: None,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_changelog() -> String {
    "CHANGELOG.md".to_string()
}

/// What a channel renders.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A Homebrew formula: dist/homebrew/<name>.rb.
    Homebrew,
    /// dist/snap/snapcraft.yaml and one .snap per Linux architecture.
    Snapcraft,
    /// dist/chocolatey/<id>.nuspec, tools/*.ps1 and the .nupkg.
    Chocolatey,
    /// A Scoop manifest: dist/scoop/<name>.json.
    Scoop,
}

impl ChannelKind {
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Homebrew => "homebrew",
            ChannelKind::Snapcraft => "snapcraft",
            ChannelKind::Chocolatey => "chocolatey",
            ChannelKind::Scoop => "scoop",
        }
    }

    /// The folder under dist/ its files go to.
    pub fn dir(self) -> &'static str {
        match self {
            ChannelKind::Homebrew => "homebrew",
            ChannelKind::Snapcraft => "snap",
            ChannelKind::Chocolatey => "chocolatey",
            ChannelKind::Scoop => "scoop",
        }
    }

    /// The operating systems it can ship, which is also its default `when`.
    pub fn oses(self) -> &'static [&'static str] {
        match self {
            ChannelKind::Homebrew => &["darwin", "linux"],
            ChannelKind::Snapcraft => &["linux"],
            ChannelKind::Chocolatey | ChannelKind::Scoop => &["windows"],
        }
    }
}

pub use crate::packager::snap::{Confinement, Grade};

/// `[channels.<name>]`: one channel. `kind` picks the format; the keys
/// under each kind's heading below apply to that kind only.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Channel {
    pub kind: ChannelKind,
    /// Which targets feed it (default: the kind's operating systems).
    #[serde(default)]
    pub when: Option<When>,
    /// Download URL template (default: `[release] url`).
    #[serde(default)]
    pub url: Option<String>,
    /// Your own template file for the channel's main file.
    #[serde(default)]
    pub template: Option<String>,
    /// Package name or id (default: the project name).
    #[serde(default)]
    pub name: Option<String>,
    /// Short summary (Snapcraft: required, at most 78 characters; Chocolatey).
    #[serde(default)]
    pub summary: Option<String>,

    /// Homebrew: the formula's class name (default from the name).
    #[serde(default)]
    pub class: Option<String>,
    /// Homebrew: arguments the `test do` block runs the binary with.
    #[serde(default)]
    pub test: Option<Vec<String>>,
    /// Homebrew: caveats text.
    #[serde(default)]
    pub caveats: Option<String>,
    /// Homebrew: the formula's `desc` (default: [project] description).
    /// Homebrew's rules apply: no leading article, no final full stop, not
    /// starting with the formula name, at most 80 characters.
    #[serde(default)]
    pub desc: Option<String>,

    /// Snapcraft: `stable` or `devel` (default: devel for snapshots and
    /// prereleases, else stable).
    #[serde(default)]
    pub grade: Option<Grade>,
    /// Snapcraft: `strict` (default), `classic` or `devmode`.
    #[serde(default)]
    pub confinement: Option<Confinement>,
    /// Snapcraft: the base snap (default core24).
    #[serde(default)]
    pub base: Option<String>,
    /// Snapcraft: interfaces the app plugs, e.g. ["network"].
    #[serde(default)]
    pub plugs: Option<Vec<String>>,

    /// Chocolatey: authors (default: the project name).
    #[serde(default)]
    pub authors: Option<String>,
    #[serde(default)]
    pub owners: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub license_url: Option<String>,
    #[serde(default)]
    pub project_source_url: Option<String>,
    #[serde(default)]
    pub package_source_url: Option<String>,
    #[serde(default)]
    pub docs_url: Option<String>,
    #[serde(default)]
    pub bug_tracker_url: Option<String>,
    #[serde(default)]
    pub icon_url: Option<String>,
    #[serde(default)]
    pub release_notes: Option<String>,
    /// Chocolatey: your own install / uninstall script templates.
    #[serde(default)]
    pub install_template: Option<String>,
    #[serde(default)]
    pub uninstall_template: Option<String>,

    /// Scoop: the executable to shim (default: the binary).
    #[serde(default)]
    pub bin: Option<String>,
    /// Scoop: `checkver` (default "github" for a github.com homepage).
    #[serde(default)]
    pub checkver: Option<String>,

    /// Snapcraft and Chocolatey: also build the package itself (.snap,
    /// .nupkg), not only its inputs (default true).
    #[serde(default = "yes")]
    pub package: bool,
}

impl Channel {
    /// The keys that are set and belong to another kind, for errors.
    pub fn foreign_keys(&self) -> Vec<&'static str> {
        let set: IndexMap<&'static str, (bool, &[ChannelKind])> = IndexMap::from([
            (
                "class",
                (self.class.is_some(), &[ChannelKind::Homebrew][..]),
            ),
            ("test", (self.test.is_some(), &[ChannelKind::Homebrew][..])),
            (
                "caveats",
                (self.caveats.is_some(), &[ChannelKind::Homebrew][..]),
            ),
            ("desc", (self.desc.is_some(), &[ChannelKind::Homebrew][..])),
            (
                "grade",
                (self.grade.is_some(), &[ChannelKind::Snapcraft][..]),
            ),
            (
                "confinement",
                (self.confinement.is_some(), &[ChannelKind::Snapcraft][..]),
            ),
            ("base", (self.base.is_some(), &[ChannelKind::Snapcraft][..])),
            (
                "plugs",
                (self.plugs.is_some(), &[ChannelKind::Snapcraft][..]),
            ),
            (
                "summary",
                (
                    self.summary.is_some(),
                    &[ChannelKind::Snapcraft, ChannelKind::Chocolatey][..],
                ),
            ),
            (
                "authors",
                (self.authors.is_some(), &[ChannelKind::Chocolatey][..]),
            ),
            (
                "owners",
                (self.owners.is_some(), &[ChannelKind::Chocolatey][..]),
            ),
            (
                "tags",
                (self.tags.is_some(), &[ChannelKind::Chocolatey][..]),
            ),
            (
                "license-url",
                (self.license_url.is_some(), &[ChannelKind::Chocolatey][..]),
            ),
            (
                "project-source-url",
                (
                    self.project_source_url.is_some(),
                    &[ChannelKind::Chocolatey][..],
                ),
            ),
            (
                "package-source-url",
                (
                    self.package_source_url.is_some(),
                    &[ChannelKind::Chocolatey][..],
                ),
            ),
            (
                "docs-url",
                (self.docs_url.is_some(), &[ChannelKind::Chocolatey][..]),
            ),
            (
                "bug-tracker-url",
                (
                    self.bug_tracker_url.is_some(),
                    &[ChannelKind::Chocolatey][..],
                ),
            ),
            (
                "icon-url",
                (self.icon_url.is_some(), &[ChannelKind::Chocolatey][..]),
            ),
            (
                "release-notes",
                (self.release_notes.is_some(), &[ChannelKind::Chocolatey][..]),
            ),
            (
                "install-template",
                (
                    self.install_template.is_some(),
                    &[ChannelKind::Chocolatey][..],
                ),
            ),
            (
                "uninstall-template",
                (
                    self.uninstall_template.is_some(),
                    &[ChannelKind::Chocolatey][..],
                ),
            ),
            ("bin", (self.bin.is_some(), &[ChannelKind::Scoop][..])),
            (
                "checkver",
                (self.checkver.is_some(), &[ChannelKind::Scoop][..]),
            ),
            (
                "package",
                (
                    !self.package,
                    &[ChannelKind::Snapcraft, ChannelKind::Chocolatey][..],
                ),
            ),
        ]);
        set.into_iter()
            .filter(|(_, (is_set, kinds))| *is_set && !kinds.contains(&self.kind))
            .map(|(k, _)| k)
            .collect()
    }
}
