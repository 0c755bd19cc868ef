//! matrix: a build matrix executor for releases.
//!
//! Data flows one way (see DESIGN.md):
//! `matrix.toml` -> [`config`] -> [`matrix`] (targets) -> [`plan`] (job graph)
//! -> [`exec`] (runs jobs, emits events) -> `dist/` (written by [`package`]).
//! The binary in `main.rs` only builds the runtime and calls [`cli::run`].

pub mod ci;
pub mod cli;
pub mod config;
pub mod error;
pub mod exec;
pub mod image;
pub mod init;
pub mod inspect;
pub mod matrix;
pub mod merge;
pub mod package;
pub mod packager;
pub mod plan;
pub mod preset;
pub mod repo;
pub mod report;
pub mod shard;
pub mod target;
pub mod template;
pub mod toolchain;
pub mod version;
