//! Parallel, deterministic gzip: the compressor behind tar.gz.
//!
//! Used by [`super::archive::write`] in place of a one-core gzip stream.
//! The input is cut into blocks of [`BLOCK`] bytes, a constant, never
//! derived from the number of cores. Each block is deflated on its own
//! (on rayon's pool) as raw deflate primed with the last 32 KiB of the
//! block before it and ended with a sync flush (pigz's scheme); the last
//! block ends the stream. The blocks concatenate into one deflate stream
//! inside one gzip member, so every gzip reader (single-member ones
//! included) reads it, and the bytes depend only on the input, the level
//! and [`BLOCK`]: never on the number of threads or how the writes were
//! split. The CRC-32 of each block is computed beside its deflate and the
//! CRCs are combined in order.
//!
//! Memory stays bounded: at most a window of blocks (a few per thread) and
//! their compressed forms are held at a time, whatever the archive's size.

use std::io::{self, Write};

use flate2::{Compress, Compression, FlushCompress, Status};
use rayon::prelude::*;

/// Input bytes per independently deflated block. 1 MiB costs about 0.1%
/// of size against one stream (each block only loses the matches that
/// reach further back than its 32 KiB dictionary, plus 5 bytes of sync
/// marker), and gives every core work on archives of a few MiB.
pub(super) const BLOCK: usize = 1 << 20;
/// Deflate's window: the most of the previous block a match can use.
const DICT: usize = 32 * 1024;
/// Most blocks held at once, whatever the pool's size.
const MAX_WINDOW: usize = 64;
/// gzip's "unknown" OS byte: host independent, unlike gzip's own default.
const OS_UNKNOWN: u8 = 255;

/// A gzip stream writer that deflates blocks on rayon's pool.
pub(super) struct ParGzWriter<W: Write> {
    out: W,
    level: u32,
    /// Input not yet compressed: fewer than `window` full blocks.
    pending: Vec<u8>,
    /// The tail of the last compressed block: the next block's dictionary.
    dict: Vec<u8>,
    crc: crc32fast::Hasher,
    /// Blocks compressed per parallel round (memory only, never bytes).
    window: usize,
}

impl<W: Write> ParGzWriter<W> {
    /// Writes the gzip header (no name, mtime 0, OS unknown) and returns
    /// the writer; `level` is deflate's 1..=9.
    pub(super) fn new(mut out: W, level: u32) -> io::Result<Self> {
        let xfl = match level {
            9 => 2,
            1 => 4,
            _ => 0,
        };
        out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, OS_UNKNOWN])?;
        let window = (2 * rayon::current_num_threads()).clamp(2, MAX_WINDOW);
        Ok(ParGzWriter {
            out,
            level,
            pending: Vec::with_capacity(window * BLOCK),
            dict: Vec::new(),
            crc: crc32fast::Hasher::new(),
            window,
        })
    }

    /// Compresses and writes every full block of `pending`; with `last`,
    /// also the rest (possibly empty), which ends the deflate stream.
    fn drain(&mut self, last: bool) -> io::Result<()> {
        let full = self.pending.len() / BLOCK * BLOCK;
        let upto = if last { self.pending.len() } else { full };
        let blocks: Vec<(usize, &[u8])> = if last && upto == full {
            // Always one final (possibly empty) block, so whether a block
            // ends the stream never depends on where writes stopped.
            let mut v: Vec<_> = self.pending[..full].chunks(BLOCK).enumerate().collect();
            v.push((v.len(), &[][..]));
            v
        } else {
            self.pending[..upto].chunks(BLOCK).enumerate().collect()
        };
        let count = blocks.len();
        let pending = &self.pending;
        let dict = &self.dict;
        let level = self.level;
        let done: Vec<io::Result<(Vec<u8>, crc32fast::Hasher)>> = blocks
            .into_par_iter()
            .map(|(i, data)| {
                let prev: &[u8] = if i == 0 {
                    dict
                } else {
                    &pending[(i - 1) * BLOCK..i * BLOCK]
                };
                let prev = &prev[prev.len().saturating_sub(DICT)..];
                let mut crc = crc32fast::Hasher::new();
                crc.update(data);
                let z = deflate_block(level, prev, data, last && i + 1 == count)?;
                Ok((z, crc))
            })
            .collect();
        for block in done {
            let (z, crc) = block?;
            self.out.write_all(&z)?;
            self.crc.combine(&crc);
        }
        if upto > 0 {
            let tail = &self.pending[upto.saturating_sub(DICT)..upto];
            self.dict.clear();
            self.dict.extend_from_slice(tail);
        }
        self.pending.drain(..upto);
        Ok(())
    }

    /// Ends the stream: the last block, CRC-32 and length; returns the sink.
    pub(super) fn finish(mut self) -> io::Result<W> {
        self.drain(true)?;
        let crc = self.crc.clone().finalize();
        // ISIZE is the length modulo 2^32 (RFC 1952); the hasher counts it.
        let len = self.crc.total_len() as u32;
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for ParGzWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.window * BLOCK - self.pending.len();
        let n = buf.len().min(room);
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() == self.window * BLOCK {
            self.drain(false)?;
        }
        Ok(n)
    }

    /// Writes out what is compressed; an unfinished block stays pending
    /// (cutting it here would make the bytes depend on when flush ran).
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// One block as raw deflate, primed with `dict`; ended with a sync flush
/// (byte aligned, stream open) or, for the `last`, the final block.
fn deflate_block(level: u32, dict: &[u8], data: &[u8], last: bool) -> io::Result<Vec<u8>> {
    let mut z = Compress::new(Compression::new(level), false);
    if !dict.is_empty() {
        z.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    loop {
        let consumed = usize::try_from(z.total_in()).map_err(io::Error::other)?;
        let status = z
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = usize::try_from(z.total_in()).map_err(io::Error::other)? == data.len();
        let done = match status {
            Status::StreamEnd => true,
            // A sync flush is complete once the output did not fill up.
            _ => !last && all_in && out.len() < out.capacity(),
        };
        if done {
            return Ok(out);
        }
        out.reserve(out.capacity().max(1024));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::{GzDecoder, MultiGzDecoder};
    use std::io::Read;

    /// Compressible but not trivial: a counter pattern with some noise.
    fn sample(len: usize) -> Vec<u8> {
        let mut x: u32 = 0x1234_5678;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if i % 7 == 0 { x as u8 } else { (i / 64) as u8 }
            })
            .collect()
    }

    /// Compresses `data` written in pieces of `step` bytes.
    fn gz(data: &[u8], step: usize) -> Vec<u8> {
        let mut w = ParGzWriter::new(Vec::new(), 9).unwrap();
        for piece in data.chunks(step.max(1)) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap()
    }

    fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(f)
    }

    #[test]
    fn round_trips_at_block_edges() {
        let sizes = [
            0,
            1,
            DICT,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            3 * BLOCK,
            5 * BLOCK + 17,
        ];
        for len in sizes {
            let data = sample(len);
            let z = gz(&data, 100_003);
            // One member: a single-member reader sees everything.
            let mut one = Vec::new();
            GzDecoder::new(z.as_slice()).read_to_end(&mut one).unwrap();
            assert!(one == data, "{len}: GzDecoder");
            let mut multi = Vec::new();
            MultiGzDecoder::new(z.as_slice())
                .read_to_end(&mut multi)
                .unwrap();
            assert!(multi == data, "{len}: MultiGzDecoder");
            assert_eq!(&z[..4], &[0x1f, 0x8b, 8, 0], "{len}");
            assert_eq!(&z[4..10], &[0, 0, 0, 0, 2, 255], "{len}");
            let isize = u32::from_le_bytes(z[z.len() - 4..].try_into().unwrap());
            assert_eq!(isize as usize, len);
        }
        // Empty input: a valid empty deflate stream, as gzip -n writes it.
        assert_eq!(gz(&[], 1).len(), 10 + 2 + 8);
    }

    #[test]
    fn bytes_do_not_depend_on_threads_or_write_sizes() {
        // More blocks than the smallest window, with a ragged tail.
        let data = sample(9 * BLOCK + 4321);
        let want = in_pool(1, || gz(&data, BLOCK));
        for threads in [2, 4] {
            let got = in_pool(threads, || gz(&data, 65_536));
            assert!(got == want, "{threads} threads");
        }
        // Writes that straddle block and window edges.
        assert!(gz(&data, 777_777) == want);
        assert!(gz(&data, data.len()) == want);
        // A flush in the middle changes nothing either.
        let mut w = ParGzWriter::new(Vec::new(), 9).unwrap();
        w.write_all(&data[..12345]).unwrap();
        w.flush().unwrap();
        w.write_all(&data[12345..]).unwrap();
        assert!(w.finish().unwrap() == want);
    }

    #[test]
    fn blocks_cost_little_against_one_stream() {
        let data = sample(4 * BLOCK + 99);
        let ours = gz(&data, BLOCK).len();
        let mut one = flate2::write::GzEncoder::new(Vec::new(), Compression::new(9));
        one.write_all(&data).unwrap();
        let single = one.finish().unwrap().len();
        // The dictionary carries matches across blocks: within 0.5%.
        assert!(ours * 1000 <= single * 1005, "{ours} vs {single}");
    }

    #[cfg(unix)]
    #[test]
    fn system_gzip_accepts_and_restores_it() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, BLOCK, 3 * BLOCK + 5] {
            let data = sample(len);
            let path = dir.path().join(format!("x{len}.gz"));
            std::fs::write(&path, gz(&data, 50_000)).unwrap();
            let test = std::process::Command::new("gzip")
                .arg("-t")
                .arg(&path)
                .status()
                .expect("gzip must be installed");
            assert!(test.success(), "{len}: gzip -t");
            let out = std::process::Command::new("gzip")
                .arg("-dc")
                .arg(&path)
                .output()
                .unwrap();
            assert!(out.status.success(), "{len}: gzip -dc");
            assert!(out.stdout == data, "{len}: gzip -dc content");
        }
    }
}
