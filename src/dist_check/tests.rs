//! Unit tests of the binary check `verify` and `merge` share, and of
//! `verify` on `verify = false` artifacts. Binaries are minimal ELF
//! headers, which is all the check reads.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;

use super::*;
use crate::package::archive::{ArchiveSpec, write};
use crate::package::checksum::Algorithm;
use crate::package::files::Entry;

/// The largest single allocation each thread made: the streaming test
/// below proves no archive member is ever held whole.
struct Tracking;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|c| {
        if size > c.get() {
            c.set(size);
        }
    });
}

// SAFETY: every call is passed on to the system allocator unchanged.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// A 64-byte ELF64 little-endian executable header for `machine`
/// (62 x86-64, 183 aarch64), no sections.
pub(crate) fn elf(machine: u16) -> Vec<u8> {
    let mut h = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    h.resize(16, 0);
    h.extend(2u16.to_le_bytes()); // ET_EXEC
    h.extend(machine.to_le_bytes());
    h.extend(1u32.to_le_bytes());
    h.extend([0u8; 24]); // entry, phoff, shoff
    h.extend(0u32.to_le_bytes()); // flags
    h.extend(64u16.to_le_bytes());
    h.extend(56u16.to_le_bytes());
    h.extend(0u16.to_le_bytes());
    h.extend(64u16.to_le_bytes());
    h.extend([0u8; 4]);
    assert_eq!(h.len(), 64);
    h
}

fn amd64() -> Expected<'static> {
    expected(
        "linux/amd64",
        crate::target::platform("linux", "amd64", None).unwrap(),
    )
}

/// An archive of `format` in `dir` holding `top/hello` (executable) and
/// `top/README.md`.
fn archive(dir: &Path, format: Format, binary: &Path) -> PathBuf {
    let doc = dir.join("README.md");
    std::fs::write(&doc, b"# hi\n").unwrap();
    let entries = vec![
        Entry {
            source: doc,
            dest: "README.md".into(),
            executable: false,
        },
        Entry {
            source: binary.to_path_buf(),
            dest: "hello".into(),
            executable: true,
        },
    ];
    let out = dir.join(format!("hello{}", format.extension()));
    write(
        &ArchiveSpec {
            format,
            entries: &entries,
            wrap: Some("top"),
            mtime: 0,
            algorithm: Algorithm::Sha256,
            zstd_level: crate::package::archive::ZSTD_DEFAULT_LEVEL,
        },
        &out,
    )
    .unwrap();
    out
}

#[test]
fn a_binary_for_another_cpu_is_named_with_its_member() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("hello");
    std::fs::write(&bin, elf(183)).unwrap();
    for format in [Format::TarGz, Format::Zip, Format::Binary] {
        let a = if format == Format::Binary {
            bin.clone()
        } else {
            archive(dir.path(), format, &bin)
        };
        let found = archive_binaries(&a, format, &amd64());
        assert_eq!(found.binaries, 1, "{format:?}");
        let [problem] = found.problems.as_slice() else {
            panic!("{format:?}: {:?}", found.problems);
        };
        let member = if format == Format::Binary {
            "hello"
        } else {
            "top/hello"
        };
        assert_eq!(problem.member.as_deref(), Some(member));
        assert!(
            problem.what.contains("binary is aarch64 ELF"),
            "{}",
            problem.what
        );
    }
    // The right CPU passes.
    std::fs::write(&bin, elf(62)).unwrap();
    let a = archive(dir.path(), Format::TarGz, &bin);
    let found = archive_binaries(&a, Format::TarGz, &amd64());
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    assert_eq!(found.binaries, 1);
}

#[test]
fn an_archive_of_scripts_holds_no_binary() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("hello");
    std::fs::write(&bin, "#!/bin/sh\necho hi\n").unwrap();
    let a = archive(dir.path(), Format::TarGz, &bin);
    let found = archive_binaries(&a, Format::TarGz, &amd64());
    assert_eq!(found.binaries, 0);
    assert_eq!(found.problems[0].to_string(), "holds no executable binary");
}

#[test]
fn a_64_mib_member_is_streamed_never_held_whole() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("hello");
    let mut bytes = elf(62);
    bytes.resize(64 << 20, 0);
    std::fs::write(&bin, &bytes).unwrap();
    drop(bytes);
    for format in [Format::TarGz, Format::TarZst, Format::Zip] {
        let a = archive(dir.path(), format, &bin);
        LARGEST.with(|c| c.set(0));
        let found = archive_binaries(&a, format, &amd64());
        let largest = LARGEST.with(Cell::get);
        assert!(
            found.problems.is_empty(),
            "{format:?}: {:?}",
            found.problems
        );
        assert_eq!(found.binaries, 1);
        // Decoder windows and copy buffers, never the member.
        assert!(
            largest < 8 << 20,
            "{format:?}: an allocation of {largest} bytes while checking a 64 MiB member"
        );
        // And the merge's copy of the binary back out of the archive.
        LARGEST.with(|c| c.set(0));
        let out = dir.path().join("out");
        extract::extract_to(&a, format, |m| m.path == "top/hello", &out).unwrap();
        let largest = LARGEST.with(Cell::get);
        assert!(largest < 8 << 20, "{format:?}: {largest} bytes at once");
        assert_eq!(std::fs::metadata(&out).unwrap().len(), 64 << 20);
    }
}

/// A release folder with one linux/amd64 archive holding a script, its
/// target recorded with `verify`.
fn release_of_a_script(dir: &Path, verify: bool) {
    let bin = dir.join("hello");
    std::fs::write(&bin, "#!/bin/sh\necho hi\n").unwrap();
    let a = archive(dir, Format::TarGz, &bin);
    std::fs::remove_file(&bin).unwrap();
    std::fs::remove_file(dir.join("README.md")).unwrap();
    let name = a.file_name().unwrap().to_str().unwrap().to_string();
    let (hex, size) = crate::package::checksum::hash_file(&a, Algorithm::Sha256).unwrap();
    std::fs::write(dir.join("SHA256SUMS"), format!("{hex}  {name}\n")).unwrap();
    let mut target =
        serde_json::json!({"id": "linux/amd64", "values": {"os": "linux", "arch": "amd64"}});
    if !verify {
        target["verify"] = false.into();
    }
    let manifest = serde_json::json!({
        "format": "matrix-manifest", "format_version": 1,
        "project": {"name": "hello", "description": "", "homepage": "", "license": "MIT"},
        "version": "1.0.0", "tag": "v1.0.0", "commit": "abc", "commit_date": "2026-01-01T00:00:00Z",
        "timestamp": 0, "is_snapshot": false, "config_sha256": "00",
        "checksum": {"algorithm": "sha256", "file": "SHA256SUMS"},
        "targets": [target],
        "artifacts": [{"name": name, "path": name, "kind": "archive", "format": "tar.gz",
                        "target": "linux/amd64", "size": size, "digest": format!("sha256:{hex}")}],
        "jobs": []
    });
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

#[test]
fn verify_false_artifacts_are_checked_byte_for_byte_only() {
    let dir = tempfile::tempdir().unwrap();
    release_of_a_script(dir.path(), false);
    let report = release(dir.path()).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!((report.files, report.binaries), (1, 0));
    // Its bytes are still checked.
    let archive = dir.path().join("hello.tar.gz");
    let mut bytes = std::fs::read(&archive).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&archive, bytes).unwrap();
    let report = release(dir.path()).unwrap();
    assert!(
        report.problems[0].starts_with("hello.tar.gz: sha256:"),
        "{:?}",
        report.problems
    );
    // With verify on, the script is no binary.
    let dir = tempfile::tempdir().unwrap();
    release_of_a_script(dir.path(), true);
    let report = release(dir.path()).unwrap();
    assert_eq!(
        report.problems,
        ["hello.tar.gz: holds no executable binary"]
    );
}

#[test]
fn an_oversized_checksums_file_is_a_problem_not_a_read() {
    let dir = tempfile::tempdir().unwrap();
    release_of_a_script(dir.path(), false);
    // Sparse: the length alone must refuse it.
    let sums = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("SHA256SUMS"))
        .unwrap();
    sums.set_len(crate::package::manifest::MAX_BYTES + 1)
        .unwrap();
    let report = release(dir.path()).unwrap();
    assert_eq!(
        report.problems,
        ["SHA256SUMS: 67108865 bytes, more than a checksums file of this manifest can need"]
    );
}

#[test]
fn a_member_bigger_than_the_free_disk_is_refused_before_copying() {
    // A header that claims a pebibyte: the copy must not start.
    let dir = tempfile::tempdir().unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_path("top/hello").unwrap();
    h.set_mode(0o755);
    h.set_size(1 << 50);
    h.set_cksum();
    tar.append(&h, &elf(62)[..]).unwrap();
    let bytes = tar.into_inner().unwrap();
    let path = dir.path().join("huge.tar.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::default(),
    );
    std::io::Write::write_all(&mut gz, &bytes).unwrap();
    gz.finish().unwrap();
    let found = archive_binaries(&path, Format::TarGz, &amd64());
    let first = found.problems[0].to_string();
    assert!(
        first.starts_with("top/hello: its 1125899906842624 bytes do not fit in the"),
        "{first}"
    );
    assert_eq!(found.binaries, 0);
}
