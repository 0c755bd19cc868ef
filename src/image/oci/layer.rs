//! The layer stream: every layer matrix stores (built natively or imported
//! from `docker save`) goes through [`LayerWriter`], so all layers are
//! gzip'd the same deterministic way.

use std::io::{self, Write};

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
