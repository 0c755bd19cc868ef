//! Reading matrix.toml from disk, within a size cap.
//!
//! Part of `config`: everything after loading (spans, excerpts, the plan)
//! is linear in the size of the file, so the cap bounds it all.

use std::io::Read;
use std::path::Path;

use super::LoadError;

/// Largest matrix.toml read: real ones are a few kilobytes, and everything
/// after loading (spans, excerpts, the plan) is linear in this size.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

/// The text of `path`. The size is checked before the file is read, and
/// the read itself stops past the cap, so a growing or endless file (a
/// FIFO, `/dev/zero`) cannot make us read more.
pub(super) fn read(path: &Path) -> Result<String, LoadError> {
    let shown = path.display().to_string();
    let read_error = |source| LoadError::Read {
        path: shown.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    if !meta.is_file() {
        return Err(LoadError::NotAFile { path: shown });
    }
    let too_large = |size| LoadError::TooLarge {
        path: shown.clone(),
        size,
        limit: MAX_CONFIG_BYTES,
    };
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        // Valid up to here, so this prefix decodes.
        let before = String::from_utf8_lossy(valid);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        LoadError::NotUtf8 {
            path: shown.clone(),
            line,
            column,
        }
    })?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_files_are_named_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        match read(Path::new("/dev/null")) {
            Err(LoadError::NotAFile { path }) => assert_eq!(path, "/dev/null"),
            other => panic!("{other:?}"),
        }
        let missing = dir.path().join("missing.toml");
        match read(&missing) {
            Err(LoadError::Read { source, .. }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound)
            }
            other => panic!("{other:?}"),
        }
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_CONFIG_BYTES as usize + 1]).unwrap();
        match read(&big) {
            Err(LoadError::TooLarge { size, limit, .. }) => {
                assert_eq!((size, limit), (MAX_CONFIG_BYTES + 1, MAX_CONFIG_BYTES))
            }
            other => panic!("{other:?}"),
        }
        let at_cap = dir.path().join("at-cap.toml");
        std::fs::write(&at_cap, vec![b'#'; MAX_CONFIG_BYTES as usize]).unwrap();
        assert_eq!(read(&at_cap).unwrap().len() as u64, MAX_CONFIG_BYTES);
        let latin1 = dir.path().join("latin1.toml");
        std::fs::write(&latin1, b"[project]\nname=\"caf\xe9\"\n").unwrap();
        match read(&latin1) {
            Err(LoadError::NotUtf8 { line, column, .. }) => assert_eq!((line, column), (2, 10)),
            other => panic!("{other:?}"),
        }
    }
}
