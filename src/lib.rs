//! matrix: a build matrix executor for releases.
//!
//! Data flows one way:
//! `matrix.toml` -> [`config`] -> [`matrix`] (targets) -> [`plan`] (job graph)
//! -> [`exec`] (runs jobs, emits events) -> `dist/` (written by [`package`],
//! with the channel files [`packager`] renders and the images [`image`]
//! builds) -> [`repo`] (`matrix publish` and `matrix channel`).
//!
//! Beside that flow: [`version`], [`template`], [`target`], [`preset`] and
//! [`toolchain`] feed the plan and the build; [`inspect`] checks each built
//! binary; [`shard`] splits a plan over CI runners, [`merge`] joins their
//! dists, [`ci`] writes the CI files that drive them; [`dist_check`] checks
//! a release folder (`matrix verify`); [`report`] turns events into output
//! ([`human`] words its counts, durations and sizes, for every layer);
//! [`process`] starts and stops every process matrix runs (jobs, tools,
//! git), [`cache`] keeps unchanged jobs' outputs by the digest of their
//! inputs, [`engine`] is the container engine a run talks to; [`init`]
//! writes a first matrix.toml. Each module's doc says where it sits, and
//! `tests/layers.rs` keeps the order in which modules may import each
//! other.
//!
//! [`release`] holds the library's entry points `build`, `merge`, `verify`
//! and `publish`, each with an options struct. The binary in `main.rs` only
//! calls [`cli::main`], which parses the flags, builds the runtime and calls
//! [`release`]; [`error`] gathers the areas' errors into exit codes.

pub mod cache;
pub mod ci;
pub mod cli;
pub mod config;
pub mod dist_check;
pub mod engine;
pub mod error;
pub mod exec;
pub mod human;
pub mod image;
pub mod init;
pub mod inspect;
pub mod matrix;
pub mod merge;
pub mod package;
pub mod packager;
pub mod plan;
pub mod preset;
pub mod process;
pub mod release;
pub mod repo;
pub mod report;
pub mod shard;
pub mod target;
pub mod template;
pub mod toolchain;
pub mod version;
