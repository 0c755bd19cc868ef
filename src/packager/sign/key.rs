//! The signing key: read, unlocked and checked once before any job runs,
//! then used by the sign job. Part of the `sign` packager.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::config::{Method, Signed};
use super::plan::SignStep;

/// A key that cannot sign. Each names where the key came from (a file, an
/// environment variable, a gpg key id), never its content.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SignError {
    #[error("[sign] cannot read the key file {}: {source}", path.display())]
    #[diagnostic(
        code(matrix::sign::key_file),
        help("check [sign] key-file in matrix.toml")
    )]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("[sign] the environment variable {var} ({key}) is not set or empty")]
    #[diagnostic(code(matrix::sign::env), help("export {var} before running matrix"))]
    Env { var: String, key: &'static str },
    #[error("[sign] the {method} key from {from} cannot sign: {why}")]
    #[diagnostic(code(matrix::sign::key), help("{help}"))]
    Key {
        method: &'static str,
        from: String,
        why: String,
        help: String,
    },
    #[error("[sign] {program} is needed for method = \"{method}\" and cannot be run: {source}")]
    #[diagnostic(
        code(matrix::sign::tool),
        help("install it (Debian: apt-get install {package})")
    )]
    Tool {
        program: &'static str,
        method: &'static str,
        package: &'static str,
        source: std::io::Error,
    },
    #[error("[sign] cannot sign {file}: {why}")]
    #[diagnostic(code(matrix::sign::sign))]
    Sign { file: String, why: String },
    #[error("[sign] cannot prepare the key from {from}: {source}")]
    #[diagnostic(code(matrix::sign::io))]
    Io {
        from: String,
        source: std::io::Error,
    },
}

/// The loaded key and what the sign job makes with it.
pub struct Signer {
    pub method: Method,
    pub signed: Signed,
    /// Where the key came from, for messages.
    pub from: String,
    /// The file users verify with (`<project>.pub`, `allowed_signers`,
    /// `<project>-signing-key.asc`) and its text.
    pub public_name: String,
    pub public_text: String,
    key: Key,
}

enum Key {
    Minisign {
        secret: minisign::SecretKey,
        public: minisign::PublicKey,
        /// The same key for plain Ed25519 (the provenance's DSSE
        /// signature), and its minisign key id in hex.
        ed25519: Zeroizing<[u8; 32]>,
        keyid: String,
        /// Signed into every signature's trusted comment.
        comment: String,
    },
    /// The decrypted OpenSSH key, in memory only (the crate zeroizes it
    /// on drop), and its `SHA256:` fingerprint.
    Ssh {
        key: Box<ssh_key::PrivateKey>,
        fingerprint: String,
    },
    Gpg {
        key: GpgKey,
        /// The primary key's fingerprint (the DSSE key id).
        fingerprint: String,
    },
}

/// How gpg signs: a detached signature (armored or binary), or a
/// clear-signed copy (apt's InRelease).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GpgMode {
    Detached { armor: bool },
    Clear,
}

/// A key of gpg's keyring (GNUPGHOME) by id, with its passphrase, if any,
/// in a file only its owner reads, in a private folder removed on drop.
/// What [`Signer`] signs with for method gpg, and what the apt index signs
/// Release with: one way of running gpg.
pub struct GpgKey {
    id: String,
    dir: tempfile::TempDir,
    passphrase_file: Option<PathBuf>,
}

impl GpgKey {
    /// The key `id`, its passphrase read from `passphrase_env` (unset or
    /// empty is an error).
    pub fn new(id: &str, passphrase_env: Option<&str>) -> Result<GpgKey, SignError> {
        let io = |source| SignError::Io {
            from: format!("gpg key-id {id}"),
            source,
        };
        let dir = private_dir().map_err(io)?;
        let passphrase_file = match passphrase_env {
            Some(var) => {
                let secret = env_secret(var, "passphrase-env")?;
                let f = dir.path().join("passphrase");
                write_private(&f, secret.as_bytes()).map_err(io)?;
                Some(f)
            }
            None => None,
        };
        Ok(GpgKey {
            id: id.to_owned(),
            dir,
            passphrase_file,
        })
    }

    /// `data` signed as `mode` says, with SHA-256; on failure, gpg's last
    /// error line.
    pub fn sign(&self, data: &[u8], mode: GpgMode) -> Result<Vec<u8>, String> {
        let input = self.dir.path().join("data");
        std::fs::write(&input, data).map_err(|e| e.to_string())?;
        let mut args: Vec<String> = [
            "--batch",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--digest-algo",
            "SHA256",
        ]
        .map(String::from)
        .to_vec();
        match &self.passphrase_file {
            Some(f) => {
                args.push("--passphrase-file".into());
                args.push(f.to_string_lossy().into_owned());
            }
            None => {
                args.push("--passphrase".into());
                args.push(String::new());
            }
        }
        args.extend(["--local-user", self.id.as_str()].map(String::from));
        match mode {
            GpgMode::Detached { armor: true } => {
                args.extend(["--armor", "--detach-sign"].map(String::from))
            }
            GpgMode::Detached { armor: false } => args.push("--detach-sign".into()),
            GpgMode::Clear => args.push("--clearsign".into()),
        }
        args.extend(["--output", "-"].map(String::from));
        args.push(input.to_string_lossy().into_owned());
        let out = crate::process::tool(
            "gpg",
            args,
            &[],
            crate::process::Stream::Capture,
            crate::process::Stream::Capture,
        )
        .map_err(|e| format!("gpg: {e}"))?;
        let _ = std::fs::remove_file(&input);
        if !out.status.success() || out.stdout.is_empty() {
            return Err(first_line(&out.stderr));
        }
        Ok(out.stdout)
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("method", &self.method)
            .field("signed", &self.signed)
            .field("from", &self.from)
            .field("public_name", &self.public_name)
            .finish_non_exhaustive()
    }
}

fn env_secret(var: &str, key: &'static str) -> Result<Zeroizing<String>, SignError> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(Zeroizing::new(v)),
        _ => Err(SignError::Env {
            var: var.into(),
            key,
        }),
    }
}

impl Signer {
    /// Reads and unlocks `[sign]`'s key (paths relative to `root`) and
    /// checks that it signs: a missing file or variable, a wrong
    /// passphrase or a key of the wrong kind fails here, before any job.
    /// `commit` goes into minisign's trusted comments, so they do not
    /// depend on the clock.
    pub fn load(
        step: &SignStep,
        root: &Path,
        project: &str,
        commit: &str,
    ) -> Result<Signer, SignError> {
        let config = &step.config;
        let from = match (&config.key_file, &config.key_env, &config.key_id) {
            (Some(f), _, _) => format!("key-file {f}"),
            (_, Some(v), _) => format!("key-env {v}"),
            (_, _, Some(id)) => format!("gpg key-id {id}"),
            _ => "[sign]".into(),
        };
        let passphrase = match &config.passphrase_env {
            Some(var) => Some(env_secret(var, "passphrase-env")?),
            None => None,
        };
        let secret_text = || -> Result<Zeroizing<String>, SignError> {
            match (&config.key_file, &config.key_env) {
                (Some(f), _) => {
                    let path = root.join(f);
                    std::fs::read_to_string(&path)
                        .map(Zeroizing::new)
                        .map_err(|source| SignError::KeyFile { path, source })
                }
                (_, Some(var)) => env_secret(var, "key-env"),
                _ => Err(SignError::Env {
                    var: String::new(),
                    key: "key-env",
                }),
            }
        };
        let bad = |why: String, help: &str| SignError::Key {
            method: config.method.as_str(),
            from: from.clone(),
            why,
            help: help.into(),
        };
        let (key, public_name, public_text) = match config.method {
            Method::Minisign => {
                let text = secret_text()?;
                let not_key = || bad("not a minisign secret key".into(), MINISIGN_HELP);
                let raw = text
                    .lines()
                    .nth(1)
                    .and_then(|l| {
                        use base64::Engine;
                        base64::engine::general_purpose::STANDARD
                            .decode(l.trim())
                            .ok()
                    })
                    .map(Zeroizing::new)
                    .filter(|b| b.get(..2) == Some(&b"Ed"[..]))
                    .ok_or_else(not_key)?;
                let encrypted = raw.get(2..4) != Some(&[0, 0][..]);
                let secret = match (encrypted, &passphrase) {
                    (true, Some(p)) => minisign::SecretKeyBox::from_string(&text)
                        .and_then(|b| b.into_secret_key(Some(p.to_string())))
                        .map_err(|e| {
                            if e.to_string().contains("Wrong password") {
                                bad(
                                    "wrong passphrase".into(),
                                    "check the variable passphrase-env names",
                                )
                            } else {
                                not_key()
                            }
                        })?,
                    (true, None) => {
                        return Err(bad(
                            "the key is encrypted and [sign] has no passphrase-env".into(),
                            "add passphrase-env = \"VARIABLE\" naming the variable that holds the passphrase",
                        ));
                    }
                    // Read without the crate's checksum check: minisign
                    // 0.11 (Debian 12) writes `-W` keys with a zero
                    // checksum. The probe signature below proves the key.
                    (false, _) => minisign::SecretKey::from_bytes(&raw).map_err(|_| not_key())?,
                };
                let public =
                    minisign::PublicKey::from_secret_key(&secret).map_err(|_| not_key())?;
                // A signature checked against the public half proves the
                // secret half.
                minisign::sign(Some(&public), &secret, &b""[..], Some("probe"), None)
                    .map_err(|_| not_key())?;
                let text = public
                    .to_box()
                    .map(|b| b.into_string())
                    .map_err(|_| not_key())?;
                // The secret key's bytes: algorithms (6), salt (32), limits
                // (16), key id (8), then the Ed25519 seed and public key.
                let bytes = Zeroizing::new(secret.to_bytes());
                let (keynum, seed) = (bytes.get(54..62), bytes.get(62..94));
                let (Some(keynum), Some(seed)) = (keynum, seed) else {
                    return Err(not_key());
                };
                let mut ed25519 = Zeroizing::new([0u8; 32]);
                ed25519.copy_from_slice(seed);
                let derived =
                    ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*ed25519));
                if super::provenance::minisign_public(&text) != Some(*derived.pk) {
                    return Err(not_key());
                }
                // As minisign shows it (`minisign public key <ID>`).
                let mut id = [0u8; 8];
                id.copy_from_slice(keynum);
                let keyid = format!("{:016X}", u64::from_le_bytes(id));
                (
                    Key::Minisign {
                        secret,
                        public,
                        ed25519,
                        keyid,
                        comment: format!("project:{project} commit:{commit}"),
                    },
                    step.public_key.clone(),
                    text,
                )
            }
            Method::Ssh => {
                let text = secret_text()?;
                let (key, public) = load_ssh(&text, passphrase.as_deref().map(|p| p.as_str()))
                    .map_err(|(why, help)| bad(why, help))?;
                let fingerprint = key.fingerprint(ssh_key::HashAlg::Sha256).to_string();
                (
                    Key::Ssh {
                        key: Box::new(key),
                        fingerprint,
                    },
                    step.public_key.clone(),
                    format!(
                        "{project} namespaces=\"{}\" {public}\n",
                        super::SSH_NAMESPACE,
                    ),
                )
            }
            Method::Gpg => {
                let id = config.key_id.clone().unwrap_or_default();
                let gpg = GpgKey::new(&id, config.passphrase_env.as_deref())?;
                let gpg_tool = |source| SignError::Tool {
                    program: "gpg",
                    method: "gpg",
                    package: "gnupg",
                    source,
                };
                let listed = crate::process::tool(
                    "gpg",
                    [
                        "--batch",
                        "--with-colons",
                        "--fingerprint",
                        "--",
                        id.as_str(),
                    ],
                    &[],
                    crate::process::Stream::Capture,
                    crate::process::Stream::Capture,
                )
                .map_err(gpg_tool)?;
                let fingerprint = String::from_utf8_lossy(&listed.stdout)
                    .lines()
                    .skip_while(|l| !l.starts_with("pub:"))
                    .find(|l| l.starts_with("fpr:"))
                    .and_then(|l| l.split(':').nth(9))
                    .unwrap_or_default()
                    .to_string();
                let key = Key::Gpg {
                    key: gpg,
                    fingerprint: fingerprint.clone(),
                };
                let exported = crate::process::tool(
                    "gpg",
                    ["--batch", "--armor", "--export", "--", id.as_str()],
                    &[],
                    crate::process::Stream::Capture,
                    crate::process::Stream::Capture,
                )
                .map_err(gpg_tool)?;
                let text = String::from_utf8_lossy(&exported.stdout).into_owned();
                if !exported.status.success()
                    || !text.contains("BEGIN PGP PUBLIC KEY BLOCK")
                    || fingerprint.is_empty()
                {
                    return Err(bad(
                        "gpg has no such key".into(),
                        "see gpg --list-secret-keys (GNUPGHOME picks the keyring)",
                    ));
                }
                // A signature of nothing proves the secret key and its
                // passphrase.
                let probe = key.gpg_sign(b"", true).map_err(|why| {
                    bad(
                        format!("gpg cannot sign with it ({why})"),
                        "check the secret key is in the keyring and passphrase-env",
                    )
                })?;
                drop(probe);
                (key, step.public_key.clone(), text)
            }
        };
        Ok(Signer {
            method: config.method,
            signed: config.artifacts,
            from,
            public_name,
            public_text,
            key,
        })
    }

    /// The detached signature of `file` (in dist/, named `name` there).
    pub fn sign(&self, name: &str, file: &Path) -> Result<Vec<u8>, SignError> {
        let fail = |why: String| SignError::Sign {
            file: name.into(),
            why,
        };
        match &self.key {
            Key::Minisign {
                secret,
                public,
                comment,
                ..
            } => {
                let data = std::fs::File::open(file).map_err(|e| fail(e.to_string()))?;
                let trusted = format!("file:{name} {comment}");
                minisign::sign(
                    Some(public),
                    secret,
                    data,
                    Some(&trusted),
                    Some("signature from matrix"),
                )
                .map(|b| b.into_string().into_bytes())
                .map_err(|e| fail(e.to_string()))
            }
            Key::Ssh { key, .. } => {
                // Hashed as it is read: the file is never held in memory.
                let (hex, _) = crate::package::checksum::hash_file(
                    file,
                    crate::package::checksum::Algorithm::Sha512,
                )
                .map_err(|e| fail(e.to_string()))?;
                let digest = hex::decode(hex).map_err(|e| fail(e.to_string()))?;
                ssh_sign(key, &digest)
                    .and_then(|sig| sig.to_pem(ssh_key::LineEnding::LF))
                    .map(String::into_bytes)
                    .map_err(|e| fail(e.to_string()))
            }
            Key::Gpg { .. } => {
                let data = std::fs::read(file).map_err(|e| fail(e.to_string()))?;
                self.key.gpg_sign(&data, true).map_err(fail)
            }
        }
    }
}

impl Signer {
    /// A plain Ed25519 signature of `message` and the key's id, when the
    /// key is Ed25519 (minisign, or an SSH Ed25519 key); deterministic.
    /// The key id is minisign's (hex) or the SSH key's `SHA256:`
    /// fingerprint.
    pub fn sign_ed25519(&self, message: &[u8]) -> Option<(String, Vec<u8>)> {
        let (seed, keyid) = self.ed25519_seed()?;
        let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*seed));
        Some((keyid.to_string(), pair.sk.sign(message, None).to_vec()))
    }

    /// The Ed25519 public key of a minisign or SSH Ed25519 key.
    pub fn ed25519_public(&self) -> Option<[u8; 32]> {
        let (seed, _) = self.ed25519_seed()?;
        let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*seed));
        Some(*pair.pk)
    }

    fn ed25519_seed(&self) -> Option<(Zeroizing<[u8; 32]>, &str)> {
        match &self.key {
            Key::Minisign { ed25519, keyid, .. } => Some((ed25519.clone(), keyid)),
            Key::Ssh { key, fingerprint } => match key.key_data() {
                ssh_key::private::KeypairData::Ed25519(pair) => {
                    Some((Zeroizing::new(pair.private.to_bytes()), fingerprint))
                }
                _ => None,
            },
            Key::Gpg { .. } => None,
        }
    }

    /// The DSSE signature of `pae` (the pre-authentication encoding of a
    /// payload) and its key id, with the key's own algorithm: raw Ed25519
    /// for minisign and SSH Ed25519 keys; ECDSA P-256 with SHA-256 (DER,
    /// RFC 6979: deterministic) or RSASSA-PKCS1-v1_5 with SHA-256 for SSH
    /// ECDSA and RSA keys; a binary OpenPGP detached signature for gpg
    /// (keyid: the key's fingerprint).
    pub fn sign_dsse(&self, name: &str, pae: &[u8]) -> Result<(String, Vec<u8>), SignError> {
        let fail = |why: String| SignError::Sign {
            file: name.into(),
            why,
        };
        if let Some(signed) = self.sign_ed25519(pae) {
            return Ok(signed);
        }
        match &self.key {
            Key::Ssh { key, fingerprint } => {
                use ssh_key::private::{EcdsaKeypair, KeypairData};
                let sig = match key.key_data() {
                    KeypairData::Ecdsa(EcdsaKeypair::NistP256 { private, .. }) => {
                        use p256::ecdsa::signature::Signer as _;
                        let sk = p256::ecdsa::SigningKey::from_slice(private.as_slice())
                            .map_err(|e| fail(e.to_string()))?;
                        let sig: p256::ecdsa::Signature = sk.sign(pae);
                        sig.to_der().as_bytes().to_vec()
                    }
                    KeypairData::Rsa(pair) => {
                        use rsa::signature::{SignatureEncoding as _, Signer as _};
                        let sk = rsa_private(pair).map_err(|e| fail(e.to_string()))?;
                        rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(sk)
                            .try_sign(pae)
                            .map_err(|e| fail(e.to_string()))?
                            .to_vec()
                    }
                    _ => return Err(fail("the key type cannot sign DSSE envelopes".into())),
                };
                Ok((fingerprint.clone(), sig))
            }
            Key::Gpg { fingerprint, .. } => {
                let sig = self.key.gpg_sign(pae, false).map_err(fail)?;
                Ok((fingerprint.clone(), sig))
            }
            Key::Minisign { .. } => Err(fail("no Ed25519 key".into())),
        }
    }
}

/// The SSHSIG (namespace `file`, SHA-512) of the message whose SHA-512
/// is `digest`, as `ssh-keygen -Y sign` makes it (PROTOCOL.sshsig: the
/// key signs "SSHSIG", the namespace, an empty reserved string, "sha512"
/// and the digest). Ed25519, ECDSA (RFC 6979) and RSA PKCS#1 v1.5 are all
/// deterministic: the same key and file give the same bytes.
fn ssh_sign(key: &ssh_key::PrivateKey, digest: &[u8]) -> ssh_key::Result<ssh_key::SshSig> {
    use ssh_key::{Algorithm, HashAlg, SshSig, private::KeypairData};
    let mut data = b"SSHSIG".to_vec();
    for field in [
        super::SSH_NAMESPACE.as_bytes(),
        b"",
        HashAlg::Sha512.as_str().as_bytes(),
        digest,
    ] {
        data.extend_from_slice(&(field.len() as u32).to_be_bytes());
        data.extend_from_slice(field);
    }
    let sig = match key.key_data() {
        // ssh-key 0.6.7 turns an RSA key into the `rsa` crate's with p
        // twice in place of p and q, which `rsa` refuses: signed here.
        KeypairData::Rsa(pair) => {
            use rsa::signature::{SignatureEncoding as _, Signer as _};
            let sig = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha512>::new(rsa_private(pair)?)
                .try_sign(&data)
                .map_err(|_| ssh_key::Error::Crypto)?;
            ssh_key::Signature::new(
                Algorithm::Rsa {
                    hash: Some(HashAlg::Sha512),
                },
                sig.to_vec(),
            )?
        }
        _ => {
            use rsa::signature::Signer as _;
            key.try_sign(&data).map_err(|_| ssh_key::Error::Crypto)?
        }
    };
    SshSig::new(
        key.public_key().key_data().clone(),
        super::SSH_NAMESPACE,
        HashAlg::Sha512,
        sig,
    )
}

/// The `rsa` crate's key of an OpenSSH RSA key pair.
fn rsa_private(pair: &ssh_key::private::RsaKeypair) -> ssh_key::Result<rsa::RsaPrivateKey> {
    let int = |m: &ssh_key::Mpint| {
        m.as_positive_bytes()
            .map(rsa::BigUint::from_bytes_be)
            .ok_or(ssh_key::Error::Crypto)
    };
    rsa::RsaPrivateKey::from_components(
        int(&pair.public.n)?,
        int(&pair.public.e)?,
        int(&pair.private.d)?,
        vec![int(&pair.private.p)?, int(&pair.private.q)?],
    )
    .map_err(|_| ssh_key::Error::Crypto)
}

/// Reads (and with `passphrase`, decrypts) an OpenSSH private key and
/// proves it by a signature its public half verifies; the key and its
/// public key line (`<type> <base64>`), or why not and a hint.
fn load_ssh(
    text: &str,
    passphrase: Option<&str>,
) -> Result<(ssh_key::PrivateKey, String), (String, &'static str)> {
    let not_key = || {
        (
            "not an OpenSSH private key".to_string(),
            "give the private key file ssh-keygen wrote (-----BEGIN OPENSSH PRIVATE KEY-----)",
        )
    };
    if !text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
        return Err(not_key());
    }
    let key = ssh_key::PrivateKey::from_openssh(text.trim()).map_err(|_| not_key())?;
    let key = match (key.is_encrypted(), passphrase) {
        (false, _) => key,
        (true, None) => {
            return Err((
                "the key cannot be read without a passphrase (is it encrypted? then set passphrase-env)"
                    .into(),
                "add passphrase-env = \"VARIABLE\" naming the variable that holds the passphrase",
            ));
        }
        (true, Some(p)) => key.decrypt(p.as_bytes()).map_err(|_| {
            (
                "wrong passphrase".to_string(),
                "check the variable passphrase-env names",
            )
        })?,
    };
    use ssh_key::Algorithm;
    match key.algorithm() {
        Algorithm::Ed25519 | Algorithm::Rsa { .. } => {}
        Algorithm::Ecdsa {
            curve: ssh_key::EcdsaCurve::NistP256,
        } => {}
        other => {
            return Err((
                format!("matrix signs with Ed25519, ECDSA P-256 and RSA keys, not {other}"),
                "make one with ssh-keygen -t ed25519 (or -t ecdsa -b 256, -t rsa)",
            ));
        }
    }
    // A signature checked against the public half proves the secret half.
    let public = key.public_key();
    use sha2::Digest as _;
    ssh_sign(&key, &sha2::Sha512::digest(b"probe"))
        .and_then(|sig| public.verify(super::SSH_NAMESPACE, b"probe", &sig))
        .map_err(|e| {
            (
                format!("the key does not sign ({e})"),
                "check the key with ssh-keygen -y -f <key file>",
            )
        })?;
    let line = public.to_openssh().map_err(|_| not_key())?;
    // `<type> <base64>`, without the key's comment.
    let line = line
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    Ok((key, line))
}

const MINISIGN_HELP: &str =
    "give the secret key file minisign -G wrote (untrusted comment, then the key)";

impl Key {
    /// A detached gpg signature of `data`, armored or binary; on failure,
    /// gpg's last error line.
    fn gpg_sign(&self, data: &[u8], armor: bool) -> Result<Vec<u8>, String> {
        let Key::Gpg { key, .. } = self else {
            return Err("not a gpg key".into());
        };
        key.sign(data, GpgMode::Detached { armor })
    }
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("failed")
        .to_string()
}

fn private_dir() -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix("matrix-sign-").tempdir()?;
    set_mode(dir.path(), 0o700)?;
    Ok(dir)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}
