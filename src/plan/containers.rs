//! Planning container jobs: which engine, which image each build runs in,
//! the mounts and environment it gets, and the builder images to make first.
//!
//! Part of `plan`, so pure: the engine is only *named* here (config, then
//! `MATRIX_CONTAINER_ENGINE`); finding it on PATH and asking it questions is
//! the pre-check's work before exec.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::Target;
use super::steps::Renderer;
use crate::config::{ConfigError, EngineKind, KeyPath, Network};

/// Environment variable that picks the engine over the config.
pub const ENGINE_ENV: &str = "MATRIX_CONTAINER_ENGINE";

/// Label keys every container and image matrix makes carries.
pub const LABEL_RUN: &str = "dev.matrix.run";
pub const LABEL_JOB: &str = "dev.matrix.job";
pub const LABEL_PROJECT: &str = "dev.matrix.project";

/// Run-wide container settings; present when any job uses an engine.
#[derive(Debug, Clone, Serialize)]
pub struct Containers {
    /// `None`: the first of docker and podman found on PATH.
    pub engine: Option<EngineKind>,
    pub network: Network,
    /// Host variables passed through by name.
    pub pass_env: Vec<String>,
    pub caches: Vec<Cache>,
    /// Most containers at once, from the config (`--container-jobs` wins).
    pub jobs: Option<usize>,
}

/// A folder that survives runs, mounted read-write into every container.
#[derive(Debug, Clone, Serialize)]
pub struct Cache {
    pub name: String,
    /// On the host: `<cache home>/matrix/containers/<project>/<name>`.
    pub host: PathBuf,
    /// Inside the container.
    pub path: String,
}

/// The image a build job runs in.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ContainerImage {
    /// An image reference the engine has or can pull.
    Image { reference: String },
    /// A `[builders.<name>]` image, built by the job `builder-<name>`.
    Builder { name: String },
}

/// A builder image to build before the jobs that use it.
#[derive(Debug, Clone, Serialize)]
pub struct BuilderStep {
    pub name: String,
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    pub args: BTreeMap<String, String>,
    /// Repository of its tags; the tag is a hash of the inputs:
    /// `matrix-builder/<project>-<name>:<hash>`.
    pub repository: String,
}

impl<'a> Renderer<'a> {
    /// The engine named by the environment or the config.
    pub(super) fn engine(&self) -> Result<Option<EngineKind>, ConfigError> {
        if let Some(name) = self.req.env.get(ENGINE_ENV).filter(|v| !v.is_empty()) {
            return EngineKind::parse(name).map(Some).ok_or_else(|| {
                self.source().error_at(
                    &KeyPath::parse("container.engine"),
                    format!("{ENGINE_ENV}={name:?} is not an engine matrix knows"),
                    Some(format!("set {ENGINE_ENV} to docker or podman, or unset it")),
                )
            });
        }
        Ok(self.loaded.config.container.engine)
    }

    /// The settings for every container this run starts.
    pub(super) fn containers(&self) -> Result<Containers, ConfigError> {
        let c = &self.loaded.config.container;
        let home = super::cache::cache_home(&self.req.env);
        let project = &self.loaded.config.project.name;
        Ok(Containers {
            engine: self.engine()?,
            network: c.network,
            pass_env: c.pass_env.clone(),
            caches: c
                .caches
                .iter()
                .map(|(name, path)| Cache {
                    name: name.clone(),
                    host: home.join("matrix/containers").join(project).join(name),
                    path: path.clone(),
                })
                .collect(),
            jobs: c.jobs,
        })
    }

    /// The builder steps the selected targets use, in config order.
    pub(super) fn builders(&self, targets: &[Target]) -> Result<Vec<BuilderStep>, ConfigError> {
        let config = &self.loaded.config;
        let mut out = Vec::new();
        for (name, b) in &config.builders {
            let used = targets.iter().any(|t| {
                matches!(&t.build.container, Some(ContainerImage::Builder { name: n }) if n == name)
            });
            if !used {
                continue;
            }
            let at = KeyPath::parse("builders").key(name);
            let dockerfile = super::join_clean(&self.req.root, &b.dockerfile);
            let context = match &b.context {
                Some(c) => super::join_clean(&self.req.root, c),
                None => dockerfile
                    .parent()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| self.req.root.clone()),
            };
            let mut args = BTreeMap::new();
            for (k, v) in &b.args {
                args.insert(
                    k.clone(),
                    self.render(v, &self.base, &at.clone().key("args").key(k))?,
                );
            }
            out.push(BuilderStep {
                name: name.clone(),
                dockerfile,
                context,
                args,
                repository: format!(
                    "matrix-builder/{}-{name}",
                    config.project.name.to_lowercase()
                ),
            });
        }
        Ok(out)
    }
}
