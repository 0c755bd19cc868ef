//! Channel packagers (not `matrix publish`, which is the `repo` module):
//! the inputs Homebrew, Snapcraft, Chocolatey and Scoop need, the packages
//! matrix can build natively (.snap, .nupkg, .deb, .rpm), install.sh, and
//! the release notes, each written into dist/ for a `[channels.<name>]` of
//! matrix.toml.
//!
//! One module per kind (`homebrew`, `snap`, `chocolatey`, `scoop`, `deb`,
//! `rpm`, `shell`; `tap` holds the tap and bucket keys of Homebrew and
//! Scoop channels, which `repo` commits; `notes`
//! is the release notes, which every release has; `sbom` is the SBOMs of
//! `[sbom]`, one job per archive rather than a channel), each owning:
//! - `config.rs`: its serde config type, with `deny_unknown_fields`, so
//!   its keys are the only ones its channels take;
//! - `plan.rs`: its line in the registry ([`Packager`]: name, dist folder,
//!   default operating systems, which platforms it ships and in which
//!   archive formats) and `plan`, which turns its config into its planned
//!   step (defaults and output names decided at plan time);
//! - its renderer (`<kind>.rs`, a pure function of an
//!   [`input::ChannelInput`] and an optional user template) and, where it
//!   builds a package, its builder;
//! - `write.rs`: `write`, which renders (and builds) the planned step and
//!   hands each file to an [`out::Out`], which writes it into dist/ and
//!   records it; for a kind that makes one package per target (deb, rpm,
//!   msi, snap), `per_target` says the step does and `write_package`
//!   builds one target's package, in a package job of its own, while
//!   `write` writes only the channel's other files.
//!
//! [`registry`] lists the kinds once; everything else asks it.
//!
//! Adding a kind `foo`:
//! 1. Create `foo.rs` and the folder `foo/`: the renderer in `foo.rs`, and
//!    `pub use config::FooConfig; pub use plan::FooStep; pub(super) use
//!    plan::{PACKAGER, check, check_urls, plan}; pub(super) use
//!    write::write;` and, unless it builds a package per target,
//!    `pub(super) use super::registry::{no_package as write_package,
//!    no_package_file as package_file, no_packages as per_target};`.
//! 2. `foo/config.rs`: `FooConfig`, deriving `Deserialize`, `Serialize` and
//!    `JsonSchema`, `#[serde(deny_unknown_fields, rename_all =
//!    "kebab-case")]`, every key optional or defaulted.
//! 3. `foo/plan.rs`: `pub const PACKAGER: Packager` (name, title, dir,
//!    oses, slot, format_problem, one_format, format_hint, universal,
//!    needs_url, cache_tools), `pub struct
//!    FooStep` (`Serialize`), `pub fn plan(&PlanInput, &FooConfig) ->
//!    FooStep`, and `check` / `check_urls` (or re-export
//!    `registry::{no_check, no_url_check}` under those names).
//! 4. `foo/write.rs`: `pub fn write(&Out, &ChannelInput, &FooStep) ->
//!    Result<Vec<Artifact>, PublishError>` (and for packages per target
//!    `pub fn per_target(&FooStep) -> bool`, `pub fn
//!    write_package(&Out, &Release, &Package, &FooStep) -> Result<Artifact,
//!    PublishError>` and `pub fn package_file(&Release, &Package, &FooStep)
//!    -> Result<String, PublishError>`, the path in dist/ `write_package`
//!    writes, which a restored package job's entry must name).
//! 5. `pub mod foo;` below, and one line in the `kinds!` list of
//!    [`registry`] (`/// doc` then `Foo => foo(FooConfig, FooStep),`).
//!    Its keys join those `[channels.<name>]` takes, and a key it shares
//!    with another kind takes the type the first kind listed gives it.

pub mod chocolatey;
pub mod deb;
mod error;
pub mod homebrew;
pub mod input;
pub mod msi;
pub mod notes;
pub mod out;
pub mod registry;
mod render;
pub mod rpm;
pub mod sbom;
pub mod scoop;
pub mod shell;
pub mod sign;
pub mod snap;
pub mod tap;

pub use error::PublishError;
pub use registry::{ChannelKind, PACKAGERS, Packager, Settings};
pub use render::TEMPLATE_FUEL;

/// serde's default for `package`.
pub(crate) fn yes() -> bool {
    true
}
