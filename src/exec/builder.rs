//! Builder images: `[builders.<name>]` Dockerfiles built once per run.
//!
//! Part of `exec`. The tag is a hash of everything the image is made from
//! (the Dockerfile, every file of the context, the build arguments), so an
//! unchanged builder is found in the engine and not rebuilt, and a changed
//! one can never be mistaken for the old one.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::context::{Context, Produced, TAIL_LINES, log_path};
use super::error::JobError;
use super::process::{self, Ended, Spawn};
use crate::package::checksum::{Algorithm, Hasher};
use crate::plan::containers::{BuilderStep, LABEL_PROJECT};

/// Hex digits of the input hash used in the tag.
const TAG_LEN: usize = 16;

/// The content hash of a builder's inputs, as a tag.
pub fn input_tag(step: &BuilderStep) -> std::io::Result<String> {
    let mut h = Hasher::new(Algorithm::Sha256);
    let field = |h: &mut Hasher, name: &str, bytes: &[u8]| {
        // Length-prefixed, so no two different inputs hash alike.
        h.update(format!("{name}:{}:", bytes.len()).as_bytes());
        h.update(bytes);
    };
    field(&mut h, "dockerfile", &std::fs::read(&step.dockerfile)?);
    for (k, v) in &step.args {
        field(&mut h, "arg", format!("{k}={v}").as_bytes());
    }
    let mut files: Vec<_> = walkdir::WalkDir::new(&step.context)
        .sort_by_file_name()
        .into_iter()
        .collect::<Result<_, _>>()
        .map_err(std::io::Error::other)?;
    files.retain(|e| !e.file_type().is_dir());
    for entry in files {
        let rel = entry
            .path()
            .strip_prefix(&step.context)
            .unwrap_or(entry.path());
        // Names as their bytes (not UTF-8 is fine), content by digest: each
        // field is length-prefixed, so no file's bytes pass for a field.
        field(&mut h, "path", rel.as_os_str().as_bytes());
        if entry.file_type().is_symlink() {
            let target = std::fs::read_link(entry.path())?;
            field(&mut h, "link", target.as_os_str().as_bytes());
            continue;
        }
        let mut f = std::fs::File::open(entry.path())?;
        let mut buf = [0u8; 64 * 1024];
        let mut content = Hasher::new(Algorithm::Sha256);
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            content.update(&buf[..n]);
        }
        field(&mut h, "file", content.finalize_hex().as_bytes());
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            entry
                .metadata()
                .map_err(std::io::Error::other)?
                .permissions()
                .mode()
        };
        field(&mut h, "mode", format!("{:o}", mode & 0o111).as_bytes());
    }
    Ok(h.finalize_hex()[..TAG_LEN].to_string())
}

pub(super) async fn run(
    ctx: &Context,
    job: usize,
    builder: usize,
    cancel: &CancellationToken,
) -> Result<Produced, JobError> {
    let plan = &ctx.plan;
    let j = &plan.jobs[job];
    let step = &plan.builders[builder];
    let log = log_path(plan, job);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        let job = j.id.clone();
        move |source| JobError::Io { job, path, source }
    };
    let engine = ctx
        .engine
        .as_ref()
        .ok_or_else(|| JobError::NoEngine { job: j.id.clone() })?;
    let tag = input_tag(step).map_err(io(&step.dockerfile))?;
    let image = format!("{}:{tag}", step.repository);
    if engine.has_image(&image) {
        std::fs::write(
            &log,
            format!("# builder {}: {image} is already built\n", step.name),
        )
        .map_err(io(&log))?;
        return Ok(Produced::Builder { image });
    }
    let mut argv = engine.build_argv();
    argv.extend([
        "--file".into(),
        step.dockerfile.display().to_string(),
        "--tag".into(),
        image.clone(),
        "--label".into(),
        format!("{LABEL_PROJECT}={}", plan.project.name),
    ]);
    for (k, v) in &step.args {
        argv.push("--build-arg".into());
        argv.push(format!("{k}={v}"));
    }
    argv.push(step.context.display().to_string());
    std::fs::write(
        &log,
        format!(
            "# builder {}\n# command: {}\n",
            step.name,
            shell_words::join(&argv)
        ),
    )
    .map_err(io(&log))?;
    let env = engine.build_env();
    let ended = process::run(
        Spawn {
            argv: &argv,
            env: &env,
            dir: &plan.root,
            timeout: None,
        },
        &log,
        cancel,
    )
    .await
    .map_err(|source| {
        JobError::spawn(&format!("builder {}", step.name), argv[0].clone(), source)
    })?;
    match ended {
        Ended::Exited(status) if status.success() => Ok(Produced::Builder { image }),
        Ended::Exited(status) => Err(JobError::Failed {
            target: format!("builder {}", step.name),
            command: shell_words::join(&argv),
            status: process::describe(&status),
            tail: process::tail(&log, TAIL_LINES),
            log,
        }),
        Ended::Cancelled | Ended::TimedOut => Err(JobError::Cancelled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_tag_follows_every_input() {
        let dir = tempfile::tempdir().unwrap();
        let df = dir.path().join("b.Dockerfile");
        std::fs::write(&df, "FROM x\n").unwrap();
        std::fs::write(dir.path().join("file"), "a").unwrap();
        let mut step = BuilderStep {
            name: "b".into(),
            dockerfile: df.clone(),
            context: dir.path().to_path_buf(),
            args: BTreeMap::new(),
            repository: "matrix-builder/p-b".into(),
        };
        let first = input_tag(&step).unwrap();
        assert_eq!(first.len(), TAG_LEN);
        assert_eq!(input_tag(&step).unwrap(), first, "stable");
        std::fs::write(dir.path().join("file"), "b").unwrap();
        let second = input_tag(&step).unwrap();
        assert_ne!(second, first, "a context file changed");
        step.args.insert("BASE".into(), "y".into());
        let third = input_tag(&step).unwrap();
        assert_ne!(third, second, "an argument changed");
        std::fs::write(&df, "FROM y\n").unwrap();
        assert_ne!(input_tag(&step).unwrap(), third, "the Dockerfile changed");
    }
}
