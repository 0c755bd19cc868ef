//! `matrix.toml`: the serde types, loading, and the checks that need nothing
//! but the file itself.
//!
//! First stage of the flow (config -> matrix -> plan -> exec). The same types
//! generate the JSON Schema printed by `matrix schema`, so the schema can never
//! drift from what is parsed. Keys are kebab-case and unknown keys are errors.
//! Checks that need the expanded matrix (unknown `when` keys, templates,
//! duplicate artifact names) live in `plan`, which reports them through
//! [`Source`] so they still point at a line and column.

pub mod axes;
pub mod cache;
pub mod channels;
pub mod ci;
pub mod command;
pub mod containers;
pub mod excerpt;
pub mod kinds;
pub mod limits;
mod read;
pub mod source;
pub mod universal;
pub mod values;
pub mod version;

use std::path::Path;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

pub use axes::MatrixTable;
pub use cache::CacheConfig;
pub use channels::{Channel, ChannelKind, Confinement, Grade, Release};
pub use ci::CiConfig;
pub use containers::{Builder, Container, EngineKind, Images, NativeMode, Network};
pub use limits::{Limit, Limits};
pub use read::MAX_CONFIG_BYTES;
pub use source::{ConfigError, ConfigErrorDetail, KeyPath, Seg, Source};
pub use universal::Universal;
pub use values::{Epoch, Timeout, parse_duration};
pub use version::{VersionConfig, VersionScheme, parse_date};

pub use crate::package::archive::Format;
pub use crate::package::checksum::Algorithm;
pub use kinds::Preset;

/// The whole release description.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(
    title = "matrix.toml",
    description = "A release described for `matrix build`."
)]
pub struct Config {
    pub project: Project,
    /// The target matrix: every key other than `include`/`exclude` is an axis.
    #[schemars(schema_with = "matrix_schema")]
    pub matrix: MatrixTable,
    pub build: Build,
    #[serde(default)]
    pub archive: Archive,
    #[serde(default)]
    pub checksum: Checksum,
    /// How containerised build jobs run.
    #[serde(default)]
    pub container: Container,
    /// Builder images, built from Dockerfiles once per run.
    #[serde(default)]
    pub builders: IndexMap<String, Builder>,
    /// The release's container images.
    #[serde(default)]
    pub images: Option<Images>,
    /// Download URLs and release notes.
    #[serde(default)]
    pub release: Release,
    /// Homebrew, Snapcraft, Chocolatey and Scoop inputs.
    #[serde(default)]
    pub channels: IndexMap<String, Channel>,
    /// How versions are made.
    #[serde(default)]
    pub version: VersionConfig,
    /// How much work `matrix plan` may do (raise a limit a release outgrows).
    #[serde(default)]
    pub limits: Limits,
    /// An SBOM per archive (CycloneDX and SPDX); absent, none is written.
    #[serde(default)]
    pub sbom: Option<crate::packager::sbom::SbomConfig>,
    /// Detached signatures of the checksums file (or every artifact).
    #[serde(default)]
    pub sign: Option<crate::packager::sign::SignConfig>,
    /// What the CI files `matrix ci` writes add (GitHub's attestations).
    #[serde(default)]
    pub ci: CiConfig,
    /// Binaries joined across architectures (a universal macOS binary).
    #[serde(default)]
    pub universal: Option<Universal>,
    /// The action cache: unchanged builds are restored, not run.
    #[serde(default)]
    pub cache: Option<CacheConfig>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Project {
    /// Name used in artifact names; letters, digits, `.`, `_` and `-`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub homepage: String,
    /// SPDX license expression, e.g. `Apache-2.0`.
    #[serde(default)]
    pub license: String,
}

/// A command: one string split like a shell splits words (but never run by
/// a shell unless `shell = true`), or an explicit argument vector.
#[derive(Debug, Clone, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(untagged)]
pub enum Command {
    Line(String),
    Argv(Vec<String>),
}

/// Which targets a rule applies to: every key must match (values are one
/// value or a list of allowed values).
pub type When = IndexMap<String, OneOrMany>;

#[derive(Debug, Clone, Deserialize, serde::Serialize, JsonSchema, PartialEq, Eq)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn values(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(v) => vec![v.as_str()],
            OneOrMany::Many(vs) => vs.iter().map(String::as_str).collect(),
        }
    }

    /// Whether `value` is one of the values. Called for every target and
    /// every override, so it allocates nothing.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            OneOrMany::One(v) => v == value,
            OneOrMany::Many(vs) => vs.iter().any(|v| v == value),
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Build {
    /// A toolchain preset that fills in the command and environment per
    /// target (your own `command` and `env` entries always win).
    #[serde(default)]
    pub preset: Option<Preset>,
    /// The build command (templated). Run in `dir` with the environment
    /// below. Required unless the preset provides one (go, cargo, cargo-zigbuild).
    #[serde(default)]
    pub command: Option<Command>,
    /// Run `command` through `sh -c` instead of as an argument vector.
    #[serde(default)]
    pub shell: bool,
    /// Extra environment for the command (values are templates).
    #[serde(default)]
    pub env: IndexMap<String, String>,
    /// Extra arguments appended to the command (templates).
    #[serde(default)]
    pub flags: Vec<String>,
    /// File name of the built binary in `{{ out }}`; `.exe` is added on Windows.
    pub binary: String,
    /// Working directory, relative to matrix.toml's folder.
    #[serde(default)]
    pub dir: Option<String>,
    /// Kill the job after this long, e.g. `10m`, `90s`.
    #[serde(default)]
    pub timeout: Option<Timeout>,
    /// Where the build leaves the binary (template); default
    /// `{{ out }}/{{ bin }}` (the cargo presets know their own).
    #[serde(default)]
    pub artifact: Option<String>,
    /// Check each binary's format, CPU and OS against its target (default
    /// true); turn off for artifacts that are not executables.
    #[serde(default = "yes")]
    pub verify: bool,
    /// Arguments for `matrix build --smoke`: each Linux binary is run with
    /// them (natively or under qemu-user) and must exit 0, e.g. ["--version"].
    #[serde(default)]
    pub smoke: Option<Vec<String>>,
    /// Run the command in a container of this image (the source read-only,
    /// `{{ out }}` writable, as your own uid:gid).
    #[serde(default)]
    pub container: Option<String>,
    /// Run the command in a container of this `[builders.<name>]` image.
    #[serde(default)]
    pub builder: Option<String>,
    /// Keep the build and archive jobs in the action cache (default true);
    /// `false`: they always run and are never stored.
    #[serde(default = "yes")]
    pub cache: bool,
    /// Per-target changes, applied in order: `preset`, `command`, `shell`,
    /// `flags`, `binary`, `artifact`, `timeout`, `container`, `builder` and
    /// `cache` replace, `env` entries are merged. An empty `container` runs
    /// the target on the host.
    #[serde(default)]
    pub overrides: Vec<BuildOverride>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BuildOverride {
    pub when: When,
    #[serde(default)]
    pub preset: Option<Preset>,
    #[serde(default)]
    pub command: Option<Command>,
    #[serde(default)]
    pub shell: Option<bool>,
    #[serde(default)]
    pub env: IndexMap<String, String>,
    #[serde(default)]
    pub flags: Option<Vec<String>>,
    #[serde(default)]
    pub binary: Option<String>,
    #[serde(default)]
    pub artifact: Option<String>,
    #[serde(default)]
    pub timeout: Option<Timeout>,
    #[serde(default)]
    pub container: Option<String>,
    #[serde(default)]
    pub builder: Option<String>,
    #[serde(default)]
    pub cache: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Archive {
    /// Archive file name without extension (template).
    #[serde(default = "default_archive_name")]
    pub name: String,
    #[serde(default = "default_format")]
    pub format: Format,
    #[serde(default)]
    pub format_overrides: Vec<FormatOverride>,
    /// Extra files: globs relative to matrix.toml's folder, optionally with a
    /// destination folder inside the archive.
    #[serde(default)]
    pub files: Vec<FileEntry>,
    /// Put everything under one top-level folder: `true` uses the archive
    /// name, a string is a template for the folder name.
    #[serde(default)]
    pub wrap_in_directory: Wrap,
    /// zstd level of tar.zst archives, 1 (fastest) to 19 (smallest);
    /// unset means zstd's own default, 3.
    #[serde(default)]
    pub zstd_level: Option<i64>,
}

impl Default for Archive {
    fn default() -> Self {
        Archive {
            name: default_archive_name(),
            format: default_format(),
            format_overrides: Vec::new(),
            files: Vec::new(),
            wrap_in_directory: Wrap::default(),
            zstd_level: None,
        }
    }
}

impl Archive {
    /// The zstd level of tar.zst archives (the range is checked at load).
    pub fn zstd_level(&self) -> i32 {
        self.zstd_level
            .and_then(|l| i32::try_from(l).ok())
            .unwrap_or(crate::package::archive::ZSTD_DEFAULT_LEVEL)
    }
}

fn default_archive_name() -> String {
    "{{ project }}_{{ version }}_{{ target_slug }}".to_string()
}

fn default_format() -> Format {
    Format::TarGz
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FormatOverride {
    pub when: When,
    pub format: Format,
}

#[derive(Debug, Clone, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(untagged)]
pub enum FileEntry {
    Glob(String),
    #[serde(rename_all = "kebab-case")]
    Mapped {
        src: String,
        dst: String,
    },
}

#[derive(Debug, Clone, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(untagged)]
pub enum Wrap {
    Enabled(bool),
    Named(String),
}

impl Default for Wrap {
    fn default() -> Self {
        Wrap::Enabled(false)
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Checksum {
    #[serde(default)]
    pub algorithm: Algorithm,
    /// File name of the checksums file (template).
    #[serde(default = "default_checksum_name")]
    pub name: String,
}

impl Default for Checksum {
    fn default() -> Self {
        Checksum {
            algorithm: Algorithm::default(),
            name: default_checksum_name(),
        }
    }
}

fn default_checksum_name() -> String {
    "{{ project }}_{{ version }}_checksums.txt".to_string()
}

fn matrix_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "description": "Axes (arrays of values) plus optional `include` and `exclude` lists with GitHub Actions strategy.matrix semantics.",
        "properties": {
            "include": {
                "type": "array",
                "items": { "type": "object", "additionalProperties": { "type": ["string", "integer", "boolean"] } }
            },
            "exclude": {
                "type": "array",
                "items": { "type": "object", "additionalProperties": {
                    "anyOf": [
                        { "type": ["string", "integer", "boolean"] },
                        { "type": "array", "items": { "type": ["string", "integer", "boolean"] } }
                    ]
                } }
            }
        },
        "additionalProperties": { "type": "array", "items": { "type": ["string", "integer", "boolean"] } }
    })
}

/// A parsed config together with its text, for errors found later.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub source: Source,
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoadError {
    #[error("cannot read {path}")]
    #[diagnostic(
        code(matrix::config::read),
        help("pass the file with -c/--config, or run matrix in the folder that holds matrix.toml")
    )]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is {size} bytes; a matrix.toml may be at most {limit} bytes")]
    #[diagnostic(
        code(matrix::config::too_large),
        help(
            "check that -c/--config names the release description; a real one is a few kilobytes"
        )
    )]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("{path} is not a regular file")]
    #[diagnostic(
        code(matrix::config::not_a_file),
        help("pass the matrix.toml file itself with -c/--config")
    )]
    NotAFile { path: String },
    #[error("{path}:{line}:{column}: the file is not UTF-8 text")]
    #[diagnostic(
        code(matrix::config::not_utf8),
        help("save matrix.toml as UTF-8; TOML files must be UTF-8")
    )]
    NotUtf8 {
        path: String,
        line: usize,
        column: usize,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(#[from] ConfigError),
}

/// Reads and parses `path`, then checks what can be checked without the
/// expanded matrix.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    parse(path, read::read(path)?)
}

/// Parses config text (exposed for tests and `matrix schema` round trips).
pub fn parse(path: &Path, text: String) -> Result<Loaded, LoadError> {
    let source = Source::new(path, text);
    let mut config: Config = toml::from_str(&source.text).map_err(|e| {
        let (message, help) = explain_toml_error(e.message());
        // The lines shown never show a password (one in a tap's url is
        // refused, and must not reach a CI log on the way).
        let source = Source::new(path, crate::packager::tap::mask_passwords(&source.text));
        if let Some(located) = values::located(&message, e.span(), &source) {
            return located;
        }
        source.error_span(e.span(), message, help, "here".to_string())
    })?;
    check(&config, &source)?;
    resolve_matrices(&mut config, &source)?;
    Ok(Loaded { config, source })
}

/// `[archive] zstd-level` within zstd's normal levels.
fn check_zstd_level(archive: &Archive, source: &Source) -> Result<(), ConfigError> {
    use crate::package::archive::{ZSTD_DEFAULT_LEVEL, ZSTD_LEVELS};
    match archive.zstd_level {
        Some(level) if !ZSTD_LEVELS.contains(&level) => Err(source.error_at(
            &KeyPath::parse("archive.zstd-level"),
            format!("zstd level {level} is out of range"),
            Some(format!(
                "use {} (fastest) to {} (smallest); leave it out for {ZSTD_DEFAULT_LEVEL}",
                ZSTD_LEVELS.start(),
                ZSTD_LEVELS.end()
            )),
        )),
        _ => Ok(()),
    }
}

/// Rewrites serde's messages into ones that say what is allowed.
fn explain_toml_error(message: &str) -> (String, Option<String>) {
    let message = message.trim().to_string();
    let help = if message.contains("unknown field") {
        Some("remove the key or fix its spelling; `matrix schema` prints every allowed key".into())
    } else if message.contains("unknown variant") {
        Some("use one of the values listed above".into())
    } else if message.contains("did not match any variant of untagged enum Command") {
        return (
            "`command` must be a string or an array of strings".into(),
            Some("e.g. command = \"go build -o {{ out }}/{{ bin }} .\"".into()),
        );
    } else if message.contains("missing field") {
        Some("add the key; `matrix schema` describes each one".into())
    } else {
        None
    };
    (message, help)
}

/// Checks of single values: names, non-empty commands (durations and
/// dates are checked as they are deserialised, see [`values`]).
fn check(config: &Config, source: &Source) -> Result<(), ConfigError> {
    let name = &config.project.name;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(source.error_at(
            &KeyPath::parse("project.name"),
            format!("invalid project name {name:?}"),
            Some("use letters, digits, '.', '_' and '-' only".into()),
        ));
    }
    match (&config.build.command, config.build.preset) {
        (Some(command), _) => check_command(command, &KeyPath::parse("build.command"), source)?,
        (None, Some(_)) => {}
        (None, None) => {
            return Err(source.error_at(
                &KeyPath::parse("build"),
                "[build] needs a `command` or a `preset`",
                Some(
                    "e.g. command = \"make OUT={{ out }}/{{ bin }}\", or preset = \"go\" (go, cargo, cargo-zigbuild, gcc-cross, zig-cc)"
                        .into(),
                ),
            ));
        }
    }
    check_env(&config.build.env, &KeyPath::parse("build.env"), source)?;
    if config.build.dir.as_ref().is_some_and(|d| d.contains('\0')) {
        return Err(source.error_at(
            &KeyPath::parse("build.dir"),
            "the folder holds a NUL byte (\\u0000)",
            Some("a path ends at a NUL byte: remove it".into()),
        ));
    }
    check_flags(Some(&config.build.flags), &KeyPath::parse("build"), source)?;
    for (i, o) in config.build.overrides.iter().enumerate() {
        let at = KeyPath::parse("build.overrides").index(i);
        if let Some(command) = &o.command {
            check_command(command, &at.clone().key("command"), source)?;
        }
        check_env(&o.env, &at.clone().key("env"), source)?;
        check_flags(o.flags.as_ref(), &at, source)?;
    }
    containers::check(config, source)?;
    if let Some(sbom) = &config.sbom
        && let Err((at, message, help)) = crate::packager::sbom::check(sbom)
    {
        let mut key = KeyPath::parse("sbom.formats");
        if let Some(i) = at {
            key = key.index(i);
        }
        return Err(source.error_at(&key, message, Some(help)));
    }
    for (limit, value) in [
        (Limit::Targets, config.limits.max_targets),
        (Limit::TemplateFuel, config.limits.template_fuel),
        (Limit::TemplateOutput, config.limits.max_template_output),
        (Limit::OverrideChecks, config.limits.max_override_checks),
    ] {
        if value == 0 {
            return Err(source.error_at(
                &KeyPath::parse("limits").key(limit.key()),
                format!("`{}` must be at least 1", limit.key()),
                Some("leave the key out for the default, or raise it".into()),
            ));
        }
    }
    if let Some((message, help)) = config.ci.problem() {
        return Err(source.error_at(&KeyPath::parse("ci.repository"), message, Some(help)));
    }
    if let Some(sign) = &config.sign
        && let Some((key, message, help)) = sign.problem()
    {
        return Err(source.error_at(&KeyPath::parse("sign").key(key), message, Some(help)));
    }
    check_zstd_level(&config.archive, source)?;
    let binary = &config.build.binary;
    if binary.is_empty() || binary.contains(['/', '\\', '\0']) {
        return Err(source.error_at(
            &KeyPath::parse("build.binary"),
            format!("invalid binary name {binary:?}"),
            Some("give the file name the build writes into {{ out }}, without a folder".into()),
        ));
    }
    Ok(())
}

/// Types `[matrix]` and `[images.matrix]` (see [`axes`]), after the checks
/// above: the order in which a file's errors are found stays the order
/// they were found in when `plan` converted the tables.
fn resolve_matrices(config: &mut Config, source: &Source) -> Result<(), ConfigError> {
    config.matrix.resolve(&KeyPath::parse("matrix"), source)?;
    if let Some(images) = &mut config.images {
        images
            .matrix
            .resolve(&KeyPath::parse("images.matrix"), source)?;
    }
    Ok(())
}

/// What a process's arguments and environment cannot hold.
const NO_NUL: &str = "a program's arguments and environment end at a NUL byte: remove it";

/// `flags` (of `[build]` or an override at `at`): no word may hold a NUL.
fn check_flags(
    flags: Option<&Vec<String>>,
    at: &KeyPath,
    source: &Source,
) -> Result<(), ConfigError> {
    let nul = flags.into_iter().flatten().position(|f| f.contains('\0'));
    match nul {
        Some(i) => Err(source.error_at(
            &at.clone().key("flags").index(i),
            "the flag holds a NUL byte (\\u0000)",
            Some(NO_NUL.into()),
        )),
        None => Ok(()),
    }
}

/// A build's `env`: names a process environment can hold (not empty, no
/// `=`, no NUL: the job's supervisor could not set them, and `=` would
/// change which variable is set), values with no NUL.
fn check_env(
    env: &IndexMap<String, String>,
    at: &KeyPath,
    source: &Source,
) -> Result<(), ConfigError> {
    for (name, value) in env {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(source.error_at(
                &at.clone().key(name),
                format!("invalid environment variable name {name:?}"),
                Some("a name cannot be empty or hold '=' or a NUL byte, e.g. CGO_ENABLED".into()),
            ));
        }
        if value.contains('\0') {
            return Err(source.error_at(
                &at.clone().key(name),
                format!("the value of {name} holds a NUL byte (\\u0000)"),
                Some(NO_NUL.into()),
            ));
        }
    }
    Ok(())
}

fn check_command(command: &Command, at: &KeyPath, source: &Source) -> Result<(), ConfigError> {
    let empty = match command {
        Command::Line(line) => line.trim().is_empty(),
        Command::Argv(argv) => argv.is_empty() || argv[0].is_empty(),
    };
    if empty {
        return Err(source.error_at(at, "the command is empty", None));
    }
    let nul = match command {
        Command::Line(line) => line.contains('\0'),
        Command::Argv(argv) => argv.iter().any(|w| w.contains('\0')),
    };
    if nul {
        return Err(source.error_at(
            at,
            "the command holds a NUL byte (\\u0000)",
            Some(NO_NUL.into()),
        ));
    }
    if let Command::Line(line) = command
        && let Err(e) = command::split_command(line)
    {
        return Err(source.error_at(
            at,
            format!("cannot split the command into words: {e}"),
            Some("close every quote, or give the command as an array of arguments".into()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Loaded, LoadError> {
        parse(Path::new("matrix.toml"), text.to_string())
    }

    const MIN: &str = "[project]\nname = \"hello\"\n[matrix]\nos = [\"linux\"]\n[build]\ncommand = \"make\"\nbinary = \"hello\"\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let loaded = parse_str(MIN).unwrap();
        let c = loaded.config;
        assert_eq!(c.archive.format, Format::TarGz);
        assert_eq!(c.checksum.algorithm, Algorithm::Sha256);
        assert_eq!(c.checksum.name, "{{ project }}_{{ version }}_checksums.txt");
        assert_eq!(c.build.command, Some(Command::Line("make".into())));
        assert!(c.build.verify);
        assert_eq!(c.archive.zstd_level(), 3);
        let fast = parse_str(&format!("{MIN}[archive]\nzstd-level = 1\n")).unwrap();
        assert_eq!(fast.config.archive.zstd_level(), 1);
    }

    #[test]
    fn zstd_level_error_says_what_is_allowed() {
        let text = format!("{MIN}[archive]\nzstd-level = -5\n");
        let Err(LoadError::Invalid(err)) = parse_str(&text) else {
            panic!("-5 must be refused");
        };
        assert_eq!(
            (err.line, err.message.as_str()),
            (9, "zstd level -5 is out of range")
        );
        let help = err.help.clone().unwrap_or_default();
        assert!(help.contains("1 (fastest) to 19 (smallest)"), "{help}");
        assert!(help.contains("for 3"), "{help}");
    }

    #[test]
    fn errors_point_at_the_problem() {
        let cases = [
            (
                MIN.replace("binary", "binnary"),
                "unknown field `binnary`",
                7,
            ),
            (MIN.replace("\"make\"", "\"\""), "the command is empty", 6),
            (MIN.replace("\"make\"", "\"make 'x\""), "cannot split", 6),
            (
                MIN.replace("\"hello\"\n[matrix]", "\"he llo\"\n[matrix]"),
                "invalid project name",
                2,
            ),
            (
                format!("{MIN}timeout = \"10 parsecs\"\n"),
                "invalid duration",
                8,
            ),
            (
                format!("{MIN}[archive]\nformat = \"rar\"\n"),
                "unknown variant `rar`",
                9,
            ),
            (
                format!("{MIN}[archive]\nformat = \"tar.zst\"\nzstd-level = 20\n"),
                "zstd level 20 is out of range",
                10,
            ),
            (
                format!("{MIN}[archive]\nzstd-level = 0\n"),
                "zstd level 0 is out of range",
                9,
            ),
            (
                format!("{MIN}[archive]\nzstd-level = \"fast\"\n"),
                "invalid type",
                9,
            ),
            (
                format!("{MIN}env = {{ \"A=B\" = \"x\" }}\n"),
                "invalid environment variable name \"A=B\"",
                8,
            ),
            (
                format!("{MIN}env = {{ \"\" = \"x\" }}\n"),
                "invalid environment variable name \"\"",
                8,
            ),
            (
                format!("{MIN}env = {{ A = \"x\\u0000y\" }}\n"),
                "the value of A holds a NUL byte",
                8,
            ),
            (
                MIN.replace("\"make\"", "[\"make\", \"a\\u0000b\"]"),
                "the command holds a NUL byte",
                6,
            ),
            (
                format!("{MIN}dir = \"src\\u0000\"\n"),
                "the folder holds a NUL byte",
                8,
            ),
            (
                MIN.replace("binary = \"hello\"", "binary = \"he\\u0000llo\""),
                "invalid binary name",
                7,
            ),
            (
                format!("{MIN}flags = [\"-v\", \"\\u0000\"]\n"),
                "the flag holds a NUL byte",
                8,
            ),
            (
                format!(
                    "{MIN}[[build.overrides]]\nwhen = {{ os = \"linux\" }}\nenv = {{ \"X\\u0000\" = \"1\" }}\n"
                ),
                "invalid environment variable name",
                10,
            ),
        ];
        for (text, want, line) in cases {
            let err = match parse_str(&text) {
                Err(LoadError::Invalid(e)) => e,
                other => panic!("expected a config error for {want}, got {other:?}"),
            };
            assert!(
                err.message.contains(want),
                "{} does not contain {want}",
                err.message
            );
            assert_eq!(err.line, line, "{want}");
        }
    }
}
