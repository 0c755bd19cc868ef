//! Tests of the repository: publish and channels on real directories.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;
use crate::package::Hasher;
use crate::package::manifest::{
    Artifact, ArtifactKind, ChecksumFile, FORMAT, Manifest, Project, Target,
};

fn sha256(bytes: &[u8]) -> String {
    let mut h = Hasher::new(Algorithm::Sha256);
    h.update(bytes);
    format!("sha256:{}", h.finalize_hex())
}

/// Writes a release like `matrix build` leaves it in dist/: two per-target
/// archives (contents vary with `flavour`), the checksums file, manifest.json.
fn release(version: &str, flavour: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let targets = [("linux/amd64", "amd64"), ("linux/arm64", "arm64")];
    let mut artifacts = Vec::new();
    for (id, arch) in targets {
        let name = format!("hello-{arch}.tar.gz");
        let bytes = format!("{flavour} archive for {arch}\n").into_bytes();
        std::fs::write(dir.path().join(&name), &bytes).unwrap();
        artifacts.push(Artifact {
            name: name.clone(),
            path: name,
            kind: ArtifactKind::Archive,
            format: None,
            target: Some(id.into()),
            size: bytes.len() as u64,
            digest: sha256(&bytes),
            binary: None,
        });
    }
    let sums: String = artifacts
        .iter()
        .map(|a| format!("{}  {}\n", a.digest.trim_start_matches("sha256:"), a.name))
        .collect();
    std::fs::write(dir.path().join("SHA256SUMS"), &sums).unwrap();
    artifacts.push(Artifact {
        name: "SHA256SUMS".into(),
        path: "SHA256SUMS".into(),
        kind: ArtifactKind::Checksums,
        format: None,
        target: None,
        size: sums.len() as u64,
        digest: sha256(sums.as_bytes()),
        binary: None,
    });
    let manifest = Manifest {
        format: FORMAT.into(),
        format_version: 1,
        project: Project {
            name: "hello".into(),
            description: String::new(),
            homepage: String::new(),
            license: "MIT".into(),
        },
        version: version.into(),
        tag: format!("v{version}"),
        commit: "deadbeef".into(),
        commit_date: "2024-03-14T00:00:00Z".into(),
        timestamp: 0,
        is_snapshot: false,
        config_sha256: "00".into(),
        checksum: ChecksumFile {
            algorithm: Algorithm::Sha256,
            file: "SHA256SUMS".into(),
        },
        targets: targets
            .iter()
            .map(|(id, arch)| Target {
                id: (*id).into(),
                values: [("os", "linux"), ("arch", *arch), ("platform", "metal")]
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            })
            .collect(),
        artifacts,
        images: vec![],
        shard: None,
        image_parts: vec![],
        missing_targets: vec![],
        jobs: vec![],
    };
    manifest.write(&dir.path().join("manifest.json")).unwrap();
    dir
}

fn read_manifest(dir: &Path) -> Manifest {
    Manifest::read(&dir.join("manifest.json")).unwrap()
}

/// Every path under `dir`, relative, sorted (links not followed).
fn tree(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            e.path().strip_prefix(dir).unwrap().display().to_string()
        })
        .collect();
    out.sort();
    out
}

/// Contents of every regular file under `dir`, for "left untouched" checks.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    tree(dir)
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(dir.join(p)).unwrap().is_file())
        .map(|p| {
            let bytes = std::fs::read(dir.join(&p)).unwrap();
            (p, bytes)
        })
        .collect()
}

fn repo_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    (dir, repo)
}

#[test]
fn publish_channel_set_and_list_round_trip() {
    let dist = release("1.0.0", "first");
    std::fs::set_permissions(
        dist.path().join("hello-amd64.tar.gz"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let (_tmp, repo) = repo_dir();
    let report = publish(dist.path(), &repo, &Layout::flat()).unwrap();
    assert_eq!(report.version, "1.0.0");
    assert_eq!(report.record, repo.join(".matrix/releases/1.0.0.json"));
    let placed: Vec<(&str, &str, bool)> = report
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.path.as_str(), f.reused))
        .collect();
    assert_eq!(
        placed,
        [
            ("hello-amd64.tar.gz", "1.0.0/hello-amd64.tar.gz", false),
            ("hello-arm64.tar.gz", "1.0.0/hello-arm64.tar.gz", false),
            ("SHA256SUMS", "1.0.0/SHA256SUMS", false),
        ]
    );
    assert_eq!(
        tree(&repo),
        [
            ".matrix",
            ".matrix/releases",
            ".matrix/releases/1.0.0.json",
            // Staging is left empty.
            ".matrix/tmp",
            "1.0.0",
            "1.0.0/SHA256SUMS",
            "1.0.0/hello-amd64.tar.gz",
            "1.0.0/hello-arm64.tar.gz",
            "versions",
            "versions/1.0.0",
            "versions/1.0.0/manifest.json",
        ]
    );
    for f in &report.files {
        let name = &f.name;
        assert_eq!(
            std::fs::read(repo.join(&f.path)).unwrap(),
            std::fs::read(dist.path().join(name)).unwrap(),
            "{name}"
        );
    }
    // Modes are fixed, executables stay executable.
    let mode = |p: &str| {
        std::fs::metadata(repo.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("1.0.0/hello-amd64.tar.gz"), 0o755);
    assert_eq!(mode("1.0.0/hello-arm64.tar.gz"), 0o644);
    assert_eq!(mode(".matrix/releases/1.0.0.json"), 0o644);

    // The repository's manifest: the release's, paths rewritten.
    let record = std::fs::read(&report.record).unwrap();
    assert_eq!(
        std::fs::read(repo.join("versions/1.0.0/manifest.json")).unwrap(),
        record
    );
    let copy: Manifest = serde_json::from_slice(&record).unwrap();
    let mut want = read_manifest(dist.path());
    for a in &mut want.artifacts {
        a.path = format!("1.0.0/{}", a.name);
    }
    assert_eq!(copy, want);

    assert_eq!(channel_list(&repo).unwrap(), []);
    channel_set(&repo, "stable", "1.0.0").unwrap();
    assert_eq!(
        channel_list(&repo).unwrap(),
        [("stable".to_owned(), "1.0.0".to_owned())]
    );
    let link = repo.join("channels/stable");
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("../versions/1.0.0")
    );
    // The link resolves to the version's directory.
    assert_eq!(std::fs::read(link.join("manifest.json")).unwrap(), record);
}

#[test]
fn gardenlinux_layout_publish() {
    let dist = release("1443.0", "gl");
    let (_tmp, repo) = repo_dir();
    let report = publish(dist.path(), &repo, &Layout::gardenlinux()).unwrap();
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "amd64/metal-1443.0-hello-amd64.tar.gz",
            "arm64/metal-1443.0-hello-arm64.tar.gz",
            "1443.0/SHA256SUMS",
        ]
    );
    for p in paths {
        assert!(repo.join(p).is_file(), "{p}");
    }
}

#[test]
fn publishing_a_version_twice_fails_and_keeps_the_first() {
    let (_tmp, repo) = repo_dir();
    publish(release("1.0.0", "first").path(), &repo, &Layout::flat()).unwrap();
    let before = snapshot(&repo);
    // The very same release, and a different build claiming the version.
    for flavour in ["first", "second"] {
        let err = publish(release("1.0.0", flavour).path(), &repo, &Layout::flat()).unwrap_err();
        assert!(
            matches!(&err, RepoError::AlreadyPublished { version, .. } if version == "1.0.0"),
            "{flavour}: {err:?}"
        );
        assert_eq!(snapshot(&repo), before, "{flavour}");
    }
    // Another layout would not collide on paths, and is refused all the same.
    let err = publish(
        release("1.0.0", "second").path(),
        &repo,
        &Layout::gardenlinux(),
    )
    .unwrap_err();
    assert!(matches!(err, RepoError::AlreadyPublished { .. }), "{err:?}");
    assert_eq!(snapshot(&repo), before);
}

/// The problems of a refused release, whichever check refused it.
fn problems(err: &RepoError) -> &[String] {
    match err {
        RepoError::Incomplete { problems, .. } | RepoError::Unverified { problems, .. } => problems,
        other => panic!("not a refused release: {other:?}"),
    }
}

#[test]
fn incomplete_or_tampered_releases_are_refused() {
    type Break = fn(&Path);
    // (what is wrong, how to break the release, start of the first problem,
    // refused by `matrix verify` rather than by the manifest check)
    let cases: [(&str, Break, &str, bool); 5] = [
        (
            "missing",
            |d| std::fs::remove_file(d.join("hello-arm64.tar.gz")).unwrap(),
            "hello-arm64.tar.gz: missing",
            true,
        ),
        (
            "same size, other bytes",
            |d| std::fs::write(d.join("hello-amd64.tar.gz"), b"first archive for amd65\n").unwrap(),
            "hello-amd64.tar.gz: sha256:",
            true,
        ),
        (
            "other size",
            |d| std::fs::write(d.join("hello-amd64.tar.gz"), b"x").unwrap(),
            "hello-amd64.tar.gz: 1 bytes, 24 recorded",
            true,
        ),
        (
            "checksums file missing",
            |d| std::fs::remove_file(d.join("SHA256SUMS")).unwrap(),
            "SHA256SUMS: missing",
            true,
        ),
        (
            "checksums file not listed",
            |d| {
                let mut m = read_manifest(d);
                m.artifacts.retain(|a| a.name != "SHA256SUMS");
                m.write(&d.join("manifest.json")).unwrap();
            },
            "the checksums file SHA256SUMS is not among the artifacts",
            false,
        ),
    ];
    for (what, break_it, want, by_verify) in cases {
        let dist = release("1.0.0", "first");
        break_it(dist.path());
        let (_tmp, repo) = repo_dir();
        let err = publish(dist.path(), &repo, &Layout::flat()).unwrap_err();
        assert_eq!(
            matches!(err, RepoError::Unverified { .. }),
            by_verify,
            "{what}: {err:?}"
        );
        assert!(problems(&err)[0].starts_with(want), "{what}: {err:?}");
        // Refused before the repository is even created.
        assert!(!repo.exists(), "{what}: {:?}", tree(&repo));
    }

    // A manifest pointing outside the release is refused, not followed.
    let dist = release("1.0.0", "first");
    let mut m = read_manifest(dist.path());
    m.artifacts[0].path = "../../etc/passwd".into();
    m.write(&dist.path().join("manifest.json")).unwrap();
    let (_tmp, repo) = repo_dir();
    let err = publish(dist.path(), &repo, &Layout::flat()).unwrap_err();
    assert!(
        matches!(&err, RepoError::Incomplete { problems, .. } if problems[0].contains("outside the release")),
        "{err:?}"
    );

    // No manifest at all: not a release.
    let empty = tempfile::tempdir().unwrap();
    let err = publish(empty.path(), &repo, &Layout::flat()).unwrap_err();
    assert!(matches!(err, RepoError::Manifest { .. }), "{err:?}");
}

#[test]
fn an_interrupted_publish_is_finished_by_the_same_release_only() {
    let (_tmp, repo) = repo_dir();
    let dist = release("1.0.0", "first");
    publish(dist.path(), &repo, &Layout::flat()).unwrap();
    // A crash just before the record: files in place, version not published.
    std::fs::remove_file(repo.join(".matrix/releases/1.0.0.json")).unwrap();
    let err = channel_set(&repo, "stable", "1.0.0").unwrap_err();
    assert!(matches!(err, RepoError::NotPublished { .. }), "{err:?}");

    // Another build of the version does not get to reuse the leftovers.
    let err = publish(release("1.0.0", "second").path(), &repo, &Layout::flat()).unwrap_err();
    assert!(
        matches!(&err, RepoError::Conflict { path, .. } if path.ends_with("1.0.0/hello-amd64.tar.gz")),
        "{err:?}"
    );
    assert!(!repo.join(".matrix/releases/1.0.0.json").exists());
    assert_eq!(
        std::fs::read(repo.join("1.0.0/hello-arm64.tar.gz")).unwrap(),
        b"first archive for arm64\n"
    );

    // The same release finishes the job.
    let report = publish(dist.path(), &repo, &Layout::flat()).unwrap();
    assert!(report.files.iter().all(|f| f.reused), "{report:?}");
    channel_set(&repo, "stable", "1.0.0").unwrap();
}

#[test]
fn a_foreign_file_at_a_layout_path_blocks_the_whole_publish() {
    let (_tmp, repo) = repo_dir();
    std::fs::create_dir_all(repo.join("2.0.0")).unwrap();
    std::fs::write(repo.join("2.0.0/SHA256SUMS"), "someone else's\n").unwrap();
    let err = publish(release("2.0.0", "first").path(), &repo, &Layout::flat()).unwrap_err();
    assert!(
        matches!(&err, RepoError::Conflict { path, .. } if path.ends_with("2.0.0/SHA256SUMS")),
        "{err:?}"
    );
    let help = miette::Diagnostic::help(&err).unwrap().to_string();
    assert!(
        help.contains("a layout that includes {{ version }},"),
        "{help}"
    );
    // Checked before placing anything: the other artifacts are not there.
    assert_eq!(
        tree(&repo),
        [".matrix", ".matrix/tmp", "2.0.0", "2.0.0/SHA256SUMS"]
    );
}

#[test]
fn channels_only_point_at_complete_published_versions() {
    let (_tmp, repo) = repo_dir();
    let err = channel_set(&repo, "stable", "1.0.0").unwrap_err();
    assert!(
        matches!(&err, RepoError::NotPublished { version, .. } if version == "1.0.0"),
        "{err:?}"
    );
    publish(release("1.0.0", "first").path(), &repo, &Layout::flat()).unwrap();

    for name in ["", ".hidden", "-x", "a/b", "..", "a b", &"c".repeat(65)] {
        let err = channel_set(&repo, name, "1.0.0").unwrap_err();
        assert!(
            matches!(err, RepoError::InvalidChannel { .. }),
            "{name:?}: {err:?}"
        );
    }
    let err = channel_set(&repo, "stable", "../1.0.0").unwrap_err();
    assert!(matches!(err, RepoError::InvalidVersion { .. }), "{err:?}");

    // Damage after publishing: a tampered file, then a missing one.
    let file = repo.join("1.0.0/hello-arm64.tar.gz");
    std::fs::write(&file, b"first archive for arm65\n").unwrap();
    let err = channel_set(&repo, "stable", "1.0.0").unwrap_err();
    match &err {
        RepoError::Damaged { problems, .. } => assert_eq!(
            problems,
            &["1.0.0/hello-arm64.tar.gz does not match its digest".to_owned()]
        ),
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(&file).unwrap();
    std::fs::remove_file(repo.join("versions/1.0.0/manifest.json")).unwrap();
    let err = channel_set(&repo, "stable", "1.0.0").unwrap_err();
    match &err {
        RepoError::Damaged { problems, .. } => {
            assert_eq!(problems.len(), 2, "{problems:?}");
            assert!(problems[1].ends_with("1.0.0/hello-arm64.tar.gz is missing"));
        }
        other => panic!("{other:?}"),
    }
    assert!(!repo.join("channels/stable").exists());
}

#[test]
fn switching_a_channel_is_one_rename() {
    let (_tmp, repo) = repo_dir();
    for version in ["1.0.0", "1.1.0"] {
        publish(release(version, version).path(), &repo, &Layout::flat()).unwrap();
    }
    channel_set(&repo, "stable", "1.0.0").unwrap();
    channel_set(&repo, "beta", "1.1.0").unwrap();
    channel_set(&repo, "stable", "1.1.0").unwrap();
    assert_eq!(
        std::fs::read_link(repo.join("channels/stable")).unwrap(),
        Path::new("../versions/1.1.0")
    );
    // No temporary link left behind.
    assert_eq!(tree(&repo.join("channels")), ["beta", "stable"]);
    assert_eq!(
        channel_list(&repo).unwrap(),
        [
            ("beta".to_owned(), "1.1.0".to_owned()),
            ("stable".to_owned(), "1.1.0".to_owned()),
        ]
    );
    // Setting it to where it already points is fine.
    channel_set(&repo, "stable", "1.1.0").unwrap();
    assert_eq!(tree(&repo.join("channels")), ["beta", "stable"]);
}

#[test]
fn listing_reports_entries_that_are_not_channel_links() {
    let (_tmp, repo) = repo_dir();
    publish(release("1.0.0", "first").path(), &repo, &Layout::flat()).unwrap();
    channel_set(&repo, "stable", "1.0.0").unwrap();
    let channels = repo.join("channels");
    // A switch in progress (hidden temporary link) is not listed.
    std::os::unix::fs::symlink("../versions/1.0.0", channels.join(".beta.tmp-abcdef")).unwrap();
    assert_eq!(channel_list(&repo).unwrap().len(), 1);

    type Make = fn(&Path);
    // (entry, how it is made, expected detail)
    let cases: [(&str, Make, &str); 3] = [
        (
            "plain",
            |p| std::fs::write(p, "x").unwrap(),
            "it is not a symbolic link",
        ),
        (
            "elsewhere",
            |p| std::os::unix::fs::symlink("/tmp", p).unwrap(),
            "it points at /tmp",
        ),
        (
            "unpublished",
            |p| std::os::unix::fs::symlink("../versions/9.9.9", p).unwrap(),
            "version 9.9.9 is not published",
        ),
    ];
    for (name, make, want) in cases {
        let path = channels.join(name);
        make(&path);
        let err = channel_list(&repo).unwrap_err();
        assert!(
            matches!(&err, RepoError::BrokenChannel { name: n, detail, .. } if n == name && detail == want),
            "{name}: {err:?}"
        );
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn version_names() {
    for ok in [
        "1.2.3",
        "1.3.0-rc.1+build.5",
        "1443.0",
        "1443.0-deadbee",
        "v2_x",
    ] {
        assert!(check_version(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        ".hidden",
        "-rf",
        "1.0/../x",
        "..",
        "a b",
        "1.0\n",
        &"9".repeat(129),
    ] {
        assert!(
            matches!(check_version(bad), Err(RepoError::InvalidVersion { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn digests_and_inner_paths() {
    let hex = "ab".repeat(32);
    assert_eq!(
        parse_digest(&format!("sha256:{hex}")),
        Some((Algorithm::Sha256, hex.as_str()))
    );
    let long = "0f".repeat(64);
    assert_eq!(
        parse_digest(&format!("sha512:{long}")),
        Some((Algorithm::Sha512, long.as_str()))
    );
    for bad in [
        format!("md5:{hex}"),
        format!("sha256:{}", &hex[1..]),
        format!("sha256:{}", hex.to_uppercase()),
        hex.clone(),
    ] {
        assert_eq!(parse_digest(&bad), None, "{bad}");
    }
    for (path, inner) in [
        ("a.tar.gz", true),
        ("sub/a.tar.gz", true),
        ("", false),
        ("/etc/passwd", false),
        ("../a", false),
        ("a/./b", false),
        ("a//b", false),
    ] {
        assert_eq!(is_inner_path(path), inner, "{path}");
    }
}

mod symlinks;
