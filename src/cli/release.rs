//! The commands around a release's life after the build: `merge`,
//! `verify`, `ci`, `publish`, `channel` and `cache`.
//!
//! Part of the CLI glue, like `commands`: each function turns flags into
//! the library's options, calls it and prints.

use std::path::Path;

use super::common::{execute, plan_options, print_out, warn};
use super::{
    CacheAction, CacheArgs, ChannelCommand, CiArgs, Cli, MergeArgs, PlanFlags, PublishArgs,
};
use crate::error::Error;
use crate::{release, repo};

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
    let opts = release::MergeOptions {
        plan: plan_options(cli, &flags),
        shards: args.shards.clone(),
        clean: args.clean,
        allow_partial: args.allow_partial,
        raise: crate::merge::unpack::Raise {
            bytes: args.max_unpack_bytes,
            entries: args.max_unpack_entries,
            ratio: args.max_unpack_ratio,
        },
    };
    let prepared = release::prepare_merge(&opts, &mut warn)?;
    execute(cli, prepared).await
}

pub fn verify_command(dir: &Path, allow_partial: bool, flat: bool) -> Result<(), Error> {
    let report = release::verify(&release::VerifyOptions {
        dir: dir.to_path_buf(),
        allow_partial,
        flat,
    })?;
    // Signatures are named only when the release has some, so an
    // unsigned release reads as it always did.
    let signatures = if report.signatures > 0 {
        format!(
            ", {}",
            crate::human::count(report.signatures, "signature", "signatures")
        )
    } else {
        String::new()
    };
    let mut text = format!(
        "{}: {}{signatures} and {} checked\n",
        dir.display(),
        crate::human::count(report.files, "file", "files"),
        crate::human::count(report.binaries, "binary", "binaries")
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
            message: crate::human::count(report.problems.len(), "problem", "problems"),
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
    // `[ci]`, `[images]` and `[sign]` shape the GitHub merge job, `[cache]`
    // registries the build jobs; without
    // a matrix.toml yet, the defaults. GitLab's pipeline takes nothing
    // from it, so its file is written whatever the config holds.
    if args.kind == crate::ci::Provider::Github && args_config.exists() {
        let loaded = crate::config::load(args_config)?;
        opts.attestations = loaded.config.ci.attestations;
        opts.images = loaded.config.images.is_some();
        opts.registry_cache = loaded
            .config
            .cache
            .as_ref()
            .is_some_and(|c| c.from.is_some() || c.to.is_some());
        if let Some(sign) = &loaded.config.sign {
            opts.sign_secrets = [&sign.key_env, &sign.passphrase_env]
                .into_iter()
                .flatten()
                .cloned()
                .collect();
        }
    }
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

pub fn publish_command(args: &PublishArgs, config: &Path) -> Result<(), Error> {
    let channels = match (args.no_channels, args.channels_only) {
        (true, _) => release::Channels::None,
        (_, true) => release::Channels::Only,
        _ => release::Channels::All,
    };
    let published = release::publish(&release::PublishOptions {
        dir: args.dir.clone(),
        to: args.to.clone(),
        layout: args.layout.clone(),
        allow_partial: args.allow_partial,
        config: config.to_path_buf(),
        channels,
        dry_run: args.dry_run,
        apt: crate::packager::deb::AptConfig {
            suite: args.apt_suite.clone(),
            component: args.apt_component.clone(),
            origin: args.apt_origin.clone(),
            label: args.apt_label.clone(),
        },
    })?;
    for w in &published.warnings {
        warn(w.clone());
    }
    let mut text = String::new();
    if let (Some(report), Some(to)) = (&published.repository, &args.to) {
        let would = if args.dry_run { "would publish: " } else { "" };
        for f in &report.files {
            let note = if f.reused { " (already in place)" } else { "" };
            text.push_str(&format!("{would}{}  {}{note}\n", f.path, f.size));
        }
        text.push_str(&format!(
            "{} {} ({}) into {}\n",
            if args.dry_run {
                "would publish"
            } else {
                "published"
            },
            report.version,
            crate::human::count(report.files.len(), "file", "files"),
            to.display()
        ));
    }
    for p in &published.apt_index {
        text.push_str(&format!("apt index: {p}\n"));
    }
    for t in &published.taps {
        let line = match &t.action {
            repo::TapAction::Committed(commit) => format!(
                "channel {}: committed {} to {} {} ({}) as {}: {}",
                t.channel,
                t.path,
                t.remote,
                t.branch,
                &commit[..commit.len().min(12)],
                t.author,
                t.message
            ),
            repo::TapAction::Unchanged => format!(
                "channel {}: {} on {} {} already holds this release's file; no commit",
                t.channel, t.path, t.remote, t.branch
            ),
            repo::TapAction::WouldCommit => format!(
                "channel {}: would commit {} ({} bytes) to {} {} as {}: {}",
                t.channel, t.path, t.size, t.remote, t.branch, t.author, t.message
            ),
        };
        text.push_str(&line);
        text.push('\n');
    }
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

pub fn cache_command(cli: &Cli, args: &CacheArgs) -> Result<(), Error> {
    let at = release::cache_location(&cli.config, args.cache_dir.as_deref())?;
    let size = |n: u64| crate::human::size(n);
    match args.action {
        CacheAction::Stats { json } => {
            let stats = release::cache_stats(&at)?;
            if json {
                let mut text = serde_json::to_string_pretty(&stats)
                    .map_err(|e| Error::io("stdout")(e.into()))?;
                text.push('\n');
                return print_out(&text);
            }
            print_out(&format!(
                "cache: {}\nentries: {}\nfiles: {} ({})\nsize cap: {}\n",
                at.dir.display(),
                stats.stats.records,
                stats.stats.blobs,
                size(stats.stats.bytes),
                size(at.max_size),
            ))
        }
        CacheAction::Prune | CacheAction::Clear => {
            let (r, done) = match args.action {
                CacheAction::Prune => (release::cache_prune(&at)?, "pruned"),
                _ => (release::cache_clear(&at)?, "cleared"),
            };
            print_out(&format!(
                "{done} {}: {} entries, {} files ({}) removed\n",
                at.dir.display(),
                r.records,
                r.blobs,
                size(r.bytes)
            ))
        }
    }
}
