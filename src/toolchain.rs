//! Toolchains on this machine: where each program a build needs is found,
//! the check `matrix build` and `matrix doctor` make before any job runs,
//! and `matrix doctor --install`, which installs what is missing.
//!
//! Sits beside `plan`, as a consumer of it: the presets (`preset`) say what
//! a target needs, the plan says which targets this run builds and with
//! which command, and this module looks at the machine (PATH, matrix's tool
//! cache, container images) and, when asked, changes it (apt-get, zig from
//! PyPI, binfmt_misc).

mod check;
mod command;
pub mod image_precheck;
mod images;
pub mod install;

pub use check::{TargetNeed, check_plan, use_tool_cache};
pub use command::{first_program, need_for_program, program_of};
pub use images::{ImageCheck, ImageStatus, check_images};
