//! Unit tests of the merge checks; the end-to-end shard/merge runs are in
//! tests/integration/shards.rs.

use super::*;

#[test]
fn names_must_stay_inside_the_folder() {
    let dir = Path::new("/s");
    for bad in [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a//b",
        "./a",
        "a\\b",
        "a\nb",
    ] {
        assert!(check_name(dir, bad).is_err(), "{bad:?} was accepted");
    }
    for good in ["hello_1.2.3_linux_amd64.tar.gz", "snap/hello.snap"] {
        assert!(check_name(dir, good).is_ok(), "{good:?} was refused");
    }
}

#[test]
fn unknown_files_and_symlinks_are_found() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifest.json"), "{}").unwrap();
    std::fs::write(dir.path().join("a.tar.gz"), "x").unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(dir.path().join("logs/build.log"), "x").unwrap();
    let recorded: BTreeSet<PathBuf> = [PathBuf::from("a.tar.gz")].into();
    assert!(find_unknown(dir.path(), &recorded).is_ok());
    std::fs::write(dir.path().join("extra.txt"), "x").unwrap();
    assert!(matches!(
        find_unknown(dir.path(), &recorded),
        Err(MergeError::Unknown { .. })
    ));
    std::fs::remove_file(dir.path().join("extra.txt")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
    assert!(matches!(
        find_unknown(dir.path(), &recorded),
        Err(MergeError::Symlink { .. })
    ));
}
