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

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::key::is_key;
use super::store::{LocalStore, Record, read_json};

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
        records: files(&store.root().join("ac"))?
            .iter()
            .filter(|(name, _, _)| is_record_name(name))
            .count(),
        ..Stats::default()
    };
    for (_, _, meta) in files(&store.root().join("cas"))? {
        s.blobs += 1;
        s.bytes += meta.len();
    }
    Ok(s)
}

/// Drops least recently used records until the blobs of the rest fit in
/// `max_size` bytes, then the blobs no record names and the temporary
/// files of runs that died writing them (older than [`GRACE`]).
pub fn prune(store: &LocalStore, max_size: u64) -> io::Result<Removed> {
    let mut removed = Removed::default();
    let mut records: Vec<(SystemTime, String, Option<Record>)> = Vec::new();
    let now = SystemTime::now();
    let young = |meta: &std::fs::Metadata| {
        meta.modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_none_or(|age| age < GRACE)
    };
    for (name, path, meta) in files(&store.root().join("ac"))? {
        if !is_record_name(&name) {
            // Another run's record being written (`.<key>.json.partial-*`):
            // removing it would fail that run's rename. Old debris goes.
            if !young(&meta) && remove(&path) {
                removed.records += 1;
            }
            continue;
        }
        let record = read_json::<Record>(&path).ok().flatten();
        records.push((meta.modified()?, name.clone(), record));
    }
    // Newest use first; names break ties so the result does not depend on
    // the order the folder lists in.
    records.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let sizes: BTreeMap<String, u64> = files(&store.root().join("cas"))?
        .into_iter()
        .map(|(name, _, meta)| (name, meta.len()))
        .collect();
    let mut kept: HashSet<String> = HashSet::new();
    let mut total = 0u64;
    for (_, name, record) in records {
        let fits = record.as_ref().and_then(|r| {
            let new: HashSet<&str> = blobs(r).filter(|b| !kept.contains(*b)).collect();
            let add: u64 = new
                .iter()
                .map(|b| sizes.get(*b).copied().unwrap_or(0))
                .sum();
            (total + add <= max_size)
                .then(|| (add, new.into_iter().map(str::to_string).collect::<Vec<_>>()))
        });
        match fits {
            Some((add, new)) => {
                total += add;
                kept.extend(new);
            }
            None => {
                if remove(&store.root().join("ac").join(&name)) {
                    removed.records += 1;
                }
            }
        }
    }
    for (name, path, meta) in files(&store.root().join("cas"))? {
        if !kept.contains(&name) && !young(&meta) && remove(&path) {
            removed.blobs += 1;
            removed.bytes += meta.len();
        }
    }
    // A blob a killed run was writing: nothing else would ever remove it.
    for (_, path, meta) in files(&store.root().join("tmp"))? {
        if !young(&meta) && remove(&path) {
            removed.bytes += meta.len();
        }
    }
    Ok(removed)
}

/// Removes every record, blob and last-inputs file.
pub fn clear(store: &LocalStore) -> io::Result<Removed> {
    let mut removed = Removed::default();
    for sub in ["ac", "cas", "last", "tmp"] {
        for (_, path, meta) in files(&store.root().join(sub))? {
            if remove(&path) {
                match sub {
                    "ac" => removed.records += 1,
                    "cas" => {
                        removed.blobs += 1;
                        removed.bytes += meta.len();
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

/// The entries of `dir` that are not folders (links included, as links:
/// removing one removes the link), with their own metadata; one another
/// run removed between the listing and the look is left out.
fn files(dir: &Path) -> io::Result<Vec<(String, std::path::PathBuf, std::fs::Metadata)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let meta = match entry.path().symlink_metadata() {
            Ok(m) => m,
            // Renamed or removed by another run since the listing.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if meta.is_dir() {
            continue;
        }
        out.push((
            entry.file_name().to_string_lossy().into_owned(),
            entry.path(),
            meta,
        ));
    }
    Ok(out)
}

/// Removes a file another run may have removed first.
fn remove(path: &Path) -> bool {
    std::fs::remove_file(path).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Inputs;
    use crate::cache::store::{Saving, Store};

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
