//! Where cached outputs live: the [`Store`] trait and the [`LocalStore`]
//! (a folder on this machine, or a shared file system: the same code).
//!
//! Part of `cache`. Layout under the store's root:
//! - `ac/<key>.json`: the action record of one key (its inputs, every
//!   output's path, size, sha256 and mode, and the job's log);
//! - `cas/<sha256>`: file contents by their digest, shared by every record;
//! - `last/<sha256 of project and job>.json`: the inputs a job last ran
//!   with, so a miss can say what changed;
//! - `tmp/`: files being written.
//!
//! Every file is written under a temporary name and renamed into place, so
//! two runs sharing a store never see half a file; a blob is named by its
//! content, so two writers of one blob write the same bytes. Reads are
//! capped and never follow a link; a restored file is re-hashed against the
//! record before it is renamed into place, so a corrupt store can only
//! cause a rerun, never a wrong output. Whoever can write the store can
//! still serve any bytes under a key, so a store every user of the machine
//! may write is refused when it is opened.
//!
//! For the same reason entries are not fsynced: a record must parse and
//! name its key, a blob is re-hashed as it is restored, so an entry torn
//! by a crash is dropped and its job reruns. Syncing each blob, record and
//! last-inputs file cost every cached job several disk flushes.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::key::{Inputs, is_key};
use crate::package::atomic::AtomicFile;
use crate::package::checksum::{Algorithm, Hasher, HashingWriter};

/// Largest action record or last-inputs file read.
pub(super) const MAX_RECORD: u64 = 4 << 20;
/// Longest output path a record may name, and longest name in it (what
/// Linux and macOS file systems take).
const MAX_PATH: usize = 4096;
const MAX_NAME: usize = 255;
/// Most output files one record may list.
pub const MAX_OUTPUTS: usize = 10_000;

/// A file's content in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blob {
    pub sha256: String,
    pub size: u64,
}

/// One output file of a job: where it goes (`base` names a folder the
/// caller knows, `path` is relative to it, `/`-separated), what it holds
/// and its permission bits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputFile {
    pub base: String,
    pub path: String,
    #[serde(flatten)]
    pub blob: Blob,
    pub mode: u32,
}

/// What a job made, by the key of its inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub format: u32,
    pub key: String,
    pub job: String,
    pub inputs: Inputs,
    pub outputs: Vec<OutputFile>,
    pub log: Option<Blob>,
}

/// A file to save: its place (`base`, relative `path`) and where it is now.
#[derive(Debug, Clone)]
pub struct Saving {
    pub base: String,
    pub path: String,
    pub file: PathBuf,
}

/// A place cached outputs are kept.
pub trait Store: Send + Sync {
    /// The record of `key`, or `None`. A record that cannot be read or
    /// does not parse is dropped (and is a miss). A hit counts as a use
    /// for least-recently-used eviction.
    fn lookup(&self, key: &str) -> io::Result<Option<Record>>;
    /// Copies every output of `record` to `bases[base]/path` and its log
    /// to `log`, each checked against the record before it is renamed into
    /// place; no folder below a base may be a link. Any error means the
    /// entry is not usable.
    fn restore(
        &self,
        record: &Record,
        bases: &BTreeMap<String, PathBuf>,
        log: &Path,
    ) -> io::Result<()>;
    /// Stores `outputs` and `log` and records them under `inputs`' key.
    fn save(
        &self,
        job: &str,
        inputs: &Inputs,
        outputs: &[Saving],
        log: Option<&Path>,
    ) -> io::Result<Record>;
    /// Forgets `key` (a corrupt entry).
    fn drop_record(&self, key: &str);
    /// The inputs `scope` (a project's job) last ran with.
    fn last_inputs(&self, scope: &str) -> Option<Inputs>;
    fn set_last_inputs(&self, scope: &str, inputs: &Inputs) -> io::Result<()>;
}

/// A store in a folder: the user's cache folder, or any shared folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Opens (creating) the store at `root`. Its sub-folders must be real
    /// folders, not links; neither they nor the root may be writable by
    /// every user of the machine ([`not_world_writable`]).
    pub fn open(root: &Path) -> io::Result<LocalStore> {
        use std::os::unix::fs::DirBuilderExt;
        // 0775 less the umask: never writable by others, even under umask 0.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o775)
            .create(root)?;
        not_world_writable(root)?;
        no_world_writable_parent(root)?;
        for sub in ["ac", "cas", "last", "tmp"] {
            let dir = root.join(sub);
            ensure_dir(&dir)?;
            not_world_writable(&dir)?;
        }
        Ok(LocalStore {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(super) fn record_path(&self, key: &str) -> PathBuf {
        self.root.join("ac").join(format!("{key}.json"))
    }

    pub(super) fn blob_path(&self, sha256: &str) -> PathBuf {
        self.root.join("cas").join(sha256)
    }

    /// Copies `file` into the store by its content; the file must be a
    /// regular file (a link is refused, never followed).
    fn put(&self, file: &Path) -> io::Result<Blob> {
        self.put_from_file(open_nofollow(file)?, file)
    }

    /// Stores what `source` (opened from `file`) holds, if it is a
    /// regular file.
    fn put_from_file(&self, mut source: File, file: &Path) -> io::Result<Blob> {
        let meta = source.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::other(format!(
                "`{}` is not a regular file",
                file.display()
            )));
        }
        let temp = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(self.root.join("tmp"))?;
        let mut writer = HashingWriter::new(temp, Algorithm::Sha256);
        io::copy(&mut source, &mut writer)?;
        let (temp, sha256, size) = writer.finish();
        // Renamed over a blob of the same name, if there is one: the same
        // bytes by their digest, and a corrupt one is replaced rather than
        // trusted. A reader holding the old file keeps reading it.
        let dest = self.blob_path(&sha256);
        temp.persist(&dest).map_err(|e| e.error)?;
        Ok(Blob { sha256, size })
    }

    /// Writes blob `blob` to `dest` (atomically, with [`restored_mode`] of
    /// `mode`), failing if the stored bytes do not hash to the record's
    /// digest.
    fn get(&self, blob: &Blob, dest: &Path, mode: u32) -> io::Result<()> {
        let mut out = AtomicFile::create(dest)?;
        out.set_mode(restored_mode(mode));
        self.copy_blob(blob, out.file())?;
        out.commit()
    }

    /// Writes blob `blob` as the job's log `log`, opened the way every log
    /// is ([`crate::process::open_log_afresh`]: neither the log nor its
    /// folder may be a link) and emptied first. The blob is checked before the log is
    /// touched (a corrupt one fails the restore and the job runs with its
    /// log as it was), then copied in place: a log is not an artifact.
    fn get_log(&self, blob: &Blob, log: &Path) -> io::Result<()> {
        self.copy_blob(blob, io::sink())?;
        self.copy_blob(blob, crate::process::open_log_afresh(log)?)
    }

    /// Copies blob `blob` to `to`, failing if the stored bytes are not the
    /// record's size or do not hash to its digest.
    fn copy_blob(&self, blob: &Blob, to: impl io::Write) -> io::Result<()> {
        if !is_key(&blob.sha256) {
            return Err(corrupt(format!("`{}` is not a sha256", blob.sha256)));
        }
        let source = open_nofollow(&self.blob_path(&blob.sha256))?;
        if !source.metadata()?.is_file() {
            return Err(corrupt(format!(
                "blob {} is not a regular file",
                blob.sha256
            )));
        }
        let mut writer = HashingWriter::new(to, Algorithm::Sha256);
        // One byte past the recorded size is enough to know it is wrong.
        io::copy(&mut source.take(blob.size.saturating_add(1)), &mut writer)?;
        let (_, sha256, size) = writer.finish();
        if size != blob.size || sha256 != blob.sha256 {
            return Err(corrupt(format!(
                "blob {} holds {size} bytes hashing to {sha256}, the record says {} bytes",
                blob.sha256, blob.size
            )));
        }
        Ok(())
    }

    /// Whether the store holds blob `blob` (a regular file of its size;
    /// its bytes are checked when it is restored).
    pub(super) fn has_blob(&self, blob: &Blob) -> bool {
        is_key(&blob.sha256)
            && self
                .blob_path(&blob.sha256)
                .symlink_metadata()
                .is_ok_and(|m| m.is_file() && m.len() == blob.size)
    }

    /// Stores blob `blob` from what `fill` writes (a download), refusing
    /// bytes that are not `blob.size` bytes hashing to `blob.sha256`.
    pub(super) fn put_from(
        &self,
        blob: &Blob,
        fill: impl FnOnce(&mut dyn io::Write) -> io::Result<()>,
    ) -> io::Result<()> {
        if !is_key(&blob.sha256) {
            return Err(corrupt(format!("`{}` is not a sha256", blob.sha256)));
        }
        let temp = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(self.root.join("tmp"))?;
        let mut writer = HashingWriter::new(temp, Algorithm::Sha256);
        fill(&mut writer)?;
        let (temp, sha256, size) = writer.finish();
        if size != blob.size || sha256 != blob.sha256 {
            return Err(corrupt(format!(
                "blob {} came as {size} bytes hashing to {sha256}, the record says {} bytes",
                blob.sha256, blob.size
            )));
        }
        temp.persist(self.blob_path(&sha256)).map_err(|e| e.error)?;
        Ok(())
    }

    /// Writes `record` as the entry of its key (its blobs must be stored).
    pub(super) fn put_record(&self, record: &Record) -> io::Result<()> {
        if !is_key(&record.key) {
            return Err(corrupt(format!("`{}` is not a cache key", record.key)));
        }
        let bytes = record_bytes(record)?;
        self.write_entry(&self.record_path(&record.key), &bytes)
    }

    /// Writes a record or last-inputs file: under a temporary name in
    /// `tmp/`, then renamed into place, readable by the store's other
    /// users (mode 0644); not synced (see the module doc).
    fn write_entry(&self, dest: &Path, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let mut temp = tempfile::Builder::new()
            .prefix("entry-")
            .tempfile_in(self.root.join("tmp"))?;
        temp.write_all(bytes)?;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
        temp.persist(dest).map_err(|e| e.error)?;
        Ok(())
    }

    fn last_path(&self, scope: &str) -> PathBuf {
        let mut hasher = Hasher::new(Algorithm::Sha256);
        hasher.update(scope.as_bytes());
        self.root
            .join("last")
            .join(format!("{}.json", hasher.finalize_hex()))
    }
}

impl Store for LocalStore {
    fn lookup(&self, key: &str) -> io::Result<Option<Record>> {
        if !is_key(key) {
            return Err(io::Error::other(format!("`{key}` is not a cache key")));
        }
        let path = self.record_path(key);
        let record: Record = match read_json(&path) {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::warn!(
                    "cache record {} is unreadable ({e}); dropped",
                    path.display()
                );
                self.drop_record(key);
                return Ok(None);
            }
        };
        if let Err(why) = check(&record, key) {
            tracing::warn!("cache record {} {why}; dropped", path.display());
            self.drop_record(key);
            return Ok(None);
        }
        // Its use is its age for eviction; a store on a read-only share
        // still answers.
        if let Ok(f) = OpenOptions::new().write(true).custom_nofollow().open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        Ok(Some(record))
    }

    fn restore(
        &self,
        record: &Record,
        bases: &BTreeMap<String, PathBuf>,
        log: &Path,
    ) -> io::Result<()> {
        for out in &record.outputs {
            let base = bases
                .get(&out.base)
                .ok_or_else(|| corrupt(format!("unknown output folder `{}`", out.base)))?;
            let rel = relative(&out.path)?;
            // Its folders are made one at a time and none may be a link:
            // a binary restored to `target/release/x` must not be written
            // through a `target` someone linked elsewhere.
            if let Some(parent) = rel.parent() {
                crate::package::nofollow::create_dirs(base, parent)
                    .map_err(|e| io::Error::other(e.to_string()))?;
            }
            self.get(&out.blob, &base.join(rel), out.mode)?;
        }
        if let Some(blob) = &record.log {
            self.get_log(blob, log)?;
        }
        Ok(())
    }

    fn save(
        &self,
        job: &str,
        inputs: &Inputs,
        outputs: &[Saving],
        log: Option<&Path>,
    ) -> io::Result<Record> {
        if outputs.len() > MAX_OUTPUTS {
            return Err(io::Error::other(format!(
                "{} output files, more than the {MAX_OUTPUTS} a record may hold",
                outputs.len()
            )));
        }
        let mut files = Vec::with_capacity(outputs.len());
        for s in outputs {
            relative(&s.path)?;
            let mode = mode_of(&s.file)?;
            files.push(OutputFile {
                base: s.base.clone(),
                path: s.path.clone(),
                blob: self.put(&s.file)?,
                mode,
            });
        }
        // The log is read as it is written: no link at it or its folder.
        let log = log
            .map(|l| self.put_from_file(crate::process::read_log(l)?, l))
            .transpose()?;
        let key = inputs.key();
        let record = Record {
            format: super::FORMAT,
            key: key.clone(),
            job: job.to_string(),
            inputs: inputs.clone(),
            outputs: files,
            log,
        };
        self.put_record(&record)?;
        Ok(record)
    }

    fn drop_record(&self, key: &str) {
        if is_key(key) {
            let _ = std::fs::remove_file(self.record_path(key));
        }
    }

    fn last_inputs(&self, scope: &str) -> Option<Inputs> {
        read_json(&self.last_path(scope)).ok().flatten()
    }

    fn set_last_inputs(&self, scope: &str, inputs: &Inputs) -> io::Result<()> {
        let path = self.last_path(scope);
        // A restored job ran with the inputs it was last saved with: read
        // them rather than write them again.
        if read_json::<Inputs>(&path).is_ok_and(|last| last.as_ref() == Some(inputs)) {
            return Ok(());
        }
        let bytes = serde_json::to_vec_pretty(inputs).map_err(io::Error::other)?;
        self.write_entry(&path, &bytes)
    }
}

/// A record as it is stored: pretty JSON (the same record, the same bytes).
pub(super) fn record_bytes(record: &Record) -> io::Result<Vec<u8>> {
    serde_json::to_vec_pretty(record).map_err(io::Error::other)
}

/// Whether `record` may be the entry of `key`: this format, this key, at
/// most [`MAX_OUTPUTS`] outputs, each at a relative path, every blob named
/// by a sha256. A record is read from a store others write (a shared
/// folder, a registry); the restore checks each blob's bytes.
pub(super) fn check(record: &Record, key: &str) -> Result<(), String> {
    if record.format != super::FORMAT {
        return Err(format!(
            "has format {}, not {}",
            record.format,
            super::FORMAT
        ));
    }
    if record.key != key {
        return Err(format!("is the record of key {}", record.key));
    }
    if record.outputs.len() > MAX_OUTPUTS {
        return Err(format!(
            "lists {} outputs, more than {MAX_OUTPUTS}",
            record.outputs.len()
        ));
    }
    for out in &record.outputs {
        relative(&out.path).map_err(|e| e.to_string())?;
    }
    let mut blobs = record.outputs.iter().map(|o| &o.blob).chain(&record.log);
    match blobs.find(|b| !is_key(&b.sha256)) {
        Some(b) => Err(format!("names blob `{}`, not a sha256", b.sha256)),
        None => Ok(()),
    }
}

/// A relative, `/`-separated path with only plain components: a record
/// comes from disk and must not write outside its output folder. Nor may
/// it name what no file system takes (a NUL, a name longer than
/// [`MAX_NAME`] bytes, a path longer than [`MAX_PATH`]): the record is
/// refused by its check rather than failing when restored.
fn relative(path: &str) -> io::Result<PathBuf> {
    let p = Path::new(path);
    let plain = !path.is_empty()
        && !path.contains('\\')
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    if !plain {
        return Err(corrupt(format!("output path `{path}` leaves its folder")));
    }
    let shown = || {
        path.chars()
            .take(80)
            .collect::<String>()
            .escape_debug()
            .to_string()
    };
    if path.contains('\0') || path.len() > MAX_PATH {
        return Err(corrupt(format!(
            "output path `{}` holds a NUL or is longer than {MAX_PATH} bytes",
            shown()
        )));
    }
    if p.components().any(|c| c.as_os_str().len() > MAX_NAME) {
        return Err(corrupt(format!(
            "output path `{}` has a name longer than {MAX_NAME} bytes",
            shown()
        )));
    }
    Ok(p.to_path_buf())
}

/// The permission bits a restored file gets: 0755 when the record says
/// its owner may run it, else 0644. A record comes from a store others
/// write: one saying 0777 must not leave a release file or a binary that
/// any user of the machine may rewrite before it ships.
fn restored_mode(mode: u32) -> u32 {
    if mode & 0o100 != 0 { 0o755 } else { 0o644 }
}

fn mode_of(file: &Path) -> io::Result<u32> {
    use std::os::unix::fs::PermissionsExt;
    Ok(file.symlink_metadata()?.permissions().mode() & 0o777)
}

fn corrupt(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// A folder of the store: created if missing, refused if it is a link.
fn ensure_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match dir.symlink_metadata() {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(not_a_folder(dir)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .mode(0o775)
            .create(dir)
            .or_else(|e| {
                // Another run made it first.
                if dir.is_dir() { Ok(()) } else { Err(e) }
            }),
        Err(e) => Err(e),
    }
}

/// Refuses a store folder every user of the machine may write (`o+w`,
/// sticky or not): any of them could plant a record and its blobs under a
/// key they can compute from the project and have them restored into
/// this user's release. A store is shared through a group (`g+w`).
fn not_world_writable(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o7777;
    if mode & 0o002 == 0 {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "`{}` may be written by every user of this machine (mode {mode:o}): anyone could plant cache entries restored into your release; `chmod o-w` it (share a store through a group: `chmod g+w`)",
        dir.display()
    )))
}

/// Refuses a store below a folder every user may write without the
/// sticky bit (`o+w`, not `+t` like /tmp): any of them could rename the
/// store away and put a folder of their own, entries and all, in its
/// place. Each folder on the store's real path is checked.
fn no_world_writable_parent(root: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let real = std::fs::canonicalize(root)?;
    for dir in real.ancestors().skip(1) {
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o7777;
        if mode & 0o002 != 0 && mode & 0o1000 == 0 {
            return Err(io::Error::other(format!(
                "the cache store `{}` is below `{}`, which every user of this machine may write (mode {mode:o}, not sticky): anyone could swap the store for their own; `chmod o-w` or `chmod +t` that folder, or keep the store elsewhere",
                root.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}

/// The error for a store folder that is a link or a file.
pub(super) fn not_a_folder(dir: &Path) -> io::Error {
    io::Error::other(format!(
        "`{}` is not a folder (a link or a file); matrix does not follow links in its cache",
        dir.display()
    ))
}

trait NoFollow {
    fn custom_nofollow(&mut self) -> &mut Self;
}

impl NoFollow for OpenOptions {
    fn custom_nofollow(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: a FIFO planted in the store opens at once (and is then
        // refused as not a regular file) instead of hanging the run.
        self.custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
    }
}

/// Opens `path` for reading, refusing a link (ELOOP).
pub(super) fn open_nofollow(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).custom_nofollow().open(path)
}

/// A JSON file of at most [`MAX_RECORD`] bytes; `None` when it is absent.
pub(super) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    let file = match open_nofollow(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let bytes = crate::package::capped::read_to_end(file, MAX_RECORD, len)?
        .ok_or_else(|| corrupt(format!("larger than {MAX_RECORD} bytes")))?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn plant(path: &Path, bytes: &[u8]) {
        let mut f = File::create(path).unwrap();
        f.write_all(bytes).unwrap();
    }

    fn setup() -> (tempfile::TempDir, LocalStore, Inputs) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("store")).unwrap();
        let mut inputs = Inputs::default();
        inputs.set("command", "cc -o hello hello.c");
        (dir, store, inputs)
    }

    fn save_one(dir: &Path, store: &LocalStore, inputs: &Inputs) -> Record {
        let out = dir.join("out");
        std::fs::create_dir_all(out.join("sub")).unwrap();
        plant(&out.join("sub/hello"), b"binary bytes");
        plant(&dir.join("job.log"), b"log line\n");
        let saving = [Saving {
            base: "out".into(),
            path: "sub/hello".into(),
            file: out.join("sub/hello"),
        }];
        store
            .save("build-x", inputs, &saving, Some(&dir.join("job.log")))
            .unwrap()
    }

    #[test]
    fn a_saved_entry_is_found_and_restored() {
        let (dir, store, inputs) = setup();
        let record = save_one(dir.path(), &store, &inputs);
        let found = store.lookup(&inputs.key()).unwrap().unwrap();
        assert_eq!(found, record);
        let back = dir.path().join("back");
        let bases = BTreeMap::from([("out".to_string(), back.clone())]);
        store
            .restore(&found, &bases, &dir.path().join("restored.log"))
            .unwrap();
        assert_eq!(
            std::fs::read(back.join("sub/hello")).unwrap(),
            b"binary bytes"
        );
        assert_eq!(
            std::fs::read(dir.path().join("restored.log")).unwrap(),
            b"log line\n"
        );
    }

    #[test]
    fn a_record_with_odd_modes_restores_files_only_their_owner_may_write() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, store, inputs) = setup();
        let mut record = save_one(dir.path(), &store, &inputs);
        let back = dir.path().join("back");
        let bases = BTreeMap::from([("out".to_string(), back.clone())]);
        for (recorded, restored) in [
            (0o777, 0o755),
            (0o4755, 0o755),
            (0o666, 0o644),
            (0o000, 0o644),
        ] {
            record.outputs[0].mode = recorded;
            store
                .restore(&record, &bases, &dir.path().join("r.log"))
                .unwrap();
            let meta = std::fs::metadata(back.join("sub/hello")).unwrap();
            assert_eq!(meta.permissions().mode() & 0o7777, restored, "{recorded:o}");
        }
    }

    #[test]
    fn a_corrupt_blob_is_refused_and_nothing_is_written() {
        let (dir, store, inputs) = setup();
        let record = save_one(dir.path(), &store, &inputs);
        let blob = store.blob_path(&record.outputs[0].blob.sha256);
        std::fs::write(&blob, b"binary bytez").unwrap();
        let back = dir.path().join("back");
        let bases = BTreeMap::from([("out".to_string(), back.clone())]);
        let err = store
            .restore(&record, &bases, &dir.path().join("r.log"))
            .unwrap_err();
        assert!(err.to_string().contains("hashing to"), "{err}");
        assert!(!back.join("sub/hello").exists());
    }

    #[test]
    fn a_record_that_leaves_its_folder_is_refused() {
        let (dir, store, inputs) = setup();
        let mut record = save_one(dir.path(), &store, &inputs);
        record.outputs[0].path = "../../escape".into();
        let bases = BTreeMap::from([("out".to_string(), dir.path().join("back"))]);
        let err = store
            .restore(&record, &bases, &dir.path().join("r.log"))
            .unwrap_err();
        assert!(err.to_string().contains("leaves its folder"), "{err}");
    }

    #[test]
    fn a_record_path_no_file_system_takes_is_refused_by_its_check() {
        // The check is what `plan --cache-status` trusts for `hit`: a path
        // the restore cannot write (a NUL, a name past 255 bytes, a path
        // past 4096) is refused there, not only when restored.
        let (dir, store, inputs) = setup();
        let record = save_one(dir.path(), &store, &inputs);
        let long = "x".repeat(256);
        let deep = ["d"; 2100].join("/");
        for path in [
            "sub/a\0b",
            long.as_str(),
            deep.as_str(),
            "/etc/passwd",
            "a/../b",
            "",
        ] {
            let mut bad = record.clone();
            bad.outputs[0].path = path.to_string();
            let err = check(&bad, &record.key).unwrap_err();
            assert!(err.contains("output path"), "{path:.40}: {err}");
        }
        // A name of 255 bytes is fine.
        let mut ok = record.clone();
        ok.outputs[0].path = format!("sub/{}", "y".repeat(255));
        check(&ok, &record.key).unwrap();
    }

    #[test]
    fn a_linked_folder_below_a_base_is_not_written_through() {
        let (dir, store, inputs) = setup();
        let record = save_one(dir.path(), &store, &inputs);
        let back = dir.path().join("back");
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&back).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, back.join("sub")).unwrap();
        let bases = BTreeMap::from([("out".to_string(), back.clone())]);
        let err = store
            .restore(&record, &bases, &dir.path().join("r.log"))
            .unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(!elsewhere.join("hello").exists());
    }

    #[test]
    fn a_log_is_restored_over_a_longer_one_and_never_through_a_linked_folder() {
        let (dir, store, inputs) = setup();
        let record = save_one(dir.path(), &store, &inputs);
        let bases = BTreeMap::from([("out".to_string(), dir.path().join("back"))]);
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        plant(&logs.join("r.log"), b"an older and longer log\n");
        store.restore(&record, &bases, &logs.join("r.log")).unwrap();
        assert_eq!(std::fs::read(logs.join("r.log")).unwrap(), b"log line\n");
        // A corrupt log blob fails the restore and leaves the log alone.
        let blob = store.blob_path(&record.log.as_ref().unwrap().sha256);
        let good = std::fs::read(&blob).unwrap();
        plant(&logs.join("r.log"), b"# job: x\n");
        std::fs::write(&blob, b"log lime\n").unwrap();
        assert!(store.restore(&record, &bases, &logs.join("r.log")).is_err());
        assert_eq!(std::fs::read(logs.join("r.log")).unwrap(), b"# job: x\n");
        std::fs::write(&blob, good).unwrap();
        // The logs folder swapped for a link to a folder elsewhere.
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        plant(&elsewhere.join("r.log"), b"secret\n");
        std::fs::rename(&logs, dir.path().join("logs.moved")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &logs).unwrap();
        let err = store
            .restore(&record, &bases, &logs.join("r.log"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("the logs folder is a symbolic link"), "{err}");
        assert_eq!(std::fs::read(elsewhere.join("r.log")).unwrap(), b"secret\n");
        let saving = [Saving {
            base: "out".into(),
            path: "sub/hello".into(),
            file: dir.path().join("out/sub/hello"),
        }];
        let err = store
            .save("build-x", &inputs, &saving, Some(&logs.join("r.log")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("the logs folder is a symbolic link"), "{err}");
    }

    #[test]
    fn a_blob_that_is_a_link_or_a_fifo_is_refused_at_once() {
        let (dir, store, inputs) = setup();
        let record = save_one(dir.path(), &store, &inputs);
        let blob = store.blob_path(&record.outputs[0].blob.sha256);
        let bases = BTreeMap::from([("out".to_string(), dir.path().join("back"))]);
        // A link to the very bytes the record names is still refused.
        let same = dir.path().join("same-bytes");
        std::fs::rename(&blob, &same).unwrap();
        std::os::unix::fs::symlink(&same, &blob).unwrap();
        assert!(
            store
                .restore(&record, &bases, &dir.path().join("r.log"))
                .is_err()
        );
        std::fs::remove_file(&blob).unwrap();
        let made = std::process::Command::new("mkfifo").arg(&blob).status();
        assert!(made.unwrap().success());
        let err = store
            .restore(&record, &bases, &dir.path().join("r.log"))
            .unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(!dir.path().join("back/sub/hello").exists());
    }

    #[test]
    fn a_store_every_user_may_write_is_refused() {
        // Any user of the machine could plant `ac/<key>.json` and its blob
        // (a key is computable by whoever can read the project) and have
        // it restored into this user's release.
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        LocalStore::open(&root).unwrap();
        for (folder, mode) in [
            (root.clone(), 0o777),
            (root.clone(), 0o1777),
            (root.join("ac"), 0o757),
        ] {
            std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = LocalStore::open(&root).unwrap_err();
            assert!(err.to_string().contains("every user"), "{mode:o}: {err}");
            std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o775)).unwrap();
        }
        // Shared through a group is the way.
        LocalStore::open(&root).unwrap();
    }

    #[test]
    fn a_store_below_a_folder_every_user_may_write_is_refused_unless_sticky() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = LocalStore::open(&shared.join("a/store"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("which every user of this machine may write"),
            "{err}"
        );
        assert!(
            err.contains(&format!("below `{}`", shared.display())),
            "{err}"
        );
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        LocalStore::open(&shared.join("a/store")).unwrap();
    }

    #[test]
    fn a_blob_pruned_between_lookup_and_restore_is_an_error_and_writes_nothing() {
        // Another run's prune or `matrix cache clear` removed it: the
        // restore fails (its caller drops the entry and runs the job).
        let (dir, store, inputs) = setup();
        save_one(dir.path(), &store, &inputs);
        let found = store.lookup(&inputs.key()).unwrap().unwrap();
        std::fs::remove_file(store.blob_path(&found.outputs[0].blob.sha256)).unwrap();
        let back = dir.path().join("back");
        let bases = BTreeMap::from([("out".to_string(), back.clone())]);
        let err = store
            .restore(&found, &bases, &dir.path().join("r.log"))
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
        assert!(!back.join("sub/hello").exists());
    }

    #[test]
    fn an_oversized_record_is_a_miss_and_is_dropped() {
        let (_dir, store, inputs) = setup();
        let path = store.record_path(&inputs.key());
        let mut f = File::create(&path).unwrap();
        f.write_all(b"{\"format\":1,\"pad\":\"").unwrap();
        f.write_all(&vec![b'x'; (MAX_RECORD + 1) as usize]).unwrap();
        f.write_all(b"\"}").unwrap();
        drop(f);
        assert!(store.lookup(&inputs.key()).unwrap().is_none());
        assert!(!path.exists());
    }

    #[test]
    fn an_unparsable_record_is_a_miss_and_is_dropped() {
        let (_dir, store, inputs) = setup();
        let path = store.record_path(&inputs.key());
        plant(&path, b"{not json");
        assert!(store.lookup(&inputs.key()).unwrap().is_none());
        assert!(!path.exists());
    }

    #[test]
    fn a_linked_output_is_not_stored() {
        let (dir, store, inputs) = setup();
        plant(&dir.path().join("target"), b"x");
        std::os::unix::fs::symlink(dir.path().join("target"), dir.path().join("link")).unwrap();
        let saving = [Saving {
            base: "out".into(),
            path: "link".into(),
            file: dir.path().join("link"),
        }];
        assert!(store.save("build-x", &inputs, &saving, None).is_err());
    }

    #[test]
    fn last_inputs_round_trip() {
        let (_dir, store, inputs) = setup();
        assert!(store.last_inputs("/p\0build-x").is_none());
        store.set_last_inputs("/p\0build-x", &inputs).unwrap();
        assert_eq!(store.last_inputs("/p\0build-x"), Some(inputs));
    }

    #[test]
    fn unchanged_last_inputs_are_not_written_again() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let (_dir, store, inputs) = setup();
        let scope = "/p\0build-x";
        let file = || store.last_path(scope).symlink_metadata().unwrap();
        store.set_last_inputs(scope, &inputs).unwrap();
        let first = file();
        assert_eq!(first.permissions().mode() & 0o777, 0o644);
        // The same inputs (a restored job): the file is left as it is.
        store.set_last_inputs(scope, &inputs).unwrap();
        assert_eq!(file().ino(), first.ino());
        // Others: a new file is renamed over it.
        let mut changed = inputs.clone();
        changed.set("command", "other");
        store.set_last_inputs(scope, &changed).unwrap();
        assert_ne!(file().ino(), first.ino());
        assert_eq!(store.last_inputs(scope), Some(changed));
    }
}
