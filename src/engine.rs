//! The container engine a run uses: docker or podman, found on PATH and
//! answering, and the short calls matrix makes to it (version, images,
//! pulls, removing this run's containers).
//!
//! Below `exec` and `toolchain`, which both hold an [`Engine`]: the plan-time
//! checks look into images with it, the jobs run containers with it. Every
//! call goes through [`crate::process`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::EngineKind;
use crate::plan::Plan;
use crate::plan::containers::{Containers, LABEL_RUN};

/// How long an engine gets to answer `info` or `image inspect`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// The engine a run uses, found on PATH and answering.
#[derive(Debug, Clone)]
pub struct Engine {
    pub kind: EngineKind,
    pub program: PathBuf,
    /// The server's version, for the log and `matrix doctor`.
    pub version: String,
    /// Docker without the buildx plugin: `build` must be told to use the
    /// classic builder (DOCKER_BUILDKIT=0), or newer clients refuse.
    pub classic_builder: bool,
    /// Docker's buildx plugin, which builds its images when it is there
    /// (never with podman).
    pub buildx: Option<Buildx>,
}

/// Docker's buildx plugin: what builds an image is part of a cached image
/// job's key (`exec::cached::image`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buildx {
    /// What `docker buildx version` says (its version and commit).
    pub version: String,
    /// The plugin's file, where docker looks for it; `None` when it is
    /// not found there.
    pub file: Option<PathBuf>,
}

/// The folders docker looks for its CLI plugins in after
/// `$DOCKER_CONFIG/cli-plugins` (`~/.docker/cli-plugins`), in its order.
const PLUGIN_DIRS: [&str; 4] = [
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
];

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EngineError {
    #[error("no container engine found: neither docker nor podman is on PATH")]
    #[diagnostic(
        code(matrix::engine::missing),
        help(
            "install one (Debian/Ubuntu: apt-get install docker.io, or podman), or run the targets on the host by removing `container`/`builder`"
        )
    )]
    NotFound,
    #[error("{engine} is not on PATH")]
    #[diagnostic(
        code(matrix::engine::missing),
        help(
            "install {engine}, or pick the other engine with MATRIX_CONTAINER_ENGINE or [container] engine"
        )
    )]
    Missing { engine: &'static str },
    #[error("{engine} does not answer: {detail}")]
    #[diagnostic(
        code(matrix::engine::down),
        help(
            "start the engine (as root: `dockerd &`, or `systemctl start docker`); for a remote engine set DOCKER_HOST; `{engine} info` shows the problem"
        )
    )]
    NotRunning {
        engine: &'static str,
        detail: String,
    },
    #[error("image {image} is not on {engine} and cannot be pulled: {detail}")]
    #[diagnostic(
        code(matrix::engine::no_image),
        help(
            "build or load it first (`{engine} build -t {image} ...`, `{engine} load`), log in to its registry, or use a [builders.<name>] Dockerfile instead"
        )
    )]
    NoImage {
        engine: &'static str,
        image: String,
        detail: String,
    },
}

/// Finds the engine the plan names, or the first of docker and podman, and
/// checks that its server answers.
pub fn detect(containers: &Containers) -> Result<Engine, EngineError> {
    let kind = match containers.engine {
        Some(kind) => kind,
        None => [EngineKind::Docker, EngineKind::Podman]
            .into_iter()
            .find(|k| crate::process::find_program(k.program()).is_some())
            .ok_or(EngineError::NotFound)?,
    };
    let program = crate::process::find_program(kind.program()).ok_or(EngineError::Missing {
        engine: kind.program(),
    })?;
    let format = match kind {
        EngineKind::Docker => "{{.ServerVersion}}",
        EngineKind::Podman => "{{.Version.Version}}",
    };
    let out = probe(&program, &["info", "--format", format]).map_err(|detail| {
        EngineError::NotRunning {
            engine: kind.program(),
            detail,
        }
    })?;
    let buildx = match kind {
        EngineKind::Docker => probe(&program, &["buildx", "version"])
            .ok()
            .map(|version| Buildx {
                version: version.trim().to_string(),
                file: buildx_file(),
            }),
        EngineKind::Podman => None,
    };
    Ok(Engine {
        kind,
        program,
        version: out.trim().to_string(),
        classic_builder: kind == EngineKind::Docker && buildx.is_none(),
        buildx,
    })
}

/// The buildx plugin's file: the first regular file of that name in the
/// folders docker looks in (`$DOCKER_CONFIG` or `~/.docker`, then the
/// system's), found without asking the daemon (`docker info` can take a
/// second).
fn buildx_file() -> Option<PathBuf> {
    let config = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")));
    config
        .map(|c| c.join("cli-plugins"))
        .into_iter()
        .chain(PLUGIN_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join("docker-buildx"))
        .find(|f| f.is_file())
}

/// Runs a short engine command; its stdout, or the last line it printed
/// on stderr as the reason it failed.
pub fn probe(program: &Path, args: &[&str]) -> Result<String, String> {
    let out = crate::process::capture(program, args, PROBE_TIMEOUT)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no answer within {}s", PROBE_TIMEOUT.as_secs()))?;
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("it failed without a message");
    Err(last.trim().to_string())
}

impl Engine {
    pub fn name(&self) -> &'static str {
        self.kind.program()
    }

    /// Environment for `build` commands.
    pub fn build_env(&self) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        if self.classic_builder {
            env.insert("DOCKER_BUILDKIT".to_string(), "0".to_string());
        }
        env
    }

    /// The start of a `build` command line. `--force-rm`: a failed RUN step
    /// of the classic builder otherwise leaves its container behind.
    pub fn build_argv(&self) -> Vec<String> {
        let mut argv = vec![self.program.display().to_string(), "build".to_string()];
        if self.kind == EngineKind::Docker {
            argv.push("--force-rm".into());
        }
        argv
    }

    pub fn has_image(&self, image: &str) -> bool {
        probe(
            &self.program,
            &["image", "inspect", "--format", "{{.Id}}", image],
        )
        .is_ok()
    }

    /// Makes sure every plain image the plan's builds run in is there,
    /// pulling the ones that are not.
    pub fn ensure_images(&self, plan: &Plan) -> Result<(), EngineError> {
        let mut seen = std::collections::BTreeSet::new();
        for t in &plan.targets {
            let Some(crate::plan::containers::ContainerImage::Image { reference }) =
                &t.build.container
            else {
                continue;
            };
            if !seen.insert(reference.as_str()) || self.has_image(reference) {
                continue;
            }
            probe(&self.program, &["pull", "--quiet", reference]).map_err(|detail| {
                EngineError::NoImage {
                    engine: self.name(),
                    image: reference.clone(),
                    detail,
                }
            })?;
        }
        Ok(())
    }

    /// Removes one container by name; a container already gone is fine.
    pub async fn remove(&self, name: &str) {
        let args = vec!["rm".to_string(), "--force".into(), name.to_string()];
        let _ = crate::process::output(&self.program, args, false).await;
    }

    /// Removes every container this run started that is still there.
    pub async fn sweep(&self, run_id: &str) {
        let filter = format!("label={LABEL_RUN}={run_id}");
        let args = ["ps", "--all", "--quiet", "--filter", &filter].map(str::to_string);
        let Ok(out) = crate::process::output(&self.program, args.to_vec(), true).await else {
            return;
        };
        let ids: Vec<String> = String::from_utf8_lossy(&out)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if ids.is_empty() {
            return;
        }
        let mut args = vec!["rm".to_string(), "--force".into()];
        args.extend(ids);
        let _ = crate::process::output(&self.program, args, false).await;
    }
}
