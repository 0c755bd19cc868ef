//! Channel packagers (not `matrix publish`, which is [`crate::repo`]):
//! the inputs Homebrew, Snapcraft, Chocolatey and Scoop need, the packages
//! matrix can build natively (.snap, .nupkg), and the release notes, each
//! written into dist/ for a `[[channel]]` of matrix.toml.
//!
//! Every renderer is a pure function of a [`input::ChannelInput`] (the
//! release's own records) and an optional user template; `exec` writes
//! what they return into dist/.

pub mod chocolatey;
mod error;
pub mod homebrew;
pub mod input;
pub mod notes;
mod render;
pub mod scoop;
pub mod snap;

pub use error::PublishError;
