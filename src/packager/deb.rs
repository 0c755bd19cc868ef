//! The Debian package channel (`kind = "deb"`): one .deb per Linux target
//! it ships, `deb/<name>_<version>_<arch>.deb`, built natively from the
//! same binary as the target's archive (nothing is rebuilt): an `ar`
//! archive of `debian-binary`, `control.tar.gz` (control, md5sums,
//! conffiles, maintainer scripts) and `data.tar.xz`, every entry
//! root-owned, sorted, stamped with the release's timestamp.
//!
//! `common` is shared with the RPM channel (`packager::rpm`): the settings
//! both take, their checks, the version and architecture mappings.

mod build;
pub mod common;
mod config;
mod plan;
mod write;

pub(super) use super::registry::no_url_check as check_urls;
pub use build::build_deb;
pub use config::{AptConfig, DebConfig, LinuxConfig, Scripts, apt_value_problem};
pub(crate) use config::{linux_config, with_shared_keys};
pub use plan::DebStep;
pub(super) use plan::{PACKAGER, check, plan};
pub(super) use write::{package_file, per_target, write, write_package};

#[cfg(test)]
mod tests;
