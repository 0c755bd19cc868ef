//! Tests of the native .snap: reproducible bytes, the tree and metadata
//! inside (read back with unsquashfs), and failures that leave no file.
//!
//! Uses the fixtures and tool checks of `snap::tests`; without
//! squashfs-tools (or Python for reading meta/snap.yaml) a test says so and
//! passes, unless CI is set.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::build_with;
use crate::package::archive::Format;
use crate::packager::PublishError;
use crate::packager::input::Package;
use crate::packager::snap::build_snap;
use crate::packager::snap::tests::{
    input, invalid_message, opts, package, python, require, squashfs_tools, yaml_to_json,
};

/// A package whose built executable exists on disk.
fn built_package(dir: &Path, arch: &str) -> Package {
    let exe = dir.join("hello");
    std::fs::write(&exe, "#!/bin/sh\necho hello\n").unwrap();
    let mut p = package("linux", arch, Format::TarGz);
    p.binary_file = exe;
    p
}

fn unsquashfs(args: &[&str], snap: &Path) -> String {
    let out = Command::new("unsquashfs")
        .args(args)
        .arg(snap)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "unsquashfs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn snap_is_reproducible_and_holds_meta_and_binary() {
    let Some(()) = require(squashfs_tools()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = built_package(dir.path(), "arm64");
    let input = input("0.0.1-SNAPSHOT-abc1234", vec![p.clone()]);
    let first = build_snap(&input.release, &opts(), &p, &dir.path().join("one")).unwrap();
    let second = build_snap(&input.release, &opts(), &p, &dir.path().join("two")).unwrap();
    assert_eq!(
        first.file_name().unwrap(),
        "hello_0.0.1-SNAPSHOT-abc1234_arm64.snap"
    );
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
        "two builds differ"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path().join("one"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [first.file_name().unwrap()], "only the .snap is left");

    // The fixture's release timestamp, 1_700_000_000, in UTC.
    let listing = unsquashfs(&["-UTC", "-lln"], &first);
    assert!(
        listing.lines().all(|l| l.contains(" 2023-11-14 22:13 ")),
        "every time is the release's:\n{listing}"
    );
    assert_eq!(unsquashfs(&["-mkfs-time"], &first).trim(), "1700000000");
    let line = |path: &str| {
        listing
            .lines()
            .find(|l| l.ends_with(&format!("squashfs-root/{path}")))
            .unwrap_or_else(|| panic!("{path} missing:\n{listing}"))
            .to_string()
    };
    assert!(line("bin/hello").starts_with("-rwxr-xr-x 0/0"), "{listing}");
    assert!(
        line("meta/snap.yaml").starts_with("-rw-r--r-- 0/0"),
        "{listing}"
    );
    assert!(line("meta").starts_with("drwxr-xr-x 0/0"), "{listing}");
    assert!(
        listing
            .lines()
            .next()
            .unwrap_or_default()
            .starts_with("drwxr-xr-x 0/0"),
        "root:\n{listing}"
    );
    assert_eq!(
        listing.lines().count(),
        5,
        "root, bin, bin/hello, meta, meta/snap.yaml:\n{listing}"
    );
    assert!(
        unsquashfs(&["-s"], &first).contains("xz"),
        "compressed with xz"
    );

    let exe = Command::new("unsquashfs")
        .arg("-cat")
        .arg(&first)
        .arg("bin/hello")
        .output()
        .unwrap();
    assert_eq!(exe.stdout, b"#!/bin/sh\necho hello\n");

    let Some(py) = require(python()) else { return };
    let yaml = Command::new("unsquashfs")
        .arg("-cat")
        .arg(&first)
        .arg("meta/snap.yaml")
        .output()
        .unwrap();
    let doc = yaml_to_json(&py, &String::from_utf8(yaml.stdout).unwrap());
    assert_eq!(
        doc,
        json!({
            "name": "hello",
            "version": "0.0.1-SNAPSHOT-abc1234",
            "summary": "Says hello",
            "description": "Says hello.\nIn two lines: \"quoted\" too.",
            "base": "core24",
            "grade": "stable",
            "confinement": "strict",
            "architectures": ["arm64"],
            "apps": {"hello": {"command": "bin/hello", "plugs": ["network"]}},
        })
    );
}

#[test]
fn snap_build_errors_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = built_package(dir.path(), "amd64");
    let input = input("1.2.3", vec![p.clone()]);

    let err = build_with(
        "mksquashfs-not-installed",
        &input.release,
        &opts(),
        &p,
        &out,
        1,
    )
    .unwrap_err();
    assert!(
        matches!(&err, PublishError::Tool { program, package, detail, .. }
            if program == "mksquashfs" && package == "squashfs-tools" && detail.contains("not installed")),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        0,
        "no partial file left"
    );

    let mut missing = p.clone();
    missing.binary_file = dir.path().join("no-such-binary");
    let err = build_snap(&input.release, &opts(), &missing, &out).unwrap_err();
    assert!(
        matches!(&err, PublishError::Io { path, .. } if path.ends_with("no-such-binary")),
        "{err:?}"
    );

    let mut early = input.clone();
    early.release.timestamp = -1;
    assert!(invalid_message(build_snap(&early.release, &opts(), &p, &out)).contains("timestamp"));
    let windows = package("windows", "amd64", Format::Zip);
    assert!(
        invalid_message(build_snap(&input.release, &opts(), &windows, &out)).contains("Linux only")
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

#[test]
fn snap_build_reports_a_failing_mksquashfs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let p = built_package(dir.path(), "amd64");
    let input = input("1.2.3", vec![p.clone()]);
    // `false` exits 1 without writing: the partial file must not be kept.
    let err = build_with("false", &input.release, &opts(), &p, &out, 1).unwrap_err();
    assert!(
        matches!(&err, PublishError::Tool { detail, .. } if detail.contains("exit status: 1")),
        "{err:?}"
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

/// Snaps packed side by side (as package jobs pack them), each with a
/// share of the threads, are byte for byte the snaps packed one after
/// the other with one thread or with four.
#[test]
fn parallel_snaps_match_sequential_ones_whatever_the_thread_count() {
    let Some(()) = require(squashfs_tools()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Several 128 KiB squashfs blocks, so more threads have work to share.
    let exe = dir.path().join("hello");
    let text: Vec<u8> = (0u32..400_000)
        .flat_map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes())
        .collect();
    std::fs::write(&exe, &text).unwrap();
    let packages: Vec<Package> = ["amd64", "arm64", "riscv64"]
        .iter()
        .map(|arch| Package {
            binary_file: exe.clone(),
            ..package("linux", arch, Format::TarGz)
        })
        .collect();
    let input = input("1.2.3", packages.clone());
    let parallel: Vec<_> = std::thread::scope(|s| {
        let packed: Vec<_> = packages
            .iter()
            .map(|p| {
                let (input, out) = (&input, dir.path().join("par"));
                s.spawn(move || build_with("mksquashfs", &input.release, &opts(), p, &out, 2))
            })
            .collect();
        packed
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    assert_eq!(parallel.len(), 3);
    for (p, built) in packages.iter().zip(&parallel) {
        assert!(built.ends_with(format!("hello_1.2.3_{}.snap", p.arch)));
        let bytes = std::fs::read(built).unwrap();
        for processors in [1, 4] {
            let out = dir.path().join(format!("seq{processors}"));
            let one =
                build_with("mksquashfs", &input.release, &opts(), p, &out, processors).unwrap();
            assert_eq!(
                std::fs::read(one).unwrap(),
                bytes,
                "{} -processors {processors}",
                p.arch
            );
        }
    }
}
