//! `matrix verify DIR`: checks a release folder on its own, with nothing
//! but its manifest.json: every target has its archive, every file has
//! the size and digest recorded, the checksums file agrees with the
//! records, and every executable inside an archive is a binary for its
//! target's OS, format and CPU.
//!
//! Its own module, used by `cli` (`matrix verify`), `repo` (a release is
//! checked before it is published) and `merge`, which checks each shard's
//! archives with the same [`archive_binaries`]. Reports every problem it
//! finds rather than the first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::io::Seek;

mod attestations;

use crate::inspect::Expected;
use crate::package::archive::Format;
use crate::package::checksum::{Algorithm, algorithm_of};
use crate::package::extract;
use crate::package::manifest::{Artifact, ArtifactKind, MANIFEST, Manifest};

/// Why a folder could not be checked at all; what is wrong inside it is a
/// [`Report`] problem instead.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DistCheckError {
    // Code and help are what `matrix verify` printed when this check was
    // part of `merge`, kept so its output stays the same.
    #[error("{}: {what}", path.display())]
    #[diagnostic(
        code(matrix::merge::read),
        help("pass the folders `matrix build --shard i/N --dist <folder>` wrote")
    )]
    Read { path: PathBuf, what: String },
}

#[derive(Debug, Default)]
pub struct Report {
    /// Files whose size and digest were checked.
    pub files: usize,
    /// Executables inside archives checked against their target.
    pub binaries: usize,
    /// Signatures checked against their files (`[sign]`).
    pub signatures: usize,
    pub problems: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub fn release(dir: &Path) -> Result<Report, DistCheckError> {
    release_with(dir, false)
}

/// [`release`], optionally accepting missing targets (`matrix verify
/// --allow-partial`: a release partial on purpose).
pub fn release_with(dir: &Path, allow_partial: bool) -> Result<Report, DistCheckError> {
    let path = dir.join(MANIFEST);
    let manifest = Manifest::read(&path).map_err(|e| DistCheckError::Read {
        path: path.clone(),
        what: e.to_string(),
    })?;
    let mut report = Report::default();
    if let Some(shard) = &manifest.shard {
        report.problems.push(format!(
            "this is shard {}/{}, not a release: merge the shards with `matrix merge`",
            shard.index, shard.total
        ));
    }
    if !allow_partial {
        for t in &manifest.missing_targets {
            report.problems.push(format!(
                "{t}: missing (a partial release; pass --allow-partial if that is on purpose)"
            ));
        }
    }
    // Completeness: every target has its archive.
    for t in &manifest.targets {
        let has = manifest.artifacts.iter().any(|a| {
            a.target.as_deref() == Some(t.id.as_str())
                && matches!(a.kind, ArtifactKind::Archive | ArtifactKind::Binary)
        });
        if !has && !manifest.missing_targets.contains(&t.id) {
            report
                .problems
                .push(format!("{}: no archive in the manifest", t.id));
        }
    }
    // Every path a plain one inside the folder: a hostile manifest names
    // nothing outside it (`..`, absolute paths) for the checks to read.
    let unplain: Vec<&str> = manifest
        .artifacts
        .iter()
        .map(|a| a.path.as_str())
        .filter(|p| !is_plain_path(p))
        .collect();
    if !unplain.is_empty() {
        for p in unplain {
            report
                .problems
                .push(format!("{p}: not a plain path inside the release folder"));
        }
        return Ok(report);
    }
    // Every recorded file, byte for byte.
    for a in &manifest.artifacts {
        let file = dir.join(&a.path);
        match std::fs::symlink_metadata(&file) {
            Err(_) => {
                report.problems.push(format!("{}: missing", a.path));
                continue;
            }
            Ok(m) if !m.file_type().is_file() => {
                report
                    .problems
                    .push(format!("{}: not a regular file", a.path));
                continue;
            }
            Ok(m) if m.len() != a.size => {
                report.problems.push(format!(
                    "{}: {} bytes, {} recorded",
                    a.path,
                    m.len(),
                    a.size
                ));
                continue;
            }
            Ok(_) => {}
        }
        let actual = hash_file(&file, algorithm_of(&a.digest))?;
        report.files += 1;
        if actual != a.digest {
            report
                .problems
                .push(format!("{}: {actual}, {} recorded", a.path, a.digest));
        }
    }
    check_sums_file(dir, &manifest, &mut report);
    check_sboms(dir, &manifest, &mut report);
    check_signatures(dir, &manifest, &mut report);
    check_signing(dir, &manifest, &mut report);
    check_provenance(dir, &manifest, &mut report);
    attestations::check(dir, &manifest, &mut report);
    check_binaries(dir, &manifest, &mut report)?;
    Ok(report)
}

/// A relative path of plain names (no `..`, `.`, root or empty part).
fn is_plain_path(path: &str) -> bool {
    !path.is_empty()
        && Path::new(path)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        && !path.ends_with('/')
}

/// [`release_with`] for a flat download (a GitHub release's assets): a
/// recorded file not found where the manifest records it is looked up by
/// its file name alone (`homebrew/hello.rb` as `hello.rb`), then the
/// release is checked as `matrix build` laid it out, from copies in a
/// private temporary folder (hard links where the file system allows).
/// Two such files with one file name cannot be told apart and are
/// problems; a link or anything but a regular file is left out, so it is
/// reported missing.
pub fn release_flat(dir: &Path, allow_partial: bool) -> Result<Report, DistCheckError> {
    let path = dir.join(MANIFEST);
    let manifest = Manifest::read(&path).map_err(|e| DistCheckError::Read {
        path: path.clone(),
        what: e.to_string(),
    })?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| DistCheckError::Read {
            path,
            what: e.to_string(),
        }
    };
    let view = tempfile::Builder::new()
        .prefix("matrix-verify-")
        .tempdir()
        .map_err(io(Path::new("temporary folder")))?;
    let mut problems = Vec::new();
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    let copy = |from: &Path, to: &Path| -> Result<(), DistCheckError> {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        if std::fs::hard_link(from, to).is_err() {
            std::fs::copy(from, to).map_err(io(from))?;
        }
        Ok(())
    };
    copy(&path, &view.path().join(MANIFEST))?;
    for a in &manifest.artifacts {
        if !is_plain_path(&a.path) {
            // release_with names it.
            continue;
        }
        let regular =
            |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file());
        let to = view.path().join(&a.path);
        // Where the manifest records it, else by its file name alone.
        let at = dir.join(&a.path);
        if regular(&at) {
            copy(&at, &to)?;
            continue;
        }
        let name = a.path.rsplit('/').next().unwrap_or(&a.path);
        if let Some(other) = names.insert(name, &a.path) {
            problems.push(format!(
                "{}: the same file name as {other}: a flat folder cannot hold both",
                a.path
            ));
            continue;
        }
        let from = dir.join(name);
        if regular(&from) {
            copy(&from, &to)?;
        }
    }
    let mut report = release_with(view.path(), allow_partial)?;
    problems.append(&mut report.problems);
    report.problems = problems;
    Ok(report)
}

/// The signing method a key artifact is the public key of, by the names
/// the sign job gives them; `None` for `<project>.cosign.pub` (the images'
/// PEM key, checked against this key by [`check_signing`]).
fn key_method(key: &Artifact) -> Option<crate::packager::sign::Method> {
    use crate::packager::sign::Method;
    if key.kind != ArtifactKind::Key {
        None
    } else if key.path == "allowed_signers" {
        Some(Method::Ssh)
    } else if is_cosign_key(key) {
        None
    } else if key.path.ends_with(".pub") {
        Some(Method::Minisign)
    } else if key.path.ends_with(".asc") {
        Some(Method::Gpg)
    } else {
        None
    }
}

/// How the images' PEM public key file ends (`<project>.cosign.pub`).
const COSIGN_KEY_SUFFIX: &str = ".cosign.pub";

/// Whether `a` is the images' PEM public key.
fn is_cosign_key(a: &Artifact) -> bool {
    a.kind == ArtifactKind::Key && a.path.ends_with(COSIGN_KEY_SUFFIX)
}

/// A release with a signing key is signed whole: the checksums file has
/// its signature, the release and each archive (or bare binary) their
/// provenance, and `<project>.cosign.pub`, when there is one, is the same
/// Ed25519 key as the release's (nothing else ties it to the key users
/// compare with the one the project publishes).
fn check_signing(dir: &Path, manifest: &Manifest, report: &mut Report) {
    use crate::packager::sign::{self, provenance};
    let Some((key, method)) = manifest
        .artifacts
        .iter()
        .find_map(|k| key_method(k).map(|m| (k, m)))
    else {
        if let Some(k) = manifest.artifacts.iter().find(|k| is_cosign_key(k)) {
            report.problems.push(format!(
                "{}: an image key without the release's signing key",
                k.path
            ));
        }
        return;
    };
    let recorded = |path: &str, kind: ArtifactKind| {
        manifest
            .artifacts
            .iter()
            .any(|a| a.path == path && a.kind == kind)
    };
    let sums = &manifest.checksum.file;
    let signature = format!("{sums}.{}", method.extension());
    if !recorded(&signature, ArtifactKind::Signature) {
        report.problems.push(format!(
            "{signature}: missing: the release is signed ({}) but the checksums file has no signature",
            key.path
        ));
    }
    let release = provenance::file_name(&manifest.project.name, &manifest.version);
    let mut wanted = vec![release];
    wanted.extend(
        manifest
            .artifacts
            .iter()
            .filter(|a| matches!(a.kind, ArtifactKind::Archive | ArtifactKind::Binary))
            .map(|a| provenance::archive_file_name(&a.path)),
    );
    for name in wanted {
        if !recorded(&name, ArtifactKind::Provenance) {
            report.problems.push(format!(
                "{name}: missing: the release is signed ({}), so every archive and the release have provenance",
                key.path
            ));
        }
    }
    for cosign in manifest.artifacts.iter().filter(|k| is_cosign_key(k)) {
        let read =
            |path: &str| crate::package::capped::read_text(&dir.join(path), MAX_KEY_BYTES).ok();
        let (Some(text), Some(pem)) = (read(&key.path), read(&cosign.path)) else {
            // Missing or unreadable: the size and digest checks said so.
            continue;
        };
        match sign::ed25519_public_of(method, &text) {
            Ok(Some(public)) if crate::image::cosign::public_key_pem(&public) == pem => {}
            Ok(Some(_)) => report.problems.push(format!(
                "{}: not the Ed25519 key of {}",
                cosign.path, key.path
            )),
            Ok(None) => report.problems.push(format!(
                "{}: the release's {} key ({}) is not Ed25519 and cannot have signed the images",
                cosign.path,
                method.as_str(),
                key.path
            )),
            Err(why) => report.problems.push(format!("{}: {why}", key.path)),
        }
    }
}

/// Most bytes a public key file may have to be read back.
const MAX_KEY_BYTES: u64 = 1 << 20;

/// Every signature must hold for the file it signs, with the public key
/// the release carries (`[sign]`).
fn check_signatures(dir: &Path, manifest: &Manifest, report: &mut Report) {
    use crate::packager::sign;
    let keys: Vec<&Artifact> = manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Key)
        .collect();
    for a in &manifest.artifacts {
        if a.kind != ArtifactKind::Signature {
            continue;
        }
        let Some(method) = sign::method_of(&a.path) else {
            report
                .problems
                .push(format!("{}: not a signature matrix makes", a.path));
            continue;
        };
        let signed = &a.path[..a.path.len() - method.extension().len() - 1];
        if !manifest.artifacts.iter().any(|b| b.path == signed) {
            report.problems.push(format!(
                "{}: signs {signed}, which the manifest does not record",
                a.path
            ));
            continue;
        }
        let Some(key) = keys
            .iter()
            .find(|k| key_method(k) == Some(method))
            .map(|k| k.path.as_str())
        else {
            report
                .problems
                .push(format!("{}: no public key for it in the manifest", a.path));
            continue;
        };
        match sign::verify(
            method,
            &dir.join(key),
            &dir.join(&a.path),
            &dir.join(signed),
        ) {
            Ok(()) => report.signatures += 1,
            Err(why) => report.problems.push(format!(
                "{}: the {} signature of {signed} does not verify: {why}",
                a.path,
                method.as_str()
            )),
        }
    }
}

/// Every provenance file's DSSE signature must hold with the release's
/// public key (whatever its kind). The release's provenance names exactly
/// the files the checksums file lists, with their recorded digests; an
/// archive's (`<archive>.intoto.jsonl`) names exactly that archive, with
/// its sha256.
fn check_provenance(dir: &Path, manifest: &Manifest, report: &mut Report) {
    use crate::packager::sign::{self, provenance};
    let release_name = provenance::file_name(&manifest.project.name, &manifest.version);
    // The key of the release, and the method it is for.
    let key = manifest
        .artifacts
        .iter()
        .find_map(|k| key_method(k).map(|method| (method, dir.join(&k.path))));
    for a in &manifest.artifacts {
        if a.kind != ArtifactKind::Provenance {
            continue;
        }
        let Some((method, key)) = &key else {
            report
                .problems
                .push(format!("{}: no public key to check it with", a.path));
            continue;
        };
        // Bounded like the manifest: it names at most every file.
        let text = std::fs::File::open(dir.join(&a.path))
            .and_then(|f| {
                crate::package::capped::read_to_end(f, crate::package::manifest::MAX_BYTES, a.size)
            })
            .map_err(|e| e.to_string())
            .and_then(|b| b.ok_or_else(|| "too large".to_string()))
            .and_then(|b| String::from_utf8(b).map_err(|e| e.to_string()));
        let text = match text {
            Ok(text) => text,
            Err(e) => {
                report
                    .problems
                    .push(format!("{}: cannot read: {e}", a.path));
                continue;
            }
        };
        let statement = match sign::dsse(*method, key, &text) {
            Ok(s) => s,
            Err(why) => {
                report.problems.push(format!("{}: {why}", a.path));
                continue;
            }
        };
        let listed: BTreeMap<String, String> = statement["subject"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let (alg, hex) = s["digest"].as_object()?.iter().next()?;
                Some((
                    s["name"].as_str()?.to_string(),
                    format!("{alg}:{}", hex.as_str()?),
                ))
            })
            .collect();
        let count = statement["subject"].as_array().map_or(0, Vec::len);
        let expected: BTreeMap<String, String> = if a.path == release_name {
            manifest
                .artifacts
                .iter()
                .filter(|b| {
                    !matches!(
                        b.kind,
                        ArtifactKind::Checksums
                            | ArtifactKind::Signature
                            | ArtifactKind::Key
                            | ArtifactKind::Provenance
                    )
                })
                .map(|b| (b.path.clone(), b.digest.clone()))
                .collect()
        } else {
            let archive = a.path.strip_suffix(provenance::SUFFIX).and_then(|name| {
                manifest.artifacts.iter().find(|b| {
                    b.path == name && matches!(b.kind, ArtifactKind::Archive | ArtifactKind::Binary)
                })
            });
            let Some(archive) = archive else {
                report.problems.push(format!(
                    "{}: the provenance of no archive of the release",
                    a.path
                ));
                continue;
            };
            let sha256 = if archive.digest.starts_with("sha256:") {
                archive.digest.clone()
            } else {
                match hash_file(&dir.join(&archive.path), Algorithm::Sha256) {
                    Ok(d) => d,
                    // Missing: the size and digest checks said so.
                    Err(_) => continue,
                }
            };
            if count != 1 || !listed.contains_key(&archive.path) {
                report.problems.push(format!(
                    "{}: names {}, not exactly its archive {}",
                    a.path,
                    listed.keys().cloned().collect::<Vec<_>>().join(", "),
                    archive.path
                ));
                continue;
            }
            BTreeMap::from([(archive.path.clone(), sha256)])
        };
        if listed != expected || count != listed.len() {
            let differ: Vec<&String> = expected
                .keys()
                .chain(listed.keys())
                .filter(|k| listed.get(*k) != expected.get(*k))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            report.problems.push(format!(
                "{}: its subjects differ from the release's files: {}",
                a.path,
                differ
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else {
            report.signatures += 1;
        }
    }
}

/// `<algorithm>:<hex>` of a file, as records write digests.
fn hash_file(path: &Path, algorithm: Algorithm) -> Result<String, DistCheckError> {
    crate::package::checksum::digest_file(path, algorithm).map_err(|e| DistCheckError::Read {
        path: path.to_path_buf(),
        what: e.to_string(),
    })
}

/// The checksums file must list exactly the recorded files, with the
/// recorded digests.
/// Most bytes an SBOM may have to be read back.
const MAX_SBOM: u64 = 64 << 20;

/// Each SBOM names its target's archive and that archive's sha256.
fn check_sboms(dir: &Path, manifest: &Manifest, report: &mut Report) {
    for a in manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == ArtifactKind::Sbom)
    {
        let archive = manifest.artifacts.iter().find(|r| {
            r.target.is_some()
                && r.target == a.target
                && matches!(r.kind, ArtifactKind::Archive | ArtifactKind::Binary)
        });
        let Some(archive) = archive else {
            report
                .problems
                .push(format!("{}: an SBOM of no archive of the release", a.path));
            continue;
        };
        let bytes = std::fs::File::open(dir.join(&a.path))
            .and_then(|f| crate::package::capped::read_to_end(f, MAX_SBOM, a.size));
        let Ok(Some(bytes)) = bytes else {
            // Missing or oversized: the size and digest checks said so.
            continue;
        };
        let named = crate::packager::sbom::named_archive(&bytes);
        let sha = hash_file(&dir.join(&archive.path), Algorithm::Sha256);
        match (named, sha) {
            (Err(why), _) => report.problems.push(format!("{}: {why}", a.path)),
            (Ok((name, _)), _) if name != archive.name => report.problems.push(format!(
                "{}: names {name:?}, not its archive {:?}",
                a.path, archive.name
            )),
            (Ok((_, named)), Ok(actual)) if actual != format!("sha256:{named}") => {
                report.problems.push(format!(
                    "{}: names {} with sha256 {named}, but it is {actual}",
                    a.path, archive.name
                ))
            }
            _ => {}
        }
    }
}

fn check_sums_file(dir: &Path, manifest: &Manifest, report: &mut Report) {
    let name = &manifest.checksum.file;
    let path = dir.join(name);
    // Bounded like the manifest: one line per recorded file.
    let len = std::fs::symlink_metadata(&path)
        .map(|m| m.len())
        .unwrap_or(0);
    if len > crate::package::manifest::MAX_BYTES {
        report.problems.push(format!(
            "{name}: {len} bytes, more than a checksums file of this manifest can need"
        ));
        return;
    }
    let cap = crate::package::manifest::MAX_BYTES;
    let read = std::fs::File::open(&path)
        .and_then(|f| crate::package::capped::read_to_end(f, cap, len))
        .and_then(|bytes| {
            let Some(bytes) = bytes else {
                // It grew past the cap after its length was read.
                return Err(std::io::Error::new(
                    std::io::ErrorKind::FileTooLarge,
                    format!("more than {cap} bytes"),
                ));
            };
            String::from_utf8(bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        });
    let text = match read {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            report
                .problems
                .push(format!("{name}: the checksums file is missing"));
            return;
        }
        Err(e) => {
            report.problems.push(format!("{name}: cannot read: {e}"));
            return;
        }
    };
    let prefix = format!("{}:", manifest.checksum.algorithm.name());
    let listed: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.split_once("  ").map(|(h, f)| (f, h)))
        .collect();
    for a in &manifest.artifacts {
        // The signatures and their key are made after the checksums file.
        if matches!(
            a.kind,
            ArtifactKind::Checksums
                | ArtifactKind::Signature
                | ArtifactKind::Key
                | ArtifactKind::Provenance
        ) {
            continue;
        }
        let want = a.digest.strip_prefix(&prefix).unwrap_or(&a.digest);
        match listed.get(a.path.as_str()) {
            Some(h) if *h == want => {}
            Some(h) => report.problems.push(format!(
                "{name}: {} is listed as {h}, recorded as {want}",
                a.path
            )),
            None => report
                .problems
                .push(format!("{name}: {} is not listed", a.path)),
        }
    }
    for file in listed.keys() {
        if !manifest.artifacts.iter().any(|a| a.path == *file) {
            report.problems.push(format!(
                "{name}: lists {file}, which the manifest does not record"
            ));
        }
    }
}

/// Every executable inside a target's archive must be for that target.
fn check_binaries(
    dir: &Path,
    manifest: &Manifest,
    report: &mut Report,
) -> Result<(), DistCheckError> {
    for a in &manifest.artifacts {
        let (Some(id), Some(format)) = (&a.target, a.format) else {
            continue;
        };
        let Some(target) = manifest.targets.iter().find(|t| &t.id == id) else {
            report.problems.push(format!(
                "{}: its target {id} is not in the manifest",
                a.path
            ));
            continue;
        };
        // `[build] verify = false`: the artifact is not an executable;
        // its size and digest were checked above.
        if !target.verify {
            continue;
        }
        let (Some(os), Some(arch)) = (target.values.get("os"), target.values.get("arch")) else {
            continue;
        };
        let Some(p) =
            crate::target::platform(os, arch, target.values.get("variant").map(String::as_str))
        else {
            continue;
        };
        let found = archive_binaries(&dir.join(&a.path), format, &expected(id, p));
        report.binaries += found.binaries;
        report
            .problems
            .extend(found.problems.iter().map(|p| format!("{}: {p}", a.path)));
    }
    Ok(())
}

/// What a target's binary must be, from the knowledge base.
pub fn expected<'a>(id: &'a str, p: &'a crate::target::Platform) -> Expected<'a> {
    Expected {
        target: id,
        os: p.os,
        format: p.format,
        machine: p.machine,
        bits: p.bits,
        endian: p.endian,
    }
}

/// Disk left free when a member is copied out for inspection.
const SPARE_DISK: u64 = 64 << 20;

/// Bytes an unprivileged process may still write on the filesystem of
/// `dir`; `None` when the system does not say.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<nix::libc::statvfs>::uninit();
    // SAFETY: `path` is NUL-terminated and outlives the call; statvfs
    // fills `st` when it returns 0, and only then is `st` read.
    let st = unsafe {
        if nix::libc::statvfs(path.as_ptr(), st.as_mut_ptr()) != 0 {
            return None;
        }
        st.assume_init()
    };
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// What the executables of one archive turned out to be.
#[derive(Debug, Default)]
pub struct ArchiveBinaries {
    /// Executables that are binaries (scripts are not counted).
    pub binaries: usize,
    pub problems: Vec<BinaryProblem>,
}

/// One thing wrong with an archive's binaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryProblem {
    /// The member at fault; `None` for the archive as a whole.
    pub member: Option<String>,
    pub what: String,
}

impl std::fmt::Display for BinaryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.member {
            Some(m) => write!(f, "{m}: {}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

/// Checks every executable inside `archive` against `expected`: the one
/// check `matrix verify` and `matrix merge` share. Each member is streamed
/// to a scratch file (a bounded copy, never held in memory) and inspected
/// there by its headers; a bare binary is inspected in place. An archive
/// with no binary at all is a problem too.
pub fn archive_binaries(
    archive: &Path,
    format: Format,
    expected: &Expected<'_>,
) -> ArchiveBinaries {
    let mut out = ArchiveBinaries::default();
    let whole = |what: String| BinaryProblem { member: None, what };
    let judge = |member: &str, path: &Path, out: &mut ArchiveBinaries| {
        match crate::inspect::inspect(path)
            .and_then(|found| crate::inspect::check(&found, expected))
        {
            // An executable script (an installer, say) is not a binary.
            Err(crate::inspect::VerifyError::NotAnExecutable { .. }) => {}
            Err(e) => {
                out.binaries += 1;
                out.problems.push(BinaryProblem {
                    member: Some(member.to_string()),
                    what: e.to_string(),
                });
            }
            Ok(()) => out.binaries += 1,
        }
    };
    if format == Format::Binary {
        let name = archive
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        judge(&name, archive, &mut out);
    } else {
        let scratch = match tempfile::NamedTempFile::new() {
            Ok(f) => f,
            Err(e) => {
                out.problems
                    .push(whole(format!("cannot make a scratch file: {e}")));
                return out;
            }
        };
        let walked = extract::visit(
            archive,
            format,
            |m| m.executable,
            |member, reader| {
                // The header says how big the copy will be: a member the
                // scratch disk cannot hold is refused, not half-written
                // until the disk is full.
                let dir = scratch.path().parent().unwrap_or(Path::new("/"));
                if let Some(free) = free_bytes(dir)
                    && member.size > free.saturating_sub(SPARE_DISK)
                {
                    out.problems.push(BinaryProblem {
                        member: Some(member.path.clone()),
                        what: format!(
                            "its {} bytes do not fit in the {free} bytes free in {} (set TMPDIR to a larger disk)",
                            member.size,
                            dir.display()
                        ),
                    });
                    return Ok(());
                }
                let mut file = scratch.as_file();
                let rewind = |e| extract::ExtractError::Io {
                    archive: scratch.path().to_path_buf(),
                    source: e,
                };
                file.set_len(0).map_err(rewind)?;
                file.seek(std::io::SeekFrom::Start(0)).map_err(rewind)?;
                extract::copy_member(archive, member, reader, &mut file)?;
                judge(&member.path, scratch.path(), &mut out);
                Ok(())
            },
        );
        if let Err(e) = walked {
            out.problems.push(whole(format!("cannot read: {e}")));
            return out;
        }
    }
    if out.binaries == 0 && out.problems.is_empty() {
        out.problems
            .push(whole("holds no executable binary".to_string()));
    }
    out
}

#[cfg(test)]
mod tests;
