//! Deterministic tar archives of OCI layouts: the `<name>.oci.tar` files in
//! dist/, identical byte for byte whenever the layout is.

use std::fs::File;
use std::io::{self, BufWriter, Read};
use std::path::Path;

use super::{Layout, PARTIAL_PREFIX, commit, parent_dir};
use crate::image::error::ImageError;

/// Writes a deterministic tar of a layout folder to `out_file` (atomically):
/// entries in sorted order, `mtime` on every entry, uid/gid 0 without names,
/// 0755 folders and 0644 files. Hidden names (unfinished temporary files)
/// are left out. The same layout gives the same bytes on every run.
pub fn write_archive(layout_dir: &Path, out_file: &Path, mtime: u64) -> Result<(), ImageError> {
    Layout::open(layout_dir)?;
    let dir = parent_dir(out_file);
    let temp = tempfile::Builder::new()
        .prefix(PARTIAL_PREFIX)
        .tempfile_in(dir)
        .map_err(|e| ImageError::io(dir, e))?;
    let mut tar = tar::Builder::new(BufWriter::new(temp));
    let walk = walkdir::WalkDir::new(layout_dir)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walk {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(layout_dir).to_path_buf();
            ImageError::io(path, e.into())
        })?;
        let rel = entry
            .path()
            .strip_prefix(layout_dir)
            .map_err(|_| ImageError::NotALayout {
                path: layout_dir.to_path_buf(),
                reason: format!("{} lies outside it", entry.path().display()),
            })?;
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let mut header = tar::Header::new_ustar();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        let kind = entry.file_type();
        let result = if kind.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            tar.append_data(&mut header, format!("{name}/"), io::empty())
        } else if kind.is_file() {
            let path = entry.path();
            let mut file = File::open(path).map_err(|e| ImageError::io(path, e))?;
            let len = file.metadata().map_err(|e| ImageError::io(path, e))?.len();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o644);
            header.set_size(len);
            // `take` guards against a file growing while it is archived,
            // which would otherwise corrupt the tar stream.
            tar.append_data(&mut header, &name, (&mut file).take(len))
        } else {
            return Err(ImageError::NotALayout {
                path: layout_dir.to_path_buf(),
                reason: format!("{name} is neither a file nor a folder"),
            });
        };
        result.map_err(|e| ImageError::io(out_file, e))?;
    }
    let buffered = tar.into_inner().map_err(|e| ImageError::io(out_file, e))?;
    let temp = buffered
        .into_inner()
        .map_err(|e| ImageError::io(out_file, e.into_error()))?;
    commit(temp, out_file)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::image::oci::sha256_digest;

    #[test]
    fn archives_are_deterministic_and_normalised() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(&dir.path().join("img")).unwrap();
        layout.put_bytes("text/plain", b"one").unwrap();
        layout.put_bytes("text/plain", b"two").unwrap();
        // A stray unfinished blob must not end up in the archive.
        fs::write(layout.root().join("blobs/sha256/.partial-xyz"), b"junk").unwrap();
        let a = dir.path().join("a.oci.tar");
        let b = dir.path().join("b.oci.tar");
        write_archive(layout.root(), &a, 1_700_000_000).unwrap();
        write_archive(layout.root(), &b, 1_700_000_000).unwrap();
        let bytes = fs::read(&a).unwrap();
        assert_eq!(bytes, fs::read(&b).unwrap());

        let mut archive = tar::Archive::new(&bytes[..]);
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let h = entry.header();
            assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
            assert_eq!(h.mtime().unwrap(), 1_700_000_000);
            assert_eq!(h.username().unwrap().unwrap_or_default(), "");
            let mode = h.mode().unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            assert_eq!(
                mode,
                if path.ends_with('/') { 0o755 } else { 0o644 },
                "{path}"
            );
            seen.push(path);
        }
        let mut hexes = [sha256_digest(b"one"), sha256_digest(b"two")]
            .map(|d| format!("blobs/sha256/{}", &d[7..]))
            .to_vec();
        hexes.sort();
        let mut expected = vec!["blobs/".to_string(), "blobs/sha256/".to_string()];
        expected.extend(hexes);
        expected.extend(["index.json".to_string(), "oci-layout".to_string()]);
        assert_eq!(seen, expected);
        // Nothing temporary is left beside the archive.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }
}
