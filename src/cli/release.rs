//! The commands around a release's life after the build: CI shards,
//! `merge`, `verify`, `ci`, `publish` and `channel`.
//!
//! Part of the CLI glue, like `commands`: each function loads, checks,
//! calls the library and prints.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::common::{check_changelog, execute, make_plan, prepare_dist, print_out};
use super::{ChannelCommand, CiArgs, Cli, MergeArgs, PlanFlags, PublishArgs};
use crate::error::Error;
use crate::plan::Plan;
use crate::{exec, merge, repo, shard};

/// The targets' weights: equal, or their job durations in a previous manifest.
fn weights(plan: &Plan, history: Option<&Path>) -> Result<Vec<(String, f64)>, Error> {
    let history = match history {
        None => None,
        Some(path) => {
            // Bounded like every manifest.json matrix reads.
            let file = crate::package::manifest::open_bounded(path).map_err(Error::io(path))?;
            Some(
                serde_json::from_reader::<_, shard::History>(std::io::BufReader::new(file))
                    .map_err(|e| Error::Usage {
                        message: format!("--history {}: not a manifest.json: {e}", path.display()),
                    })?,
            )
        }
    };
    let ids: Vec<String> = plan.targets.iter().map(|t| t.id.clone()).collect();
    let w = shard::weights(&ids, history.as_ref());
    Ok(ids.into_iter().zip(w).collect())
}

/// `matrix plan --shards N`: the assignment every runner will compute.
pub fn shards_command(
    plan: &Plan,
    n: usize,
    format: shard::Format,
    history: Option<&Path>,
) -> Result<(), Error> {
    if n == 0 || n > shard::MAX_SHARDS {
        return Err(Error::Usage {
            message: format!("--shards must be from 1 to {}", shard::MAX_SHARDS),
        });
    }
    let assignment = shard::assign(&weights(plan, history)?, n);
    let mut text = shard::render(&assignment, format);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    print_out(&text)
}

/// `matrix build --shard i/N`: keep this shard's targets only.
///
/// With `--history` the weights the split was computed with are recorded in
/// the shard manifest, so the merge can compute the same split again
/// (it has no `--history` of its own, and must not need one).
pub fn shard_plan(plan: &mut Plan, spec: &str, history: Option<&Path>) -> Result<(), Error> {
    let (index, total) = shard::parse_shard(spec).map_err(|message| Error::Usage {
        message: format!("--shard {spec}: {message}"),
    })?;
    let weights = weights(plan, history)?;
    let recorded: Option<BTreeMap<String, f64>> =
        history.map(|_| weights.iter().cloned().collect());
    let assignment = shard::assign(&weights, total);
    let ids: BTreeSet<&str> = assignment
        .get(index)
        .map(|s| s.targets.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let targets: BTreeSet<usize> = plan
        .targets
        .iter()
        .enumerate()
        .filter(|(_, t)| ids.contains(t.id.as_str()))
        .map(|(i, _)| i)
        .collect();
    crate::plan::shard::restrict_to_shard(plan, index, total, &targets, recorded)
        .map_err(crate::plan::PlanError::from)?;
    Ok(())
}

pub async fn merge_command(cli: &Cli, args: &MergeArgs) -> Result<(), Error> {
    let flags = PlanFlags {
        dist: args.dist.clone(),
        targets: Vec::new(),
        snapshot: args.snapshot,
        push: args.push,
        oci_dir: args.oci_dir,
        no_images: false,
    };
    let raised = [
        ("--max-unpack-bytes", args.max_unpack_bytes.is_some()),
        ("--max-unpack-entries", args.max_unpack_entries.is_some()),
        ("--max-unpack-ratio", args.max_unpack_ratio.is_some()),
    ];
    if let Some((flag, _)) = raised.iter().find(|(_, set)| *set)
        && args.shards.iter().all(|s| s.is_dir())
    {
        // The limits are for unpacking archives: with folders only, the
        // flag would change nothing.
        return Err(Error::Usage {
            message: format!(
                "{flag} limits unpacking a shard archive, and every shard given is a folder"
            ),
        });
    }
    let mut plan = make_plan(cli, &flags)?;
    dist_outside_shards(&plan.dist, &args.shards)?;
    let mut shards = Vec::with_capacity(args.shards.len());
    // Unpacked archives live until the merge is done.
    let mut unpacked = Vec::new();
    for input in &args.shards {
        let dir = if input.is_dir() {
            input.clone()
        } else {
            let tmp = tempfile::tempdir().map_err(Error::io(std::env::temp_dir()))?;
            let raise = merge::unpack::Raise {
                bytes: args.max_unpack_bytes,
                entries: args.max_unpack_entries,
                ratio: args.max_unpack_ratio,
            };
            let dir = merge::unpack(input, tmp.path(), raise).map_err(merge::MergeError::from)?;
            unpacked.push(tmp);
            dir
        };
        shards.push(merge::read_shard(&dir)?);
    }
    // The whole plan decides what each shard may hold; only then is it
    // cut down to the release-wide jobs the merge runs.
    let checked = merge::check(&plan, &shards, args.allow_partial)?;
    crate::plan::shard::restrict_to_merge(&mut plan, &checked.missing)
        .map_err(crate::plan::PlanError::from)?;
    if !checked.missing.is_empty() {
        eprintln!(
            "warning: a partial release: {} missing: {}",
            crate::report::count(checked.missing.len(), "target", "targets"),
            checked.missing.join(", ")
        );
    }
    check_changelog(&plan)?;
    // Held until the merge ends: one run per dist folder.
    let _lock = prepare_dist(&plan, args.clean, &args.shards)?;
    let seed = merge::stage(&plan, &checked)?;
    // Indexes are assembled, never built: no engine is needed.
    let opts = exec::Options {
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        keep_going: false,
        smoke: false,
        container_jobs: 1,
        engine: None,
        run_id: exec::container::new_run_id(),
        seed,
    };
    execute(cli, Arc::new(plan), opts).await
}

/// A merge's output inside a shard folder would become part of that shard
/// (which then no longer merges: its folder holds files in no record).
/// Compared as the kernel resolves the paths, so a link cannot hide it.
fn dist_outside_shards(dist: &Path, shards: &[PathBuf]) -> Result<(), Error> {
    // dist/ may not exist yet: its longest existing ancestor is resolved.
    let resolve = crate::version::resolve_existing;
    let real = resolve(dist);
    match shards
        .iter()
        .find(|s| s.is_dir() && real.starts_with(resolve(s)))
    {
        Some(shard) => Err(Error::Usage {
            message: format!(
                "--dist {} {} the shard folder {}: a merge writes outside the shards it reads",
                dist.display(),
                if real == resolve(shard) {
                    "is"
                } else {
                    "is inside"
                },
                shard.display()
            ),
        }),
        None => Ok(()),
    }
}

pub fn verify_command(dir: &Path, allow_partial: bool) -> Result<(), Error> {
    let report = crate::dist_check::release_with(dir, allow_partial)?;
    let mut text = format!(
        "{}: {} and {} checked\n",
        dir.display(),
        crate::report::count(report.files, "file", "files"),
        crate::report::count(report.binaries, "binary", "binaries")
    );
    for p in &report.problems {
        text.push_str(&format!("problem: {p}\n"));
    }
    text.push_str(if report.ok() { "ok\n" } else { "FAILED\n" });
    print_out(&text)?;
    if report.ok() {
        Ok(())
    } else {
        Err(Error::Reported {
            message: crate::report::count(report.problems.len(), "problem", "problems"),
            code: 1,
        })
    }
}

pub fn ci_command(args: &CiArgs, args_config: &Path) -> Result<(), Error> {
    if args.shards == 0 {
        return Err(Error::Usage {
            message: "--shards must be at least 1".into(),
        });
    }
    use super::{CiInstallFrom, CiToolchains};
    use crate::ci::{Install, Toolchains};
    let install = match (&args.install, args.install_from) {
        (Some(command), _) => Install::command(command.as_str()),
        (None, CiInstallFrom::Cargo) if args.matrix_sha256.is_some() => {
            return Err(Error::Usage {
                message: "--matrix-sha256 pins the release archive: add --install-from archive"
                    .into(),
            });
        }
        (None, CiInstallFrom::Cargo) => Install::cargo(),
        (None, CiInstallFrom::Archive) => Install::archive(args.matrix_sha256.clone()),
    };
    let mut opts = crate::ci::CiOptions::new(args.shards, install);
    opts.config = args_config.display().to_string();
    opts.toolchains = match args.toolchains {
        CiToolchains::Install => Toolchains::Install,
        CiToolchains::Check => Toolchains::Check,
        CiToolchains::None => Toolchains::None,
    };
    opts.runs_on = args.runs_on.clone();
    opts.image = args.image.clone();
    let text = crate::ci::render_files(args.kind, &opts)?;
    if let Some(version) = opts.install.pinned_version()
        && let Some(warning) = crate::ci::pin_warning(version, cfg!(debug_assertions))
    {
        eprintln!("warning: {warning}");
    }
    match &args.output {
        Some(path) => {
            crate::package::atomic::write_atomic(path, text.as_bytes()).map_err(Error::io(path))
        }
        None => print_out(&text),
    }
}

pub fn publish_command(args: &PublishArgs) -> Result<(), Error> {
    let layout = repo::Layout::preset(&args.layout)
        .unwrap_or_else(|| repo::Layout::new(args.layout.as_str()));
    let report = repo::publish_with(&args.dir, &args.to, &layout, args.allow_partial)?;
    let mut text = String::new();
    for f in &report.files {
        let note = if f.reused { " (already in place)" } else { "" };
        text.push_str(&format!("{}  {}{note}\n", f.path, f.size));
    }
    text.push_str(&format!(
        "published {} ({}) into {}\n",
        report.version,
        crate::report::count(report.files.len(), "file", "files"),
        args.to.display()
    ));
    print_out(&text)
}

pub fn channel_command(c: &ChannelCommand) -> Result<(), Error> {
    match c {
        ChannelCommand::Set {
            channel,
            release,
            repo: dir,
        } => {
            repo::channel_set(dir, channel, release)?;
            print_out(&format!("{channel} -> {release}\n"))
        }
        ChannelCommand::List { repo: dir } => {
            let mut text = String::new();
            for (channel, version) in repo::channel_list(dir)? {
                text.push_str(&format!("{channel}\t{version}\n"));
            }
            print_out(&text)
        }
    }
}
