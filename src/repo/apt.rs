//! An apt repository over the published `.deb` files: `pool/` and
//! `dists/<suite>/`.
//!
//! Part of `repo`. `matrix publish --layout apt` publishes a release as any
//! other layout does (verified, staged, never over a published version,
//! no link followed), with [`layout`] placing every `.deb` at
//! `pool/<component>/<initial>/<package>/<file>` and every other artifact
//! at `<version>/<file>`; then, before the version is recorded as
//! published, [`write_index`] regenerates the suite's
//! metadata from everything in `pool/<component>/`, so a second version
//! keeps the first in the pool and both are listed:
//!
//! ```text
//! dists/<suite>/Release
//! dists/<suite>/<component>/binary-<arch>/Packages
//! dists/<suite>/<component>/binary-<arch>/Packages.gz
//! ```
//!
//! The metadata is written natively (no apt-utils): each Packages entry is
//! the control file of the `.deb` (read by [`control`], bounded)
//! plus Filename, Size, MD5sum, SHA1 and SHA256; Release lists the index
//! files with their sizes and digests and carries the release's time as
//! its Date, so the same pool gives the same bytes. Every index file is
//! staged and renamed into place; the metadata is the only thing a publish
//! replaces, and only under `dists/<suite>/`. With a gpg key (`[sign]`
//! with method gpg), Release is also signed into `Release.gpg` (detached,
//! armored) and `InRelease` (clear-signed); those carry gpg's time and are
//! the only metadata that differs between two publishes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use md5::Digest as _;

use super::nofollow::{self, Found};
use super::{RepoError, staging_dir};
use crate::packager::deb::common::gzip;

mod control;

/// The most a pool `.deb` may weigh (it is hashed whole).
const MAX_DEB: u64 = 4 << 30;
/// The most `.deb` files a pool may hold.
const MAX_DEBS: usize = 100_000;
/// The deepest folder nesting walked below `pool/<component>/`.
const MAX_DEPTH: usize = 8;

/// Where and how the apt metadata is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptOptions {
    pub suite: String,
    pub component: String,
    pub origin: String,
    pub label: String,
    /// A gpg key (id, fingerprint or user id, in GNUPGHOME's keyring) that
    /// signs Release into InRelease and Release.gpg; unsigned without.
    pub gpg_key: Option<String>,
    /// The environment variable holding the key's passphrase, if any.
    pub gpg_passphrase_env: Option<String>,
}

impl Default for AptOptions {
    fn default() -> Self {
        AptOptions {
            suite: "stable".to_owned(),
            component: "main".to_owned(),
            origin: String::new(),
            label: String::new(),
            gpg_key: None,
            gpg_passphrase_env: None,
        }
    }
}

impl AptOptions {
    /// Suite and component become folder names, origin and label one line
    /// of Release each.
    pub fn check(&self) -> Result<(), RepoError> {
        for (what, value) in [
            ("suite", &self.suite),
            ("component", &self.component),
            ("origin", &self.origin),
            ("label", &self.label),
        ] {
            if let Some(allowed) = crate::packager::deb::apt_value_problem(what, value) {
                return Err(RepoError::AptOption {
                    what,
                    value: value.clone(),
                    allowed,
                });
            }
        }
        Ok(())
    }
}

/// The layout template of an apt repository for `component`: a `.deb`
/// (artifact names may carry its folder in dist/, `deb/hello_1.2.3_amd64.deb`)
/// goes to `pool/<component>/<initial>/<package>/<file>`.
pub fn layout(component: &str) -> super::Layout {
    super::Layout::new(format!(
        "{{% set file = artifact|split(\"/\")|last %}}{{% if file is endingwith(\".deb\") %}}pool/{component}/{{{{ file[:1] }}}}/{{{{ file|split(\"_\")|first }}}}/{{{{ file }}}}{{% else %}}{{{{ version }}}}/{{{{ artifact }}}}{{% endif %}}"
    ))
}

/// One `.deb` of the pool.
struct Deb {
    /// Relative to the repository root, `/`-separated.
    filename: String,
    size: u64,
    md5: String,
    sha1: String,
    sha256: String,
    /// The control file's fields, in its order (continuation lines kept).
    fields: Vec<(String, String)>,
}

impl Deb {
    fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }
}

/// The files [`write_index`] writes, relative to the repository root, with
/// their bytes, in the order they are written (Release last).
pub fn index(
    repo: &Path,
    opts: &AptOptions,
    timestamp: i64,
) -> Result<Vec<(String, Vec<u8>)>, RepoError> {
    opts.check()?;
    let pool = PathBuf::from("pool").join(&opts.component);
    let mut debs = Vec::new();
    if nofollow::is_dir(repo, &pool)? {
        walk(repo, &pool, 0, &mut debs)?;
    }
    debs.sort_by(|a, b| {
        (a.field("Package"), a.field("Version"), &a.filename).cmp(&(
            b.field("Package"),
            b.field("Version"),
            &b.filename,
        ))
    });
    // `all` packages go into every architecture's index.
    let mut arches: BTreeSet<String> = debs
        .iter()
        .map(|d| d.field("Architecture").to_owned())
        .filter(|a| a != "all")
        .collect();
    if arches.is_empty() {
        arches.insert("all".to_owned());
    }
    let mut files = Vec::new();
    for arch in &arches {
        let mut packages = String::new();
        for d in debs
            .iter()
            .filter(|d| d.field("Architecture") == arch || d.field("Architecture") == "all")
        {
            if !packages.is_empty() {
                packages.push('\n');
            }
            packages.push_str(&entry(d));
        }
        let dir = format!("{}/binary-{arch}", opts.component);
        files.push((format!("{dir}/Packages"), packages.clone().into_bytes()));
        files.push((format!("{dir}/Packages.gz"), gzip(packages.as_bytes())));
    }
    let release = release(opts, timestamp, &arches, &files)?;
    let base = format!("dists/{}", opts.suite);
    let mut out: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .map(|(p, b)| (format!("{base}/{p}"), b))
        .collect();
    if let Some(key) = &opts.gpg_key {
        let (detached, inline) = sign(key, opts.gpg_passphrase_env.as_deref(), &release)?;
        out.push((format!("{base}/Release"), release));
        out.push((format!("{base}/Release.gpg"), detached));
        out.push((format!("{base}/InRelease"), inline));
    } else {
        out.push((format!("{base}/Release"), release));
    }
    Ok(out)
}

/// Release signed with gpg (one way of running it,
/// [`crate::packager::sign::GpgKey`]): detached and armored (Release.gpg),
/// and clear-signed (InRelease), both with SHA-256.
fn sign(
    key: &str,
    passphrase_env: Option<&str>,
    release: &[u8],
) -> Result<(Vec<u8>, Vec<u8>), RepoError> {
    use crate::packager::sign::{GpgKey, GpgMode};
    let failed = |problem: String| RepoError::AptSign {
        key: key.to_owned(),
        problem,
    };
    let gpg = GpgKey::new(key, passphrase_env).map_err(|e| failed(e.to_string()))?;
    let detached = gpg
        .sign(release, GpgMode::Detached { armor: true })
        .map_err(failed)?;
    let inline = gpg.sign(release, GpgMode::Clear).map_err(failed)?;
    Ok((detached, inline))
}

/// An exclusive lock on `<repo>/.matrix/apt.lock` (made if missing, never
/// through a link), held until dropped.
fn index_lock(repo: &Path) -> Result<File, RepoError> {
    use std::os::unix::fs::OpenOptionsExt;
    let state = Path::new(super::STATE_DIR);
    nofollow::create_dirs(repo, state)?;
    let path = repo.join(state).join("apt.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .mode(0o644)
        .open(&path)
        .map_err(RepoError::io("open the apt index lock", &path))?;
    file.lock()
        .map_err(RepoError::io("lock the apt index lock", &path))?;
    Ok(file)
}

/// Regenerates `dists/<suite>/` from `pool/<component>/`: every file is
/// staged, then renamed into place in [`index`]'s order (the Packages
/// files, then Release, Release.gpg, InRelease last), replacing the
/// previous index, so a client reading during the rebuild sees an
/// InRelease whose Packages are already there. Returns the paths written,
/// relative to the repository root.
pub fn write_index(
    repo: &Path,
    opts: &AptOptions,
    timestamp: i64,
) -> Result<Vec<String>, RepoError> {
    // One rebuild at a time: each reads the whole pool and writes every
    // index file, so two publishes at once end with an index of both
    // (whichever rebuilds last has seen the other's .deb in the pool).
    let _lock = index_lock(repo)?;
    let files = index(repo, opts, timestamp)?;
    let staging_root = staging_dir();
    nofollow::create_dirs(repo, &staging_root)?;
    let staging_root = repo.join(staging_root);
    let staging = tempfile::Builder::new()
        .prefix("apt-")
        .tempdir_in(&staging_root)
        .map_err(RepoError::io(
            "create a staging directory in",
            &staging_root,
        ))?;
    let mut written = Vec::with_capacity(files.len());
    for (rel, bytes) in files {
        let rel_path = Path::new(&rel);
        if let Some(parent) = rel_path.parent() {
            nofollow::create_dirs(repo, parent)?;
        }
        // A link where the file goes is refused, never replaced or followed.
        if let Found::Yes(meta) = nofollow::metadata(repo, rel_path)?
            && !meta.is_file()
        {
            return Err(if meta.file_type().is_symlink() {
                RepoError::Symlink {
                    path: repo.join(rel_path),
                }
            } else {
                RepoError::NotAFile {
                    path: repo.join(rel_path),
                }
            });
        }
        let mut file = tempfile::NamedTempFile::new_in(staging.path())
            .map_err(RepoError::io("create a file in", staging.path()))?;
        file.write_all(&bytes)
            .and_then(|()| set_mode(file.as_file(), 0o644))
            .and_then(|()| file.as_file().sync_all())
            .map_err(RepoError::io("write", file.path()))?;
        let full = repo.join(rel_path);
        file.persist(&full)
            .map_err(|e| RepoError::io("move into place", &full)(e.error))?;
        super::publish::sync_dir(full.parent());
        written.push(rel);
    }
    Ok(written)
}

fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// Every `*.deb` below `repo/dir`, no link followed (a link is an error).
fn walk(repo: &Path, dir: &Path, depth: usize, debs: &mut Vec<Deb>) -> Result<(), RepoError> {
    let full = repo.join(dir);
    if depth > MAX_DEPTH {
        return Err(apt_error(
            &full,
            format!("is nested deeper than {MAX_DEPTH} folders below the pool"),
        ));
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&full).map_err(RepoError::io("list", &full))? {
        let entry = entry.map_err(RepoError::io("list", &full))?;
        names.push(entry.file_name());
    }
    names.sort();
    for name in names {
        let rel = dir.join(&name);
        let path = repo.join(&rel);
        let meta = std::fs::symlink_metadata(&path).map_err(RepoError::io("inspect", &path))?;
        if meta.file_type().is_symlink() {
            return Err(RepoError::Symlink { path });
        }
        if meta.is_dir() {
            walk(repo, &rel, depth + 1, debs)?;
        } else if meta.is_file() && name.to_string_lossy().ends_with(".deb") {
            if debs.len() >= MAX_DEBS {
                return Err(apt_error(
                    &path,
                    format!("is past the {MAX_DEBS} .deb files a pool may hold"),
                ));
            }
            debs.push(read_deb(repo, &rel)?);
        }
    }
    Ok(())
}

fn apt_error(path: &Path, problem: String) -> RepoError {
    RepoError::Apt {
        path: path.to_path_buf(),
        problem,
    }
}

/// Hashes a `.deb` and reads its control file.
fn read_deb(repo: &Path, rel: &Path) -> Result<Deb, RepoError> {
    let path = repo.join(rel);
    let filename = pool_filename(rel).map_err(|problem| apt_error(&path, problem))?;
    let Found::Yes((mut file, meta)) = nofollow::open(repo, rel)? else {
        return Err(apt_error(&path, "disappeared while indexing".to_owned()));
    };
    if meta.len() > MAX_DEB {
        return Err(apt_error(
            &path,
            format!(
                "is {} bytes, more than the {MAX_DEB} a pool .deb may weigh",
                meta.len()
            ),
        ));
    }
    let (mut md5, mut sha1, mut sha256) = (md5::Md5::new(), sha1::Sha1::new(), sha2::Sha256::new());
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    // Never past the length read above: a file that grows meanwhile is
    // hashed as it was (and its control read within that length).
    let mut limited = (&mut file).take(meta.len());
    loop {
        let n = limited
            .read(&mut buf)
            .map_err(RepoError::io("read", &path))?;
        if n == 0 {
            break;
        }
        md5.update(&buf[..n]);
        sha1.update(&buf[..n]);
        sha256.update(&buf[..n]);
        size += n as u64;
    }
    let control = {
        use std::io::Seek;
        file.seek(io::SeekFrom::Start(0))
            .map_err(RepoError::io("read", &path))?;
        control::control_of(file, size).map_err(|problem| apt_error(&path, problem))?
    };
    let fields = control::parse_control(&control).map_err(|problem| apt_error(&path, problem))?;
    let deb = Deb {
        filename,
        size,
        md5: hex::encode(md5.finalize()),
        sha1: hex::encode(sha1.finalize()),
        sha256: hex::encode(sha256.finalize()),
        fields,
    };
    control::check_fields(|name| deb.field(name)).map_err(|problem| apt_error(&path, problem))?;
    Ok(deb)
}

/// The pool path as Packages' `Filename`: `/`-separated segments of
/// letters, digits, `.`, `+`, `~`, `_` and `-` (what Debian's archive
/// names use), none `.` or `..`, so no name can add a line to the index.
fn pool_filename(rel: &Path) -> Result<String, String> {
    let mut segments = Vec::new();
    for c in rel.components() {
        let std::path::Component::Normal(name) = c else {
            return Err("is not a plain path below the pool".to_owned());
        };
        let name = name.to_str().unwrap_or("");
        let ok = !name.is_empty()
            && name != "."
            && name != ".."
            && name.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'~' | b'_' | b'-')
            });
        if !ok {
            return Err(format!(
                "has the path segment {name:?}; pool paths take letters, digits, `.`, `+`, `~`, `_` and `-` only"
            ));
        }
        segments.push(name);
    }
    Ok(segments.join("/"))
}

/// Fields the index sets itself, dropped from the control file.
const INDEX_FIELDS: [&str; 5] = ["Filename", "Size", "MD5sum", "SHA1", "SHA256"];

fn entry(d: &Deb) -> String {
    let mut s = String::new();
    for (k, v) in &d.fields {
        if INDEX_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(k)) {
            continue;
        }
        if v.is_empty() || v.starts_with('\n') {
            s.push_str(&format!("{k}:{v}\n"));
        } else {
            s.push_str(&format!("{k}: {v}\n"));
        }
    }
    s.push_str(&format!(
        "Filename: {}\nSize: {}\nMD5sum: {}\nSHA1: {}\nSHA256: {}\n",
        d.filename, d.size, d.md5, d.sha1, d.sha256
    ));
    s
}

/// One of Release's digests, as lowercase hex.
type Hash = fn(&[u8]) -> String;

fn release(
    opts: &AptOptions,
    timestamp: i64,
    arches: &BTreeSet<String>,
    files: &[(String, Vec<u8>)],
) -> Result<Vec<u8>, RepoError> {
    let date = time::OffsetDateTime::from_unix_timestamp(timestamp)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .ok_or_else(|| RepoError::AptOption {
            what: "release time",
            value: timestamp.to_string(),
            allowed: "a time between the years 1 and 9999",
        })?;
    let mut s = String::new();
    if !opts.origin.is_empty() {
        s.push_str(&format!("Origin: {}\n", opts.origin));
    }
    if !opts.label.is_empty() {
        s.push_str(&format!("Label: {}\n", opts.label));
    }
    s.push_str(&format!(
        "Suite: {}\nCodename: {}\n",
        opts.suite, opts.suite
    ));
    s.push_str(&format!("Date: {date}\n"));
    let arches: Vec<&str> = arches.iter().map(String::as_str).collect();
    s.push_str(&format!("Architectures: {}\n", arches.join(" ")));
    s.push_str(&format!("Components: {}\n", opts.component));
    let sorted: BTreeMap<&str, &[u8]> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    let width = files
        .iter()
        .map(|(_, b)| b.len().to_string().len())
        .max()
        .unwrap_or(1);
    let hashes: [(&str, Hash); 3] = [
        ("MD5Sum", |b| hex::encode(md5::Md5::digest(b))),
        ("SHA1", |b| hex::encode(sha1::Sha1::digest(b))),
        ("SHA256", |b| hex::encode(sha2::Sha256::digest(b))),
    ];
    for (title, hash) in hashes {
        s.push_str(&format!("{title}:\n"));
        for (p, b) in &sorted {
            s.push_str(&format!(" {} {:>width$} {p}\n", hash(b), b.len()));
        }
    }
    Ok(s.into_bytes())
}

#[cfg(test)]
mod tests;
