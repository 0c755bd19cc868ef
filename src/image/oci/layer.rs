//! The layer stream: every layer matrix stores (built natively or imported
//! from `docker save`) goes through [`LayerWriter`], so all layers are
//! gzip'd the same deterministic way; [`diff_id`] hashes a stored one
//! back (a layer restored from the action cache is checked with it).

use std::io::{self, Read, Write};

use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use sha2::{Digest as _, Sha256};

use super::{BlobWriter, Descriptor, Layout, MEDIA_TYPE_LAYER_GZIP};
use crate::image::error::ImageError;

/// A layer being stored: takes the uncompressed tar, gzips it
/// deterministically (no name or time in the header, fixed level) into the
/// layout, and hashes the uncompressed bytes for the config's diff_id.
pub struct LayerWriter {
    gz: GzEncoder<BlobWriter>,
    diff: Sha256,
}

impl LayerWriter {
    pub fn new(layout: &Layout) -> Result<Self, ImageError> {
        let blob = layout.blob_writer(MEDIA_TYPE_LAYER_GZIP)?;
        Ok(LayerWriter {
            gz: GzBuilder::new()
                .operating_system(255)
                .write(blob, Compression::default()),
            diff: Sha256::new(),
        })
    }

    /// Returns the gzip'd layer's descriptor and the diff_id.
    pub fn finish(self) -> Result<(Descriptor, String), ImageError> {
        let blob = self.gz.finish().map_err(|e| ImageError::io("gzip", e))?;
        let diff_id = format!("sha256:{}", hex::encode(self.diff.finalize()));
        Ok((blob.finish()?, diff_id))
    }
}

/// The diff_id (`sha256:` of the uncompressed tar) of the gzip'd layer
/// `gz` and its uncompressed size, refused past `cap` uncompressed bytes
/// (a small layer may inflate to terabytes).
pub fn diff_id(gz: impl Read, cap: u64) -> io::Result<(String, u64)> {
    let tar = flate2::read::MultiGzDecoder::new(gz);
    let mut hashed = HashSink {
        sha: Sha256::new(),
        bytes: 0,
    };
    io::copy(&mut tar.take(cap.saturating_add(1)), &mut hashed)?;
    if hashed.bytes > cap {
        return Err(io::Error::other(format!(
            "it inflates to more than {cap} bytes"
        )));
    }
    let hex = hex::encode(hashed.sha.finalize());
    Ok((format!("sha256:{hex}"), hashed.bytes))
}

/// Hashes and counts what it is given.
struct HashSink {
    sha: Sha256,
    bytes: u64,
}

impl Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sha.update(buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for LayerWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.gz.write(buf)?;
        self.diff.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.gz.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_layers_diff_id_is_read_back_and_inflation_is_capped() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let mut writer = LayerWriter::new(&layout).unwrap();
        writer.write_all(&[0u8; 100_000]).unwrap();
        let (desc, want) = writer.finish().unwrap();
        let gz = || std::fs::File::open(layout.blob_path(&desc.digest).unwrap()).unwrap();
        assert_eq!(diff_id(gz(), 100_000).unwrap(), (want, 100_000));
        let err = diff_id(gz(), 99_999).unwrap_err();
        assert!(err.to_string().contains("inflates to more than"), "{err}");
        assert!(diff_id(&b"not gzip"[..], 100).is_err());
    }
}
