//! The channel kinds matrix knows, one line each in [`PACKAGERS`]: the
//! name `kind = "..."` picks it by, the folder under dist/ it writes, the
//! operating systems it ships, its config keys and the functions that
//! check, plan and write it. Nothing outside a kind's own folder matches on
//! [`ChannelKind`]; it asks the registry.

use schemars::JsonSchema;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::PublishError;
use super::input::{ChannelInput, Package, Release};
use super::out::Out;
use crate::package::archive::Format;
use crate::package::manifest::Artifact;
use crate::target::Platform;

/// The registry's one list: each kind's variant (its name in lowercase is
/// `kind = "..."`), its folder under `packager/` and its config type. From
/// it come [`ChannelKind`], [`Settings`], [`PACKAGERS`] and the functions
/// that read a kind's keys and describe them in `matrix schema`.
macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident => $module:ident($config:ident, $step:ident),)*) => {
        /// What a channel renders.
        #[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
        #[serde(rename_all = "lowercase")]
        pub enum ChannelKind {
            $($(#[$doc])* $variant,)*
        }

        /// Every kind, in the order the README lists them.
        pub static PACKAGERS: &[Packager] = &[$(super::$module::PACKAGER,)*];

        /// A channel's own keys, by kind: `kind = "..."` in
        /// `[channels.<name>]` picks the variant, and each variant's type
        /// (its packager's config) takes its kind's keys only.
        // One per channel of a release: their sizes do not matter.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone, Serialize, JsonSchema)]
        #[serde(tag = "kind", rename_all = "lowercase")]
        pub enum Settings {
            $($variant(super::$module::$config),)*
        }

        impl Settings {
            pub fn kind(&self) -> ChannelKind {
                match self {
                    $(Settings::$variant(_) => ChannelKind::$variant,)*
                }
            }

            /// Its plan step: defaults and output names decided now.
            pub fn plan(&self, cx: &PlanInput) -> Step {
                match self {
                    $(Settings::$variant(c) => Step::$variant(super::$module::plan(cx, c)),)*
                }
            }

            /// Its kind's checks of the config, before any target is chosen.
            pub fn check(&self, cx: &PlanInput) -> Result<(), Problem> {
                match self {
                    $(Settings::$variant(c) => super::$module::check(cx, c),)*
                }
            }

            /// Its kind's checks of the download URLs of the targets it
            /// ships.
            pub fn check_urls(&self, cx: &PlanInput, urls: &[&str]) -> Result<(), Problem> {
                match self {
                    $(Settings::$variant(c) => super::$module::check_urls(cx, c, urls),)*
                }
            }

            /// A kind's config from a table of keys it owns (serde refuses
            /// any other).
            pub fn read(kind: ChannelKind, table: toml::Table) -> Result<Settings, toml::de::Error> {
                match kind {
                    $(ChannelKind::$variant => toml::Value::Table(table).try_into().map(Settings::$variant),)*
                }
            }
        }

        /// A channel's planned work, by kind: what its packager's `write`
        /// renders and builds.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone, Serialize)]
        #[serde(tag = "kind", rename_all = "lowercase")]
        pub enum Step {
            $($variant(super::$module::$step),)*
        }

        impl Step {
            /// Renders (and builds) the channel's own files into dist/, and
            /// gives back their records: every file but the packages of a
            /// step that makes them per target ([`Step::per_target`]).
            pub fn write(
                &self,
                out: &Out,
                input: &ChannelInput,
            ) -> Result<Vec<Artifact>, PublishError> {
                match self {
                    $(Step::$variant(step) => super::$module::write(out, input, step),)*
                }
            }

            /// Whether it makes one package file per target, each built by
            /// a job of its own ([`Step::write_package`]).
            pub fn per_target(&self) -> bool {
                match self {
                    $(Step::$variant(step) => super::$module::per_target(step),)*
                }
            }

            /// Where in dist/ the package of one target goes (its kind's
            /// folder, then the file name its version and architecture
            /// make), or why it gets none.
            pub fn package_file(
                &self,
                release: &Release,
                package: &Package,
            ) -> Result<String, PublishError> {
                match self {
                    $(Step::$variant(step) => super::$module::package_file(release, package, step),)*
                }
            }

            /// Builds the package of one target into dist/ and gives back
            /// its record.
            pub fn write_package(
                &self,
                out: &Out,
                release: &Release,
                package: &Package,
            ) -> Result<Artifact, PublishError> {
                match self {
                    $(Step::$variant(step) => super::$module::write_package(out, release, package, step),)*
                }
            }
        }

        impl ChannelKind {
            /// Its own keys in `[channels.<name>]` (the serde fields of its
            /// config type), besides the keys every channel has.
            pub fn keys(self) -> &'static [&'static str] {
                match self {
                    $(ChannelKind::$variant => fields::<super::$module::$config>(),)*
                }
            }

            /// The JSON Schema of its config type.
            pub fn schema(self, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                match self {
                    $(ChannelKind::$variant => <super::$module::$config as JsonSchema>::json_schema(generator),)*
                }
            }

            /// Reads its key `key` from `value`, typed as its config types it
            /// (so a wrong value is an error at its own place in the file).
            pub fn read_key<'de, D: Deserializer<'de>>(
                self,
                key: &'static str,
                value: D,
            ) -> Result<toml::Value, D::Error> {
                match self {
                    $(ChannelKind::$variant => read_key::<super::$module::$config, D>(key, value),)*
                }
            }
        }
    };
}

kinds! {
    /// A Homebrew formula: dist/homebrew/<name>.rb.
    Homebrew => homebrew(HomebrewConfig, HomebrewStep),
    /// dist/snap/snapcraft.yaml and one .snap per Linux architecture.
    Snapcraft => snap(SnapConfig, SnapStep),
    /// dist/chocolatey/<id>.nuspec, tools/*.ps1 and the .nupkg.
    Chocolatey => chocolatey(ChocolateyConfig, ChocolateyStep),
    /// A Scoop manifest: dist/scoop/<name>.json.
    Scoop => scoop(ScoopConfig, ScoopStep),
    /// A POSIX sh installer: dist/shell/install.sh.
    Shell => shell(ShellConfig, ShellStep),
    /// One Debian package per Linux target: dist/deb/<name>_<version>_<arch>.deb.
    Deb => deb(DebConfig, DebStep),
    /// One RPM package per Linux target: dist/rpm/<name>-<version>-<release>.<arch>.rpm.
    Rpm => rpm(RpmConfig, RpmStep),
    /// One Windows Installer package per Windows target: dist/msi/<name>-<version>-<arch>.msi.
    Msi => msi(MsiConfig, MsiStep),
}

/// One channel kind: what the rest of matrix needs to know of it.
pub struct Packager {
    pub kind: ChannelKind,
    /// Its name in `kind = "..."` and in messages.
    pub name: &'static str,
    /// Its name in sentences ("one Chocolatey package").
    pub title: &'static str,
    /// The folder under dist/ its files go to.
    pub dir: &'static str,
    /// The operating systems it can ship, which is also its default `when`.
    pub oses: &'static [&'static str],
    /// The place in its package that a platform fills (two targets filling
    /// one would be ambiguous), or `None` when it cannot ship the platform.
    pub slot: fn(&Platform) -> Option<&'static str>,
    /// Why it cannot install an archive of this format, if it cannot.
    pub format_problem: fn(Format) -> Option<&'static str>,
    /// All its targets must share one archive format (one package
    /// installs them all the same way).
    pub one_format: bool,
    /// The archive format to suggest instead, in help texts.
    pub format_hint: &'static str,
    /// It ships a joined target (`[universal] darwin`: darwin/universal)
    /// in place of the thin targets it joins, when it ships them all.
    pub universal: bool,
    /// Its files tell users (or snapcraft, or install.sh) where to download
    /// the archives, so the channel needs a download URL; a package that
    /// carries the binary itself (deb, rpm, msi) does not.
    pub needs_url: bool,
    /// `Some(programs)`: it builds packages, one per target in package
    /// jobs worth keeping in the action cache, with these programs (their
    /// identity is in each job's key); `None`: it renders small text files
    /// and always runs.
    pub cache_tools: Option<&'static [&'static str]>,
}

impl ChannelKind {
    /// Its line in the registry.
    pub fn packager(self) -> &'static Packager {
        PACKAGERS
            .iter()
            .find(|p| p.kind == self)
            .expect("every kind has a line in PACKAGERS")
    }

    pub fn name(self) -> &'static str {
        self.packager().name
    }

    /// The folder under dist/ its files go to.
    pub fn dir(self) -> &'static str {
        self.packager().dir
    }

    /// Whether its files carry the archives' download URLs.
    pub fn needs_url(self) -> bool {
        self.packager().needs_url
    }

    /// The operating systems it can ship, which is also its default `when`.
    pub fn oses(self) -> &'static [&'static str] {
        self.packager().oses
    }

    /// Whether targets `a` and `b` of one platform are a glibc and a musl
    /// build it ships side by side (install.sh picks one where it runs);
    /// for the other kinds one platform is one place.
    pub fn libc_apart(self, a: &str, b: &str) -> bool {
        self == ChannelKind::Shell && super::shell::libc_apart(a, b)
    }
}

/// What a kind's `plan` sees of the release, besides its own config.
pub struct PlanInput<'a> {
    /// The channel's name in `[channels.<name>]`.
    pub channel: &'a str,
    /// `[project]` name, description and homepage.
    pub project: &'a str,
    pub description: &'a str,
    pub homepage: &'a str,
    /// The channel's `name`: the package's name or id, if set.
    pub name: Option<&'a str>,
    /// `[project] license`.
    pub license: &'a str,
    /// The release's version, and whether it is neither a snapshot nor a
    /// prerelease.
    pub version: &'a str,
    pub stable: bool,
    /// The release's checksums file name.
    pub checksums: String,
    /// A path of matrix.toml (a template), resolved against its folder.
    pub path: &'a dyn Fn(&str) -> std::path::PathBuf,
}

impl PlanInput<'_> {
    /// The package name: the channel's `name`, else the project's.
    pub fn package(&self) -> &str {
        self.name.unwrap_or(self.project)
    }
}

/// Why a kind refuses a channel's config, and where in matrix.toml.
#[derive(Debug)]
pub struct Problem {
    pub at: At,
    pub message: String,
    pub help: Option<String>,
}

/// A place in matrix.toml a [`Problem`] points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The channel's table, or one of its keys.
    Channel(Option<&'static str>),
    /// A key of one of the channel's tables (`apt.suite`).
    ChannelKey(&'static str, &'static str),
    /// `[project]`, or one of its keys.
    Project(Option<&'static str>),
}

/// The check of a kind that has nothing to check.
pub fn no_check<C>(_: &PlanInput, _: &C) -> Result<(), Problem> {
    Ok(())
}

/// The `per_target` of a kind whose files are all the channel's own.
pub fn no_packages<S>(_: &S) -> bool {
    false
}

/// The `write_package` of a kind that builds no package per target; never
/// called, as its channels have no package jobs.
pub fn no_package<S>(
    out: &Out,
    _: &Release,
    package: &Package,
    _: &S,
) -> Result<Artifact, PublishError> {
    Err(PublishError::Invalid {
        channel: out.channel.to_string(),
        message: format!(
            "it builds no package per target, so none for {}",
            package.target
        ),
        help: None,
    })
}

/// The `package_file` of a kind that builds no package per target.
pub fn no_package_file<S>(_: &Release, package: &Package, _: &S) -> Result<String, PublishError> {
    Err(PublishError::Invalid {
        channel: String::new(),
        message: format!(
            "it builds no package per target, so none for {}",
            package.target
        ),
        help: None,
    })
}

/// The URL check of a kind that has nothing to check.
pub fn no_url_check<C>(_: &PlanInput, _: &C, _: &[&str]) -> Result<(), Problem> {
    Ok(())
}

/// The fields of a serde struct, as its derived `Deserialize` names them
/// (asked of it by a deserializer that only listens).
pub fn fields<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    struct Listen(Option<&'static [&'static str]>);
    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }
    impl<'de> serde::Deserializer<'de> for &mut Listen {
        type Error = Stop;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0 = Some(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut listen = Listen(None);
    let _ = T::deserialize(&mut listen);
    listen.0.unwrap_or(&[])
}

/// Reads the one key `key` of a `T` from `value`, and gives back its value.
pub fn read_key<'de, T, D>(key: &'static str, value: D) -> Result<toml::Value, D::Error>
where
    T: Deserialize<'de> + Serialize,
    D: Deserializer<'de>,
{
    let partial = T::deserialize(OneKey {
        key: Some(key),
        value: Some(value),
    })?;
    let table = toml::Value::try_from(&partial).map_err(de::Error::custom)?;
    table
        .get(key)
        .cloned()
        .ok_or_else(|| de::Error::missing_field(key))
}

/// A table of one key whose value is still in the document.
struct OneKey<D> {
    key: Option<&'static str>,
    value: Option<D>,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for OneKey<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, D: Deserializer<'de>> MapAccess<'de> for OneKey<D> {
    type Error = D::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, D::Error> {
        match self.key.take() {
            Some(key) => seed
                .deserialize(de::value::BorrowedStrDeserializer::new(key))
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, D::Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("no value"))?;
        seed.deserialize(value)
    }
}
