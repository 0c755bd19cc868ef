//! From a matrix.toml to a plan: loads the config, reads the git facts
//! and the environment, resolves the version and asks `plan` for the
//! graph. Part of `release`; every command that needs a plan starts here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::plan::{self, Plan};
use crate::{config, version};

/// What shapes a plan: the config file and the flags `plan`, `build`,
/// `doctor` and `merge` share.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// The matrix.toml; its folder is the project root.
    pub config: PathBuf,
    /// Output folder for artifacts, logs and the manifest.
    pub dist: PathBuf,
    /// Only these targets: ids like linux/arm64 or globs like 'linux/*'.
    pub targets: Vec<String>,
    /// A snapshot: no release tag needed, a dirty tree allowed.
    pub snapshot: bool,
    /// Push every image index to its repositories.
    pub push: bool,
    /// Write every image as an OCI layout archive into dist/.
    pub oci_archives: bool,
    /// Build the [images]; false leaves them out of the run.
    pub images: bool,
}

impl PlanOptions {
    /// The defaults of the CLI: `matrix.toml`, `dist`, every target, a
    /// release version, images built but not pushed.
    pub fn new(config: impl Into<PathBuf>) -> Self {
        PlanOptions {
            config: config.into(),
            dist: PathBuf::from("dist"),
            targets: Vec::new(),
            snapshot: false,
            push: false,
            oci_archives: false,
            images: true,
        }
    }
}

/// Loads the config, resolves the version and builds the plan. The version
/// is a release's (a tag at HEAD, a clean tree) unless `snapshot`: what
/// `build`, `merge` and `plan --shards` (whose output feeds builds) need.
pub fn plan(opts: &PlanOptions) -> Result<Plan, Error> {
    plan_with(opts, false)
}

/// The plan for a command that only looks (`plan`, `doctor`): where a
/// release build would be refused for a missing tag or a dirty tree, it
/// has the snapshot version instead and says why in `release_refused`.
pub fn plan_to_look(opts: &PlanOptions) -> Result<Plan, Error> {
    plan_with(opts, true)
}

fn plan_with(opts: &PlanOptions, look: bool) -> Result<Plan, Error> {
    let loaded = config::load(&opts.config)?;
    let cwd = std::env::current_dir().map_err(Error::io("."))?;
    let root = absolute(&cwd, opts.config.parent().unwrap_or(Path::new(".")));
    let dist = absolute(&cwd, &opts.dist);
    let facts = match version::git_facts(&root, std::slice::from_ref(&dist)) {
        Ok(facts) => Some(facts),
        Err(e) if e.is_not_a_repository() => None,
        Err(e) => return Err(e.into()),
    };
    let request = version::Request {
        snapshot: opts.snapshot,
        env_version: std::env::var("MATRIX_VERSION")
            .ok()
            .filter(|v| !v.is_empty()),
        source_date_epoch: std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .filter(|v| !v.is_empty()),
        calendar: loaded.config.version.calendar(),
    };
    let (version, release_refused) = if look {
        let looked = version::resolve_to_look(facts.as_ref(), &request)?;
        (looked.version, looked.release_refused)
    } else {
        (version::resolve(facts.as_ref(), &request)?, None)
    };
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let has_changelog = root.join(&loaded.config.release.changelog).is_file();
    let mut plan = plan::build(
        &loaded,
        &plan::Request {
            version,
            root,
            dist,
            filters: opts.targets.clone(),
            env,
            push: opts.push,
            oci_archives: opts.oci_archives,
            images: opts.images,
            has_changelog,
        },
    )?;
    plan.release_refused = release_refused;
    Ok(plan)
}

/// Joins and removes `.` and `..` components, without touching the disk.
fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    plan::join_clean(cwd, path)
}
