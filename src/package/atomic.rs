//! Atomic file output for `dist/`.
//!
//! Every file the `package` stage produces (archives, binaries, checksums,
//! manifests) goes through [`AtomicFile`]: it is written under a hidden
//! `.<name>.partial-XXXXXX` name in the destination's own directory (so the
//! final rename never crosses a filesystem) and only renamed to its real name
//! once complete and synced. A failed or cancelled run therefore never leaves
//! a file that looks finished, and a dropped, uncommitted file is deleted.
//!
//! A commit syncs the file, not its folder: after a crash its name may be
//! lost (the hidden temporary name remains, which looks unfinished), never
//! its bytes. The names matter to whatever declares files finished, so the
//! checksums and manifest jobs make the folders of everything they list
//! durable first, with [`sync_dirs`]: one fsync per folder instead of one
//! per file (a release of 1,000 targets paid 1,000 of them).
//! [`write_atomic`], for one-off files, still syncs its folder.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tempfile::{Builder, NamedTempFile};

/// Mode of a committed file unless [`AtomicFile::set_mode`] says otherwise.
/// Fixed rather than umask-derived so `dist/` looks the same on every host.
/// Every package file (deb, rpm, msi, snap) has it: a package restored
/// from the cache gets it whatever its entry says.
pub const DEFAULT_MODE: u32 = 0o644;

/// A file being written that only appears under its real name on
/// [`AtomicFile::commit`].
pub struct AtomicFile {
    temp: NamedTempFile,
    dest: PathBuf,
    mode: u32,
}

impl AtomicFile {
    /// Creates the hidden temporary file next to `dest`.
    ///
    /// The parent directory must already exist: creating it here would hide
    /// mistakes in planned output paths.
    pub fn create(dest: &Path) -> io::Result<Self> {
        let name = dest.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{}` does not name a file", dest.display()),
            )
        })?;
        let dir = parent_of(dest);
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".partial-");
        let temp = Builder::new()
            .prefix(&prefix)
            .rand_bytes(6)
            .tempfile_in(dir)?;
        Ok(AtomicFile {
            temp,
            dest: dest.to_path_buf(),
            mode: DEFAULT_MODE,
        })
    }

    /// The open temporary file, for writing.
    pub fn file(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    /// Path of the temporary file (useful in diagnostics and tests).
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// Where the file will appear on commit.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Unix permission bits the committed file gets (default 0644).
    pub fn set_mode(&mut self, mode: u32) {
        self.mode = mode & 0o7777;
    }

    /// Flushes, applies the mode, syncs and renames into place.
    ///
    /// The sync happens before the rename so that after a crash the real name
    /// either does not exist or holds complete data, never a torn file. The
    /// rename itself is made durable by [`sync_dirs`] (see the module doc).
    pub fn commit(mut self) -> io::Result<()> {
        let file = self.temp.as_file_mut();
        file.flush()?;
        apply_mode(file, self.mode)?;
        file.sync_all()?;
        self.temp.persist(&self.dest).map_err(|e| e.error)?;
        Ok(())
    }
}

/// Makes the renames of files committed as `files` durable: each distinct
/// folder holding one is synced once. Best effort, like [`write_atomic`]'s
/// folder sync: some filesystems refuse to fsync a directory, and the
/// files' bytes are already safe.
pub fn sync_dirs<'a>(files: impl IntoIterator<Item = &'a Path>) {
    let dirs: std::collections::BTreeSet<&Path> = files.into_iter().map(parent_of).collect();
    for dir in dirs {
        sync_dir(dir);
    }
}

/// The folder `dest` is renamed into.
fn parent_of(dest: &Path) -> &Path {
    match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(unix)]
fn apply_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // fchmod on the open file: not subject to the umask, unlike the mode
    // given at creation.
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn apply_mode(_file: &File, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// fsyncs folder `dir`, which makes the renames into it durable. Best
/// effort: some filesystems refuse to fsync a directory, and the data is
/// already safe, so failure is ignored.
#[cfg(unix)]
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) {}

/// Writes `bytes` to `dest` atomically with mode 0644, its name durable
/// too (its folder is synced).
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(dest)?;
    file.file().write_all(bytes)?;
    file.commit()?;
    sync_dir(parent_of(dest));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn temp_name_is_hidden_and_looks_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("app.tar.gz");
        let mut f = AtomicFile::create(&dest).unwrap();
        f.file().write_all(b"partial").unwrap();
        let listed = names(dir.path());
        assert_eq!(listed.len(), 1);
        assert!(
            listed[0].starts_with(".app.tar.gz.partial-") && listed[0].len() > 20,
            "{listed:?}"
        );
        assert_eq!(f.temp_path().parent(), Some(dir.path()));
        assert!(!dest.exists());
        f.commit().unwrap();
        assert_eq!(names(dir.path()), vec!["app.tar.gz"]);
        assert_eq!(std::fs::read(&dest).unwrap(), b"partial");
    }

    #[test]
    fn dropped_without_commit_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.zip");
        {
            let mut f = AtomicFile::create(&dest).unwrap();
            f.file().write_all(&[7u8; 4096]).unwrap();
            assert_eq!(names(dir.path()).len(), 1);
        }
        assert!(names(dir.path()).is_empty());
        assert!(!dest.exists());
    }

    #[test]
    fn commit_mode_ignores_umask_and_set_mode_wins() {
        let dir = tempfile::tempdir().unwrap();
        // Table: (requested mode, expected mode on disk).
        for (i, (requested, expected)) in
            [(None, 0o644), (Some(0o755), 0o755), (Some(0o600), 0o600)]
                .into_iter()
                .enumerate()
        {
            let dest = dir.path().join(format!("f{i}"));
            let mut f = AtomicFile::create(&dest).unwrap();
            if let Some(m) = requested {
                f.set_mode(m);
            }
            f.commit().unwrap();
            assert_eq!(mode(&dest), expected, "{requested:?}");
        }
    }

    #[test]
    fn commit_replaces_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("SHA256SUMS");
        std::fs::write(&dest, "old").unwrap();
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic(&dest, b"new contents\n").unwrap();
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "new contents\n");
        assert_eq!(mode(&dest), 0o644);
        assert_eq!(names(dir.path()), vec!["SHA256SUMS"]);
    }

    #[test]
    fn create_errors() {
        let dir = tempfile::tempdir().unwrap();
        let err = AtomicFile::create(&dir.path().join("missing/dir/file"))
            .err()
            .unwrap();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        let err = AtomicFile::create(Path::new("/")).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
