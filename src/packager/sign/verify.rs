//! The check of a signature behind `matrix verify`, with only what dist/
//! holds: minisign natively against `<project>.pub`, SSH signatures with
//! `ssh-keygen -Y verify` against `allowed_signers`, OpenPGP ones with
//! `gpg --verify` in a throwaway keyring holding the exported public key.
//! Part of the `sign` packager.

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
