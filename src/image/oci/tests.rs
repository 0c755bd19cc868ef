//! Tests of the parent module.

use super::*;

fn layout() -> (tempfile::TempDir, Layout) {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(&dir.path().join("img")).unwrap();
    (dir, layout)
}

#[test]
fn create_is_idempotent_and_open_checks_the_marker() {
    let (dir, layout) = layout();
    let root = layout.root().to_path_buf();
    let d = layout.put_bytes("text/plain", b"kept").unwrap();
    Layout::create(&root).unwrap();
    assert_eq!(layout.read_blob(&d.digest).unwrap(), b"kept");
    assert_eq!(
        fs::read_to_string(root.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    assert!(Layout::open(&root).is_ok());
    let err = Layout::open(dir.path()).unwrap_err();
    assert!(matches!(err, ImageError::NotALayout { .. }), "{err}");
}

#[test]
fn blobs_are_content_addressed_and_not_rewritten() {
    let (_dir, layout) = layout();
    let d = layout.put_bytes("text/plain", b"hello").unwrap();
    assert_eq!(
        d.digest,
        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(d.size, 5);
    let path = layout.blob_path(&d.digest).unwrap();
    let before = fs::metadata(&path).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(layout.put_bytes("text/plain", b"hello").unwrap(), d);
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
    // No temporary files are left next to the blobs.
    let names: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(names.len(), 1);
}

#[test]
fn streaming_writer_matches_put_bytes_and_detects_corruption() {
    let (_dir, layout) = layout();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut w = layout.blob_writer(MEDIA_TYPE_LAYER_TAR).unwrap();
    for chunk in data.chunks(7000) {
        w.write_all(chunk).unwrap();
    }
    let streamed = w.finish().unwrap();
    assert_eq!(streamed.digest, sha256_digest(&data));
    assert_eq!(streamed.size, data.len() as u64);
    fs::write(layout.blob_path(&streamed.digest).unwrap(), b"tampered").unwrap();
    let err = layout.read_blob(&streamed.digest).unwrap_err();
    assert!(matches!(err, ImageError::Corrupt { .. }), "{err}");
    let missing = sha256_digest(b"nothing");
    assert!(matches!(
        layout.read_blob(&missing).unwrap_err(),
        ImageError::BlobMissing { .. }
    ));
}

#[test]
fn digests_are_validated_before_naming_files() {
    for bad in [
        "sha256:../../etc/passwd",
        "sha512:00",
        "sha256:ABCDEF",
        &format!("sha256:{}", "A".repeat(64)),
    ] {
        assert!(digest_hex(bad).is_err(), "{bad} accepted");
    }
    assert!(digest_hex(&sha256_digest(b"")).is_ok());
}

#[test]
fn json_is_canonical_and_skips_empty_fields() {
    let config = descriptor(MEDIA_TYPE_CONFIG, sha256_digest(b"{}"), 2);
    let manifest = ImageManifest::new(config, vec![]);
    let json = String::from_utf8(canonical_json(&manifest, "m").unwrap()).unwrap();
    assert_eq!(
        json,
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{MEDIA_TYPE_MANIFEST}","config":{{"mediaType":"{MEDIA_TYPE_CONFIG}","digest":"{}","size":2}},"layers":[]}}"#,
            sha256_digest(b"{}")
        )
    );
    // Docker's `null`s read as empty values.
    let cfg: ImageConfig = serde_json::from_str(
        r#"{"architecture":"amd64","os":"linux","config":{"Env":null,"Labels":null,"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":null},"history":null,"docker_version":"20.10"}"#,
    )
    .unwrap();
    assert!(cfg.config.env.is_empty() && cfg.rootfs.diff_ids.is_empty());
    assert_eq!(cfg.config.cmd.as_deref(), Some(&["sh".to_string()][..]));
}

#[test]
fn platforms_parse_print_and_match() {
    let table = [
        ("linux/amd64", "amd64", None),
        ("linux/arm/v7", "arm", Some("v7")),
        ("linux/arm64", "arm64", None),
    ];
    for (text, arch, variant) in table {
        let p = Platform::parse(text).unwrap();
        assert_eq!(
            (p.architecture.as_str(), p.variant.as_deref()),
            (arch, variant)
        );
        assert_eq!(p.to_string(), text);
    }
    for bad in ["linux", "linux/", "linux/arm/", "a/b/c/d"] {
        assert_eq!(Platform::parse(bad), None, "{bad}");
    }
    let arm64 = Platform::parse("linux/arm64").unwrap();
    assert!(arm64.matches(&Platform::parse("linux/arm64/v8").unwrap()));
    assert!(!arm64.matches(&Platform::parse("linux/amd64").unwrap()));
    assert!(
        !Platform::parse("linux/arm/v6")
            .unwrap()
            .matches(&Platform::parse("linux/arm").unwrap())
    );
}

#[test]
fn image_index_is_sorted_and_rejects_duplicates() {
    let (_dir, layout) = layout();
    let mk = |p: &str, body: &[u8]| {
        let mut d = layout.put_bytes(MEDIA_TYPE_MANIFEST, body).unwrap();
        d.platform = Platform::parse(p);
        d
    };
    let a = mk("linux/arm64", b"a");
    let b = mk("linux/amd64", b"b");
    let one = layout.put_image_index(&[a.clone(), b.clone()]).unwrap();
    let two = layout.put_image_index(&[b.clone(), a.clone()]).unwrap();
    assert_eq!(one, two);
    let index: ImageIndex = layout.read_json(&one.digest).unwrap();
    assert_eq!(index.manifests, vec![b.clone(), a.clone()]);
    let dup = mk("linux/arm64/v8", b"c");
    assert!(matches!(
        layout.put_image_index(&[a.clone(), dup]).unwrap_err(),
        ImageError::DuplicatePlatform { .. }
    ));
    let mut bare = a;
    bare.platform = None;
    assert!(matches!(
        layout.put_image_index(&[bare]).unwrap_err(),
        ImageError::MissingPlatform { .. }
    ));
}

#[test]
fn index_json_round_trips_with_ref_names() {
    let (_dir, layout) = layout();
    assert!(layout.read_index().unwrap().manifests.is_empty());
    let mut d = layout.put_bytes(MEDIA_TYPE_MANIFEST, b"{}").unwrap();
    d.annotations
        .insert(ANNOTATION_REF_NAME.to_string(), "1.2.3".to_string());
    layout.write_index(std::slice::from_ref(&d)).unwrap();
    let index = layout.read_index().unwrap();
    assert_eq!(index.media_type, MEDIA_TYPE_INDEX);
    assert_eq!(index.manifests, vec![d]);
}
