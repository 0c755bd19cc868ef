//! `[channels.<name>]` keys of an RPM package channel (`kind = "rpm"`):
//! the deb channel's keys (read with the same types) plus `release`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::packager::deb::{DebConfig, Scripts};

/// The RPM package's own keys.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RpmConfig {
    /// deb and rpm: who maintains the package, `Name <email>` (deb:
    /// required; rpm: `Packager`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintainer: Option<String>,
    /// One-line summary (default: `[project] description`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// deb and rpm: the long description, paragraphs separated by an
    /// empty line (default: none for deb, the summary for rpm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// deb and rpm: the license (default: `[project] license`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// deb and rpm: the homepage (default: `[project] homepage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    /// deb and rpm: the version's epoch (`1:1.2.3`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// deb: the archive section (default `utils`); rpm: `Group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// deb and rpm: packages it needs, Debian syntax: `libc6 (>= 2.36)`,
    /// `a | b` (deb only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends: Option<Vec<String>>,
    /// deb and rpm: packages it recommends (same syntax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommends: Option<Vec<String>>,
    /// deb and rpm: packages it cannot be installed with (same syntax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<Vec<String>>,
    /// deb and rpm: virtual packages it provides (same syntax, `=` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provides: Option<Vec<String>>,
    /// deb and rpm: the folder the binary is installed in (default
    /// `/usr/bin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bin_dir: Option<String>,
    /// deb and rpm: more files, installed path → project file, e.g.
    /// `"/usr/share/man/man1/hello.1" = "man/hello.1"` (man pages are
    /// gzipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<BTreeMap<String, String>>,
    /// deb and rpm: configuration files under /etc, installed path →
    /// project file (deb conffiles, rpm `%config(noreplace)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_files: Option<BTreeMap<String, String>>,
    /// deb and rpm: maintainer scripts from project files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scripts: Option<Scripts>,
    /// rpm: the package's release (default `1`): letters, digits, `.`, `_`, `+`, `~`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
}

impl RpmConfig {
    /// The keys it shares with the deb channel.
    pub fn common(&self) -> DebConfig {
        DebConfig {
            maintainer: self.maintainer.clone(),
            summary: self.summary.clone(),
            description: self.description.clone(),
            license: self.license.clone(),
            homepage: self.homepage.clone(),
            epoch: self.epoch,
            section: self.section.clone(),
            depends: self.depends.clone(),
            recommends: self.recommends.clone(),
            conflicts: self.conflicts.clone(),
            provides: self.provides.clone(),
            bin_dir: self.bin_dir.clone(),
            files: self.files.clone(),
            config_files: self.config_files.clone(),
            scripts: self.scripts.clone(),
        }
    }
}
