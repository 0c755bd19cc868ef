//! Starting and stopping processes, and finding the programs they run.
//!
//! Below every stage of the flow: `exec` runs jobs through it, `toolchain`
//! and `preset` look programs up with it, the container engine handle
//! (`engine`) calls it. One supervisor holds the kill-the-tree rules: a
//! job runs in its own process group, under a supervisor in the binary
//! ([`supervise`], forked by the run's one `matrix __spawner`, or
//! `matrix __supervise` when that cannot be), and a timeout or a cancel
//! stops the whole tree ([`run`]); short engine calls are captured with a
//! deadline ([`capture`]); the tools `matrix doctor --install` runs go
//! through [`tool`]. Nothing here knows about plans or configs.

mod locate;
mod logfile;
mod spawn;
// PR_SET_CHILD_SUBREAPER and /proc: Linux only; elsewhere jobs run in a
// process group, as before.
#[cfg(target_os = "linux")]
mod spawner;
#[cfg(target_os = "linux")]
pub mod supervise;

pub use locate::{
    Location, find_program, is_executable, locate, resolve, tools_bin, tools_dir, untrusted,
};
pub use logfile::{open_log, open_log_afresh, read_log};
pub use spawn::{
    Captured, Ended, SUPERVISE_ARG, Spawn, Stream, capture, capture_clean, describe, output, run,
    spawner_gone, tool, tool_with_input, tool_without, use_supervisor,
};
