//! Parallel, deterministic gzip: the compressor behind tar.gz.
//!
//! Used by [`super::archive::write`] in place of a one-core gzip stream.
//! The input is cut into blocks of [`BLOCK`] bytes, a constant, never
//! derived from the number of cores. Each block is deflated on its own
//! (on rayon's pool) by libdeflate (the `libdeflater` crate, bundled C,
//! pinned by Cargo.lock) and written as its own gzip member: header
//! without name, mtime 0, OS unknown; the block's CRC-32 and length.
//! RFC 1952 allows any number of members and every gzip reader we ship
//! to (gzip, GNU tar, bsdtar, Go's `compress/gzip`, Python's `gzip`,
//! flate2's `MultiGzDecoder`) reads them as one stream; our own readers
//! (`extract`, `merge`) use `MultiGzDecoder`. Empty input gives one
//! empty member.
//!
//! libdeflate at level [`super::archive`]'s `GZIP_LEVEL` deflates about
//! four times faster than zlib's `gzip -6` and, even with 1 MiB blocks
//! that start without a dictionary, comes out slightly smaller. The bytes
//! depend only on the input, the level, [`BLOCK`] and libdeflate's
//! version: never on the number of threads, the CPU or how the writes
//! were split.
//!
//! Memory stays bounded: at most a window of blocks (a few per thread) and
//! their compressed forms are held at a time, whatever the archive's size.

use std::io::{self, Write};

use libdeflater::{CompressionLvl, Compressor};
use rayon::prelude::*;

/// Input bytes per gzip member. 1 MiB costs about 0.1% of size against
/// one stream (each block starts without a dictionary, plus 18 bytes of
/// header and trailer), and gives every core work on archives of a few
/// MiB.
pub(super) const BLOCK: usize = 1 << 20;
/// Most blocks held at once, whatever the pool's size.
const MAX_WINDOW: usize = 64;
/// gzip's "unknown" OS byte: host independent, unlike gzip's own default.
const OS_UNKNOWN: u8 = 255;

/// A gzip writer that deflates blocks, one member each, on rayon's pool.
pub(super) struct ParGzWriter<W: Write> {
    out: W,
    level: CompressionLvl,
    /// gzip's XFL byte for `level`.
    xfl: u8,
    /// Input not yet compressed: fewer than `window` full blocks.
    pending: Vec<u8>,
    /// Whether a member was written (empty input still needs one).
    wrote: bool,
    /// Blocks compressed per parallel round (memory only, never bytes).
    window: usize,
}

impl<W: Write> ParGzWriter<W> {
    /// Returns the writer; `level` is libdeflate's 0..=12 (0 stores, 6 is
    /// zlib's default level, 12 the slowest and smallest).
    pub(super) fn new(out: W, level: i32) -> io::Result<Self> {
        let level = CompressionLvl::new(level)
            .map_err(|e| io::Error::other(format!("gzip level {level}: {e:?}")))?;
        // RFC 1952: 2 for the slowest algorithm, 4 for the fastest.
        let xfl = match i32::from(level) {
            ..=1 => 4,
            8.. => 2,
            _ => 0,
        };
        let window = (2 * rayon::current_num_threads()).clamp(2, MAX_WINDOW);
        Ok(ParGzWriter {
            out,
            level,
            xfl,
            pending: Vec::with_capacity(window * BLOCK),
            wrote: false,
            window,
        })
    }

    /// Compresses and writes every full block of `pending`; with `last`,
    /// also the rest (one empty member if nothing was written at all).
    fn drain(&mut self, last: bool) -> io::Result<()> {
        let upto = if last {
            self.pending.len()
        } else {
            self.pending.len() / BLOCK * BLOCK
        };
        let mut blocks: Vec<&[u8]> = self.pending[..upto].chunks(BLOCK).collect();
        if last && blocks.is_empty() && !self.wrote {
            blocks.push(&[]);
        }
        let (level, xfl) = (self.level, self.xfl);
        let done: Vec<io::Result<Vec<u8>>> = blocks
            .into_par_iter()
            .map_init(
                || Compressor::new(level),
                |z, data| gzip_member(z, xfl, data),
            )
            .collect();
        for member in done {
            self.out.write_all(&member?)?;
            self.wrote = true;
        }
        self.pending.drain(..upto);
        Ok(())
    }

    /// Writes the last members and returns the sink.
    pub(super) fn finish(mut self) -> io::Result<W> {
        self.drain(true)?;
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

/// One block as a whole gzip member: header, raw deflate, CRC-32, length.
fn gzip_member(z: &mut Compressor, xfl: u8, data: &[u8]) -> io::Result<Vec<u8>> {
    let bound = z.deflate_compress_bound(data.len());
    let mut out = vec![0; 10 + bound + 8];
    out[..10].copy_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, OS_UNKNOWN]);
    let n = z
        .deflate_compress(data, &mut out[10..10 + bound])
        .map_err(|e| io::Error::other(format!("deflate: {e:?}")))?;
    out.truncate(10 + n);
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    // ISIZE is the length modulo 2^32 (RFC 1952); a block is far below it.
    let len = u32::try_from(data.len()).map_err(io::Error::other)?;
    out.extend_from_slice(&len.to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::{GzDecoder, MultiGzDecoder};
    use std::io::Read;
    use std::process::Command;

    /// Level 6, as tar.gz uses it (header XFL 0).
    const LEVEL: i32 = 6;

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
        let mut w = ParGzWriter::new(Vec::new(), LEVEL).unwrap();
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

    /// Runs a real tool on `path`, returns its stdout.
    fn run(program: &str, args: &[&str], path: &std::path::Path) -> Vec<u8> {
        let out = Command::new(program)
            .args(args)
            .arg(path)
            .output()
            .unwrap_or_else(|e| panic!("{program} must be installed: {e}"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{program} {args:?}: {err}");
        out.stdout
    }

    #[test]
    fn round_trips_at_block_edges() {
        let sizes = [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK, 5 * BLOCK + 17];
        for len in sizes {
            let data = sample(len);
            let z = gz(&data, 100_003);
            let mut multi = Vec::new();
            MultiGzDecoder::new(z.as_slice())
                .read_to_end(&mut multi)
                .unwrap();
            assert!(multi == data, "{len}: MultiGzDecoder");
            // Exactly one member per started block (one for empty input),
            // each made alone: the stream is their concatenation.
            let mut z1 = Compressor::new(CompressionLvl::new(LEVEL).unwrap());
            let mut want = Vec::new();
            for block in data.chunks(BLOCK) {
                want.extend(gzip_member(&mut z1, 0, block).unwrap());
            }
            if len == 0 {
                want.extend(gzip_member(&mut z1, 0, &[]).unwrap());
            }
            assert!(z == want, "{len}: members");
            // The first member alone holds exactly the first block.
            let mut first = Vec::new();
            GzDecoder::new(z.as_slice())
                .read_to_end(&mut first)
                .unwrap();
            assert!(first[..] == data[..len.min(BLOCK)], "{len}: first member");
            assert_eq!(&z[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
        }
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
        let mut w = ParGzWriter::new(Vec::new(), LEVEL).unwrap();
        w.write_all(&data[..12345]).unwrap();
        w.flush().unwrap();
        w.write_all(&data[12345..]).unwrap();
        assert!(w.finish().unwrap() == want);
    }

    #[test]
    fn rejects_levels_libdeflate_lacks() {
        for level in [-1, 13] {
            assert!(ParGzWriter::new(Vec::new(), level).is_err(), "{level}");
        }
        assert!(ParGzWriter::new(Vec::new(), 12).is_ok());
    }

    /// On a real executable (this test binary: several MiB of ELF), the
    /// members are no bigger than GNU `gzip -6 -n` of the same bytes.
    #[cfg(unix)]
    #[test]
    fn executables_come_out_no_bigger_than_gzip_6() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let data = &exe[..exe.len().min(16 * BLOCK)];
        assert!(data.len() > 2 * BLOCK, "test binary too small to measure");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exe");
        std::fs::write(&path, data).unwrap();
        let gzip = run("gzip", &["-6", "-n", "-c"], &path).len();
        let ours = gz(data, BLOCK).len();
        assert!(ours <= gzip, "{ours} bytes against gzip -6's {gzip}");
    }

    /// gzip, GNU tar, Python's and Go's readers all read every member.
    #[cfg(unix)]
    #[test]
    fn real_readers_accept_and_restore_it() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, BLOCK, 3 * BLOCK + 5] {
            let data = sample(len);
            let path = dir.path().join(format!("x{len}.gz"));
            std::fs::write(&path, gz(&data, 50_000)).unwrap();
            run("gzip", &["-t"], &path);
            assert!(run("gzip", &["-dc"], &path) == data, "{len}: gzip -dc");
            let py = "import gzip,sys; sys.stdout.buffer.write(gzip.open(sys.argv[1]).read())";
            assert!(run("python3", &["-c", py], &path) == data, "{len}: python");
        }
        // A tar of several blocks, listed and read back by GNU tar and Go.
        let body = sample(2 * BLOCK + 999);
        let mut tar = tar::Builder::new(Vec::new());
        let mut head = tar::Header::new_gnu();
        head.set_size(body.len() as u64);
        head.set_mode(0o644);
        tar.append_data(&mut head, "dir/file", body.as_slice())
            .unwrap();
        let path = dir.path().join("a.tar.gz");
        std::fs::write(&path, gz(&tar.into_inner().unwrap(), 4096)).unwrap();
        assert_eq!(run("tar", &["-tzf"], &path), b"dir/file\n");
        assert!(run("tar", &["-xzOf"], &path) == body, "tar -xzO");
        let go = dir.path().join("read.go");
        std::fs::write(&go, GO_READER).unwrap();
        let out = Command::new("go")
            .args(["run"])
            .arg(&go)
            .arg(&path)
            .env("GOCACHE", dir.path().join("gocache"))
            .env("GOFLAGS", "-mod=mod")
            .output()
            .expect("go must be installed");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "go run: {err}");
        assert!(out.stdout == body, "Go's compress/gzip + archive/tar");
    }

    /// Prints the first tar entry of a tar.gz through Go's standard readers.
    const GO_READER: &str = r#"package main

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
)

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		panic(err)
	}
	t := tar.NewReader(z)
	if _, err := t.Next(); err != nil {
		panic(err)
	}
	if _, err := io.Copy(os.Stdout, t); err != nil {
		panic(err)
	}
	// Reading on to the end checks every member's CRC and length.
	if _, err := io.Copy(io.Discard, z); err != nil {
		panic(err)
	}
}
"#;
}
