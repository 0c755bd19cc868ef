//! The build job of a joined target (`[universal] darwin`): the thin
//! darwin binaries joined into one universal Mach-O.
//!
//! Part of `exec`. No process runs: the thin builds' binaries (left by
//! their build jobs, or staged from the shards' archives by a merge) are
//! read, bounded, and handed to `package::macho_fat`, whose result is
//! written atomically where the target's archive job takes it from.

use super::error::JobError;
use super::jobs::io_error;
use crate::package::atomic::AtomicFile;
use crate::package::macho_fat::{self, DEFAULT_CAP, FatError, Thin};
use crate::plan::Plan;

/// Joins the binaries of `plan.targets[t].joins` into the target's
/// artifact, logging what it joined.
pub(super) async fn join(plan: &Plan, job: usize, t: usize) -> Result<(), JobError> {
    let target = &plan.targets[t];
    let step = &target.build;
    let joined = |source| JobError::Join {
        target: target.id.clone(),
        source,
    };
    let mut slices: Vec<Thin> = Vec::new();
    for &thin in target.joins.iter().flatten() {
        let from = &plan.targets[thin];
        // Where its build left it, or where a merge staged it.
        let path = super::context::binary(plan, thin);
        let name = format!("{} ({})", from.id, path.display());
        // The thin build made the file; a link there is not followed.
        let meta = std::fs::symlink_metadata(&path).map_err(|source| {
            joined(FatError::Io {
                path: path.clone(),
                source,
            })
        })?;
        if !meta.file_type().is_file() {
            return Err(joined(FatError::NotMachO {
                name,
                what: "not a regular file".into(),
            }));
        }
        let read = tokio::task::spawn_blocking(move || {
            macho_fat::read_thin_named(&path, &name, DEFAULT_CAP)
        });
        slices.push(
            read.await
                .map_err(|_| JobError::Cancelled)?
                .map_err(joined)?,
        );
    }
    let fat = macho_fat::write_fat(&slices).map_err(joined)?;
    super::jobs::fresh_out_dir(plan, job, step)?;
    let write = || -> std::io::Result<()> {
        let mut file = AtomicFile::create(&step.artifact)?;
        file.set_mode(0o755);
        std::io::Write::write_all(file.file(), &fat)?;
        file.commit()
    };
    write().map_err(io_error(plan, job, step.artifact.clone()))?;
    let log = super::context::log_path(plan, job);
    let lines: Vec<String> = slices
        .iter()
        .map(|s| format!("# slice {}: {}", macho_fat::arch_name(s.cputype), s.name))
        .collect();
    std::fs::write(
        &log,
        format!(
            "# target: {}\n{}\n# joined: {} ({} bytes)\n",
            target.id,
            lines.join("\n"),
            step.artifact.display(),
            fat.len()
        ),
    )
    .map_err(io_error(plan, job, log.clone()))?;
    Ok(())
}
