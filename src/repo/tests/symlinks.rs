//! Symlink attacks on publish and channels: every one refused with the path
//! named, nothing read through the link, nothing written outside or into the
//! repository.

use std::os::unix::fs::symlink;
use std::path::Path;

use super::{problems, read_manifest, release, repo_dir, sha256, snapshot, tree};
use crate::repo::{Layout, RepoError, channel_list, channel_set, publish};

/// A secret outside everything, and the release recording it under an
/// archive's name, digest and size correct: only the link gives it away.
#[test]
fn a_release_file_linked_elsewhere_is_not_published() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("passwd");
    std::fs::write(&secret, b"root:x:0:0:root:/root:/bin/sh\n").unwrap();
    for target in [secret.as_path(), Path::new("/etc/passwd")] {
        let dist = release("1.0.0", "first");
        let name = "hello-amd64.tar.gz";
        std::fs::remove_file(dist.path().join(name)).unwrap();
        symlink(target, dist.path().join(name)).unwrap();
        let bytes = std::fs::read(target).unwrap();
        let mut m = read_manifest(dist.path());
        let a = m.artifacts.iter_mut().find(|a| a.name == name).unwrap();
        a.size = bytes.len() as u64;
        a.digest = sha256(&bytes);
        m.write(&dist.path().join("manifest.json")).unwrap();

        let (_tmp, repo) = repo_dir();
        let err = publish(dist.path(), &repo, &Layout::flat()).unwrap_err();
        assert!(
            problems(&err).iter().any(|p| p.starts_with(name)),
            "{target:?}: {err:?}"
        );
        assert!(!repo.exists(), "{:?}", tree(&repo));
    }
}

/// A linked manifest.json is refused before it is read.
#[test]
fn a_linked_manifest_is_refused() {
    let real = release("1.0.0", "first");
    let dist = tempfile::tempdir().unwrap();
    for name in ["hello-amd64.tar.gz", "hello-arm64.tar.gz", "SHA256SUMS"] {
        std::fs::copy(real.path().join(name), dist.path().join(name)).unwrap();
    }
    let link = dist.path().join("manifest.json");
    symlink(real.path().join("manifest.json"), &link).unwrap();
    let (_tmp, repo) = repo_dir();
    let err = publish(dist.path(), &repo, &Layout::flat()).unwrap_err();
    assert!(
        matches!(&err, RepoError::Symlink { path } if *path == link),
        "{err:?}"
    );
    assert!(!repo.exists());
}

/// The copy itself refuses a link even when `verify` is not the one to
/// notice (the file is swapped for a link after verification).
#[test]
fn staging_opens_release_files_without_following_links() {
    let dist = release("1.0.0", "first");
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(outside.path().join("sub")).unwrap();
    std::fs::copy(
        dist.path().join("hello-arm64.tar.gz"),
        outside.path().join("sub/hello-arm64.tar.gz"),
    )
    .unwrap();
    // A linked folder on the way to the file, and a linked file.
    for (path, link_to) in [
        ("sub", outside.path().join("sub")),
        (
            "hello-arm64.tar.gz",
            outside.path().join("sub/hello-arm64.tar.gz"),
        ),
    ] {
        let rel = if path == "sub" {
            "sub/hello-arm64.tar.gz"
        } else {
            path
        };
        let found = crate::repo::nofollow::open(dist.path(), Path::new(rel));
        assert!(found.is_ok(), "{path}: real file first");
        let real = dist.path().join(path);
        if real.exists() {
            std::fs::remove_file(&real).unwrap();
        }
        symlink(&link_to, &real).unwrap();
        match crate::repo::nofollow::open(dist.path(), Path::new(rel)) {
            Err(crate::repo::nofollow::Refused::Symlink(p)) => assert_eq!(p, real),
            Err(other) => panic!("{path}: {other}"),
            Ok(_) => panic!("{path}: followed the link"),
        }
        std::fs::remove_file(&real).unwrap();
        if path == "sub" {
            std::fs::create_dir(&real).unwrap();
            std::fs::copy(
                link_to.join("hello-arm64.tar.gz"),
                real.join("hello-arm64.tar.gz"),
            )
            .unwrap();
        } else {
            std::fs::copy(&link_to, &real).unwrap();
        }
    }
    // A FIFO under an archive's name is refused, not waited on.
    let fifo = dist.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    assert!(matches!(
        crate::repo::nofollow::open(dist.path(), Path::new("fifo")),
        Err(crate::repo::nofollow::Refused::NotAFile(_))
    ));
}

/// Folders of the repository linked elsewhere: the version folder a flat
/// layout writes into, the state folder, `versions/`. Each is refused with
/// its path and the place it points at stays empty.
#[test]
fn linked_repository_folders_are_never_written_through() {
    for linked in ["1.0.0", ".matrix", ".matrix/releases", "versions"] {
        let (_tmp, repo) = repo_dir();
        let outside = tempfile::tempdir().unwrap();
        let link = repo.join(linked);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        symlink(outside.path(), &link).unwrap();
        let err = publish(release("1.0.0", "first").path(), &repo, &Layout::flat()).unwrap_err();
        assert!(
            matches!(&err, RepoError::Symlink { path } if *path == link),
            "{linked}: {err:?}"
        );
        assert!(err.to_string().contains(&link.display().to_string()));
        assert_eq!(tree(outside.path()), Vec::<String>::new(), "{linked}");
        assert!(
            !repo.join(".matrix/releases/1.0.0.json").exists(),
            "{linked}: published"
        );
    }
    // A linked folder deeper in a layout's path (gardenlinux: `<arch>/`).
    let (_tmp, repo) = repo_dir();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(&repo).unwrap();
    symlink(outside.path(), repo.join("arm64")).unwrap();
    let err = publish(
        release("1443.0", "gl").path(),
        &repo,
        &Layout::gardenlinux(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, RepoError::Symlink { path } if path.ends_with("arm64")),
        "{err:?}"
    );
    assert_eq!(tree(outside.path()), Vec::<String>::new());
    // The root itself is the user's to choose, and may be a link.
    let (_tmp, real) = repo_dir();
    std::fs::create_dir_all(&real).unwrap();
    let root_link = real.parent().unwrap().join("via-link");
    symlink(&real, &root_link).unwrap();
    publish(
        release("1.0.0", "first").path(),
        &root_link,
        &Layout::flat(),
    )
    .unwrap();
    assert!(real.join(".matrix/releases/1.0.0.json").is_file());
}

/// A published file or version folder replaced by a link (even to identical
/// bytes) makes the version damaged: no channel may point at it, and a
/// channel already pointing through a linked version folder is listed as
/// broken.
#[test]
fn channels_refuse_linked_files_and_version_folders() {
    let (_tmp, repo) = repo_dir();
    publish(release("1.0.0", "first").path(), &repo, &Layout::flat()).unwrap();
    let outside = tempfile::tempdir().unwrap();

    let file = repo.join("1.0.0/hello-arm64.tar.gz");
    let copy = outside.path().join("hello-arm64.tar.gz");
    std::fs::rename(&file, &copy).unwrap();
    symlink(&copy, &file).unwrap();
    let before = snapshot(&repo);
    let err = channel_set(&repo, "stable", "1.0.0").unwrap_err();
    match &err {
        RepoError::Damaged { problems, .. } => assert_eq!(
            problems,
            &[format!("{} is a symbolic link", file.display())]
        ),
        other => panic!("{other:?}"),
    }
    assert!(!repo.join("channels/stable").exists());
    assert_eq!(snapshot(&repo), before);
    std::fs::remove_file(&file).unwrap();
    std::fs::rename(&copy, &file).unwrap();
    channel_set(&repo, "stable", "1.0.0").unwrap();

    // The version folder swapped for a link to an identical copy.
    let version = repo.join("versions/1.0.0");
    let moved = outside.path().join("1.0.0");
    std::fs::rename(&version, &moved).unwrap();
    symlink(&moved, &version).unwrap();
    let err = channel_set(&repo, "beta", "1.0.0").unwrap_err();
    assert!(
        matches!(&err, RepoError::Damaged { problems, .. }
            if problems == &[format!("{} is a symbolic link", version.display())]),
        "{err:?}"
    );
    assert!(!repo.join("channels/beta").exists());
    let err = channel_list(&repo).unwrap_err();
    assert!(
        matches!(&err, RepoError::BrokenChannel { name, detail, .. }
            if name == "stable" && detail.contains("is a symbolic link")),
        "{err:?}"
    );

    // A linked channels/ folder is neither listed nor written through.
    std::fs::remove_file(&version).unwrap();
    std::fs::rename(&moved, &version).unwrap();
    let channels = repo.join("channels");
    std::fs::rename(&channels, outside.path().join("channels")).unwrap();
    symlink(outside.path().join("channels"), &channels).unwrap();
    let err = channel_set(&repo, "beta", "1.0.0").unwrap_err();
    assert!(
        matches!(&err, RepoError::Symlink { path } if *path == channels),
        "{err:?}"
    );
    let err = channel_list(&repo).unwrap_err();
    assert!(
        matches!(&err, RepoError::Symlink { path } if *path == channels),
        "{err:?}"
    );
    assert_eq!(tree(&outside.path().join("channels")), ["stable"]);
}

/// Every nofollow walk takes plain names only: `..` climbed out of the
/// repository through `create_dirs` (issue 14's finding 1), and a root
/// would replace it.
#[test]
fn paths_that_climb_out_are_refused() {
    use crate::repo::nofollow::{self, Refused};
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("repo");
    std::fs::create_dir(&root).unwrap();
    for rel in ["a/../../escaped", "../escaped", "/tmp/escaped", "./a"] {
        assert!(
            matches!(
                nofollow::create_dirs(&root, Path::new(rel)),
                Err(Refused::NotBelow { .. })
            ),
            "{rel}"
        );
        assert!(matches!(
            nofollow::open(&root, Path::new(rel)),
            Err(Refused::NotBelow { .. })
        ));
    }
    assert!(!outer.path().join("escaped").exists());
    assert!(!root.join("a").exists());
    nofollow::create_dirs(&root, Path::new("a/b")).unwrap();
    assert!(root.join("a/b").is_dir());
}

/// Folders a publish makes are set to 0755 after mkdir, whatever the
/// umask made them (here 0700, as under umask 077): a repository is
/// served to others.
#[test]
fn new_repository_folders_are_0755_whatever_the_umask() {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("pool");
    std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
    crate::repo::nofollow::dir_mode(&dir).unwrap();
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    let link = root.path().join("link");
    symlink(&dir, &link).unwrap();
    // Refused, never followed (Linux says ENOTDIR for a link under
    // O_NOFOLLOW | O_DIRECTORY).
    assert!(matches!(
        crate::repo::nofollow::dir_mode(&link),
        Err(crate::repo::nofollow::Refused::Symlink(_)
            | crate::repo::nofollow::Refused::NotADirectory(_))
    ));
}
