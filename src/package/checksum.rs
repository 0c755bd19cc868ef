//! Checksums: the digest side of packaging.
//!
//! Sits at the end of the `package` flow: every artifact written to `dist/`
//! is hashed *while* it is written (through [`HashingWriter`]), files that
//! already exist are hashed with [`hash_file`], and the per-release checksums
//! file is rendered by [`render_checksums`] in the exact line format that
//! `sha256sum --check` / `sha512sum --check` read. Owns the [`Algorithm`]
//! choice and nothing else; no file here is written non-atomically.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256, Sha512};

/// Buffer for [`hash_file`]: large enough that the read syscalls are not
/// what we wait on, small enough to never matter for memory.
const HASH_BUF: usize = 1024 * 1024;

/// A UUID derived from `parts`: SHA-256 of them (each ended by a NUL),
/// the first 16 bytes with the `version` nibble (5 for MSI's codes, 8 for
/// SBOM serial numbers) and the RFC 4122 variant bits set, lowercase. The
/// same parts give the same UUID, so rebuilds reproduce it.
pub fn derived_uuid(parts: &[&str], version: u8) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | (version << 4);
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

/// Digest algorithm used for artifact checksums.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    #[default]
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The lowercase name used in config, manifests and file names.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The coreutils command that verifies a checksums file of this kind.
    pub fn check_command(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256sum",
            Algorithm::Sha512 => "sha512sum",
        }
    }

    /// Length of a hex digest of this algorithm.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An incremental hasher over either algorithm.
///
/// An enum rather than `Box<dyn DynDigest>`: two variants, no allocation, and
/// the compiler can inline the per-chunk `update`.
#[derive(Clone)]
pub struct Hasher {
    inner: HasherInner,
}

#[derive(Clone)]
enum HasherInner {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Self {
        let inner = match algorithm {
            Algorithm::Sha256 => HasherInner::Sha256(Sha256::new()),
            Algorithm::Sha512 => HasherInner::Sha512(Sha512::new()),
        };
        Hasher { inner }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.inner {
            HasherInner::Sha256(h) => h.update(bytes),
            HasherInner::Sha512(h) => h.update(bytes),
        }
    }

    /// Lowercase hex, the form `sha256sum` prints.
    pub fn finalize_hex(self) -> String {
        match self.inner {
            HasherInner::Sha256(h) => hex::encode(h.finalize()),
            HasherInner::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// A [`Write`] adapter that hashes and counts every byte that the inner
/// writer accepted.
///
/// Archives are written through this so that the digest and size come for
/// free with the write; re-reading a multi-gigabyte archive just to hash it
/// would double the I/O of packaging.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: Hasher,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W, algorithm: Algorithm) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::new(algorithm),
            bytes: 0,
        }
    }

    /// Bytes accepted so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Returns the inner writer, the hex digest and the byte count.
    ///
    /// Does not flush: callers flush (or commit) the inner writer themselves,
    /// and nothing is buffered in this adapter.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, self.hasher.finalize_hex(), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        // Only what the inner writer took: a short write is retried by the
        // caller with the remainder, which we then hash exactly once.
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes a file by streaming it through a fixed buffer; returns the hex
/// digest and the file's size in bytes.
pub fn hash_file(path: &Path, algorithm: Algorithm) -> io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Hasher::new(algorithm);
    let mut buf = vec![0u8; HASH_BUF];
    let mut total = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hasher.finalize_hex(), total))
}

/// `<algorithm>:<hex>` of a file, as records write digests.
pub fn digest_file(path: &Path, algorithm: Algorithm) -> io::Result<String> {
    let (hex, _) = hash_file(path, algorithm)?;
    Ok(format!("{}:{hex}", algorithm.name()))
}

/// The algorithm a record's digest was made with: `sha512:` says so,
/// anything else is sha256.
pub fn algorithm_of(digest: &str) -> Algorithm {
    if digest.starts_with("sha512:") {
        Algorithm::Sha512
    } else {
        Algorithm::Sha256
    }
}

/// Renders a checksums file: one `<hex>  <name>` line per artifact, sorted
/// by name in byte order, each ending in `\n`.
///
/// Two spaces is the coreutils text-mode separator, which `--check` accepts
/// in every version. A name holding `\` or a newline is written the way
/// coreutils itself writes it (line prefixed with `\`, the characters
/// escaped), so that even such a name verifies.
pub fn render_checksums(entries: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::new();
    for (name, hex) in sorted {
        if name.contains(['\\', '\n']) {
            let escaped = name.replace('\\', "\\\\").replace('\n', "\\n");
            out.push('\\');
            out.push_str(hex);
            out.push_str("  ");
            out.push_str(&escaped);
        } else {
            out.push_str(hex);
            out.push_str("  ");
            out.push_str(name);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    // Known answers for "abc" (FIPS 180-2 examples).
    const ABC_256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const ABC_512: &str = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                           2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

    #[test]
    fn hasher_known_answers() {
        for (alg, want) in [(Algorithm::Sha256, ABC_256), (Algorithm::Sha512, ABC_512)] {
            let mut h = Hasher::new(alg);
            h.update(b"a");
            h.update(b"bc");
            let got = h.finalize_hex();
            assert_eq!(got, want, "{alg}");
            assert_eq!(got.len(), alg.hex_len());
        }
    }

    #[test]
    fn names_and_commands() {
        assert_eq!(Algorithm::default(), Algorithm::Sha256);
        assert_eq!(Algorithm::Sha256.name(), "sha256");
        assert_eq!(Algorithm::Sha512.name(), "sha512");
        assert_eq!(Algorithm::Sha256.check_command(), "sha256sum");
        assert_eq!(Algorithm::Sha512.check_command(), "sha512sum");
        let parsed: Algorithm = serde_json::from_str("\"sha512\"").unwrap();
        assert_eq!(parsed, Algorithm::Sha512);
        assert_eq!(
            serde_json::to_string(&Algorithm::Sha256).unwrap(),
            "\"sha256\""
        );
    }

    /// A writer that accepts at most 3 bytes per call, to prove that short
    /// writes are hashed exactly once.
    struct Trickle(Vec<u8>);
    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn hashing_writer_counts_and_hashes_what_was_written() {
        let mut w = HashingWriter::new(Trickle(Vec::new()), Algorithm::Sha256);
        w.write_all(b"ab").unwrap();
        w.write_all(b"c").unwrap();
        assert_eq!(w.bytes_written(), 3);
        let (inner, hex, n) = w.finish();
        assert_eq!(inner.0, b"abc");
        assert_eq!(hex, ABC_256);
        assert_eq!(n, 3);

        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut w = HashingWriter::new(Trickle(Vec::new()), Algorithm::Sha512);
        w.write_all(&data).unwrap();
        let (inner, hex, n) = w.finish();
        assert_eq!(inner.0, data);
        assert_eq!(n, data.len() as u64);
        let mut h = Hasher::new(Algorithm::Sha512);
        h.update(&data);
        assert_eq!(hex, h.finalize_hex());
    }

    #[test]
    fn hash_file_streams_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        // Bigger than the buffer so the loop runs more than once.
        let data: Vec<u8> = (0..(HASH_BUF * 2 + 17)).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let (hex, size) = hash_file(&path, Algorithm::Sha256).unwrap();
        assert_eq!(size, data.len() as u64);
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(&data);
        assert_eq!(hex, h.finalize_hex());

        let missing = hash_file(&dir.path().join("nope"), Algorithm::Sha256).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn render_sorts_by_bytes_and_ends_with_newline() {
        let entries = vec![
            ("b.zip".to_string(), "22".to_string()),
            ("B.zip".to_string(), "11".to_string()),
            ("a.tar.gz".to_string(), "33".to_string()),
        ];
        assert_eq!(
            render_checksums(&entries),
            "11  B.zip\n33  a.tar.gz\n22  b.zip\n"
        );
        assert_eq!(render_checksums(&[]), "");
    }

    #[test]
    fn rendered_file_passes_coreutils_check() {
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            let dir = tempfile::tempdir().unwrap();
            let names = [
                "app-linux-amd64.tar.gz",
                "app windows.zip",
                "odd\\name",
                "z",
            ];
            let mut entries = Vec::new();
            for (i, name) in names.iter().enumerate() {
                let path = dir.path().join(name);
                std::fs::write(&path, format!("content {i}").repeat(i + 1)).unwrap();
                let (hex, _) = hash_file(&path, alg).unwrap();
                entries.push((name.to_string(), hex));
            }
            std::fs::write(dir.path().join("checksums.txt"), render_checksums(&entries)).unwrap();
            let out = Command::new(alg.check_command())
                .args(["--check", "--strict", "checksums.txt"])
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{alg}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(stdout.matches(": OK").count(), names.len(), "{stdout}");

            // And the check really checks: corrupt one file and it fails.
            std::fs::write(dir.path().join("z"), "tampered").unwrap();
            let status = Command::new(alg.check_command())
                .args(["--check", "--quiet", "checksums.txt"])
                .current_dir(dir.path())
                .output()
                .unwrap()
                .status;
            assert!(!status.success(), "{alg}: tampered file passed");
        }
    }
}
