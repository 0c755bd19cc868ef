//! `[channels.<name>]` keys of a Debian package channel (`kind = "deb"`).
//! The RPM channel takes the same keys, but `apt`, plus `release`: both
//! config types come from one list of the keys they share
//! ([`with_shared_keys`]), each its own serde struct so an unknown key is
//! still serde's error at its line and column.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Hands the keys deb and rpm share (doc, name, type; every one optional)
/// to `$then!`, after `$head`: the one list of them.
macro_rules! with_shared_keys {
    ($then:ident! { $($head:tt)* }) => {
        $then! { $($head)* ;
            /// deb and rpm: who maintains the package, `Name <email>` (deb:
            /// required; rpm: `Packager`).
            maintainer: Option<String>,
            /// One-line summary (default: `[project] description`).
            summary: Option<String>,
            /// deb and rpm: the long description, paragraphs separated by an
            /// empty line (default: none for deb, the summary for rpm).
            description: Option<String>,
            /// deb and rpm: the license (default: `[project] license`).
            license: Option<String>,
            /// deb and rpm: the homepage (default: `[project] homepage`).
            homepage: Option<String>,
            /// deb and rpm: the version's epoch (`1:1.2.3`), if any.
            epoch: Option<u32>,
            /// deb: the archive section (default `utils`); rpm: `Group`.
            section: Option<String>,
            /// deb and rpm: packages it needs, Debian syntax: `libc6 (>= 2.36)`,
            /// `a | b` (deb only).
            depends: Option<Vec<String>>,
            /// deb and rpm: packages it recommends (same syntax).
            recommends: Option<Vec<String>>,
            /// deb and rpm: packages it cannot be installed with (same syntax).
            conflicts: Option<Vec<String>>,
            /// deb and rpm: virtual packages it provides (same syntax, `=` only).
            provides: Option<Vec<String>>,
            /// deb and rpm: the folder the binary is installed in (default
            /// `/usr/bin`).
            bin_dir: Option<String>,
            /// deb and rpm: more files, installed path → project file, e.g.
            /// `"/usr/share/man/man1/hello.1" = "man/hello.1"` (man pages are
            /// gzipped).
            files: Option<BTreeMap<String, String>>,
            /// deb and rpm: configuration files under /etc, installed path →
            /// project file (deb conffiles, rpm `%config(noreplace)`).
            config_files: Option<BTreeMap<String, String>>,
            /// deb and rpm: maintainer scripts from project files.
            scripts: Option<Scripts>,
        }
    };
}
pub(crate) use with_shared_keys;

/// A deb or rpm config type `$name`: the shared keys, then its own
/// (`$extra`), kebab-case, every unknown key refused; and its
/// [`LinuxConfig`], the keys that `common` checks and plans.
macro_rules! linux_config {
    (
        $(#[$doc:meta])* $name:ident { $($(#[$edoc:meta])* $extra:ident: $ety:ty,)* };
        $($(#[$sdoc:meta])* $field:ident: $ty:ty,)*
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub struct $name {
            $(
                $(#[$sdoc])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: $ty,
            )*
            $(
                $(#[$edoc])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $extra: $ety,
            )*
        }

        impl $name {
            /// The keys deb and rpm share.
            pub fn shared(&self) -> $crate::packager::deb::LinuxConfig {
                $crate::packager::deb::LinuxConfig {
                    $($field: self.$field.clone(),)*
                }
            }
        }
    };
}
pub(crate) use linux_config;

with_shared_keys!(linux_config! {
    /// The keys deb and rpm share, as `common` reads them.
    LinuxConfig {}
});

with_shared_keys!(linux_config! {
    /// The Debian package's own keys.
    DebConfig {
        /// deb: the defaults of `matrix publish --layout apt` (its
        /// `--apt-*` flags override them).
        apt: Option<AptConfig>,
    }
});

/// `apt = { suite, component, origin, label }` of a deb channel: where
/// `matrix publish --layout apt` puts the packages, and the Release
/// file's Origin and Label.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AptConfig {
    /// The suite, `dists/<suite>/` (default `stable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    /// The component, `pool/<component>/` (default `main`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Release's Origin field (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Release's Label field (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl AptConfig {
    /// Each value set, by its key, in order.
    pub fn set(&self) -> Vec<(&'static str, &str)> {
        [
            ("suite", &self.suite),
            ("component", &self.component),
            ("origin", &self.origin),
            ("label", &self.label),
        ]
        .into_iter()
        .filter_map(|(key, v)| v.as_deref().map(|v| (key, v)))
        .collect()
    }

    /// The first value apt cannot take: its key, the value, what is
    /// allowed.
    pub fn problem(&self) -> Option<(&'static str, &str, &'static str)> {
        self.set()
            .into_iter()
            .find_map(|(key, v)| apt_value_problem(key, v).map(|allowed| (key, v, allowed)))
    }

    /// Each value of `self`, else of `fallback`.
    pub fn or(&self, fallback: &AptConfig) -> AptConfig {
        let pick = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());
        AptConfig {
            suite: pick(&self.suite, &fallback.suite),
            component: pick(&self.component, &fallback.component),
            origin: pick(&self.origin, &fallback.origin),
            label: pick(&self.label, &fallback.label),
        }
    }
}

/// What apt allows as the value of `key` (`suite`, `component`: a folder
/// name; `origin`, `label`: one line of Release), if `value` is not that.
pub fn apt_value_problem(key: &str, value: &str) -> Option<&'static str> {
    let ok = match key {
        "suite" | "component" => {
            !value.is_empty()
                && value.len() <= 64
                && value.as_bytes()[0].is_ascii_alphanumeric()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        _ => value.len() <= 256 && !value.chars().any(char::is_control),
    };
    match (ok, key) {
        (true, _) => None,
        (false, "suite" | "component") => Some(
            "1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit (e.g. stable, main)",
        ),
        (false, _) => Some("one line of at most 256 characters"),
    }
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
