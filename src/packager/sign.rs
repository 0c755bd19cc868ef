//! Detached signatures of a release (`[sign]`): the key loaded and
//! unlocked before any job runs ([`Signer::load`]), the release-wide sign
//! job's signatures ([`Signer::sign`]) and their check behind `matrix
//! verify` ([`verify`]).
//!
//! Part of `packager`. minisign signs natively (the `minisign` crate), and
//! so do SSH keys (the `ssh-key` crate: SSHSIG, namespace `file`, SHA-512,
//! as `ssh-keygen -Y sign` writes it; the key is decrypted in memory, never
//! written to disk); OpenPGP signatures are made by the user's `gpg`
//! through [`crate::process`]. The same key signs the provenance's DSSE
//! envelopes ([`Signer::sign_dsse`], checked by [`dsse`]). The secret never
//! leaves [`Signer`]: its `Debug` names only where the key came from, and
//! no message quotes the key or its passphrase.

pub mod config;
mod key;
mod plan;
pub mod provenance;
mod verify;

pub use config::{Method, SignConfig, Signed};
pub use key::{GpgKey, GpgMode, SignError, Signer};
pub use plan::{SignStep, cosign_key_name, plan};
pub use verify::{dsse, ed25519_public_of, method_of, verify};

/// The namespace of matrix's SSH signatures (`ssh-keygen -Y ... -n file`).
pub const SSH_NAMESPACE: &str = "file";

#[cfg(test)]
mod tests;
