//! Detached signatures of a release (`[sign]`): the key loaded and
//! unlocked before any job runs ([`Signer::load`]), the release-wide sign
//! job's signatures ([`Signer::sign`]) and their check behind `matrix
//! verify` ([`verify`]).
//!
//! Part of `packager`. minisign signs natively (the `minisign` crate);
//! SSH signatures are made by `ssh-keygen -Y sign` (namespace `file`) and
//! OpenPGP ones by the user's `gpg`, both through [`crate::process`]. The
//! secret never leaves [`Signer`]: its `Debug` names only where the key came
//! from, and no message quotes the key or its passphrase.

pub mod config;
mod key;
mod plan;
pub mod provenance;
mod verify;

pub use config::{Method, SignConfig, Signed};
pub use key::{SignError, Signer};
pub use plan::{SignStep, plan};
pub use verify::{dsse, method_of, verify};

/// The namespace of matrix's SSH signatures (`ssh-keygen -Y ... -n file`).
pub const SSH_NAMESPACE: &str = "file";

#[cfg(test)]
mod tests;
