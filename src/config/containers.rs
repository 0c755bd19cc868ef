//! The container parts of `matrix.toml`: `[container]` (how build jobs run
//! in containers), `[builders.<name>]` (builder images matrix builds once per
//! run) and `[images]` (the release's own container images, a matrix of
//! their own).
//!
//! Part of the first stage of the flow (config). Like the rest of the config
//! these are plain serde types; `plan` renders their templates and reports
//! problems at the key they came from.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::When;

/// Which program runs containers.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Docker,
    Podman,
}

impl EngineKind {
    pub fn program(self) -> &'static str {
        match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        }
    }

    pub fn parse(name: &str) -> Option<EngineKind> {
        match name {
            "docker" => Some(EngineKind::Docker),
            "podman" => Some(EngineKind::Podman),
            _ => None,
        }
    }
}

/// Network access of a container job.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// The engine's default network.
    #[default]
    Default,
    /// No network at all (`--network none`).
    None,
}

/// `[container]`: settings shared by every containerised build job.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Container {
    /// `docker` or `podman`. Default: `MATRIX_CONTAINER_ENGINE`, else
    /// whichever of docker and podman is on PATH (docker first).
    #[serde(default)]
    pub engine: Option<EngineKind>,
    /// Most containers running at once (default: the `-j` job limit);
    /// `--container-jobs` overrides it.
    #[serde(default)]
    pub jobs: Option<usize>,
    /// `default` (the engine's network) or `none`.
    #[serde(default)]
    pub network: Network,
    /// Names of host environment variables passed into every container.
    #[serde(default)]
    pub pass_env: Vec<String>,
    /// Cache folders that survive runs: name -> path inside the container,
    /// e.g. `{ go = "/cache/go" }`. The host side lives in matrix's cache
    /// folder, one per project and name.
    #[serde(default)]
    pub caches: IndexMap<String, String>,
}

/// `[builders.<name>]`: a builder image made from a Dockerfile, built once
/// per run and tagged by a hash of its inputs so an unchanged builder is
/// never rebuilt.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Builder {
    /// Path of the Dockerfile, relative to matrix.toml's folder.
    pub dockerfile: String,
    /// Build context folder (default: the Dockerfile's folder).
    #[serde(default)]
    pub context: Option<String>,
    /// Build arguments (values are templates, e.g. `{{ env.BASE }}`).
    #[serde(default)]
    pub args: IndexMap<String, String>,
}

/// Whether matrix assembles COPY-only images itself.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NativeMode {
    /// Natively when the Dockerfile allows it (FROM scratch, no RUN), else
    /// with the engine.
    #[default]
    Auto,
    /// Always natively; a Dockerfile that needs an engine is an error.
    Always,
    /// Always with the engine.
    Never,
}

/// `[images]`: container images of the release, one per combination of
/// their own axes (at least `distro` and `platform`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Images {
    /// Image repositories (templates), e.g. `["ghcr.io/o/hello"]`; every
    /// tag is given to each.
    pub repositories: Vec<String>,
    /// The image axes: `platform` (OCI platforms such as `linux/arm64`),
    /// `distro`, any others, plus `include`/`exclude` as in `[matrix]`.
    #[schemars(schema_with = "super::matrix_schema")]
    pub matrix: super::axes::MatrixTable,
    /// Dockerfile per image (template), e.g. `docker/{{ distro }}.Dockerfile`.
    pub dockerfile: String,
    /// Tags (templates). Default: `{{ version }}-{{ distro }}`, or
    /// `{{ version }}` when there is no `distro` axis.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Tags that move from release to release, e.g. `latest-{{ distro }}`;
    /// never given to snapshots or prereleases.
    #[serde(default)]
    pub floating_tags: Vec<String>,
    /// The distro that also gets the bare `{{ version }}` tag (and `latest`
    /// for a final release).
    #[serde(default)]
    pub default_distro: Option<String>,
    /// Build arguments (templates) besides the ones matrix passes
    /// (VERSION, COMMIT, TARGETOS, TARGETARCH, TARGETVARIANT, TARGETPLATFORM).
    #[serde(default)]
    pub args: IndexMap<String, String>,
    /// Extra labels (templates) besides the org.opencontainers.image ones.
    #[serde(default)]
    pub labels: IndexMap<String, String>,
    /// Picks the binary target for a platform when several match its os
    /// and arch, e.g. `{ libc = "musl" }`.
    #[serde(default)]
    pub binary_from: Option<When>,
    /// More files for the build context: globs relative to matrix.toml's
    /// folder (the binary is always there, under its own name).
    #[serde(default)]
    pub context_files: Vec<String>,
    /// `auto` (default), `always` or `never`: assemble COPY-only images
    /// without an engine.
    #[serde(default)]
    pub native: NativeMode,
}

/// Checks of the container keys that need nothing but the file.
pub(super) fn check(
    config: &super::Config,
    source: &super::Source,
) -> Result<(), super::ConfigError> {
    use super::KeyPath;
    let build = &config.build;
    let mut uses = vec![(
        build.container.as_deref(),
        build.builder.as_deref(),
        KeyPath::parse("build"),
    )];
    for (i, o) in build.overrides.iter().enumerate() {
        uses.push((
            o.container.as_deref(),
            o.builder.as_deref(),
            KeyPath::parse("build.overrides").index(i),
        ));
    }
    for (container, builder, at) in uses {
        if let (Some(_), Some(_)) = (container, builder) {
            return Err(source.error_at(
                &at.clone().key("builder"),
                "`container` and `builder` both name an image",
                Some("keep one: `container` for an image, `builder` for a [builders.<name>] Dockerfile".into()),
            ));
        }
        if let Some(name) = builder
            && !config.builders.contains_key(name)
        {
            let known: Vec<&str> = config.builders.keys().map(String::as_str).collect();
            return Err(source.error_at(
                &at.key("builder"),
                format!("there is no [builders.{name}]"),
                Some(if known.is_empty() {
                    format!("add [builders.{name}] with dockerfile = \"docker/<file>\"")
                } else {
                    format!("the builders are: {}", known.join(", "))
                }),
            ));
        }
    }
    for name in config.builders.keys() {
        if !is_name(name) {
            return Err(source.error_at(
                &KeyPath::parse("builders").key(name),
                format!("invalid builder name {name:?}"),
                Some("use lowercase letters, digits, '.', '_' and '-'".into()),
            ));
        }
    }
    let c = &config.container;
    for (i, name) in c.pass_env.iter().enumerate() {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(source.error_at(
                &KeyPath::parse("container.pass-env").index(i),
                format!("invalid environment variable name {name:?}"),
                Some("give the name only, e.g. \"GOPROXY\"; set values in [build] env".into()),
            ));
        }
    }
    for (name, path) in &c.caches {
        let at = KeyPath::parse("container.caches").key(name);
        if !is_name(name) {
            return Err(source.error_at(
                &at,
                format!("invalid cache name {name:?}"),
                Some("use lowercase letters, digits, '.', '_' and '-'".into()),
            ));
        }
        if !path.starts_with('/') {
            return Err(source.error_at(
                &at,
                format!("cache path {path:?} is not absolute"),
                Some("give the path inside the container, e.g. \"/cache/go\"".into()),
            ));
        }
    }
    if c.jobs == Some(0) {
        return Err(source.error_at(
            &KeyPath::parse("container.jobs"),
            "container.jobs must be at least 1",
            None,
        ));
    }
    Ok(())
}

/// Names that are safe in image tags, file names and container names.
pub fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        && !name.starts_with(['.', '-'])
}
