//! dist/ before a run: locked for the run's length, then found empty or
//! emptied (`--clean`) where that cannot delete anything but output.
//! Part of `release`: `build` and `merge` both start here.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::exec;
use crate::plan::Plan;

/// Locks dist/ for the whole run (the returned guard), then makes sure it
/// is empty (or empties it with --clean) so nothing stale can be mistaken
/// for part of this release. The lock comes first: a second run must not
/// delete or count files a running one is writing. `inputs` are folders the
/// run reads (a merge's shards), which `--clean` must not delete.
pub(super) fn prepare_dist(
    plan: &Plan,
    clean: bool,
    inputs: &[PathBuf],
) -> Result<exec::lock::DistLock, Error> {
    let dist = &plan.dist;
    let lock = exec::lock::acquire(dist)?;
    let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dist)
        .map_err(Error::io(dist))?
        .collect::<Result<_, _>>()
        .map_err(Error::io(dist))?;
    let entries: Vec<std::fs::DirEntry> = entries
        .into_iter()
        .filter(|e| e.file_name() != exec::lock::LOCK_FILE)
        .collect();
    if entries.is_empty() {
        return Ok(lock);
    }
    if !clean {
        return Err(Error::DistNotEmpty {
            dist: dist.clone(),
            entries: entries.len(),
        });
    }
    check_clean_is_safe(plan, inputs)?;
    // Empty dist/ around the lock file; a symlink is removed, never followed.
    for entry in entries {
        let path = entry.path();
        let is_dir = entry.file_type().map_err(Error::io(&path))?.is_dir();
        let removed = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(Error::io(&path))?;
    }
    Ok(lock)
}

/// Whether emptying dist/ could delete something that is not output. The
/// paths are compared as the kernel resolves them: a `--dist` that is a
/// symlink (or goes through one) to the project, a folder above it, the
/// home folder or a shard being merged is refused, whatever its name.
fn check_clean_is_safe(plan: &Plan, inputs: &[PathBuf]) -> Result<(), Error> {
    let dist = &plan.dist;
    // dist/ exists: the lock was taken in it.
    let real = dist.canonicalize().map_err(Error::io(dist))?;
    let resolve = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| resolve(Path::new(&h)));
    let reason = if real.parent().is_none() {
        Some("it is the file system root".to_string())
    } else if resolve(&plan.root).starts_with(&real) {
        Some("it holds the project (matrix.toml)".into())
    } else if std::env::current_dir().is_ok_and(|cwd| resolve(&cwd).starts_with(&real)) {
        Some("it holds the current folder".into())
    } else if home.is_some_and(|h| h.starts_with(&real)) {
        Some("it is or holds your home folder ($HOME)".into())
    } else {
        inputs
            .iter()
            .find(|i| resolve(i).starts_with(&real))
            .map(|i| format!("it holds {}, a shard this merge reads", i.display()))
    };
    match reason {
        Some(reason) => Err(Error::UnsafeClean {
            dist: if real == *dist {
                dist.clone()
            } else {
                // Say where the name leads: that is what would be emptied.
                PathBuf::from(format!("{} (which is {})", dist.display(), real.display()))
            },
            reason,
        }),
        None => Ok(()),
    }
}
