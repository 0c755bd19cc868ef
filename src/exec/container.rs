//! Running build jobs in containers, and cleaning up after them.
//!
//! Part of `exec`. A containerised build is still one supervised process
//! (the engine's `run` client, see [`crate::process`]), but killing that
//! client does not stop the container, so every container gets a name and
//! labels made from the run id and job id: a cancelled or timed-out job
//! removes its own container by name, and the end of every run removes
//! whatever still carries this run's label, and nothing else.

use std::collections::BTreeMap;
use std::path::Path;

use super::context::{Context, Produced};
use super::error::JobError;
use crate::config::{EngineKind, Network};
use crate::plan::containers::{Containers, LABEL_JOB, LABEL_PROJECT, LABEL_RUN};
use crate::plan::{BuildStep, JobId};

use crate::engine::Engine;

/// A container's name: unique per run and job, and a valid engine name.
pub fn container_name(run_id: &str, job_id: &str) -> String {
    let job: String = job_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("matrix-{run_id}-{job}")
}

/// Everything `run_argv` needs besides the step.
pub struct RunSpec<'a> {
    pub engine: &'a Engine,
    pub containers: &'a Containers,
    pub run_id: &'a str,
    pub job_id: &'a str,
    pub project: &'a str,
    /// The project folder, mounted read-only at the same path.
    pub root: &'a Path,
    pub image: &'a str,
    /// uid:gid the command runs as.
    pub user: (u32, u32),
}

/// The engine command line that runs `step` in a container: the project
/// read-only and `{{ out }}` (and `{{ cache }}` if used) read-write at the
/// same paths as on the host (so every rendered path means the same
/// inside), as the invoking user, with the step's environment and the
/// configured pass-through variables.
pub fn run_argv(spec: &RunSpec<'_>, step: &BuildStep) -> Vec<String> {
    let c = spec.containers;
    let mut argv: Vec<String> = vec![
        spec.engine.program.display().to_string(),
        "run".into(),
        "--rm".into(),
        "--name".into(),
        container_name(spec.run_id, spec.job_id),
        "--label".into(),
        format!("{LABEL_RUN}={}", spec.run_id),
        "--label".into(),
        format!("{LABEL_JOB}={}", spec.job_id),
        "--label".into(),
        format!("{LABEL_PROJECT}={}", spec.project),
        "--user".into(),
        format!("{}:{}", spec.user.0, spec.user.1),
        "--workdir".into(),
        step.dir.display().to_string(),
        "--volume".into(),
        format!("{0}:{0}:ro", spec.root.display()),
        "--volume".into(),
        format!("{0}:{0}:rw", step.out_dir.display()),
    ];
    if let Some(dir) = &step.cache_dir {
        argv.push("--volume".into());
        argv.push(format!("{0}:{0}:rw", dir.display()));
    }
    if spec.engine.kind == EngineKind::Podman && spec.user.0 != 0 {
        // Rootless podman maps the caller to root unless told otherwise.
        argv.push("--userns=keep-id".into());
    }
    if c.network == Network::None {
        argv.extend(["--network".into(), "none".into()]);
    }
    for cache in &c.caches {
        argv.push("--volume".into());
        argv.push(format!("{}:{}:rw", cache.host.display(), cache.path));
    }
    let mut env: BTreeMap<&str, &str> = BTreeMap::new();
    // A home the invoking uid can write, unless the build says otherwise:
    // compilers keep caches there, and the image's user table may not
    // know the uid at all.
    env.insert("HOME", "/tmp");
    for (k, v) in &step.env {
        env.insert(k, v);
    }
    for (k, v) in env {
        argv.push("--env".into());
        argv.push(format!("{k}={v}"));
    }
    for name in &c.pass_env {
        // `--env NAME` copies the value from matrix's own environment.
        argv.push("--env".into());
        argv.push(name.clone());
    }
    argv.push(spec.image.to_string());
    argv.extend(step.argv.iter().cloned());
    argv
}

/// A new run id: short, unique enough across concurrent runs on one engine.
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut h = crate::package::checksum::Hasher::new(crate::package::checksum::Algorithm::Sha256);
    h.update(format!("{nanos}-{}", std::process::id()).as_bytes());
    h.finalize_hex()[..12].to_string()
}

/// The engine command line for a containerised build job, and the name of
/// its container.
pub(super) fn container_command(
    ctx: &Context,
    job: usize,
    target: usize,
    image: &crate::plan::containers::ContainerImage,
) -> Result<(Vec<String>, String), JobError> {
    use crate::plan::containers::ContainerImage;
    let plan = &ctx.plan;
    let j = &plan.jobs[job];
    let no_engine = || JobError::NoEngine { job: j.id.clone() };
    let engine = ctx.engine.as_deref().ok_or_else(no_engine)?;
    let containers = plan.containers.as_ref().ok_or_else(no_engine)?;
    let image = match image {
        ContainerImage::Image { reference } => reference.clone(),
        ContainerImage::Builder { name } => {
            // What the job that built this builder image made.
            let builder = plan
                .builders
                .iter()
                .position(|b| &b.name == name)
                .map(JobId::Builder);
            ctx.produced
                .iter()
                .find_map(|(i, p)| match p {
                    Produced::Builder { image }
                        if builder.is_some()
                            && plan.jobs.get(*i).map(crate::plan::Job::work) == builder =>
                    {
                        Some(image.clone())
                    }
                    _ => None,
                })
                .ok_or_else(no_engine)?
        }
    };
    for cache in &containers.caches {
        std::fs::create_dir_all(&cache.host).map_err(|source| JobError::Io {
            job: j.id.clone(),
            path: cache.host.clone(),
            source,
        })?;
    }
    let step = &plan.targets[target].build;
    let user = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    let argv = run_argv(
        &RunSpec {
            engine,
            containers,
            run_id: &ctx.run_id,
            job_id: &j.id,
            project: &plan.project.name,
            root: &plan.root,
            image: &image,
            user,
        },
        step,
    );
    Ok((argv, container_name(&ctx.run_id, &j.id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::containers::Cache;
    use std::path::PathBuf;

    fn step() -> BuildStep {
        BuildStep {
            argv: vec![
                "go".into(),
                "build".into(),
                "-o".into(),
                "/p/dist/build/x/hello".into(),
            ],
            shell: false,
            env: BTreeMap::from([("GOOS".to_string(), "linux".to_string())]),
            dir: PathBuf::from("/p"),
            out_dir: PathBuf::from("/p/dist/build/x"),
            binary: "hello".into(),
            artifact: PathBuf::from("/p/dist/build/x/hello"),
            preset: None,
            verify: true,
            smoke: None,
            timeout: None,
            container: None,
            no_cache: false,
            cache_dir: None,
        }
    }

    #[test]
    fn the_run_command_mounts_labels_and_user() {
        let engine = Engine {
            kind: EngineKind::Docker,
            program: PathBuf::from("/usr/bin/docker"),
            version: "20.10".into(),
            classic_builder: true,
            buildx: None,
        };
        let containers = Containers {
            engine: None,
            network: Network::None,
            pass_env: vec!["GOPROXY".into()],
            caches: vec![Cache {
                name: "go".into(),
                host: PathBuf::from("/h/.cache/matrix/containers/p/go"),
                path: "/cache/go".into(),
            }],
            jobs: None,
        };
        let spec = RunSpec {
            engine: &engine,
            containers: &containers,
            run_id: "abc",
            job_id: "build-linux-amd64",
            project: "hello",
            root: Path::new("/p"),
            image: "builder:1",
            user: (1000, 1000),
        };
        let line = run_argv(&spec, &step()).join(" ");
        for want in [
            "/usr/bin/docker run --rm --name matrix-abc-build-linux-amd64",
            "--label dev.matrix.run=abc --label dev.matrix.job=build-linux-amd64",
            "--user 1000:1000 --workdir /p",
            "--volume /p:/p:ro --volume /p/dist/build/x:/p/dist/build/x:rw",
            "--network none",
            "--volume /h/.cache/matrix/containers/p/go:/cache/go:rw",
            "--env GOOS=linux --env HOME=/tmp --env GOPROXY",
            "builder:1 go build -o /p/dist/build/x/hello",
        ] {
            assert!(line.contains(want), "{want:?} not in {line}");
        }
        assert!(!line.contains("/h/.cache/matrix/targets"), "{line}");
        // A step that uses `{{ cache }}` gets it read-write at its path.
        let mut cached = step();
        cached.cache_dir = Some(PathBuf::from("/h/.cache/matrix/targets/p-0/x"));
        let line = run_argv(&spec, &cached).join(" ");
        assert!(
            line.contains(
                "--volume /h/.cache/matrix/targets/p-0/x:/h/.cache/matrix/targets/p-0/x:rw"
            ),
            "{line}"
        );
    }

    #[test]
    fn names_are_safe() {
        assert_eq!(
            container_name("r1", "build-linux/arm64"),
            "matrix-r1-build-linux_arm64"
        );
        assert_eq!(new_run_id().len(), 12);
    }
}
