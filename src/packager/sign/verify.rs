//! The check of a signature behind `matrix verify`, with only what dist/
//! holds: minisign natively against `<project>.pub`, SSH signatures with
//! `ssh-keygen -Y verify` against `allowed_signers`, OpenPGP ones with
//! `gpg --verify` in a throwaway keyring holding the exported public key;
//! and the provenance's DSSE signatures with the same public key files
//! ([`dsse`]). Part of the `sign` packager.

use std::path::Path;

use super::config::Method;

/// The method a signature file is for, by its extension.
pub fn method_of(name: &str) -> Option<Method> {
    [Method::Minisign, Method::Ssh, Method::Gpg]
        .into_iter()
        .find(|m| name.ends_with(&format!(".{}", m.extension())))
}

/// Checks `signature` over `file` with the public key file `public`; the
/// reason when it does not hold.
pub fn verify(method: Method, public: &Path, signature: &Path, file: &Path) -> Result<(), String> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    match method {
        Method::Minisign => {
            let pk = minisign::PublicKeyBox::from_string(&read(public)?)
                .and_then(|b| b.into_public_key())
                .map_err(|e| format!("not a minisign public key: {e}"))?;
            let sig = minisign::SignatureBox::from_string(&read(signature)?)
                .map_err(|e| format!("not a minisign signature: {e}"))?;
            let data = std::fs::File::open(file).map_err(|e| e.to_string())?;
            minisign::verify(&pk, &sig, data, true, false, false).map_err(|e| e.to_string())
        }
        Method::Ssh => {
            let signers = read(public)?;
            let principal = signers
                .split_whitespace()
                .next()
                .ok_or("allowed_signers is empty")?
                .to_string();
            let out = crate::process::tool_with_input(
                "ssh-keygen",
                [
                    "-Y".as_ref(),
                    "verify".as_ref(),
                    "-n".as_ref(),
                    super::SSH_NAMESPACE.as_ref(),
                    "-f".as_ref(),
                    public.as_os_str(),
                    "-I".as_ref(),
                    principal.as_ref(),
                    "-s".as_ref(),
                    signature.as_os_str(),
                ]
                .map(std::ffi::OsStr::to_os_string),
                &[],
                file,
            )
            .map_err(|e| format!("cannot run ssh-keygen (install openssh-client): {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "ssh-keygen -Y verify: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        }
        Method::Gpg => {
            let home = tempfile::Builder::new()
                .prefix("matrix-verify-")
                .tempdir()
                .map_err(|e| e.to_string())?;
            let gpg = |args: &[&std::ffi::OsStr]| {
                let mut argv: Vec<std::ffi::OsString> = vec![
                    "--homedir".into(),
                    home.path().into(),
                    "--batch".into(),
                    "--no-autostart".into(),
                ];
                argv.extend(args.iter().map(|a| a.to_os_string()));
                crate::process::tool(
                    "gpg",
                    argv,
                    &[],
                    crate::process::Stream::Capture,
                    crate::process::Stream::Capture,
                )
                .map_err(|e| format!("cannot run gpg (install gnupg): {e}"))
            };
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700));
            let imported = gpg(&["--import".as_ref(), public.as_os_str()])?;
            if !imported.status.success() {
                return Err(format!(
                    "gpg --import {}: {}",
                    public.display(),
                    String::from_utf8_lossy(&imported.stderr).trim()
                ));
            }
            let out = gpg(&["--verify".as_ref(), signature.as_os_str(), file.as_os_str()])?;
            if out.status.success() {
                Ok(())
            } else {
                let text = String::from_utf8_lossy(&out.stderr);
                Err(format!(
                    "gpg --verify: {}",
                    text.lines()
                        .find(|l| l.contains("BAD")
                            || l.contains("no valid")
                            || l.contains("error"))
                        .unwrap_or(text.trim())
                ))
            }
        }
    }
}

/// Checks a DSSE envelope's signature with the release's public key file
/// `public` (of `method`) and gives back its statement; the reason when it
/// does not hold. minisign and SSH Ed25519 keys: raw Ed25519; SSH ECDSA
/// P-256: DER ECDSA over SHA-256; SSH RSA: RSASSA-PKCS1-v1_5 with SHA-256;
/// gpg: the binary detached signature over the PAE, by `gpg --verify` in
/// a throwaway keyring.
pub fn dsse(method: Method, public: &Path, envelope: &str) -> Result<serde_json::Value, String> {
    use super::provenance::{Envelope, minisign_public};
    use crate::image::cosign::ed25519_verifies;
    let env = Envelope::parse(envelope)?;
    let pae = env.pae();
    let bad = || "the DSSE signature does not verify".to_string();
    let text = std::fs::read_to_string(public)
        .map_err(|e| format!("cannot read {}: {e}", public.display()))?;
    match method {
        Method::Minisign => {
            let key = minisign_public(&text).ok_or("not a minisign public key")?;
            ed25519_verifies(&key, &pae, &env.sig)
                .then_some(())
                .ok_or_else(bad)?;
        }
        Method::Ssh => {
            let key = ssh_public(&text)?;
            ssh_verifies(&key, &pae, &env.sig)
                .then_some(())
                .ok_or_else(bad)?;
        }
        Method::Gpg => {
            let dir = tempfile::Builder::new()
                .prefix("matrix-verify-")
                .tempdir()
                .map_err(|e| e.to_string())?;
            let (sig, data) = (dir.path().join("sig"), dir.path().join("pae"));
            std::fs::write(&sig, &env.sig).map_err(|e| e.to_string())?;
            std::fs::write(&data, &pae).map_err(|e| e.to_string())?;
            verify(Method::Gpg, public, &sig, &data)
                .map_err(|why| format!("the DSSE signature does not verify: {why}"))?;
        }
    }
    env.statement()
}

/// The Ed25519 public key in the release's public key file `text` (of
/// `method`): what `<project>.cosign.pub` must hold. `None` for keys that
/// are not Ed25519 (gpg, SSH ECDSA and RSA).
pub fn ed25519_public_of(method: Method, text: &str) -> Result<Option<[u8; 32]>, String> {
    match method {
        Method::Minisign => super::provenance::minisign_public(text)
            .map(Some)
            .ok_or_else(|| "not a minisign public key".into()),
        Method::Ssh => Ok(match ssh_public(text)?.key_data() {
            ssh_key::public::KeyData::Ed25519(pk) => Some(pk.0),
            _ => None,
        }),
        Method::Gpg => Ok(None),
    }
}

/// The key of an `allowed_signers` file (its first line: principal,
/// options, then `<type> <base64>`).
fn ssh_public(text: &str) -> Result<ssh_key::PublicKey, String> {
    let line = text.lines().next().ok_or("allowed_signers is empty")?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [.., kind, blob] = fields.as_slice() else {
        return Err("allowed_signers names no key".into());
    };
    ssh_key::PublicKey::from_openssh(&format!("{kind} {blob}"))
        .map_err(|e| format!("allowed_signers: not an SSH public key: {e}"))
}

/// Whether `sig` is the DSSE signature of `message` by `key`.
fn ssh_verifies(key: &ssh_key::PublicKey, message: &[u8], sig: &[u8]) -> bool {
    use ssh_key::public::{EcdsaPublicKey, KeyData};
    match key.key_data() {
        KeyData::Ed25519(pk) => crate::image::cosign::ed25519_verifies(&pk.0, message, sig),
        KeyData::Ecdsa(EcdsaPublicKey::NistP256(point)) => {
            use p256::ecdsa::signature::Verifier as _;
            let (Ok(vk), Ok(sig)) = (
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point.as_bytes()),
                p256::ecdsa::Signature::from_der(sig),
            ) else {
                return false;
            };
            vk.verify(message, &sig).is_ok()
        }
        KeyData::Rsa(pk) => {
            use rsa::signature::Verifier as _;
            let (Ok(pk), Ok(sig)) = (
                rsa::RsaPublicKey::try_from(pk),
                rsa::pkcs1v15::Signature::try_from(sig),
            ) else {
                return false;
            };
            rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(pk)
                .verify(message, &sig)
                .is_ok()
        }
        _ => false,
    }
}
