use std::io::Write;

use super::*;
use crate::image::oci::{
    Descriptor, MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_TAR,
};

enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Link(&'a str, &'a str),
    Symlink(&'a str, &'a str),
    /// A name written as is, unchecked.
    Raw(&'a str, &'a [u8]),
}

fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        match e {
            E::File(p, data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Dir(p) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Directory);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::Link(p, to) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Link);
                b.append_link(&mut h, p, to).unwrap();
            }
            E::Symlink(p, to) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, p, to).unwrap();
            }
            E::Raw(p, data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                let name = &mut h.as_gnu_mut().unwrap().name;
                name[..p.len()].copy_from_slice(p.as_bytes());
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn image(layout: &Layout, layers: Vec<Descriptor>) -> ImageManifest {
    let config = layout.put_bytes(MEDIA_TYPE_CONFIG, b"{}").unwrap();
    ImageManifest::new(config, layers)
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[test]
fn layers_stack_with_whiteouts_opaque_folders_and_hard_links() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).unwrap();
    let lower = tar_of(&[
        E::Dir("etc"),
        E::File("etc/a", b"a"),
        E::File("./etc/b", b"b"),
        E::Raw("/etc/os-release", b"ID=debian\n"),
        E::File("var/lib/dpkg/status", b"Package: old\n"),
        E::File("dir/x/y", b"y"),
        E::File("gone/deep/file", b"g"),
    ]);
    let upper = tar_of(&[
        E::File("etc/.wh.a", b""),
        E::File("dir/.wh..wh..opq", b""),
        E::File("dir/z", b"z"),
        E::File(".wh.gone", b""),
        E::File("var/lib/dpkg/status", b"Package: new\n"),
        E::Link("etc/b2", "etc/b"),
    ]);
    let layers = vec![
        layout.put_bytes(MEDIA_TYPE_LAYER_TAR, &lower).unwrap(),
        layout
            .put_bytes(MEDIA_TYPE_LAYER_GZIP, &gzip(&upper))
            .unwrap(),
    ];
    let m = image(&layout, layers);
    let keep = |p: &str| p == "var/lib/dpkg/status" || p == "etc/os-release";
    let fs = read(&layout, &m, &keep, Limits::default()).unwrap();
    let paths: Vec<&str> = fs.files.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "dir/z",
            "etc/b",
            "etc/b2",
            "etc/os-release",
            "var/lib/dpkg/status"
        ]
    );
    assert_eq!(fs.files["etc/b2"], fs.files["etc/b"]);
    assert_eq!(fs.files["dir/z"].sha256, sha256_hex(b"z"));
    assert_eq!(fs.files["dir/z"].size, 1);
    assert_eq!(fs.kept["var/lib/dpkg/status"], b"Package: new\n");
    assert_eq!(fs.kept["etc/os-release"], b"ID=debian\n");
    assert_eq!(fs.kept.len(), 2);
}

#[test]
fn hostile_layers_are_refused_with_the_layer_named() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).unwrap();
    let read_one = |entries: &[E], limits: Limits| {
        let layer = layout
            .put_bytes(MEDIA_TYPE_LAYER_TAR, &tar_of(entries))
            .unwrap();
        let m = image(&layout, vec![layer]);
        read(&layout, &m, &|_| true, limits).map(|_| ())
    };
    let e = read_one(&[E::Raw("a/../../etc/passwd", b"x")], Limits::default()).unwrap_err();
    assert!(
        matches!(&e, ImageError::Layer { reason, .. } if reason.contains("climbs out")),
        "{e}"
    );
    let few = Limits {
        max_entries: 2,
        ..Limits::default()
    };
    let e = read_one(&[E::Dir("a"), E::Dir("b"), E::Dir("c")], few).unwrap_err();
    assert!(e.to_string().contains("more than 2 entries"), "{e}");
    let small = Limits {
        max_bytes: 3,
        ..Limits::default()
    };
    let e = read_one(&[E::File("a", b"abcd")], small).unwrap_err();
    assert!(e.to_string().contains("GiB of files"), "{e}");
    let tight = Limits {
        max_kept: 2,
        ..Limits::default()
    };
    let e = read_one(&[E::File("kept", b"abc")], tight).unwrap_err();
    assert!(e.to_string().contains("kept is 3 bytes"), "{e}");

    // A layer whose blob does not match its digest.
    let layer = layout
        .put_bytes(MEDIA_TYPE_LAYER_TAR, &tar_of(&[E::File("a", b"a")]))
        .unwrap();
    let mut lying = layer.clone();
    lying.size += 1;
    let e = read(
        &layout,
        &image(&layout, vec![lying]),
        &|_| false,
        Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, ImageError::Corrupt { .. }), "{e}");
    let mut odd = layer;
    odd.media_type = "application/x-foreign".into();
    let e = read(
        &layout,
        &image(&layout, vec![odd]),
        &|_| false,
        Limits::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not a layer matrix reads"), "{e}");
}

#[test]
fn review13_hard_links_do_not_multiply_kept_bytes() {
    // One kept file of max_kept bytes, then hard links to it under status.d/:
    // no extra content bytes are read, yet each link clones the content.
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).unwrap();
    let body = vec![b'x'; 1 << 20];
    let names: Vec<String> = (0..64)
        .map(|i| format!("var/lib/dpkg/status.d/p{i}"))
        .collect();
    let mut entries = vec![E::File("var/lib/dpkg/status", &body)];
    entries.extend(names.iter().map(|n| E::Link(n, "var/lib/dpkg/status")));
    let layer = layout
        .put_bytes(MEDIA_TYPE_LAYER_TAR, &tar_of(&entries))
        .unwrap();
    let manifest = image(&layout, vec![layer]);
    let keep = |p: &str| p == "var/lib/dpkg/status" || p.starts_with("var/lib/dpkg/status.d/");
    let limits = Limits {
        max_bytes: 2 << 20,
        max_entries: 1000,
        max_kept: 1 << 20,
    };
    let fs = read(&layout, &manifest, &keep, limits);
    let held: usize = fs
        .as_ref()
        .map(|f| f.kept.values().map(Vec::len).sum())
        .unwrap_or(0);
    assert!(
        held as u64 <= limits.max_bytes,
        "kept {held} bytes in memory with max_bytes {}",
        limits.max_bytes
    );
    // The link that would pass the cap is named; within it links are kept.
    let e = fs.unwrap_err().to_string();
    assert!(
        e.contains("var/lib/dpkg/status.d/p0 brings the files") && e.contains("1 MiB kept"),
        "{e}"
    );
    let roomy = Limits {
        max_kept: 3 << 20,
        ..limits
    };
    let layer = layout
        .put_bytes(MEDIA_TYPE_LAYER_TAR, &tar_of(&entries[..3]))
        .unwrap();
    let fs = read(&layout, &image(&layout, vec![layer]), &keep, roomy).unwrap();
    assert_eq!(fs.kept.len(), 3);
    assert_eq!(fs.kept["var/lib/dpkg/status.d/p1"], body);
}

#[test]
fn review13_kept_files_share_one_cap_and_replaced_ones_free_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).unwrap();
    let keep = |p: &str| p.starts_with("status.d/") || p == "status";
    let limits = Limits {
        max_kept: 1 << 20,
        ..Limits::default()
    };
    let half = vec![b'x'; 400 << 10];
    let put = |entries: &[E]| {
        layout
            .put_bytes(MEDIA_TYPE_LAYER_TAR, &tar_of(entries))
            .unwrap()
    };
    // Three files of 400 KiB, each under the cap, together over it.
    let three = put(&[
        E::File("status.d/a", &half),
        E::File("status.d/b", &half),
        E::File("status.d/c", &half),
    ]);
    let e = read(&layout, &image(&layout, vec![three]), &keep, limits)
        .unwrap_err()
        .to_string();
    assert!(e.contains("status.d/c brings the files"), "{e}");
    // A layer rewriting dpkg's status (as every `apt-get install` does)
    // frees the bytes of the one it replaces: many layers stay within.
    let layers: Vec<Descriptor> = (0..8).map(|_| put(&[E::File("status", &half)])).collect();
    let fs = read(&layout, &image(&layout, layers), &keep, limits).unwrap();
    assert_eq!(fs.kept["status"], half);
}

#[test]
fn review13_a_symlink_or_device_replacing_a_folder_hides_what_was_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path()).unwrap();
    let lower = tar_of(&[
        E::Dir("etc"),
        E::File("etc/os-release", b"ID=debian\n"),
        E::File("opt/app/bin", b"b"),
        E::File("usr/lib/x", b"x"),
    ]);
    let mut dev = tar::Header::new_gnu();
    dev.set_entry_type(tar::EntryType::Char);
    dev.set_size(0);
    dev.set_mode(0o644);
    let mut upper = tar::Builder::new(Vec::new());
    upper
        .append_data(&mut dev.clone(), "opt/app", std::io::empty())
        .unwrap();
    let mut upper = upper.into_inner().unwrap();
    // Cut the two zero blocks that end the archive, then add the rest.
    upper.truncate(upper.len() - 1024);
    upper.extend(tar_of(&[E::Symlink("etc", "usr/lib"), E::Dir("usr/lib")]));
    let layers = vec![
        layout.put_bytes(MEDIA_TYPE_LAYER_TAR, &lower).unwrap(),
        layout.put_bytes(MEDIA_TYPE_LAYER_TAR, &upper).unwrap(),
    ];
    let keep = |p: &str| p == "etc/os-release";
    let fs = read(&layout, &image(&layout, layers), &keep, Limits::default()).unwrap();
    let paths: Vec<&str> = fs.files.keys().map(String::as_str).collect();
    assert_eq!(paths, ["usr/lib/x"]);
    assert!(fs.kept.is_empty());
}
