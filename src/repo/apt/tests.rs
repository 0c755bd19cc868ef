use std::path::Path;

use super::*;

/// A minimal .deb: debian-binary, control.tar.gz with `control`, an empty
/// data.tar.gz.
fn deb(control: &str) -> Vec<u8> {
    deb_with(control, "control.tar.gz")
}

/// A minimal .deb whose control archive is `member`, compressed as its
/// name says.
fn deb_with(control: &str, member: &str) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(control.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "./control", control.as_bytes())
        .unwrap();
    let plain = tar.into_inner().unwrap();
    let control_tar = match member.rsplit_once('.').map(|(_, ext)| ext) {
        Some("gz") => gzip(&plain),
        Some("xz") => {
            let mut enc = xz2::write::XzEncoder::new(Vec::new(), 6);
            enc.write_all(&plain).unwrap();
            enc.finish().unwrap()
        }
        Some("zst") => zstd::encode_all(&plain[..], 3).unwrap(),
        _ => plain,
    };
    let data_tar = gzip(&tar::Builder::new(Vec::new()).into_inner().unwrap());
    let mut ar = ar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("debian-binary", &b"2.0\n"[..]),
        (member, &control_tar),
        ("data.tar.gz", &data_tar),
    ] {
        let header = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
        ar.append(&header, bytes).unwrap();
    }
    ar.into_inner().unwrap()
}

fn control(version: &str, arch: &str) -> String {
    format!(
        "Package: hello\nVersion: {version}\nArchitecture: {arch}\nMaintainer: M <m@example.invalid>\nDescription: says hello\n more text\n"
    )
}

fn put(repo: &Path, rel: &str, bytes: &[u8]) {
    let p = repo.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn text(files: &[(String, Vec<u8>)], name: &str) -> String {
    let (_, b) = files.iter().find(|(p, _)| p == name).unwrap();
    String::from_utf8(b.clone()).unwrap()
}

#[test]
fn packages_and_release() {
    let repo = tempfile::tempdir().unwrap();
    let bytes = deb(&control("1.0.0", "amd64"));
    put(
        repo.path(),
        "pool/main/h/hello/hello_1.0.0_amd64.deb",
        &bytes,
    );
    let files = index(repo.path(), &AptOptions::default(), 1_700_000_000).unwrap();
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names,
        [
            "dists/stable/main/binary-amd64/Packages",
            "dists/stable/main/binary-amd64/Packages.gz",
            "dists/stable/Release"
        ]
    );
    let packages = text(&files, "dists/stable/main/binary-amd64/Packages");
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    assert_eq!(
        packages,
        format!(
            "Package: hello\nVersion: 1.0.0\nArchitecture: amd64\nMaintainer: M <m@example.invalid>\nDescription: says hello\n more text\nFilename: pool/main/h/hello/hello_1.0.0_amd64.deb\nSize: {}\nMD5sum: {}\nSHA1: {}\nSHA256: {sha}\n",
            bytes.len(),
            hex::encode(md5::Md5::digest(&bytes)),
            hex::encode(sha1::Sha1::digest(&bytes)),
        )
    );
    let release = text(&files, "dists/stable/Release");
    assert!(release.starts_with(
        "Suite: stable\nCodename: stable\nDate: Tue, 14 Nov 2023 22:13:20 UTC\nArchitectures: amd64\nComponents: main\nMD5Sum:\n"
    ));
    let packages_sha = hex::encode(sha2::Sha256::digest(packages.as_bytes()));
    assert!(release.contains(&format!(
        " {packages_sha} {} main/binary-amd64/Packages\n",
        packages.len()
    )));
    // The gzip holds the same text.
    let (_, gz) = &files[1];
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, packages);
}

#[test]
fn second_version_listed_and_reproducible() {
    let repo = tempfile::tempdir().unwrap();
    put(
        repo.path(),
        "pool/main/h/hello/hello_1.0.0_amd64.deb",
        &deb(&control("1.0.0", "amd64")),
    );
    put(
        repo.path(),
        "pool/main/h/hello/hello_1.1.0_amd64.deb",
        &deb(&control("1.1.0", "amd64")),
    );
    put(
        repo.path(),
        "pool/main/h/hello/hello_1.1.0_arm64.deb",
        &deb(&control("1.1.0", "arm64")),
    );
    let opts = AptOptions {
        origin: "Example".into(),
        label: "Example apt".into(),
        ..AptOptions::default()
    };
    let first = index(repo.path(), &opts, 0).unwrap();
    let packages = text(&first, "dists/stable/main/binary-amd64/Packages");
    assert_eq!(packages.matches("Package: hello\n").count(), 2);
    assert!(packages.contains("Version: 1.0.0\n") && packages.contains("Version: 1.1.0\n"));
    let release = text(&first, "dists/stable/Release");
    assert!(release.starts_with("Origin: Example\nLabel: Example apt\n"));
    assert!(release.contains("Architectures: amd64 arm64\n"));
    // Written, then regenerated: the same bytes.
    write_index(repo.path(), &opts, 0).unwrap();
    let again = index(repo.path(), &opts, 0).unwrap();
    assert_eq!(first, again);
    for (p, b) in &first {
        assert_eq!(&std::fs::read(repo.path().join(p)).unwrap(), b);
    }
}

#[test]
fn bad_suite_and_component_are_refused() {
    let repo = tempfile::tempdir().unwrap();
    for (suite, component) in [
        ("st/able", "main"),
        ("stable", "../main"),
        ("", "main"),
        ("-x", "main"),
    ] {
        let opts = AptOptions {
            suite: suite.into(),
            component: component.into(),
            ..AptOptions::default()
        };
        let err = index(repo.path(), &opts, 0).unwrap_err();
        assert!(matches!(err, RepoError::AptOption { .. }), "{err}");
    }
    let opts = AptOptions {
        label: "a\nb".into(),
        ..AptOptions::default()
    };
    assert!(matches!(
        index(repo.path(), &opts, 0).unwrap_err(),
        RepoError::AptOption { what: "label", .. }
    ));
}

#[test]
fn broken_debs_and_links_are_named() {
    let repo = tempfile::tempdir().unwrap();
    put(
        repo.path(),
        "pool/main/x/x/x_1_amd64.deb",
        b"not an ar archive",
    );
    let err = index(repo.path(), &AptOptions::default(), 0).unwrap_err();
    assert!(
        matches!(&err, RepoError::Apt { path, .. } if path.ends_with("x_1_amd64.deb")),
        "{err}"
    );

    let repo = tempfile::tempdir().unwrap();
    put(
        repo.path(),
        "pool/main/h/hello/hello_1_amd64.deb",
        &deb("Package: hello\nArchitecture: amd64\n"),
    );
    let err = index(repo.path(), &AptOptions::default(), 0).unwrap_err();
    assert!(err.to_string().contains("Version"), "{err}");

    let repo = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(repo.path().join("pool/main")).unwrap();
    std::os::unix::fs::symlink(outside.path(), repo.path().join("pool/main/h")).unwrap();
    let err = index(repo.path(), &AptOptions::default(), 0).unwrap_err();
    assert!(matches!(err, RepoError::Symlink { .. }), "{err}");
}

#[test]
fn layout_places_debs_in_the_pool() {
    let layout = layout("main");
    let env = minijinja::Environment::new();
    let render = |artifact: &str| {
        env.render_str(
            layout.template(),
            minijinja::context! { artifact => artifact, version => "1.0.0" },
        )
        .unwrap()
    };
    assert_eq!(
        render("hello_1.0.0_amd64.deb"),
        "pool/main/h/hello/hello_1.0.0_amd64.deb"
    );
    assert_eq!(
        render("deb/hello_1.0.0_arm64.deb"),
        "pool/main/h/hello/hello_1.0.0_arm64.deb"
    );
    assert_eq!(render("SHA256SUMS"), "1.0.0/SHA256SUMS");
}

/// The index lock is exclusive: while one rebuild holds it, another waits,
/// and a rebuild after both debs are in the pool lists both. A link where
/// the lock file goes is refused, never followed.
#[test]
fn index_rebuilds_are_serialized() {
    let repo = tempfile::tempdir().unwrap();
    put(
        repo.path(),
        "pool/main/h/hello/hello_1.0.0_amd64.deb",
        &deb(&control("1.0.0", "amd64")),
    );
    let held = index_lock(repo.path()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let path = repo.path().to_path_buf();
    let waiter = std::thread::spawn(move || {
        write_index(&path, &AptOptions::default(), 0).unwrap();
        tx.send(()).unwrap();
    });
    // The other publish places its deb while the first holds the lock.
    put(
        repo.path(),
        "pool/main/h/hello/hello_1.1.0_amd64.deb",
        &deb(&control("1.1.0", "amd64")),
    );
    assert!(
        rx.recv_timeout(std::time::Duration::from_millis(300))
            .is_err(),
        "the rebuild ran while the lock was held"
    );
    drop(held);
    rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
    waiter.join().unwrap();
    let packages =
        std::fs::read_to_string(repo.path().join("dists/stable/main/binary-amd64/Packages"))
            .unwrap();
    assert!(packages.contains("Version: 1.0.0\n") && packages.contains("Version: 1.1.0\n"));

    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir(other.path().join(".matrix")).unwrap();
    std::os::unix::fs::symlink("/tmp/elsewhere", other.path().join(".matrix/apt.lock")).unwrap();
    assert!(index_lock(other.path()).is_err());
    assert!(!Path::new("/tmp/elsewhere").exists());
}

/// A `.deb` in the pool is outside input, and its Architecture field
/// becomes a folder name (`binary-<arch>`): one with `/` and `..` (issue
/// 14's finding 1) is refused by dpkg's rule before anything is written,
/// and nothing lands outside the repository.
#[test]
fn a_hostile_architecture_never_leaves_dists() {
    let outer = tempfile::tempdir().unwrap();
    let repo = outer.path().join("repo");
    // binary-.. then five `..`: repo/dists/stable/main -> outer.
    let arch = "../../../../../../escaped";
    put(
        &repo,
        "pool/main/h/hello/hello_1.0.0_amd64.deb",
        &deb(&control("1.0.0", arch)),
    );
    let result = write_index(&repo, &AptOptions::default(), 0);
    let escaped = outer.path().join("escaped/Packages");
    assert!(
        !escaped.exists(),
        "the index wrote {} outside the repository ({result:?})",
        escaped.display()
    );
    assert!(result.is_err(), "an Architecture with `/` was accepted");
}

/// The ar header of a GNU long-name reference (`/<index>`) with `size`
/// bytes of data.
fn ar_member(identifier: &str, data: &[u8]) -> Vec<u8> {
    let mut h = format!(
        "{identifier:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
        0,
        0,
        0,
        644,
        data.len()
    )
    .into_bytes();
    assert_eq!(h.len(), 60);
    h.extend_from_slice(data);
    if data.len() % 2 == 1 {
        h.push(b'\n');
    }
    h
}

/// A GNU long-name reference (`/999`) panicked the `ar` crate (issue 14's
/// finding 2); the native reader takes short names only and names the
/// file.
#[test]
fn a_hostile_ar_name_index_is_a_located_error() {
    let repo = tempfile::tempdir().unwrap();
    let mut bytes = b"!<arch>\n".to_vec();
    bytes.extend(ar_member("/999", b"x"));
    put(repo.path(), "pool/main/x/x/x_1_amd64.deb", &bytes);
    let path = repo.path().to_path_buf();
    let outcome = std::panic::catch_unwind(move || index(&path, &AptOptions::default(), 0));
    let Ok(result) = outcome else {
        panic!("indexing a hostile .deb panicked instead of naming it");
    };
    let err = result.unwrap_err();
    assert!(
        matches!(&err, RepoError::Apt { path, .. } if path.ends_with("x_1_amd64.deb")),
        "{err}"
    );
}

/// A pool path becomes Packages' Filename: a folder or file name with a
/// newline (legal on Linux) would add fields, or a whole stanza, to the
/// signed index (issue 14's finding 4), so it is refused.
#[test]
fn a_newline_in_a_pool_path_is_refused() {
    let repo = tempfile::tempdir().unwrap();
    put(
        repo.path(),
        "pool/main/h/hello\nInjected: yes/hello_1.0.0_amd64.deb",
        &deb(&control("1.0.0", "amd64")),
    );
    match index(repo.path(), &AptOptions::default(), 0) {
        Err(_) => {}
        Ok(files) => {
            let packages = text(&files, "dists/stable/main/binary-amd64/Packages");
            panic!("a newline in a pool path reached Packages:\n{packages}");
        }
    }
}

/// A member claiming 9,999,999,999 bytes in a 70-byte file made the `ar`
/// crate allocate ~9.3 GiB (issue 14's finding 2b); the native reader
/// refuses a size past the file's end before reading, with the claim in
/// the message.
#[test]
fn a_member_size_past_the_end_of_the_file_is_refused() {
    let repo = tempfile::tempdir().unwrap();
    let mut bytes = b"!<arch>\n".to_vec();
    let mut member = ar_member("debian-binary", b"");
    member[48..58].copy_from_slice(b"9999999999");
    bytes.extend(member);
    put(repo.path(), "pool/main/x/x/x_1_amd64.deb", &bytes);
    let err = index(repo.path(), &AptOptions::default(), 0).unwrap_err();
    assert!(
        matches!(&err, RepoError::Apt { problem, .. } if problem.contains("claims 9999999999 bytes")),
        "{err}"
    );
}

/// dpkg-deb writes control.tar.xz (and .zst on some distributions, plain
/// control.tar on request): each is read; another compression is named.
#[test]
fn control_archives_in_every_compression_dpkg_writes() {
    for member in [
        "control.tar",
        "control.tar.gz",
        "control.tar.xz",
        "control.tar.zst",
    ] {
        let repo = tempfile::tempdir().unwrap();
        put(
            repo.path(),
            "pool/main/h/hello/hello_1.0.0_amd64.deb",
            &deb_with(&control("1.0.0", "amd64"), member),
        );
        let files = index(repo.path(), &AptOptions::default(), 0).unwrap();
        let packages = text(&files, "dists/stable/main/binary-amd64/Packages");
        assert!(
            packages.starts_with("Package: hello\n"),
            "{member}: {packages}"
        );
    }
    let repo = tempfile::tempdir().unwrap();
    put(
        repo.path(),
        "pool/main/h/hello/hello_1.0.0_amd64.deb",
        &deb_with(&control("1.0.0", "amd64"), "control.tar.bz2"),
    );
    let err = index(repo.path(), &AptOptions::default(), 0).unwrap_err();
    assert!(err.to_string().contains("control.tar.bz2"), "{err}");
}

/// Package, Version and Architecture must be what dpkg accepts: each bad
/// one is named with the file.
#[test]
fn control_fields_follow_dpkg_rules() {
    for (field, bad) in [
        (
            "Package",
            "Package: ../x\nVersion: 1\nArchitecture: amd64\n",
        ),
        (
            "Version",
            "Package: hello\nVersion: 1_2\nArchitecture: amd64\n",
        ),
        (
            "Architecture",
            "Package: hello\nVersion: 1\nArchitecture: AMD64\n",
        ),
    ] {
        let repo = tempfile::tempdir().unwrap();
        put(
            repo.path(),
            "pool/main/h/hello/hello_1_amd64.deb",
            &deb(bad),
        );
        let err = index(repo.path(), &AptOptions::default(), 0).unwrap_err();
        assert!(
            matches!(&err, RepoError::Apt { path, problem } if path.ends_with("hello_1_amd64.deb") && problem.contains(field)),
            "{field}: {err}"
        );
    }
}

/// The signed index is written in the order a client can trust at every
/// moment: the Packages files, then Release, Release.gpg, InRelease last.
#[test]
fn index_files_come_in_a_safe_write_order() {
    let repo = tempfile::tempdir().unwrap();
    put(
        repo.path(),
        "pool/main/h/hello/hello_1.0.0_amd64.deb",
        &deb(&control("1.0.0", "amd64")),
    );
    let files = index(repo.path(), &AptOptions::default(), 0).unwrap();
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    let last = names.iter().rposition(|n| n.contains("/Packages")).unwrap();
    assert_eq!(&names[last + 1..], ["dists/stable/Release"]);
}
