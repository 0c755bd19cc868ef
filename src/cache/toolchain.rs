//! A compiler's identity, one input of a build job's key.
//!
//! Part of `cache`. A program is known by the sha256 of the file it
//! resolves to (links on PATH resolved, as exec would): a new compiler,
//! even of the same version, is a new identity. A rustup proxy (`cargo`,
//! `rustc` next to a `rustup`) is the same file for every toolchain, so
//! its `--version` output (run with the job's environment, which may name
//! a toolchain) is added. A file is hashed up to 1 GiB. Digests are
//! remembered for the run: one compiler shared by many targets is hashed
//! once.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::package::checksum::{Algorithm, HashingWriter};

/// Largest program file hashed for an identity.
const MAX_PROGRAM: u64 = 1 << 30;

/// Identities found so far in this run, by resolved file.
#[derive(Debug, Default)]
pub struct Identities {
    seen: Mutex<HashMap<PathBuf, String>>,
}

impl Identities {
    /// The identity of `program` as a job with `env` in `dir` would run
    /// it; `not found: <name>` when it is not there (the job will say so).
    pub fn of(&self, program: &str, env: &BTreeMap<String, String>, dir: &Path) -> String {
        let Ok(found) = crate::process::resolve(program, env, dir) else {
            return format!("not found: {program}");
        };
        let real = std::fs::canonicalize(&found).unwrap_or(found);
        let digest = self.digest(&real);
        if is_rustup_proxy(&real) {
            format!("{digest} {}", proxy_version(&real, env))
        } else {
            digest
        }
    }

    /// The identity of the program file at `path` (an absolute path, a
    /// docker CLI plugin): its sha256, read through its links like exec
    /// would, or why it has none.
    pub fn of_file(&self, path: &Path) -> String {
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.digest(&real)
    }

    fn digest(&self, real: &Path) -> String {
        if let Some(d) = self.seen.lock().ok().and_then(|s| s.get(real).cloned()) {
            return d;
        }
        let d = match sha256_of_program(real) {
            Ok(hex) => format!("sha256:{hex}"),
            Err(e) => format!("unreadable {}: {e}", real.display()),
        };
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(real.to_path_buf(), d.clone());
        }
        d
    }
}

/// The sha256 of a regular file of at most [`MAX_PROGRAM`] bytes.
fn sha256_of_program(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut hashing = HashingWriter::new(std::io::sink(), Algorithm::Sha256);
    std::io::copy(&mut file.take(MAX_PROGRAM + 1), &mut hashing)?;
    let (_, hex, size) = hashing.finish();
    if size > MAX_PROGRAM {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_PROGRAM} bytes"
        )));
    }
    Ok(hex)
}

/// rustup installs one binary under every tool's name beside itself.
fn is_rustup_proxy(real: &Path) -> bool {
    real.file_stem().and_then(|s| s.to_str()) == Some("rustup")
        || real.parent().is_some_and(|d| d.join("rustup").is_file())
}

fn proxy_version(real: &Path, env: &BTreeMap<String, String>) -> String {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    match crate::process::tool(
        real,
        ["--version"],
        &pairs,
        crate::process::Stream::Capture,
        crate::process::Stream::Discard,
    ) {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => format!(
            "--version failed: {}",
            crate::process::describe(&out.status)
        ),
        Err(e) => format!("--version failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_known_by_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let cc = bin.join("mycc");
        std::fs::write(&cc, "#!/bin/sh\necho 1\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cc, std::fs::Permissions::from_mode(0o755)).unwrap();
        let env = BTreeMap::from([("PATH".to_string(), bin.display().to_string())]);
        let first = Identities::default().of("mycc", &env, dir.path());
        assert!(first.starts_with("sha256:"), "{first}");
        std::fs::write(&cc, "#!/bin/sh\necho 2\n").unwrap();
        let second = Identities::default().of("mycc", &env, dir.path());
        assert_ne!(first, second);
        assert_eq!(
            Identities::default().of("nope-cc", &env, dir.path()),
            "not found: nope-cc"
        );
    }
}
