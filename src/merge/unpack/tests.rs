//! Unit tests of the unpack limits: every refusal names the member and
//! leaves the folder empty.

use std::io::Write;

use super::*;

/// Small margins, so a few kilobytes test each limit.
const SMALL: Margins = Margins {
    bytes: 1024,
    entries: 4,
    floor: 4096,
};

/// A shard manifest recording one artifact of `size` bytes.
fn manifest(size: u64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "format": "matrix-manifest", "format_version": 1,
        "project": {"name": "hello", "description": "", "homepage": "", "license": "MIT"},
        "version": "1.0.0", "tag": "v1.0.0", "commit": "abc", "commit_date": "2026-01-01T00:00:00Z",
        "timestamp": 0, "is_snapshot": false, "config_sha256": "00",
        "checksum": {"algorithm": "sha256", "file": "SHA256SUMS"},
        "targets": [],
        "artifacts": [{"name": "a.tar.gz", "path": "a.tar.gz", "kind": "archive",
                        "target": "linux/amd64", "size": size, "digest": "sha256:00"}],
        "shard": {"index": 1, "total": 1, "targets": ["linux/amd64"]},
        "jobs": []
    }))
    .unwrap()
}

/// One tar member: its raw name (written as is, however hostile), type,
/// mode and bytes.
struct M<'a> {
    name: &'a str,
    kind: tar::EntryType,
    data: &'a [u8],
    link: Option<&'a str>,
}

fn file<'a>(name: &'a str, data: &'a [u8]) -> M<'a> {
    M {
        name,
        kind: tar::EntryType::Regular,
        data,
        link: None,
    }
}

fn tar_bytes(members: &[M<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = tar::Header::new_gnu();
        let raw = &mut h.as_old_mut().name;
        raw[..m.name.len()].copy_from_slice(m.name.as_bytes());
        h.set_entry_type(m.kind);
        h.set_mode(0o644);
        h.set_size(m.data.len() as u64);
        if let Some(l) = m.link {
            h.set_link_name(l).unwrap();
        }
        h.set_cksum();
        b.append(&h, m.data).unwrap();
    }
    b.into_inner().unwrap()
}

fn write_tgz(dir: &Path, members: &[M<'_>]) -> PathBuf {
    let path = dir.join("shard-1.tar.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(&tar_bytes(members)).unwrap();
    gz.finish().unwrap();
    path
}

/// A fresh, empty folder to unpack into, and the scratch folder.
fn dirs() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let into = tmp.path().join("into");
    std::fs::create_dir(&into).unwrap();
    (tmp, into)
}

fn assert_empty(into: &Path) {
    let left: Vec<_> = std::fs::read_dir(into).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_shard_folder_archive_unpacks_without_its_build_folder() {
    let (tmp, into) = dirs();
    let m = manifest(5);
    let archive = write_tgz(
        tmp.path(),
        &[
            M {
                name: "./",
                kind: tar::EntryType::Directory,
                data: b"",
                link: None,
            },
            file("./shard-1/a.tar.gz", b"hello"),
            file("./shard-1/build/linux-amd64/hello", b"\x7fELF"),
            file("./shard-1/logs/build.log", b"ok\n"),
            file("./shard-1/manifest.json", &m),
        ],
    );
    let dir = unpack_with(&archive, &into, Raise::default(), SMALL).unwrap();
    assert_eq!(dir, into.join("shard-1"));
    assert_eq!(std::fs::read(dir.join("a.tar.gz")).unwrap(), b"hello");
    assert_eq!(std::fs::read(dir.join("manifest.json")).unwrap(), m);
    assert!(dir.join("logs/build.log").is_file());
    assert!(!dir.join("build").exists(), "build/ was unpacked");
}

/// tar.gz archives come as several gzip members (matrix's own, pigz
/// -i, libdeflate-based tools): every member is read, not just the first.
#[test]
fn a_multi_member_gzip_unpacks_whole() {
    let (tmp, into) = dirs();
    let m = manifest(5);
    let tar = tar_bytes(&[
        file("shard-1/a.tar.gz", b"hello"),
        file("shard-1/logs/build.log", b"ok\n"),
        file("shard-1/manifest.json", &m),
    ]);
    let path = tmp.path().join("shard-1.tar.gz");
    let mut gz = Vec::new();
    // Members cut mid-header and mid-content.
    for part in [&tar[..700], &tar[700..2000], &tar[2000..]] {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(part).unwrap();
        gz.extend(enc.finish().unwrap());
    }
    std::fs::write(&path, gz).unwrap();
    let dir = unpack_with(&path, &into, Raise::default(), SMALL).unwrap();
    assert_eq!(std::fs::read(dir.join("a.tar.gz")).unwrap(), b"hello");
    assert_eq!(std::fs::read(dir.join("manifest.json")).unwrap(), m);
    assert_eq!(std::fs::read(dir.join("logs/build.log")).unwrap(), b"ok\n");
}

#[test]
fn a_tar_bomb_past_the_recorded_total_is_refused_by_name() {
    let (tmp, into) = dirs();
    let zeros = vec![0u8; 64 << 10];
    let m = manifest(5);
    let archive = write_tgz(
        tmp.path(),
        &[file("manifest.json", &m), file("a.tar.gz", &zeros)],
    );
    // The ratio is raised out of the way: this is the byte limit.
    let raise = Raise {
        ratio: Some(1_000_000),
        ..Raise::default()
    };
    let err = unpack_with(&archive, &into, raise, SMALL).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "member a.tar.gz: unpacking its 65536 bytes would pass the limit of 1029 bytes"
        ),
        "{text}"
    );
    assert!(matches!(
        err,
        UnpackError::Limit {
            flag: "--max-unpack-bytes",
            ..
        }
    ));
    assert_empty(&into);
    // The flag raises it.
    let raise = Raise {
        bytes: Some(1 << 20),
        ..raise
    };
    unpack_with(&archive, &into, raise, SMALL).unwrap();
    assert_eq!(
        std::fs::metadata(into.join("a.tar.gz")).unwrap().len(),
        65536
    );
}

#[test]
fn too_many_entries_are_refused_by_name() {
    let (tmp, into) = dirs();
    let m = manifest(5);
    let names: Vec<String> = (0..8).map(|i| format!("logs/{i}.log")).collect();
    let mut members = vec![file("manifest.json", &m)];
    members.extend(names.iter().map(|n| file(n, b"x")));
    let archive = write_tgz(tmp.path(), &members);
    let err = unpack_with(&archive, &into, Raise::default(), SMALL).unwrap_err();
    // One artifact plus four of margin: the sixth entry is one too many.
    assert!(
        matches!(&err, UnpackError::Limit { member, flag: "--max-unpack-entries", limit: 5, .. } if member == "logs/4.log"),
        "{err}"
    );
    assert_empty(&into);
}

#[test]
fn a_gzip_bomb_is_refused_by_its_ratio() {
    let (tmp, into) = dirs();
    let m = manifest(5);
    let zeros = vec![0u8; 1 << 20];
    let archive = write_tgz(
        tmp.path(),
        &[file("manifest.json", &m), file("logs/big.log", &zeros)],
    );
    let raise = Raise {
        bytes: Some(1 << 30),
        ..Raise::default()
    };
    let err = unpack_with(&archive, &into, raise, SMALL).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("member logs/big.log: the archive expands past ")
            && text.contains("bytes, the limit of 100 times its size"),
        "{text}"
    );
    assert_empty(&into);
}

#[test]
fn a_zip_bomb_is_refused_before_it_is_inflated() {
    // The real limits: 64 MiB of zeros deflate to about 64 KiB.
    let (tmp, into) = dirs();
    let path = tmp.path().join("shard-1.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("manifest.json", opts).unwrap();
    zip.write_all(&manifest(5)).unwrap();
    zip.start_file("bomb.bin", opts).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..64 {
        zip.write_all(&chunk).unwrap();
    }
    zip.finish().unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() < 1 << 20);
    let err = unpack(&path, &into, Raise::default()).unwrap_err();
    assert!(
        matches!(&err, UnpackError::Limit { member, flag: "--max-unpack-ratio", .. } if member == "bomb.bin"),
        "{err}"
    );
    assert_empty(&into);
}

#[test]
fn links_devices_and_pipes_are_refused_by_name() {
    let m = manifest(5);
    for (kind, link, what) in [
        (
            tar::EntryType::Symlink,
            Some("/etc/passwd"),
            "a symbolic link",
        ),
        (tar::EntryType::Link, Some("manifest.json"), "a hard link"),
        (tar::EntryType::Char, None, "a device"),
        (tar::EntryType::Block, None, "a device"),
        (tar::EntryType::Fifo, None, "a named pipe"),
    ] {
        let (tmp, into) = dirs();
        let archive = write_tgz(
            tmp.path(),
            &[
                file("manifest.json", &m),
                file("a.tar.gz", b"hello"),
                M {
                    name: "evil",
                    kind,
                    data: b"",
                    link,
                },
            ],
        );
        let text = unpack_with(&archive, &into, Raise::default(), SMALL)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains(&format!("member evil: it is {what}")),
            "{text}"
        );
        assert_empty(&into);
    }
    // And in a zip.
    let (tmp, into) = dirs();
    let path = tmp.path().join("shard.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("manifest.json", opts).unwrap();
    zip.write_all(&m).unwrap();
    zip.add_symlink("evil", "/etc/passwd", opts).unwrap();
    zip.finish().unwrap();
    let text = unpack_with(&path, &into, Raise::default(), SMALL)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("member evil: it is a symbolic link"),
        "{text}"
    );
    assert_empty(&into);
}

#[test]
fn absolute_and_climbing_names_are_refused_by_name() {
    let m = manifest(5);
    for (name, what) in [
        ("/tmp/evil", "its path is absolute"),
        ("logs/../../evil", "its path has a `..`"),
    ] {
        let (tmp, into) = dirs();
        let archive = write_tgz(tmp.path(), &[file("manifest.json", &m), file(name, b"x")]);
        let text = unpack_with(&archive, &into, Raise::default(), SMALL)
            .unwrap_err()
            .to_string();
        assert!(text.contains(&format!("member {name}: {what}")), "{text}");
        assert_empty(&into);
        assert!(!tmp.path().join("evil").exists());
    }
}

#[test]
fn absolute_and_climbing_zip_names_are_refused_by_name() {
    let m = manifest(5);
    for (name, what) in [
        ("/tmp/evil", "its path is absolute"),
        ("../evil", "its path has a `..`"),
    ] {
        let (tmp, into) = dirs();
        let path = tmp.path().join("shard.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("manifest.json", opts).unwrap();
        zip.write_all(&m).unwrap();
        zip.start_file(name, opts).unwrap();
        zip.write_all(b"x").unwrap();
        zip.finish().unwrap();
        let text = unpack_with(&path, &into, Raise::default(), SMALL)
            .unwrap_err()
            .to_string();
        assert!(text.contains(&format!("member {name}: {what}")), "{text}");
        assert_empty(&into);
        assert!(!tmp.path().join("evil").exists());
    }
}

#[test]
fn an_archive_without_a_manifest_is_not_a_shard() {
    let (tmp, into) = dirs();
    let archive = write_tgz(tmp.path(), &[file("a.tar.gz", b"hello")]);
    let text = unpack(&archive, &into, Raise::default())
        .unwrap_err()
        .to_string();
    assert!(text.contains("no manifest.json at its top"), "{text}");
    assert_empty(&into);
}

#[test]
fn members_outside_the_shard_folder_or_twice_are_refused() {
    let m = manifest(5);
    for (members, want) in [
        (
            vec![file("s/manifest.json", &m), file("t/x", b"x")],
            "member t/x: it is outside the shard folder s/",
        ),
        (
            vec![
                file("manifest.json", &m),
                file("a.tar.gz", b"x"),
                file("./a.tar.gz", b"y"),
            ],
            "member ./a.tar.gz: it is in the archive twice",
        ),
    ] {
        let (tmp, into) = dirs();
        let archive = write_tgz(tmp.path(), &members);
        let text = unpack_with(&archive, &into, Raise::default(), SMALL)
            .unwrap_err()
            .to_string();
        assert!(text.contains(want), "{text}");
        assert_empty(&into);
    }
}

#[test]
fn sizes_parse_with_binary_units() {
    assert_eq!(parse_size("4096"), Ok(4096));
    assert_eq!(parse_size("512M"), Ok(512 << 20));
    assert_eq!(parse_size("8GiB"), Ok(8 << 30));
    assert_eq!(parse_size("1t"), Ok(1 << 40));
    assert!(parse_size("8 parsecs").is_err());
    assert!(parse_size("").is_err());
    assert!(parse_size("99999999999T").is_err());
}
