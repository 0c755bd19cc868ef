//! The plan-time check of a containerised target's program: run in its
//! image, once per image and program (`<engine> run --rm --entrypoint sh
//! IMAGE -c 'command -v PROG'`). A builder image is made during the run,
//! so its targets are not checked before; the check says so.

use std::collections::BTreeMap;

use serde::Serialize;

use super::command::program_of;
use crate::engine::{Engine, probe};
use crate::plan::Plan;
use crate::plan::containers::ContainerImage;

/// The program of one containerised target, looked for in its image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageCheck {
    pub target: String,
    pub image: String,
    pub program: String,
    pub status: ImageStatus,
}

impl ImageCheck {
    /// One indented line for `build`'s refusal when the program is missing.
    pub fn missing_line(&self) -> String {
        format!(
            "  {}: {} (for command): not found in image {}; use an image that has it, or fix [build] command",
            self.target, self.program, self.image
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "kebab-case")]
pub enum ImageStatus {
    Found,
    Missing,
    /// Not checked, and why (a builder image, an image without `sh`).
    Unchecked(String),
}

/// The script run in the image; the program is its `$1`, never part of
/// the script text, so no name can inject anything.
const SCRIPT: &str =
    r#"if command -v "$1" >/dev/null 2>&1; then echo found; else echo missing; fi"#;

/// Checks the program of every containerised target `wanted` accepts.
pub fn check_images(
    engine: &Engine,
    plan: &Plan,
    wanted: &dyn Fn(&str) -> bool,
) -> Vec<ImageCheck> {
    let mut seen: BTreeMap<(String, String, Option<String>), ImageStatus> = BTreeMap::new();
    let mut out = Vec::new();
    for t in plan.targets.iter().filter(|t| wanted(&t.id)) {
        let Some(container) = &t.build.container else {
            continue;
        };
        let Some(program) = program_of(&t.build) else {
            continue;
        };
        let (image, status) = match container {
            ContainerImage::Builder { name } => (
                format!("builder {name}"),
                ImageStatus::Unchecked("the builder image is made during the run".into()),
            ),
            ContainerImage::Image { reference }
                if program.contains('/') && !program.starts_with('/') =>
            {
                // The project is mounted at the same path, so a relative
                // program is the host's file.
                let found = crate::process::is_executable(&t.build.dir.join(&program));
                (
                    reference.clone(),
                    if found {
                        ImageStatus::Found
                    } else {
                        ImageStatus::Missing
                    },
                )
            }
            ContainerImage::Image { reference } => {
                let path = t.build.env.get("PATH").cloned();
                let key = (reference.clone(), program.clone(), path.clone());
                let status = seen
                    .entry(key)
                    .or_insert_with(|| look(engine, reference, &program, path.as_deref()))
                    .clone();
                (reference.clone(), status)
            }
        };
        out.push(ImageCheck {
            target: t.id.clone(),
            image,
            program,
            status,
        });
    }
    out
}

fn look(engine: &Engine, image: &str, program: &str, path: Option<&str>) -> ImageStatus {
    let mut args: Vec<String> = vec![
        "run".into(),
        "--rm".into(),
        "--entrypoint".into(),
        "sh".into(),
    ];
    if let Some(path) = path {
        args.extend(["--env".into(), format!("PATH={path}")]);
    }
    args.extend([
        image.into(),
        "-c".into(),
        SCRIPT.into(),
        "sh".into(),
        program.into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match probe(&engine.program, &args).as_deref().map(str::trim) {
        Ok("found") => ImageStatus::Found,
        Ok("missing") => ImageStatus::Missing,
        Ok(other) => ImageStatus::Unchecked(format!("the image's sh answered {other:?}")),
        Err(reason) => ImageStatus::Unchecked(format!("cannot run sh in the image: {reason}")),
    }
}
