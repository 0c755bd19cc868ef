//! Command-line interface: clap definitions and turning flags into requests.
//!
//! The glue of the flow: each subcommand turns its flags into the options
//! of a library entry point (`release::build`, `merge`, `verify`,
//! `publish`, `release::plan` for `plan` and `doctor`), calls it and prints
//! what it returns. No work of its own happens here beyond wiring and output.

mod commands;
mod common;
mod install;
mod release;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::error::Error;

#[derive(Debug, Parser)]
#[command(
    name = "matrix",
    version,
    about = "Build a release matrix: cross-compile every target in parallel, package reproducible archives, checksums and a manifest.",
    propagate_version = true
)]
pub struct Cli {
    /// The release description.
    #[arg(
        short = 'c',
        long,
        global = true,
        default_value = "matrix.toml",
        value_name = "FILE"
    )]
    pub config: PathBuf,
    /// Print only errors and the final summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more: job starts, commands and info logs; -vv adds debug logs
    /// (each process's command, env keys and folder; scheduling), -vvv
    /// trace logs. MATRIX_LOG (env-filter syntax) overrides the level.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the expanded targets and the job graph; touches nothing on disk.
    Plan(PlanArgs),
    /// Run the plan and fill the dist folder.
    Build(BuildArgs),
    /// Show which toolchains each target needs, where each was found, and
    /// how to install the rest (`--install` installs them).
    Doctor(DoctorArgs),
    /// List the os and arch names matrix knows, and every platform's spellings.
    Targets {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of matrix.toml.
    Schema,
    /// Merge shard folders into one verified release.
    Merge(MergeArgs),
    /// Check a release folder: completeness, every checksum, every binary.
    Verify {
        /// The release folder.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Accept a release whose manifest lists missing targets.
        #[arg(long)]
        allow_partial: bool,
        /// Every file is in DIR itself, by its file name (a downloaded
        /// GitHub release), not where manifest.json records it.
        #[arg(long)]
        flat: bool,
    },
    /// Write a CI workflow that plans, builds shards and merges.
    Ci(CiArgs),
    /// Copy a complete, verified release into a directory repository.
    Publish(PublishArgs),
    /// Point release channels of a repository at published versions.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Write a commented matrix.toml for the project in this folder (or the
    /// folder of -c), and add dist/ to its .gitignore.
    Init(InitArgs),
    /// Look after the action cache: its size, pruning, clearing.
    Cache(CacheArgs),
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub action: CacheAction,
    /// The cache folder [default: [cache] dir of -c's matrix.toml if there
    /// is one, else ~/.cache/matrix/cache].
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum CacheAction {
    /// Print how many entries and bytes the cache holds.
    Stats {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Drop least recently used entries until the cache fits its size cap
    /// ([cache] max-size, default 10GiB).
    Prune,
    /// Remove every entry.
    Clear,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Replace an existing matrix.toml.
    #[arg(long)]
    pub force: bool,
    /// Print the file instead of writing it (nothing is written).
    #[arg(long, visible_alias = "stdout")]
    pub dry_run: bool,
    /// The program to release when the project has several (a cmd/<name>
    /// folder, a cargo binary target, a Makefile program).
    #[arg(long, value_name = "NAME")]
    pub bin: Option<String>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard folders written by `matrix build --shard i/N`, or .tar,
    /// .tar.gz or .zip archives of them.
    #[arg(value_name = "SHARD", required = true)]
    pub shards: Vec<PathBuf>,
    /// Output folder for the merged release.
    #[arg(long, default_value = "dist", value_name = "DIR")]
    pub dist: PathBuf,
    /// Empty --dist first.
    #[arg(long)]
    pub clean: bool,
    /// Make a release even when shards are missing; it is marked partial.
    #[arg(long)]
    pub allow_partial: bool,
    /// Build a snapshot (as the shards did).
    #[arg(long)]
    pub snapshot: bool,
    /// Push every image index to its repositories.
    #[arg(long)]
    pub push: bool,
    /// Write every image as an OCI layout archive into --dist.
    #[arg(long)]
    pub oci_dir: bool,
    /// Let a shard archive unpack to this many bytes (e.g. 8GiB) when the
    /// limit derived from its manifest is lower.
    #[arg(long, value_name = "SIZE", value_parser = crate::merge::unpack::parse_size)]
    pub max_unpack_bytes: Option<u64>,
    /// Let a shard archive hold this many entries.
    #[arg(long, value_name = "N")]
    pub max_unpack_entries: Option<u64>,
    /// Let a shard archive expand to this many times its size (default 100).
    #[arg(long, value_name = "N")]
    pub max_unpack_ratio: Option<u64>,
}

/// Where CI runners get this version of matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CiInstallFrom {
    /// `cargo install --locked --git <repository> --tag v<version>`.
    Cargo,
    /// The linux/amd64 release archive of v<version>, checked with sha256sum.
    Archive,
}

/// What each CI build job does about the targets' toolchains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CiToolchains {
    /// Run `matrix doctor --install --yes`.
    Install,
    /// Run `matrix doctor`: the runner must already have them.
    Check,
    /// No toolchain step.
    None,
}

#[derive(Debug, Args)]
pub struct CiArgs {
    #[arg(value_enum)]
    pub kind: crate::shard::Provider,
    /// Number of build shards.
    #[arg(long, default_value_t = 4)]
    pub shards: usize,
    /// Where runners get this version of matrix.
    #[arg(long, value_enum, default_value_t = CiInstallFrom::Cargo)]
    pub install_from: CiInstallFrom,
    /// The release archive's sha256, written into the file and checked
    /// instead of the release's checksums file (with --install-from archive).
    #[arg(long, value_name = "SHA256")]
    pub matrix_sha256: Option<String>,
    /// A shell command that installs matrix on a runner, instead of this
    /// version of matrix.
    #[arg(long, value_name = "COMMAND", conflicts_with_all = ["install_from", "matrix_sha256"])]
    pub install: Option<String>,
    /// What each build job does about the toolchains its targets need.
    #[arg(long, value_enum, default_value_t = CiToolchains::Install)]
    pub toolchains: CiToolchains,
    /// GitHub runner label of every job.
    #[arg(long, default_value = "ubuntu-latest", value_name = "LABEL")]
    pub runs_on: String,
    /// GitLab image of every job (Debian-based for --toolchains install).
    #[arg(long, default_value = "rust:1")]
    pub image: String,
    /// Write the workflow to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The release folder.
    #[arg(default_value = "dist", value_name = "DIR")]
    pub dir: PathBuf,
    /// The repository folder.
    #[arg(
        long = "to",
        value_name = "REPO",
        required_unless_present = "channels_only",
        conflicts_with = "channels_only"
    )]
    pub to: Option<PathBuf>,
    /// `flat`, `gardenlinux`, `apt` (pool/ and dists/ of an apt
    /// repository from the release's .deb files), or a path template.
    #[arg(long, default_value = "flat")]
    pub layout: String,
    /// --layout apt: the suite, dists/<SUITE>/ [default: the deb channel's
    /// apt.suite in matrix.toml, else stable].
    #[arg(long, value_name = "SUITE")]
    pub apt_suite: Option<String>,
    /// --layout apt: the component, pool/<COMPONENT>/ [default: the deb
    /// channel's apt.component, else main].
    #[arg(long, value_name = "COMPONENT")]
    pub apt_component: Option<String>,
    /// --layout apt: the Release file's Origin field [default: the deb
    /// channel's apt.origin, else none].
    #[arg(long, value_name = "ORIGIN")]
    pub apt_origin: Option<String>,
    /// --layout apt: the Release file's Label field [default: the deb
    /// channel's apt.label, else none].
    #[arg(long, value_name = "LABEL")]
    pub apt_label: Option<String>,
    /// Publish a release whose manifest lists missing targets.
    #[arg(long)]
    pub allow_partial: bool,
    /// Commit nothing to the taps and buckets of matrix.toml's channels.
    /// matrix.toml is then not read, except by --layout apt (for the gpg
    /// key of [sign] and the deb channel's apt table), if it exists.
    #[arg(long, conflicts_with = "channels_only")]
    pub no_channels: bool,
    /// Only commit the channel files to their taps and buckets (no --to):
    /// to finish a publish whose commits failed.
    #[arg(long)]
    pub channels_only: bool,
    /// Check the release and say what would be copied and committed;
    /// write and push nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Point CHANNEL at VERSION (atomically).
    Set {
        channel: String,
        /// A published version.
        #[arg(value_name = "VERSION")]
        release: String,
        #[arg(long, value_name = "REPO")]
        repo: PathBuf,
    },
    /// List the channels and the versions they point at.
    List {
        #[arg(long, value_name = "REPO")]
        repo: PathBuf,
    },
}

/// Flags that shape the plan, shared by `plan` and `build`.
#[derive(Debug, Args, Clone)]
pub struct PlanFlags {
    /// Output folder for artifacts, logs and the manifest.
    #[arg(long, default_value = "dist", value_name = "DIR")]
    pub dist: PathBuf,
    /// Only these targets: an id like linux/arm64 or a glob like 'linux/*'. Repeatable.
    #[arg(long = "target", value_name = "ID")]
    pub targets: Vec<String>,
    /// Build a snapshot: no release tag needed, a dirty tree allowed; version <next patch>-SNAPSHOT-<commit>.
    #[arg(long)]
    pub snapshot: bool,
    /// Push every image index to its repositories under every tag ([images]).
    #[arg(long)]
    pub push: bool,
    /// Write every image as an OCI image layout archive into dist/, listed in the checksums file.
    #[arg(long)]
    pub oci_dir: bool,
    /// Leave the [images] out of this run: binaries and archives only.
    #[arg(long, conflicts_with_all = ["push", "oci_dir"])]
    pub no_images: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Print the plan (or with --shards the assignment) as JSON: the same
    /// as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Print the assignment of targets to N CI shards instead of the plan.
    /// Resolves the version as `build` does (a release needs a tag at HEAD
    /// and a clean tree), since the shards it prints feed builds.
    #[arg(long, value_name = "N", conflicts_with = "targets")]
    pub shards: Option<usize>,
    /// json: the plan, or with --shards the assignment; github (for
    /// strategy.matrix) and gitlab: the assignment, so they need --shards.
    #[arg(
        long,
        value_enum,
        requires_ifs = [("github", "shards"), ("gitlab", "shards")]
    )]
    pub format: Option<crate::shard::Format>,
    /// With --shards: a previous manifest.json whose job durations weigh
    /// the targets.
    #[arg(long, value_name = "FILE", requires = "shards")]
    pub history: Option<PathBuf>,
    /// Also say, per build, archive, package and platform image job,
    /// whether the action cache has it (hit) or why not (miss: which input
    /// changed); with --json, a `cache_status` field. Reads the sources and
    /// hashes the compilers.
    #[arg(long, conflicts_with = "shards")]
    pub cache_status: bool,
    /// With --cache-status: the cache folder [default: [cache] dir, else
    /// ~/.cache/matrix/cache].
    #[arg(long, value_name = "DIR", requires = "cache_status")]
    pub cache_dir: Option<PathBuf>,
    /// With --cache-status: a registry repository to ask for the entries
    /// the folder lacks (records only, nothing downloaded); repeat for
    /// more. Replaces [cache] from.
    #[arg(long, value_name = "REPOSITORY", requires = "cache_status")]
    pub cache_from: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Remove the dist folder's contents first (a non-empty dist is an error otherwise).
    #[arg(long)]
    pub clean: bool,
    /// Most jobs running at once [default: number of CPUs].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Most jobs running in a container engine at once [default: [container] jobs, else -j].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub container_jobs: Option<u16>,
    /// Keep building the other targets after a failure, and report every failure.
    #[arg(long)]
    pub keep_going: bool,
    /// Run each Linux binary with [build] smoke arguments (natively or under qemu-user).
    #[arg(long)]
    pub smoke: bool,
    /// Build only shard I of N (`1/4`): its targets' builds and archives
    /// and a shard manifest; `matrix merge` makes the release.
    #[arg(long, value_name = "I/N", conflicts_with = "targets")]
    pub shard: Option<String>,
    /// With --shard: the previous manifest.json the shards were planned with.
    #[arg(long, value_name = "FILE", requires = "shard")]
    pub history: Option<PathBuf>,
    /// Run every build; read and store nothing in the action cache.
    #[arg(long)]
    pub no_cache: bool,
    /// The action cache's folder (a shared folder works); turns the cache
    /// on without a [cache] table.
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub cache_dir: Option<PathBuf>,
    /// A registry repository (`ghcr.io/acme/tool-cache`) to pull cache
    /// entries from when the folder lacks them; repeat for more, tried in
    /// order. Replaces [cache] from; turns the cache on.
    #[arg(long, value_name = "REPOSITORY", conflicts_with = "no_cache")]
    pub cache_from: Vec<String>,
    /// A registry repository to push each stored cache entry to. Replaces
    /// [cache] to; turns the cache on.
    #[arg(long, value_name = "REPOSITORY", conflicts_with = "no_cache")]
    pub cache_to: Option<String>,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub flags: PlanFlags,
    /// Also check what --smoke needs.
    #[arg(long)]
    pub smoke: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Install what is missing: Debian packages (apt-get, as root or with
    /// `sudo -n`), zig from PyPI into matrix's tool cache, qemu's binfmt
    /// handlers; prints the commands first and asks.
    #[arg(long, conflicts_with = "json")]
    pub install: bool,
    /// With --install: do not ask (needed when stdin is not a terminal).
    #[arg(long, short = 'y', requires = "install")]
    pub yes: bool,
}

/// Entry point of the binary: parses flags, runs, maps errors to exit codes
/// (0 ok, 1 a job failed, 2 bad config or usage, 130 interrupted).
pub fn main() -> ExitCode {
    #[cfg(target_os = "linux")]
    {
        // `matrix __supervise ...`: this process only watches over one job.
        if let Some(code) = crate::process::supervise::dispatch() {
            return ExitCode::from(code);
        }
        // /proc/self/exe: the same binary even if the file was replaced since.
        crate::process::use_supervisor("/proc/self/exe".into());
    }
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    install_error_hook();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("matrix: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = e.exit_code();
            if !matches!(e, Error::Reported { .. }) {
                eprintln!("{:?}", miette::Report::new(e));
            }
            ExitCode::from(code)
        }
    }
}

/// `MATRIX_LOG` (tracing's env-filter syntax) wins; otherwise `-v` shows
/// info, `-vv` debug (each job's command, env keys and folder, the
/// scheduler's decisions) and `-vvv` trace. Colours only on a terminal.
fn init_tracing(verbose: u8) {
    use std::io::IsTerminal;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MATRIX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .try_init();
}

/// Colours and Unicode on a terminal; plain ASCII in logs and tests.
fn install_error_hook() {
    use std::io::IsTerminal;
    let terminal = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = miette::set_hook(Box::new(move |_| {
        let opts = miette::MietteHandlerOpts::new().terminal_links(false);
        let opts = if terminal {
            opts
        } else {
            opts.color(false).unicode(false).width(100)
        };
        Box::new(opts.build())
    }));
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cli_is_consistent() {
        // clap checks names, conflicts and defaults only when asked (or
        // when a command line reaches the broken part).
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
