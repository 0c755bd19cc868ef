//! A Rust binary's crates: the `cargo auditable` section (`.dep-v0`, zlib
//! compressed JSON) when the binary has one, else the project's Cargo.lock.
//!
//! Both are bounded: the section is only inflated up to [`MAX_JSON`] bytes
//! and at most [`MAX_CRATES`] packages are read from either source.

use std::io::Read;

use object::{Object, ObjectSection};
use serde::Deserialize;

/// What a crate list may inflate to.
const MAX_JSON: u64 = 8 << 20;
/// Crates an SBOM lists.
pub const MAX_CRATES: usize = 100_000;

/// One crate of the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crate {
    pub name: String,
    pub version: String,
    /// `registry+https://...`, `git+...`, or empty for a local package.
    pub source: String,
    /// sha256 of the .crate file, from Cargo.lock.
    pub checksum: Option<String>,
}

/// Where the crate list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrateSource {
    /// The binary's `.dep-v0` section (cargo auditable).
    Auditable,
    CargoLock,
}

impl CrateSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CrateSource::Auditable => "cargo-auditable",
            CrateSource::CargoLock => "Cargo.lock",
        }
    }
}

#[derive(Deserialize)]
struct Lock {
    #[serde(default)]
    package: Vec<LockPackage>,
}

#[derive(Deserialize)]
struct LockPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    checksum: Option<String>,
}

/// The packages of a Cargo.lock; a lock file that does not parse is an
/// error naming why.
pub fn from_lock(text: &str) -> Result<Vec<Crate>, String> {
    let lock: Lock = toml::from_str(text).map_err(|e| e.message().to_string())?;
    if lock.package.len() > MAX_CRATES {
        return Err(format!(
            "{} packages, more than the {MAX_CRATES} an SBOM lists",
            lock.package.len()
        ));
    }
    Ok(lock
        .package
        .into_iter()
        .map(|p| Crate {
            name: p.name,
            version: p.version,
            source: p.source.unwrap_or_default(),
            checksum: p.checksum.filter(|c| is_sha256(c)),
        })
        .collect())
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[derive(Deserialize)]
struct Auditable {
    packages: Vec<AuditablePackage>,
}

#[derive(Deserialize)]
struct AuditablePackage {
    name: String,
    version: String,
    #[serde(default)]
    source: String,
}

/// The crates recorded by `cargo auditable` in an ELF, Mach-O or PE
/// binary, or `None` when it has no readable `.dep-v0` section.
pub fn from_binary(bytes: &[u8]) -> Option<Vec<Crate>> {
    let file = object::File::parse(bytes).ok()?;
    let section = file
        .sections()
        .find(|s| matches!(s.name(), Ok(".dep-v0") | Ok("__dep_v0") | Ok(".dep-v0\0")))?;
    let data = section.data().ok()?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(MAX_JSON + 1)
        .read_to_end(&mut json)
        .ok()?;
    if json.len() as u64 > MAX_JSON {
        return None;
    }
    let parsed: Auditable = serde_json::from_slice(&json).ok()?;
    if parsed.packages.len() > MAX_CRATES {
        return None;
    }
    Some(
        parsed
            .packages
            .into_iter()
            .map(|p| Crate {
                name: p.name,
                version: p.version,
                source: match p.source.as_str() {
                    "crates.io" => "registry+https://github.com/rust-lang/crates.io-index".into(),
                    "local" => String::new(),
                    other => other.to_string(),
                },
                checksum: None,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_lock_file() {
        let lock = "version = 4\n[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.11\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"49f1f14873335454500d59611f1cf4a4b0f786f9ac11f4312a78e4cf2566695b\"\n";
        let crates = from_lock(lock).unwrap();
        assert_eq!(crates.len(), 2);
        assert_eq!(crates[1].name, "itoa");
        assert!(crates[1].checksum.is_some());
        assert!(crates[0].source.is_empty());
        assert!(from_lock("[[package]]\nname = 1").is_err());
    }

    #[test]
    fn hostile_binaries_have_no_section() {
        assert_eq!(from_binary(b""), None);
        assert_eq!(from_binary(b"\x7fELF\x02\x01\x01garbage"), None);
        let garbage: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 256) as u8).collect();
        assert_eq!(from_binary(&garbage), None);
    }
}
