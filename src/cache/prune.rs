//! Keeping a store under its size cap: `matrix cache stats|prune|clear`,
//! and the prune after every cached build.
//!
//! Part of `cache`. A record's file time is its last use (a hit touches
//! it); pruning keeps the most recently used records whose blobs fit under
//! the cap and drops the rest, then every blob no kept record names. A
//! blob younger than [`GRACE`] is left alone even so: a concurrent run may
//! have stored it and not yet written the record that names it; nor is a
//! record another run is still writing (its hidden temporary name), nor a
//! young file in `tmp/` (an older one is a killed run's and goes).
//!
//! Each store folder is opened once, refusing a link, and listed, read and
//! removed through that handle: a folder someone swapped for a link while
//! a build ran makes the prune an error, never a removal elsewhere.
//! Records are read one at a time, so a hostile `ac/` costs time, not
//! memory.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use nix::dir::Dir;
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag};
use serde::Serialize;

use super::key::is_key;
use super::store::{LocalStore, MAX_RECORD, Record};

/// How long a blob no record names is kept (a concurrent writer's).
pub const GRACE: Duration = Duration::from_secs(15 * 60);

/// What a store holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub records: usize,
    pub blobs: usize,
    pub bytes: u64,
}

/// What a prune or clear removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub records: usize,
    pub blobs: usize,
    pub bytes: u64,
}

/// Counts the records and blobs of `store`.
pub fn stats(store: &LocalStore) -> io::Result<Stats> {
    let mut s = Stats {
        records: Folder::open(store, "ac")?
            .files()?
            .iter()
            .filter(|f| is_record_name(&f.name))
            .count(),
        ..Stats::default()
    };
    for f in Folder::open(store, "cas")?.files()? {
        s.blobs += 1;
        s.bytes += f.len;
    }
    Ok(s)
}

/// Drops least recently used records until the blobs of the rest fit in
/// `max_size` bytes, then the blobs no record names and the temporary
/// files of runs that died writing them (older than [`GRACE`]).
pub fn prune(store: &LocalStore, max_size: u64) -> io::Result<Removed> {
    let mut removed = Removed::default();
    let now = SystemTime::now();
    let young = |f: &File| {
        now.duration_since(f.modified)
            .ok()
            .is_none_or(|age| age < GRACE)
    };
    // Every folder is opened before anything is removed: one that is not
    // a folder stops the prune before it touched the others.
    let (ac, cas, tmp) = (
        Folder::open(store, "ac")?,
        Folder::open(store, "cas")?,
        Folder::open(store, "tmp")?,
    );
    let mut records = Vec::new();
    for f in ac.files()? {
        if is_record_name(&f.name) {
            records.push(f);
        } else if !young(&f) && ac.remove(&f) {
            // Another run's record being written (`.<key>.json.partial-*`)
            // is left to it: removing it would fail that run's rename.
            // Old debris goes.
            removed.records += 1;
        }
    }
    // Newest use first; names break ties so the result does not depend on
    // the order the folder lists in.
    records.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.name.cmp(&b.name)));
    let blobs_now = cas.files()?;
    let sizes: BTreeMap<&str, u64> = blobs_now.iter().map(|f| (f.name.as_str(), f.len)).collect();
    // Records are read one at a time and only the names of blobs the store
    // holds are kept: a hostile `ac/` of many large records costs time,
    // not memory (one record, and the folder listings).
    let mut kept: HashSet<&str> = HashSet::new();
    let mut total = 0u64;
    for f in records {
        let fits = ac.read_record(&f).and_then(|r| {
            let new: HashSet<&str> = blobs(&r)
                .filter_map(|b| sizes.get_key_value(b).map(|(name, _)| *name))
                .filter(|b| !kept.contains(b))
                .collect();
            let add: u64 = new.iter().map(|b| sizes[b]).sum();
            (total + add <= max_size).then_some((add, new))
        });
        match fits {
            Some((add, new)) => {
                total += add;
                kept.extend(new);
            }
            None => {
                if ac.remove(&f) {
                    removed.records += 1;
                }
            }
        }
    }
    for f in cas.files()? {
        if !kept.contains(f.name.as_str()) && !young(&f) && cas.remove(&f) {
            removed.blobs += 1;
            removed.bytes += f.len;
        }
    }
    // A blob a killed run was writing: nothing else would ever remove it.
    for f in tmp.files()? {
        if !young(&f) && tmp.remove(&f) {
            removed.bytes += f.len;
        }
    }
    Ok(removed)
}

/// Removes every record, blob and last-inputs file.
pub fn clear(store: &LocalStore) -> io::Result<Removed> {
    let mut removed = Removed::default();
    let subs = ["ac", "cas", "last", "tmp"];
    let folders = subs
        .iter()
        .map(|sub| Folder::open(store, sub))
        .collect::<io::Result<Vec<_>>>()?;
    for (sub, folder) in subs.iter().zip(&folders) {
        for f in folder.files()? {
            if folder.remove(&f) {
                match *sub {
                    "ac" => removed.records += 1,
                    "cas" => {
                        removed.blobs += 1;
                        removed.bytes += f.len;
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(removed)
}

/// `<key>.json`: a record, not a file being written.
fn is_record_name(name: &str) -> bool {
    name.strip_suffix(".json").is_some_and(is_key)
}

fn blobs(r: &Record) -> impl Iterator<Item = &str> {
    r.outputs
        .iter()
        .map(|o| o.blob.sha256.as_str())
        .chain(r.log.iter().map(|l| l.sha256.as_str()))
}

/// One entry of a store folder that is not a folder (a link counts, as
/// itself: removing it removes the link).
struct File {
    /// Its name as listed (for a name that is not UTF-8, lossily).
    name: String,
    /// Its name as the file system has it.
    raw: OsString,
    len: u64,
    modified: SystemTime,
}

/// A folder of the store (`ac`, `cas`, `last`, `tmp`), opened once without
/// following a link: its entries are listed, looked at, read and removed
/// through that handle. Someone who can write the store's root may swap
/// the folder for a link to their own, or to the user's home, while a
/// build runs; the prune at its end must not remove what the link points
/// at (the store is checked when it is opened, long before).
struct Folder {
    dir: Dir,
    path: PathBuf,
}

impl Folder {
    /// Opens `store`'s `sub` folder, refusing a link or a file.
    fn open(store: &LocalStore, sub: &str) -> io::Result<Folder> {
        let path = store.root().join(sub);
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        match Dir::open(&path, flags, Mode::empty()) {
            Ok(dir) => Ok(Folder { dir, path }),
            Err(nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR) => {
                Err(super::store::not_a_folder(&path))
            }
            Err(e) => Err(io::Error::other(format!("`{}`: {e}", path.display()))),
        }
    }

    /// The entries that are not folders, with their size and time; one
    /// another run removed between the listing and the look is left out.
    fn files(&self) -> io::Result<Vec<File>> {
        // A second handle: listing moves the folder's read position.
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let mut listing =
            Dir::openat(&self.dir, ".", flags, Mode::empty()).map_err(io::Error::from)?;
        let mut out = Vec::new();
        for entry in listing.iter() {
            let entry = entry.map_err(io::Error::from)?;
            let raw = std::ffi::OsStr::from_bytes(entry.file_name().to_bytes()).to_os_string();
            if raw == "." || raw == ".." {
                continue;
            }
            let stat = match nix::sys::stat::fstatat(
                &self.dir,
                raw.as_os_str(),
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            ) {
                Ok(s) => s,
                // Renamed or removed by another run since the listing.
                Err(nix::errno::Errno::ENOENT) => continue,
                Err(e) => return Err(io::Error::other(format!("`{}`: {e}", self.path.display()))),
            };
            if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
                continue;
            }
            let modified = SystemTime::UNIX_EPOCH
                + Duration::new(
                    u64::try_from(stat.st_mtime).unwrap_or(0),
                    u32::try_from(stat.st_mtime_nsec).unwrap_or(0),
                );
            out.push(File {
                name: raw.to_string_lossy().into_owned(),
                raw,
                len: u64::try_from(stat.st_size).unwrap_or(0),
                modified,
            });
        }
        Ok(out)
    }

    /// The record in `file`: read capped, not through a link, not blocking
    /// on a FIFO; `None` when it is none of that or does not parse.
    fn read_record(&self, file: &File) -> Option<Record> {
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::openat(&self.dir, file.raw.as_os_str(), flags, Mode::empty()).ok()?;
        let f = std::fs::File::from(fd);
        if !f.metadata().ok()?.is_file() {
            return None;
        }
        let bytes = crate::package::capped::read_to_end(f, MAX_RECORD, file.len).ok()??;
        serde_json::from_slice(&bytes).ok()
    }

    /// Removes `file`, which another run may have removed first.
    fn remove(&self, file: &File) -> bool {
        let flag = nix::unistd::UnlinkatFlags::NoRemoveDir;
        nix::unistd::unlinkat(&self.dir, file.raw.as_os_str(), flag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Inputs;
    use crate::cache::store::{Saving, Store};
    use std::path::Path;

    fn save(store: &LocalStore, dir: &Path, name: &str, size: usize) -> Record {
        let file = dir.join(name);
        std::fs::write(&file, name.repeat(size / name.len())).unwrap();
        let mut inputs = Inputs::default();
        inputs.set("command", name);
        let saving = [Saving {
            base: "out".into(),
            path: name.into(),
            file,
        }];
        store.save(name, &inputs, &saving, None).unwrap()
    }

    fn age(path: &Path, secs: u64) {
        let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
    }

    #[test]
    fn the_least_recently_used_go_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("s")).unwrap();
        let old = save(&store, dir.path(), "aaaa", 4000);
        let new = save(&store, dir.path(), "bbbb", 4000);
        for r in [&old, &new] {
            age(&store.blob_path(&r.outputs[0].blob.sha256), 3600);
        }
        age(&store.record_path(&old.key), 7200);
        age(&store.record_path(&new.key), 60);
        assert_eq!(stats(&store).unwrap().bytes, 8000);
        let removed = prune(&store, 5000).unwrap();
        assert_eq!(
            (removed.records, removed.blobs, removed.bytes),
            (1, 1, 4000)
        );
        assert!(store.lookup(&old.key).unwrap().is_none());
        assert!(store.lookup(&new.key).unwrap().is_some());
        // Under the cap nothing goes.
        assert_eq!(prune(&store, 5000).unwrap(), Removed::default());
        let cleared = clear(&store).unwrap();
        assert_eq!((cleared.records, cleared.blobs), (1, 1));
        assert_eq!(stats(&store).unwrap(), Stats::default());
    }

    #[test]
    fn a_record_being_written_is_left_to_its_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("s")).unwrap();
        let partial = store
            .root()
            .join("ac")
            .join(format!(".{}.json.partial-abcdef", "0".repeat(64)));
        std::fs::write(&partial, b"{").unwrap();
        assert_eq!(prune(&store, 0).unwrap().records, 0);
        assert!(partial.exists());
        assert_eq!(stats(&store).unwrap().records, 0);
        age(&partial, 3600);
        assert_eq!(prune(&store, 0).unwrap().records, 1);
        assert!(!partial.exists());
    }

    #[test]
    fn a_file_another_run_removes_meanwhile_is_not_an_error() {
        // Every save renames a `.partial-*` record away and a concurrent
        // prune removes files: a listed entry may be gone when it is
        // looked at, and that must not fail this prune.
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("s")).unwrap();
        let ac = store.root().join("ac");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let churn = {
            let (ac, stop) = (ac.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let path = ac.join(format!(".{n}.json.partial-x"));
                    std::fs::write(&path, b"{").unwrap();
                    std::fs::remove_file(&path).unwrap();
                    n += 1;
                }
            })
        };
        for _ in 0..150 {
            for i in 0..20 {
                std::fs::write(ac.join(format!(".keep{i}.json.partial-y")), b"{").unwrap();
            }
            let result = prune(&store, 0).and_then(|_| stats(&store));
            if let Err(e) = result {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                churn.join().unwrap();
                panic!("a concurrent writer failed the prune: {e}");
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        churn.join().unwrap();
    }

    #[test]
    fn a_dead_runs_temporary_blob_goes_and_a_live_ones_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("s")).unwrap();
        let temp = store.root().join("tmp/blob-dead01");
        std::fs::write(&temp, vec![7u8; 1000]).unwrap();
        assert_eq!(prune(&store, 0).unwrap(), Removed::default());
        assert!(temp.exists());
        age(&temp, 3600);
        assert_eq!(prune(&store, 0).unwrap().bytes, 1000);
        assert!(!temp.exists());
    }

    #[test]
    fn a_store_folder_swapped_for_a_link_is_not_pruned_or_cleared_through() {
        // Someone who can write the store's root replaces `cas` (or `ac`,
        // `tmp`) by a link after the run opened the store: the prune at
        // the end of the build must not remove the files it points at.
        for sub in ["ac", "cas", "tmp"] {
            let dir = tempfile::tempdir().unwrap();
            let store = LocalStore::open(&dir.path().join("s")).unwrap();
            let victim = dir.path().join("victim");
            std::fs::create_dir(&victim).unwrap();
            let precious = victim.join("precious");
            std::fs::write(&precious, b"keep me").unwrap();
            age(&precious, 3600);
            let folder = store.root().join(sub);
            std::fs::rename(&folder, dir.path().join("moved")).unwrap();
            std::os::unix::fs::symlink(&victim, &folder).unwrap();
            let err = prune(&store, 0).unwrap_err();
            assert!(err.to_string().contains("not a folder"), "{sub}: {err}");
            assert!(clear(&store).is_err(), "{sub}");
            // `stats` reads `ac` and `cas` only.
            assert_eq!(stats(&store).is_err(), sub != "tmp", "{sub}");
            assert!(precious.exists(), "{sub}: removed through the link");
        }
    }

    #[test]
    fn a_hostile_ac_folder_is_pruned_without_a_hang_or_a_followed_link() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("s")).unwrap();
        let kept = save(&store, dir.path(), "dddd", 40);
        let ac = store.root().join("ac");
        let name = |c: char| ac.join(format!("{}.json", c.to_string().repeat(64)));
        let elsewhere = dir.path().join("elsewhere.json");
        std::fs::write(&elsewhere, b"{}").unwrap();
        std::os::unix::fs::symlink(&elsewhere, name('a')).unwrap();
        std::fs::create_dir(name('b')).unwrap();
        let made = std::process::Command::new("mkfifo").arg(name('c')).status();
        assert!(made.unwrap().success());
        std::fs::write(name('e'), b"{\"format\": [[[[[[[[[[[[[[[[[[[[").unwrap();
        let removed = prune(&store, 1 << 20).unwrap();
        // The link, the FIFO and the garbage go; the folder stays; the
        // real record is kept and the link's target is untouched.
        assert_eq!(removed.records, 3);
        assert!(name('b').is_dir());
        assert!(elsewhere.exists());
        assert!(store.lookup(&kept.key).unwrap().is_some());
    }

    #[test]
    fn a_young_unnamed_blob_is_kept_for_its_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("s")).unwrap();
        let r = save(&store, dir.path(), "cccc", 400);
        std::fs::remove_file(store.record_path(&r.key)).unwrap();
        assert_eq!(prune(&store, 0).unwrap().blobs, 0);
        age(&store.blob_path(&r.outputs[0].blob.sha256), 3600);
        assert_eq!(prune(&store, 0).unwrap().blobs, 1);
    }
}
