//! What every SBOM records whatever the language, and all a C binary's
//! records hold: the toolchain that built it (compiler and version) and
//! the archive's files with their sha256.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::{FileEntry, Tool};
use crate::package::checksum::{Algorithm, hash_file};
use crate::package::files::Entry;

/// How long a compiler may take to say its version.
const VERSION_TIMEOUT: Duration = Duration::from_secs(20);
/// A version line longer than this is cut.
const MAX_VERSION_LINE: usize = 200;

/// The compiler a build used: `CC` from its environment (a preset's or the
/// user's), else the compiler of its preset (by name: `go`, `cargo`, ...),
/// else the command's program.
pub fn compiler(
    preset: Option<&str>,
    argv: &[String],
    env: &BTreeMap<String, String>,
) -> Option<String> {
    if let Some(cc) = env.get("CC").and_then(|cc| cc.split_whitespace().next()) {
        return Some(cc.to_string());
    }
    let from_preset = match preset {
        Some("go") => "go",
        Some("cargo" | "cargo-zigbuild") => "rustc",
        Some("gcc-cross") => "gcc",
        Some("zig-cc") => "zig",
        _ => return program(argv),
    };
    Some(from_preset.to_string())
}

/// The program that ran the build when no preset names a compiler.
pub fn program(argv: &[String]) -> Option<String> {
    let p = argv.first()?;
    Some(
        Path::new(p)
            .file_name()
            .map_or_else(|| p.clone(), |n| n.to_string_lossy().into_owned()),
    )
}

/// `name` with the first line it prints for its version (empty when it
/// cannot be run or says nothing), found on PATH or relative to `dir`.
pub fn tool(name: &str, env: &BTreeMap<String, String>, dir: &Path) -> Tool {
    let version = crate::process::resolve(name, env, dir)
        .ok()
        .and_then(|path| {
            let base = Path::new(name).file_name()?.to_string_lossy().into_owned();
            let args: &[&str] = if base == "go" || base == "zig" {
                &["version"]
            } else {
                &["--version"]
            };
            let out = crate::process::capture(&path, args, VERSION_TIMEOUT).ok()??;
            let text = if out.stdout.is_empty() {
                out.stderr
            } else {
                out.stdout
            };
            let line = String::from_utf8_lossy(&text)
                .lines()
                .next()?
                .trim()
                .to_string();
            Some(line.chars().take(MAX_VERSION_LINE).collect())
        })
        .unwrap_or_default();
    Tool {
        name: tool_name(name),
        version,
    }
}

/// A program's file name: `x86_64-linux-gnu-gcc` of `/usr/bin/x86_64-linux-gnu-gcc`.
pub fn tool_name(name: &str) -> String {
    Path::new(name)
        .file_name()
        .map_or_else(|| name.to_string(), |n| n.to_string_lossy().into_owned())
}

/// The archive's files (`entries`, in archive order) with their sha256.
pub fn files(entries: &[Entry]) -> std::io::Result<Vec<FileEntry>> {
    entries
        .iter()
        .map(|e| {
            let (sha256, _) = hash_file(&e.source, Algorithm::Sha256)?;
            Ok(FileEntry {
                path: e.dest.clone(),
                sha256,
                sha1: sha1_file(&e.source)?,
            })
        })
        .collect()
}

/// A file's SHA1 in hex, read in bounded chunks (SPDX wants it; matrix
/// trusts sha256 and only records this one).
fn sha1_file(path: &std::path::Path) -> std::io::Result<String> {
    use sha1::Digest as _;
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha1::Sha1::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
