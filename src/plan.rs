//! The plan: every job, command, path and name, decided before anything runs.
//!
//! Third stage of the flow (config -> matrix -> **plan** -> exec). [`build`] is
//! pure: given a loaded config, a version and the environment it returns the
//! same graph every time, in a defined order, without touching the disk.
//! Everything after it (exec, package, report) only consumes a [`Plan`];
//! `matrix plan` prints it.

mod axes;
mod cache;
pub mod channels;
pub mod containers;
pub mod images;
pub mod jobs;
mod names;
pub mod shard;
mod steps;
mod universal;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

use crate::config::{ConfigError, KeyPath, Loaded};
use crate::package::archive::Format;
use crate::package::checksum::{Algorithm, Hasher};
use crate::package::files::FileSpec;
use crate::preset::Preset;
use crate::target::Platform;
use crate::version::Version;

pub use jobs::{GraphError, Job, JobId, JobKind};

/// Version of the plan and manifest JSON formats.
pub const FORMAT_VERSION: u32 = 1;

/// Folder under dist/ where each target's build writes (`{{ out }}`).
pub const BUILD_DIR: &str = "build";
/// Folder under dist/ with one log per job.
pub const LOG_DIR: &str = "logs";
/// The manifest's file name in dist/ (the manifest's own, in `package`).
pub use crate::package::manifest::MANIFEST;
pub(crate) use cache::TARGET_DIR_DEPTH;

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub format_version: u32,
    pub project: Project,
    pub version: Version,
    /// sha256 of matrix.toml, so shards and merges can prove they share a plan.
    pub config_sha256: String,
    /// Folder holding matrix.toml; relative paths in the config start here.
    pub root: PathBuf,
    pub dist: PathBuf,
    pub targets: Vec<Target>,
    pub checksum: ChecksumStep,
    /// Container settings, when any build runs in a container or any image
    /// is built.
    pub containers: Option<containers::Containers>,
    /// Builder images the selected targets use.
    pub builders: Vec<containers::BuilderStep>,
    pub images: Option<images::ImagePlan>,
    /// Homebrew, Snapcraft, Chocolatey and Scoop inputs.
    pub channels: Vec<channels::ChannelStep>,
    /// dist/RELEASE_NOTES.md from the changelog.
    pub notes: Option<channels::NotesStep>,
    /// `[sbom]`: the SBOM files of each target's archive, in target order
    /// (empty without `[sbom]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sboms: Vec<crate::packager::sbom::SbomStep>,
    /// Detached signatures (`[sign]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign: Option<crate::packager::sign::SignStep>,
    /// Set when this run builds one shard of the plan (`--shard i/N`).
    pub shard: Option<crate::package::manifest::ShardInfo>,
    pub jobs: Vec<Job>,
    /// Things worth knowing that do not stop the build (printed by plan
    /// and build): targets matrix cannot verify, for example.
    pub warnings: Vec<String>,
    /// Why a release build of this checkout would be refused (no tag at
    /// HEAD, a dirty tree) when `plan` or `doctor` show the snapshot version
    /// instead; `None` when the plan's version is the one a build would use.
    pub release_refused: Option<String>,
    /// Every target of the matrix in matrix order, when `--target` filters
    /// left some out (else empty): a release of the rest is partial, and
    /// its manifest lists them all.
    #[serde(skip)]
    pub unfiltered: Vec<crate::package::manifest::Target>,
    /// `[cache]`: where unchanged builds are restored from (absent, the
    /// cache is off unless `--cache-dir` turns it on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<crate::cache::Settings>,
}

impl Plan {
    /// The ids of the matrix's own targets, in plan order: what `--shard`
    /// splits (joined targets are the merge's, never a shard's).
    pub fn matrix_ids(&self) -> Vec<String> {
        self.targets
            .iter()
            .filter(|t| t.of_matrix())
            .map(|t| t.id.clone())
            .collect()
    }

    /// The steps its job ids and needs are made from.
    pub fn steps(&self) -> jobs::Steps<'_> {
        jobs::Steps {
            targets: &self.targets,
            builders: &self.builders,
            images: self.images.as_ref(),
            channels: &self.channels,
            sbom: !self.sboms.is_empty(),
            sign: self.sign.is_some(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Project {
    pub name: String,
    pub description: String,
    pub homepage: String,
    pub license: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// Values of the axes joined with `/`, e.g. `linux/arm64`.
    pub id: String,
    /// The id made safe for file names, e.g. `linux-arm64`.
    pub slug: String,
    /// Every value of the combination: axes first, then include extras.
    pub values: IndexMap<String, String>,
    /// The knowledge-base row for its os/arch(/variant), if there is one.
    pub platform: Option<&'static Platform>,
    pub build: BuildStep,
    pub archive: ArchiveStep,
    /// A joined target's (`[universal] darwin`): the targets whose binaries
    /// its build joins into one universal binary instead of running a
    /// command (indexes into `Plan::targets`). `None` for the matrix's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joins: Option<Vec<usize>>,
}

impl Target {
    /// A target of the matrix (not one made by joining others): what
    /// `--shard` splits and a merge expects from the shards.
    pub fn of_matrix(&self) -> bool {
        self.joins.is_none()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildStep {
    /// Program and arguments, fully rendered; `sh -c <line>` when `shell`.
    pub argv: Vec<String>,
    pub shell: bool,
    /// Added to the inherited environment.
    pub env: BTreeMap<String, String>,
    pub dir: PathBuf,
    /// `{{ out }}`: the folder the build must write the binary into.
    pub out_dir: PathBuf,
    /// File name of the binary (with `.exe` on Windows), as it is packaged.
    pub binary: String,
    /// Where the build leaves the binary (`out_dir/binary` unless a preset
    /// or `artifact` says otherwise).
    pub artifact: PathBuf,
    pub preset: Option<Preset>,
    /// Check the binary against the target's platform after the build.
    pub verify: bool,
    /// Arguments to run the binary with under `--smoke`.
    pub smoke: Option<Vec<String>>,
    #[serde(with = "duration_secs")]
    pub timeout: Option<Duration>,
    /// The image to run the command in; `None` runs it on the host.
    pub container: Option<containers::ContainerImage>,
    /// `cache = false`: the target's build and archive always run and are
    /// never stored (absent from the plan JSON unless set).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_cache: bool,
    /// `{{ cache }}`, when the step uses it: the target's folder in the
    /// user's cache, kept across builds (the cargo presets' target folder).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArchiveStep {
    /// File name in dist/, with the format's extension.
    pub file_name: String,
    pub format: Format,
    pub files: Vec<FileSpec>,
    /// Top-level folder inside the archive.
    pub wrap: Option<String>,
    /// The zstd level, for a tar.zst archive only (absent otherwise, so
    /// the plans of other formats read as before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zstd_level: Option<i32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChecksumStep {
    pub algorithm: Algorithm,
    pub file_name: String,
}

/// What `build` needs besides the config.
#[derive(Debug, Clone)]
pub struct Request {
    pub version: Version,
    /// Absolute folder holding matrix.toml.
    pub root: PathBuf,
    /// Absolute dist folder.
    pub dist: PathBuf,
    /// `--target` filters (globs over target ids); empty means all.
    pub filters: Vec<String>,
    /// The environment templates see as `env.NAME`.
    pub env: BTreeMap<String, String>,
    /// `--push`: push every image index to its repositories.
    pub push: bool,
    /// `--oci-dir`: write every image as an OCI layout archive into dist/.
    pub oci_archives: bool,
    /// Plan the `[images]` (`--no-images` turns them off).
    pub images: bool,
    /// Whether `[release] changelog` exists: with `notes` unset, release
    /// notes are planned only then.
    pub has_changelog: bool,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlanError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] ConfigError),
    #[error("--target {filter:?} matches no target")]
    #[diagnostic(code(matrix::plan::no_match), help("the targets are: {available}"))]
    NoMatch { filter: String, available: String },
    #[error("invalid --target pattern {filter:?}: {reason}")]
    #[diagnostic(
        code(matrix::plan::bad_filter),
        help("use an id like linux/arm64, or a glob like linux/*")
    )]
    BadFilter { filter: String, reason: String },
    #[error("{flag} needs [images] in {}: there is no image to {what}", config.display())]
    #[diagnostic(
        code(matrix::plan::no_images),
        help("add an [images] section (see the README), or leave {flag} out")
    )]
    NoImages {
        flag: &'static str,
        what: &'static str,
        config: PathBuf,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Graph(#[from] GraphError),
}

/// Every target is matched against every override's `when`: the product
/// is bounded before any matching starts, so a config with tens of
/// thousands of overrides is an error at once, not a minute of work.
fn check_override_work(loaded: &Loaded, targets: usize) -> Result<(), PlanError> {
    let config = &loaded.config;
    let (build, formats) = (
        config.build.overrides.len(),
        config.archive.format_overrides.len(),
    );
    let checks = (targets as u64).saturating_mul((build + formats) as u64);
    let limit = config.limits.max_override_checks;
    if checks <= limit {
        return Ok(());
    }
    let key = if build >= formats {
        "build.overrides"
    } else {
        "archive.format-overrides"
    };
    Err(loaded
        .source
        .error_at(
            &KeyPath::parse(key),
            format!(
                "{targets} targets x {} overrides make {checks} `when` checks, more than the limit of {limit} ([limits] max-override-checks)",
                build + formats
            ),
            Some(format!(
                "merge overrides that set the same keys, or raise the limit: [limits] max-override-checks = {checks}"
            )),
        )
        .with_limit(Some(crate::config::limits::Limit::OverrideChecks))
        .into())
}

/// Builds the plan. Touches nothing on disk.
pub fn build(loaded: &Loaded, req: &Request) -> Result<Plan, PlanError> {
    let config = &loaded.config;
    let source = &loaded.source;
    check_image_flags(loaded, req)?;
    let expanded = axes::expand(&config.matrix, config.limits.max_targets, source)?;
    let named = name_targets(&expanded, source)?;
    let mut unfiltered = unfiltered(loaded, req, &named);
    universal::check_matrix(loaded, &named)?;
    let selected = select(named, &req.filters)?;
    check_override_work(loaded, selected.len())?;

    let renderer = steps::Renderer::new(loaded, req, &expanded)?;
    let mut targets = Vec::with_capacity(selected.len());
    for (id, slug, values) in selected {
        targets.push(renderer.target(id, slug, values)?);
    }
    let mut warnings: Vec<String> = Vec::new();
    renderer.universal(&mut targets, &mut warnings)?;
    if !unfiltered.is_empty() {
        // A joined target a filtered build makes is one of the release's.
        unfiltered.extend(targets.iter().filter(|t| !t.of_matrix()).map(|t| {
            crate::package::manifest::Target {
                id: t.id.clone(),
                values: t.values.clone(),
                verify: t.build.verify,
            }
        }));
    }
    names::check_unique_names(&targets, loaded)?;
    let checksum = renderer.checksum()?;
    check_checksum_name(&targets, &checksum, source)?;

    warnings.splice(0..0, targets.iter().filter_map(unverifiable));
    let builders = renderer.builders(&targets)?;
    let images = match &config.images {
        Some(images) if req.images => Some(renderer.images(images, &targets, &mut warnings)?),
        _ => None,
    };
    let uses_engine = targets.iter().any(|t| t.build.container.is_some())
        || images.as_ref().is_some_and(|i| !i.variants.is_empty());
    let channels = renderer.channels(&targets, &mut warnings)?;
    let notes = renderer.notes(&targets)?;
    let sboms = match &config.sbom {
        Some(sbom) => {
            crate::packager::sbom::plan(sbom, targets.iter().map(|t| t.archive.file_name.as_str()))
        }
        None => Vec::new(),
    };
    check_sbom_names(&targets, &checksum, &sboms, source)?;
    let containers = if uses_engine {
        Some(renderer.containers()?)
    } else {
        None
    };
    let mut hasher = Hasher::new(Algorithm::Sha256);
    hasher.update(source.text.as_bytes());
    let mut sign = config
        .sign
        .as_ref()
        .map(|c| crate::packager::sign::plan(&config.project.name, c));
    if let Some(step) = &mut sign {
        let pushed = images
            .as_ref()
            .is_some_and(|i| i.push && !i.variants.is_empty());
        step.sign_images(&config.project.name, pushed)
            .map_err(|(key, message, help)| {
                source.error_at(&KeyPath::parse("sign").key(key), message, Some(help))
            })?;
    }
    let steps = jobs::Steps {
        targets: &targets,
        builders: &builders,
        images: images.as_ref(),
        channels: &channels,
        sbom: !sboms.is_empty(),
        sign: sign.is_some(),
    };
    let jobs = steps.wire(&steps.all(notes.is_some()), jobs::Scope::Whole)?;
    let cache = cache::settings(loaded, req)?;
    Ok(Plan {
        format_version: FORMAT_VERSION,
        project: Project {
            name: config.project.name.clone(),
            description: config.project.description.clone(),
            homepage: config.project.homepage.clone(),
            license: config.project.license.clone(),
        },
        version: req.version.clone(),
        config_sha256: hasher.finalize_hex(),
        root: req.root.clone(),
        dist: req.dist.clone(),
        targets,
        checksum,
        containers,
        builders,
        images,
        channels,
        notes,
        sboms,
        sign,
        shard: None,
        jobs,
        warnings,
        release_refused: None,
        unfiltered,
        cache,
    })
}

/// A flag that would change nothing is a mistake, not a no-op: `--push`
/// and `--oci-dir` need [images].
fn check_image_flags(loaded: &Loaded, req: &Request) -> Result<(), PlanError> {
    if loaded.config.images.is_none() {
        let flag = match (req.push, req.oci_archives) {
            (true, _) => Some(("--push", "push")),
            (_, true) => Some(("--oci-dir", "write")),
            _ => None,
        };
        if let Some((flag, what)) = flag {
            return Err(PlanError::NoImages {
                flag,
                what,
                config: loaded.source.path.clone(),
            });
        }
    }
    Ok(())
}

/// With `--target`: every target of the plan, built or not, for the
/// manifest of a partial build. Without it, nothing (all are built).
fn unfiltered(
    loaded: &Loaded,
    req: &Request,
    named: &[Named],
) -> Vec<crate::package::manifest::Target> {
    if req.filters.is_empty() {
        Vec::new()
    } else {
        named
            .iter()
            .map(|(id, _, values)| crate::package::manifest::Target {
                id: id.clone(),
                values: values.clone(),
                verify: loaded.config.build.verify,
            })
            .collect()
    }
}

/// The checksums file must not take the name of a target's archive.
fn check_checksum_name(
    targets: &[Target],
    checksum: &ChecksumStep,
    source: &crate::config::Source,
) -> Result<(), PlanError> {
    if let Some(t) = targets
        .iter()
        .find(|t| t.archive.file_name == checksum.file_name)
    {
        return Err(source
            .error_at(
                &KeyPath::parse("checksum.name"),
                format!(
                    "the checksums file {:?} has the same name as the archive of {}",
                    checksum.file_name, t.id
                ),
                Some("give the checksums file a different name".into()),
            )
            .into());
    }
    Ok(())
}

/// An SBOM must not take the name of an archive or the checksums file.
fn check_sbom_names(
    targets: &[Target],
    checksum: &ChecksumStep,
    sboms: &[crate::packager::sbom::SbomStep],
    source: &crate::config::Source,
) -> Result<(), PlanError> {
    for file in sboms.iter().flat_map(|s| &s.files) {
        let clash = if file.file_name == checksum.file_name {
            Some("the checksums file".to_string())
        } else {
            targets
                .iter()
                .find(|t| t.archive.file_name == file.file_name)
                .map(|t| format!("the archive of {}", t.id))
        };
        if let Some(clash) = clash {
            return Err(source
                .error_at(
                    &KeyPath::parse("sbom"),
                    format!(
                        "the SBOM {:?} has the same name as {clash}",
                        file.file_name
                    ),
                    Some("rename the archive ([archive] name) or the checksums file ([checksum] name)".into()),
                )
                .into());
        }
    }
    Ok(())
}

/// Why a target's binary will not be checked, if it will not be.
fn unverifiable(t: &Target) -> Option<String> {
    if !t.build.verify || t.platform.is_some() {
        return None;
    }
    Some(match (t.values.get("os"), t.values.get("arch")) {
        (Some(os), Some(arch)) => format!(
            "{}: matrix knows no toolchain or executable format for {os}/{arch}, so its binary will not be verified",
            t.id
        ),
        _ => format!(
            "{}: no os and arch values, so its binary will not be verified",
            t.id
        ),
    })
}

type Named = (String, String, IndexMap<String, String>);

/// Gives each combination its id (axis values joined by `/`) and a slug.
fn name_targets(
    expanded: &axes::Expanded,
    source: &crate::config::Source,
) -> Result<Vec<Named>, ConfigError> {
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for combination in &expanded.combinations {
        let mut parts: Vec<&str> = expanded
            .axes
            .iter()
            .filter_map(|a| combination.get(a).map(String::as_str))
            .collect();
        if parts.is_empty() {
            // An include-only matrix: the entry's values are the identity.
            parts = combination.values().map(String::as_str).collect();
        }
        let id = parts.join("/");
        let slug = slugify(&id);
        if let Some(other) = seen.insert(slug.clone(), id.clone()) {
            return Err(source.error_at(
                &KeyPath::parse("matrix"),
                format!("targets {other:?} and {id:?} get the same name {slug:?}"),
                Some("make the distinguishing key an axis, or change one of the values".into()),
            ));
        }
        out.push((id, slug, combination.clone()));
    }
    Ok(out)
}

/// `root/rel` with `.` and `..` resolved without touching the disk, so paths
/// in plans and logs read like paths (`/p/docker/x`, not
/// `/p/examples/a/../../docker/x`). An absolute `rel` replaces `root`.
pub fn join_clean(root: &std::path::Path, rel: impl AsRef<std::path::Path>) -> PathBuf {
    let mut out = PathBuf::new();
    for c in root.join(rel).components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `linux/arm64` -> `linux-arm64`; anything unsafe in a file name becomes `_`.
pub fn slugify(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            '/' => '-',
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') => c,
            _ => '_',
        })
        .collect()
}

fn select(named: Vec<Named>, filters: &[String]) -> Result<Vec<Named>, PlanError> {
    if filters.is_empty() {
        return Ok(named);
    }
    let mut matchers = Vec::new();
    for filter in filters {
        let glob = globset::GlobBuilder::new(filter)
            .literal_separator(true)
            .build()
            .map_err(|e| PlanError::BadFilter {
                filter: filter.clone(),
                reason: e.kind().to_string(),
            })?
            .compile_matcher();
        if !named.iter().any(|(id, _, _)| glob.is_match(id)) {
            return Err(PlanError::NoMatch {
                filter: filter.clone(),
                available: named
                    .iter()
                    .map(|(id, _, _)| id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        matchers.push(glob);
    }
    Ok(named
        .into_iter()
        .filter(|(id, _, _)| matchers.iter().any(|m| m.is_match(id)))
        .collect())
}

mod duration_secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
