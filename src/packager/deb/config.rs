//! `[channels.<name>]` keys of a Debian package channel (`kind = "deb"`).
//! The RPM channel takes the same keys (with the same types: a key two
//! kinds share is read with the type of the first), plus `release`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The Debian package's own keys.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DebConfig {
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
}

/// Maintainer scripts, by their Debian names (rpm: `%pre`, `%post`,
/// `%preun`, `%postun`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Scripts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preinst: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postinst: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prerm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postrm: Option<String>,
}

impl Scripts {
    /// (Debian name, project file) of each one set, in run order.
    pub fn set(&self) -> Vec<(&'static str, &str)> {
        [
            ("preinst", &self.preinst),
            ("postinst", &self.postinst),
            ("prerm", &self.prerm),
            ("postrm", &self.postrm),
        ]
        .into_iter()
        .filter_map(|(name, v)| v.as_deref().map(|v| (name, v)))
        .collect()
    }
}
