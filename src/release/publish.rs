//! [`publish`]: a verified release into a directory repository, and its
//! channel files into the taps and buckets matrix.toml names.
//!
//! Part of `release`. Where to commit comes from matrix.toml (each
//! channel's `tap` / `bucket`, planned by its packager as the build did);
//! what to commit comes from dist/ only: `repo` commits the file the
//! release's manifest records, after checking the release, byte for byte.
//! A matrix.toml other than the one the release was built with is said
//! (it may name other channels), not refused.

use std::path::{Path, PathBuf};

use crate::config::{ChannelKind, KeyPath, Loaded};
use crate::error::Error;
use crate::packager::deb::AptConfig;
use crate::packager::registry::{PlanInput, Settings};
use crate::packager::tap::{self, inner_path_problem};
use crate::repo::{self, PublishReport, RepoError, TapOptions, TapReport, TapRequest};

/// Which parts of a publish run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Channels {
    /// The directory repository (if `to` is set), then every tap and bucket.
    #[default]
    All,
    /// The directory repository only (`--no-channels`).
    None,
    /// The taps and buckets only (`--channels-only`).
    Only,
}

/// What [`publish`] copies and commits where.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The release folder (a dist/).
    pub dir: PathBuf,
    /// The repository folder; `None` publishes to taps and buckets only.
    pub to: Option<PathBuf>,
    /// `flat`, `gardenlinux`, or a path template.
    pub layout: String,
    /// Publish a release whose manifest lists missing targets.
    pub allow_partial: bool,
    /// matrix.toml, read for its channels' `tap` and `bucket`, and by
    /// `--layout apt` for `[sign]` and the deb channel's `apt` table (a
    /// missing file has none).
    pub config: PathBuf,
    pub channels: Channels,
    /// Check everything and say what would be done; write and push nothing.
    pub dry_run: bool,
    /// Suite, component, origin and label of `--layout apt` (its flags);
    /// each unset one comes from the deb channel's `apt` table in
    /// matrix.toml, else is the default (`stable`, `main`, none, none).
    pub apt: AptConfig,
}

impl PublishOptions {
    /// Copying `dir` into `to` only, as `matrix publish` did before taps.
    pub fn to_repository(dir: PathBuf, to: PathBuf, layout: &str) -> Self {
        PublishOptions {
            dir,
            to: Some(to),
            layout: layout.to_string(),
            allow_partial: false,
            config: PathBuf::from("matrix.toml"),
            channels: Channels::None,
            dry_run: false,
            apt: AptConfig::default(),
        }
    }
}

/// What [`publish`] did (or, in a dry run, would do).
#[derive(Debug, Clone)]
pub struct Published {
    /// The directory publish, when `to` was given.
    pub repository: Option<PublishReport>,
    /// One per tap or bucket, in matrix.toml's order.
    pub taps: Vec<TapReport>,
    /// Things to tell the person (a changed matrix.toml).
    pub warnings: Vec<String>,
    /// `--layout apt`: the index files written under dists/ (in a dry run,
    /// none).
    pub apt_index: Vec<String>,
}

/// Publishes the release in `opts.dir`: into the directory repository,
/// then into every tap and bucket. A tap that fails after the directory
/// publish leaves the directory publish done; `--channels-only` finishes
/// the job, committing only what is not there yet.
pub fn publish(opts: &PublishOptions) -> Result<Published, Error> {
    let mut warnings = Vec::new();
    // Every channel's settings are read and rendered before anything is
    // written, so a mistake there stops the publish at its start.
    let (requests, project_dir) = match opts.channels {
        Channels::None => (Vec::new(), PathBuf::from(".")),
        _ => tap_requests(opts, &mut warnings)?,
    };
    if opts.channels == Channels::Only && requests.is_empty() {
        return Err(Error::Usage {
            message: format!(
                "--channels-only: no channel in {} has a tap or bucket to commit to",
                opts.config.display()
            ),
        });
    }
    let mut apt_index = Vec::new();
    let repository = match (&opts.to, opts.channels) {
        (Some(to), Channels::All | Channels::None) if opts.layout == "apt" => {
            Some(publish_apt(opts, to, &mut apt_index)?)
        }
        (Some(to), Channels::All | Channels::None) => {
            let layout = repo::Layout::preset(&opts.layout)
                .unwrap_or_else(|| repo::Layout::new(opts.layout.as_str()));
            Some(if opts.dry_run {
                repo::preview(&opts.dir, to, &layout, opts.allow_partial)?
            } else {
                repo::publish_with(&opts.dir, to, &layout, opts.allow_partial)?
            })
        }
        _ => None,
    };
    let taps = repo::commit_files(
        &opts.dir,
        &requests,
        &project_dir,
        TapOptions {
            allow_partial: opts.allow_partial,
            verified: repository.is_some(),
            dry_run: opts.dry_run,
        },
    )?;
    Ok(Published {
        repository,
        taps,
        warnings,
        apt_index,
    })
}

/// `--layout apt`: the release published as any layout would (verified,
/// staged, never over a published version), its `.deb` files into
/// `pool/<component>/`, then `dists/<suite>/` regenerated from the whole
/// pool, dated with the release's time, before the version is recorded.
fn publish_apt(
    opts: &PublishOptions,
    to: &Path,
    apt_index: &mut Vec<String>,
) -> Result<PublishReport, Error> {
    let mut apt = repo::AptOptions::default();
    let mut wanted = opts.apt.clone();
    if opts.config.exists() {
        let loaded = crate::config::load(&opts.config)?;
        wanted = wanted.or(&deb_apt_table(&loaded)?);
        // Signed with the release's gpg key when matrix.toml's [sign] has one.
        if let Some(sign) = &loaded.config.sign
            && sign.method == crate::packager::sign::Method::Gpg
        {
            apt.gpg_key.clone_from(&sign.key_id);
            apt.gpg_passphrase_env.clone_from(&sign.passphrase_env);
        }
    }
    let pick = |value: Option<String>, default: &mut String| {
        if let Some(value) = value {
            *default = value;
        }
    };
    pick(wanted.suite, &mut apt.suite);
    pick(wanted.component, &mut apt.component);
    pick(wanted.origin, &mut apt.origin);
    pick(wanted.label, &mut apt.label);
    apt.check()?;
    let manifest = repo::read_manifest(&opts.dir)?;
    if !manifest.artifacts.iter().any(|a| a.name.ends_with(".deb")) {
        return Err(Error::Usage {
            message: format!(
                "--layout apt: the release in {} has no .deb artifact; add a channel of kind \"deb\" to matrix.toml and build again",
                opts.dir.display()
            ),
        });
    }
    let layout = repo::apt_layout(&apt.component);
    if opts.dry_run {
        return Ok(repo::preview(&opts.dir, to, &layout, opts.allow_partial)?);
    }
    // The index is rebuilt (and signed) before the version is recorded as
    // published: one that fails leaves the version unpublished, and the
    // same command again finishes it.
    let report = repo::publish_then(&opts.dir, to, &layout, opts.allow_partial, || {
        *apt_index = repo::apt_write_index(to, &apt, manifest.timestamp)?;
        Ok(())
    })?;
    Ok(report)
}

/// The `apt` table of matrix.toml's deb channel (there is at most one:
/// the plan keeps one channel per kind), empty without one; a value apt
/// cannot take is an error at its place in the file.
fn deb_apt_table(loaded: &Loaded) -> Result<AptConfig, Error> {
    let mut debs = loaded
        .config
        .channels
        .iter()
        .filter(|(_, c)| c.kind() == ChannelKind::Deb);
    let (name, table) = match (debs.next(), debs.next()) {
        (Some((a, _)), Some((b, _))) => {
            return Err(Error::Usage {
                message: format!(
                    "--layout apt: channels {a} and {b} of {} are both deb; keep one channel per kind",
                    loaded.source.path.display()
                ),
            });
        }
        (Some((name, c)), None) => match &c.settings {
            Settings::Deb(deb) => (name, deb.apt.clone().unwrap_or_default()),
            _ => return Ok(AptConfig::default()),
        },
        _ => return Ok(AptConfig::default()),
    };
    match table.problem() {
        Some((key, value, allowed)) => Err(crate::config::LoadError::from(loaded.source.error_at(
            &KeyPath::parse("channels").key(name).key("apt").key(key),
            format!("channel {name}: {value:?} is not an apt {key}"),
            Some(format!("apt {key}: {allowed}")),
        ))
        .into()),
        None => Ok(table),
    }
}

/// The commits matrix.toml asks for, with paths and messages rendered for
/// the release in dist/, and the folder git's user.name is asked in.
fn tap_requests(
    opts: &PublishOptions,
    warnings: &mut Vec<String>,
) -> Result<(Vec<TapRequest>, PathBuf), Error> {
    let config_path = &opts.config;
    let project_dir = folder_of(config_path);
    if !config_path.exists() {
        return Ok((Vec::new(), project_dir));
    }
    let loaded = crate::config::load(config_path)?;
    let config = &loaded.config;
    let planned: Vec<_> = config
        .channels
        .iter()
        .filter_map(|(name, channel)| {
            let path = |p: &str| project_dir.join(p);
            let cx = PlanInput {
                channel: name,
                project: &config.project.name,
                description: &config.project.description,
                homepage: &config.project.homepage,
                license: &config.project.license,
                name: channel.name.as_deref(),
                version: "",
                stable: true,
                path: &path,
                // Only where the tap file lies in dist/ is asked of the
                // plan here; no kind with a tap needs the checksums file.
                checksums: String::new(),
            };
            let package = cx.package().to_string();
            tap::planned(&channel.settings.plan(&cx))
                .map(|(file, commit)| (name, package, file, commit))
        })
        .collect();
    if planned.is_empty() {
        return Ok((Vec::new(), project_dir));
    }
    let manifest = repo::read_manifest(&opts.dir)?;
    let mut hasher = crate::package::checksum::Hasher::new(crate::package::Algorithm::Sha256);
    hasher.update(loaded.source.text.as_bytes());
    if hasher.finalize_hex() != manifest.config_sha256 {
        warnings.push(format!(
            "{} is not the file the release in {} was built with; its taps and buckets are used as they are now",
            config_path.display(),
            opts.dir.display()
        ));
    }
    let engine = crate::template::Engine::with_limits(&config.limits);
    let mut requests = Vec::with_capacity(planned.len());
    for (channel, package, file, commit) in planned {
        let mut vars = crate::template::Vars::new();
        vars.set("name", package.as_str())
            .set("version", manifest.version.as_str())
            .set("tag", manifest.tag.as_str())
            .set("project", manifest.project.name.as_str())
            .set("channel", channel.as_str());
        let render = |what: &str, template: &str| {
            engine
                .render(template, &vars)
                .map_err(|e| RepoError::TapFile {
                    channel: channel.clone(),
                    problem: format!("the {what} template {template:?} failed: {}", e.message),
                })
        };
        let path = render("path", &commit.path)?;
        if let Some(why) = inner_path_problem(&path) {
            return Err(RepoError::TapFile {
                channel: channel.clone(),
                problem: format!("the path {path:?} (from {:?}) {why}", commit.path),
            }
            .into());
        }
        let message = render("message", &commit.message)?;
        requests.push(TapRequest {
            channel: channel.clone(),
            file,
            url: commit.url,
            branch: commit.branch,
            path,
            message,
            author: commit.author,
        });
    }
    Ok((requests, project_dir))
}

/// The folder matrix.toml is in, for git's user.name.
fn folder_of(config: &Path) -> PathBuf {
    config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
