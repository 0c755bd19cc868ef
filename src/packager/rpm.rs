//! The RPM package channel (`kind = "rpm"`): one .rpm per Linux target it
//! ships, `rpm/<name>-<version>-<release>.<arch>.rpm`, built natively with
//! the `rpm` crate (rpm-rs) from the same binary as the target's archive:
//! RPM v4, gzip payload, SHA-256 payload and header digests, no signature,
//! every file root-owned and stamped with the release's timestamp.
//!
//! Its settings, checks and version and architecture mappings are the deb
//! channel's (`packager::deb::common`).

mod build;
mod config;
mod plan;
mod write;

pub(super) use super::registry::no_url_check as check_urls;
pub use build::build_rpm;
pub use config::RpmConfig;
pub use plan::RpmStep;
pub(super) use plan::{PACKAGER, check, plan};
pub(super) use write::{package_file, per_target, write, write_package};

#[cfg(test)]
mod tests;
