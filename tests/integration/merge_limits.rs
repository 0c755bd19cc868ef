//! Bounded, checked inputs at merge and verify, with the real binary: a
//! relabelled archive is refused at merge time, a shard archive that
//! expands too far is refused by member (and the flag raises the limit),
//! and a `verify = false` release verifies.

use std::path::{Path, PathBuf};

use crate::support::{Project, WRITE_BINARY, run, script_config};

const TWO_LINUX: &str = "os = [\"linux\"]\narch = [\"amd64\", \"arm64\"]";

/// Writes a minimal ELF64 executable header for `$1` (amd64 or arm64) to
/// `$2`: all the binary check reads, and no toolchain needed.
const MKELF: &str = r#"#!/bin/sh
case "$1" in amd64) m='\076';; arm64) m='\267';; *) exit 3;; esac
printf "\177ELF\002\001\001\000\000\000\000\000\000\000\000\000\002\000${m}\000\001\000\000\000" > "$2"
head -c 28 /dev/zero >> "$2"
printf '\100\000\070\000\000\000\100\000\000\000\000\000' >> "$2"
chmod +x "$2"
"#;

/// A project whose two Linux targets build real (header-only) ELF
/// binaries and verify them.
fn elf_project() -> Project {
    let build = r#"command = ["sh", "mkelf.sh", "{{ arch }}", "{{ out }}/{{ bin }}"]"#;
    let config = script_config(TWO_LINUX, build).replace("verify = false", "verify = true");
    let p = Project::new();
    p.file("matrix.toml", &config);
    p.file("mkelf.sh", MKELF);
    p.file("LICENSE", "MIT License\n");
    p.file("README.md", "# hello\n");
    p.commit();
    p.git(&["tag", "v1.2.3"]);
    p
}

/// `matrix build --shard 1/1` into a folder outside the checkout.
fn one_shard(p: &Project, out: &Path) -> PathBuf {
    let dir = out.join("shard-1");
    let (code, o, e) = run(&mut p.matrix(&[
        "build",
        "-q",
        "--shard",
        "1/1",
        "--dist",
        dir.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{o}{e}");
    dir
}

fn words(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| *w != "|")
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_relabelled_archive_is_refused_at_merge() {
    let p = elf_project();
    let out = tempfile::tempdir().unwrap();
    let shard = one_shard(&p, out.path());
    // Swap the two archives' bytes and their records' digest and size:
    // every record stays consistent, only the binaries tell.
    let amd = shard.join("hello_1.2.3_linux_amd64.tar.gz");
    let arm = shard.join("hello_1.2.3_linux_arm64.tar.gz");
    let (a, b) = (std::fs::read(&amd).unwrap(), std::fs::read(&arm).unwrap());
    std::fs::write(&amd, &b).unwrap();
    std::fs::write(&arm, &a).unwrap();
    let path = shard.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let arts = m["artifacts"].as_array_mut().unwrap();
    let i = arts
        .iter()
        .position(|r| r["target"] == "linux/amd64")
        .unwrap();
    let j = arts
        .iter()
        .position(|r| r["target"] == "linux/arm64")
        .unwrap();
    for key in ["digest", "size"] {
        let (x, y) = (arts[i][key].clone(), arts[j][key].clone());
        arts[i][key] = y;
        arts[j][key] = x;
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let merged = out.path().join("merged");
    let (code, o, e) = run(&mut p.matrix(&[
        "merge",
        shard.to_str().unwrap(),
        "--dist",
        merged.to_str().unwrap(),
    ]));
    let e = words(&e);
    assert_eq!(code, 2, "{o}{e}");
    assert!(
        e.contains(
            "hello_1.2.3_linux_amd64.tar.gz: hello: built linux/amd64 but the binary is aarch64 ELF"
        ),
        "{e}"
    );
    // Refused before anything was written.
    assert!(!merged.join("manifest.json").exists());
    assert!(!merged.join("hello_1.2.3_linux_amd64.tar.gz").exists());
}

#[test]
fn an_honest_shard_merges_and_the_release_verifies() {
    let p = elf_project();
    let out = tempfile::tempdir().unwrap();
    let shard = one_shard(&p, out.path());
    let merged = out.path().join("merged");
    let (code, o, e) = run(&mut p.matrix(&[
        "merge",
        shard.to_str().unwrap(),
        "--dist",
        merged.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{o}{e}");
    let (code, o, e) = run(&mut p.matrix(&["verify", merged.to_str().unwrap()]));
    assert_eq!(code, 0, "{o}{e}");
    assert!(o.contains("2 binaries checked"), "{o}");
}

/// `tar czf` of the shard folder plus `extra` (name, bytes) at its top.
fn shard_tgz(shard: &Path, extra: &[(&str, &[u8])], to: &Path) {
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(to).unwrap(),
        flate2::Compression::default(),
    );
    {
        let mut tar = tar::Builder::new(&mut gz);
        // Links go in as links: the point is to see them refused.
        tar.follow_symlinks(false);
        tar.append_dir_all("shard-1", shard).unwrap();
        for (name, bytes) in extra {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, format!("shard-1/{name}"), *bytes)
                .unwrap();
        }
        tar.finish().unwrap();
    }
    gz.finish().unwrap();
}

#[test]
fn a_shard_archive_expanding_too_far_is_refused_by_member() {
    let p = Project::with_config(&script_config(TWO_LINUX, WRITE_BINARY));
    let out = tempfile::tempdir().unwrap();
    let shard = one_shard(&p, out.path());
    let archive = out.path().join("shard-1.tar.gz");
    // 64 MiB of zeros in a log: about 64 KiB compressed.
    let zeros = vec![0u8; 64 << 20];
    shard_tgz(&shard, &[("logs/huge.log", &zeros)], &archive);
    let tmp = out.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let merged = out.path().join("merged");
    let merge = |extra: &[&str]| {
        let mut args = vec![
            "merge",
            archive.to_str().unwrap(),
            "--dist",
            merged.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let mut cmd = p.matrix(&args);
        cmd.env("TMPDIR", &tmp);
        run(&mut cmd)
    };
    let (code, o, e) = merge(&[]);
    let e = words(&e);
    assert_eq!(code, 2, "{o}{e}");
    assert!(
        e.contains("member shard-1/logs/huge.log: the archive expands past 33554432 bytes, the limit of 100 times its size"),
        "{e}"
    );
    assert!(e.contains("--max-unpack-ratio"), "{e}");
    // Nothing left in the temporary folder, nothing in the release.
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
    assert!(!merged.join("manifest.json").exists());
    // Raised by the flag, the same archive merges.
    let (code, o, e) = merge(&["--max-unpack-ratio", "100000"]);
    assert_eq!(code, 0, "{o}{e}");
    assert!(merged.join("manifest.json").is_file());
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn a_shard_archive_with_a_symlink_is_refused_by_member() {
    let p = Project::with_config(&script_config(TWO_LINUX, WRITE_BINARY));
    let out = tempfile::tempdir().unwrap();
    let shard = one_shard(&p, out.path());
    std::os::unix::fs::symlink("/etc/passwd", shard.join("logs/passwd")).unwrap();
    let archive = out.path().join("shard-1.tar.gz");
    shard_tgz(&shard, &[], &archive);
    let merged = out.path().join("merged");
    let (code, o, e) = run(&mut p.matrix(&[
        "merge",
        archive.to_str().unwrap(),
        "--dist",
        merged.to_str().unwrap(),
    ]));
    let e = words(&e);
    assert_eq!(code, 2, "{o}{e}");
    assert!(
        e.contains("member shard-1/logs/passwd: it is a symbolic link"),
        "{e}"
    );
    assert!(!merged.exists() || std::fs::read_dir(&merged).unwrap().count() == 0);
}

#[test]
fn a_verify_false_release_verifies() {
    // Builds that write scripts need verify = false; verify must pass them.
    let p = Project::with_config(&script_config(TWO_LINUX, WRITE_BINARY));
    let (code, o, e) = run(&mut p.matrix(&["build", "-q"]));
    assert_eq!(code, 0, "{o}{e}");
    let dist = p.dist();
    let (code, o, e) = run(&mut p.matrix(&["verify", dist.to_str().unwrap()]));
    assert_eq!(code, 0, "{o}{e}");
    assert!(o.contains("0 binaries checked"), "{o}");
    assert!(o.ends_with("ok\n"), "{o}");
    // Its bytes are still checked.
    let archive = dist.join("hello_1.2.3_linux_arm64.tar.gz");
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.push(0);
    std::fs::write(&archive, bytes).unwrap();
    let (code, o, _) = run(&mut p.matrix(&["verify", dist.to_str().unwrap()]));
    assert_eq!(code, 1, "{o}");
    assert!(
        o.contains("problem: hello_1.2.3_linux_arm64.tar.gz:"),
        "{o}"
    );
}

#[test]
fn an_oversized_manifest_is_refused_unread() {
    let p = Project::with_config(&script_config(TWO_LINUX, WRITE_BINARY));
    let out = tempfile::tempdir().unwrap();
    // Sparse: 65 MiB long, nothing written, so nothing to load either.
    let big = out.path().join("manifest.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(65 << 20)
        .unwrap();
    let (code, o, e) = run(&mut p.matrix(&["verify", out.path().to_str().unwrap()]));
    let e = words(&e);
    assert_eq!(code, 2, "{o}{e}");
    assert!(
        e.contains("manifest.json is 68157440 bytes; a manifest may have at most 67108864 bytes"),
        "{e}"
    );
    let (code, o, e) =
        run(&mut p.matrix(&["plan", "--shards", "2", "--history", big.to_str().unwrap()]));
    let e = words(&e);
    assert_eq!(code, 2, "{o}{e}");
    assert!(e.contains("manifest.json is 68157440 bytes"), "{e}");
}
