//! Importing `docker save` output into an OCI layout.
//!
//! Images that need a container engine are built by docker (or podman),
//! saved with `docker save`, and brought here so that everything after the
//! build (multi-platform indexes, dist archives, pushes) works on OCI
//! layouts without a daemon. Both save formats are read through their
//! top-level `manifest.json` (docker 20.10: `<id>.json` + `<id>/layer.tar`,
//! duplicate layers as symlinks; docker >= 25: paths into `blobs/sha256/`).
//! The config is copied byte for byte, so the image id (its digest) is kept;
//! layers are gzip'd while streaming and checked against the config's
//! diff_ids.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::error::ImageError;
use super::oci::LayerWriter;
use super::oci::{
    Descriptor, ImageConfig, ImageManifest, Layout, MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_MANIFEST, Platform, sha256_digest,
};

/// One image in `manifest.json`.
#[derive(Deserialize)]
struct SavedImage {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// The members of a save archive by normalised path.
type Members = BTreeMap<String, Member>;

/// Where a tar member's data is, or what it links to.
#[derive(Debug, Clone)]
enum Member {
    Data { offset: u64, size: u64 },
    Link(String),
}

/// Imports the single image of a `docker save` archive; the returned
/// manifest descriptor carries the platform from the image config, which
/// must match `platform`.
pub fn import(
    save_tar: &Path,
    layout: &Layout,
    platform: &Platform,
) -> Result<Descriptor, ImageError> {
    let bad = |reason: String| ImageError::DockerArchive {
        archive: save_tar.to_path_buf(),
        reason,
    };
    let (members, manifest_json) = scan(save_tar)?;
    let manifest_json = manifest_json.ok_or_else(|| bad("it has no manifest.json".to_string()))?;
    let mut images: Vec<SavedImage> = serde_json::from_slice(&manifest_json)
        .map_err(|e| bad(format!("manifest.json is not valid: {e}")))?;
    if images.len() != 1 {
        return Err(bad(format!("it holds {} images, expected 1", images.len())));
    }
    let image = images.remove(0);

    let mut file = File::open(save_tar).map_err(|e| ImageError::io(save_tar, e))?;
    let config_bytes = {
        let mut reader = open_member(&mut file, &members, &image.config).map_err(bad)?;
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| ImageError::io(save_tar, e))?;
        bytes
    };
    let config: ImageConfig =
        serde_json::from_slice(&config_bytes).map_err(|source| ImageError::Json {
            what: format!("{} in {}", image.config, save_tar.display()),
            source,
        })?;
    let found = config.platform();
    if !found.matches(platform) {
        return Err(ImageError::PlatformMismatch {
            archive: save_tar.to_path_buf(),
            expected: platform.to_string(),
            found: found.to_string(),
        });
    }
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != image.layers.len() {
        return Err(bad(format!(
            "manifest.json lists {} but the config has {}",
            crate::human::count(image.layers.len(), "layer", "layers"),
            crate::human::count(diff_ids.len(), "diff_id", "diff_ids")
        )));
    }

    let mut layers = Vec::with_capacity(image.layers.len());
    for (path, expected) in image.layers.iter().zip(diff_ids) {
        let reader = open_member(&mut file, &members, path).map_err(bad)?;
        let (desc, actual) = store_layer(layout, reader).map_err(|e| match e {
            StoreError::Read(e) => ImageError::io(save_tar, e),
            StoreError::Image(e) => e,
        })?;
        if &actual != expected {
            return Err(ImageError::LayerMismatch {
                archive: save_tar.to_path_buf(),
                layer: path.clone(),
                expected: expected.clone(),
                actual,
            });
        }
        layers.push(desc);
    }
    let config_desc = layout.put_bytes(MEDIA_TYPE_CONFIG, &config_bytes)?;
    debug_assert_eq!(config_desc.digest, sha256_digest(&config_bytes));
    let mut desc = layout.put_json(
        MEDIA_TYPE_MANIFEST,
        &ImageManifest::new(config_desc, layers),
    )?;
    desc.platform = Some(found);
    Ok(desc)
}

/// Reads the member index of the archive (seeking past data) and the
/// content of `manifest.json`.
fn scan(save_tar: &Path) -> Result<(Members, Option<Vec<u8>>), ImageError> {
    let io_err = |e| ImageError::io(save_tar, e);
    let file = File::open(save_tar).map_err(io_err)?;
    let mut archive = tar::Archive::new(file);
    let mut members = BTreeMap::new();
    let mut manifest = None;
    for entry in archive.entries_with_seek().map_err(io_err)? {
        let mut entry = entry.map_err(io_err)?;
        let name = normalise(&entry.path().map_err(io_err)?.to_string_lossy());
        let kind = entry.header().entry_type();
        let member = if kind.is_symlink() || kind.is_hard_link() {
            let target = entry.link_name().map_err(io_err)?.unwrap_or_default();
            let target = target.to_string_lossy().into_owned();
            // Symlinks are relative to their folder; hard links name a member.
            let resolved = if kind.is_symlink() && !target.starts_with('/') {
                let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                normalise(&format!("{dir}/{target}"))
            } else {
                normalise(&target)
            };
            Member::Link(resolved)
        } else if kind.is_file() {
            if name == "manifest.json" {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(io_err)?;
                manifest = Some(bytes);
            }
            Member::Data {
                offset: entry.raw_file_position(),
                size: entry.size(),
            }
        } else {
            continue;
        };
        members.insert(name, member);
    }
    Ok((members, manifest))
}

/// `./a/../b//c` -> `b/c`: like Go's `path.Clean` without the leading
/// `/`, and `..` stops at the root (also used for paths inside images).
pub(super) fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// A reader over one member's data, following links.
fn open_member<'f>(
    file: &'f mut File,
    members: &Members,
    name: &str,
) -> Result<io::Take<&'f mut File>, String> {
    let mut current = normalise(name);
    // Bounded, so a link cycle cannot loop forever.
    for _ in 0..16 {
        match members.get(&current) {
            Some(Member::Data { offset, size }) => {
                file.seek(SeekFrom::Start(*offset))
                    .map_err(|e| format!("cannot seek to {name}: {e}"))?;
                return Ok(file.take(*size));
            }
            Some(Member::Link(target)) => current = target.clone(),
            None => return Err(format!("{name} is listed in manifest.json but missing")),
        }
    }
    Err(format!("{name} is a link loop"))
}

enum StoreError {
    Read(io::Error),
    Image(ImageError),
}

/// Stores one layer gzip'd (keeping it as is when it already is) and
/// returns its descriptor and the sha256 of its uncompressed tar.
fn store_layer(layout: &Layout, mut reader: impl Read) -> Result<(Descriptor, String), StoreError> {
    let mut head = [0u8; 2];
    let mut got = 0;
    while got < head.len() {
        match reader.read(&mut head[got..]).map_err(StoreError::Read)? {
            0 => break,
            n => got += n,
        }
    }
    let mut reader = (&head[..got]).chain(reader);
    if head[..got] == [0x1f, 0x8b] {
        let mut blob = layout
            .blob_writer(MEDIA_TYPE_LAYER_GZIP)
            .map_err(StoreError::Image)?;
        let mut decoder = flate2::write::GzDecoder::new(HashSink(Sha256::new()));
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf).map_err(StoreError::Read)?;
            if n == 0 {
                break;
            }
            blob.write_all(&buf[..n]).map_err(StoreError::Read)?;
            decoder.write_all(&buf[..n]).map_err(StoreError::Read)?;
        }
        let sink = decoder.finish().map_err(StoreError::Read)?;
        let desc = blob.finish().map_err(StoreError::Image)?;
        Ok((desc, format!("sha256:{}", hex::encode(sink.0.finalize()))))
    } else {
        let mut writer = LayerWriter::new(layout).map_err(StoreError::Image)?;
        io::copy(&mut reader, &mut writer).map_err(StoreError::Read)?;
        writer.finish().map_err(StoreError::Image)
    }
}

struct HashSink(Sha256);

impl Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn layer_tar(name: &str, body: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, body).unwrap();
        b.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// A docker-20.10-style save: two layer dirs, a symlinked duplicate
    /// layer, and one layer stored already gzip'd.
    fn fake_save(
        dir: &Path,
        arch: &str,
        diff_override: Option<&str>,
    ) -> (std::path::PathBuf, Vec<u8>) {
        let l1 = layer_tar("a.txt", b"one");
        let l2 = layer_tar("b.txt", b"two");
        let l2_gz = gzip(&l2);
        let d1 = diff_override.map_or_else(|| sha256_digest(&l1), str::to_string);
        let config = format!(
            r#"{{"architecture":"{arch}","os":"linux","config":{{"Env":null}},"rootfs":{{"type":"layers","diff_ids":["{d1}","{}","{d1}"]}},"docker_version":"20.10.24"}}"#,
            sha256_digest(&l2)
        );
        let manifest = r#"[{"Config":"cfg.json","RepoTags":["x:1"],"Layers":["l1/layer.tar","l2/layer.tar","l3/layer.tar"]}]"#;
        let mut b = tar::Builder::new(Vec::new());
        let mut add = |name: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, data).unwrap();
        };
        add("l1/layer.tar", &l1);
        add("l2/layer.tar", &l2_gz);
        add("cfg.json", config.as_bytes());
        add("manifest.json", manifest.as_bytes());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "l3/layer.tar", "../l1/layer.tar")
            .unwrap();
        let path = dir.join(format!("save-{arch}.tar"));
        std::fs::write(&path, b.into_inner().unwrap()).unwrap();
        (path, config.into_bytes())
    }

    #[test]
    fn imports_old_format_with_links_and_gzip_layers() {
        let dir = tempfile::tempdir().unwrap();
        let (tar_path, config) = fake_save(dir.path(), "arm64", None);
        let layout = Layout::create(&dir.path().join("layout")).unwrap();
        // The config says arm64 without a variant: that is linux/arm64/v8.
        let want = Platform::parse("linux/arm64/v8").unwrap();
        let desc = import(&tar_path, &layout, &want).unwrap();
        assert_eq!(desc.platform, Platform::parse("linux/arm64"));
        let manifest: ImageManifest = layout.read_json(&desc.digest).unwrap();
        assert_eq!(manifest.config.digest, sha256_digest(&config));
        assert_eq!(layout.read_blob(&manifest.config.digest).unwrap(), config);
        assert_eq!(manifest.layers.len(), 3);
        assert_eq!(manifest.layers[0], manifest.layers[2]);
        let l2 = layout.read_blob(&manifest.layers[1].digest).unwrap();
        // The already-gzip'd layer is kept byte for byte.
        assert_eq!(l2, gzip(&layer_tar("b.txt", b"two")));
        // Importing again gives the same digest (deterministic gzip).
        assert_eq!(import(&tar_path, &layout, &want).unwrap(), desc);
    }

    #[test]
    fn wrong_platform_and_diff_id_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(&dir.path().join("layout")).unwrap();
        let (tar_path, _) = fake_save(dir.path(), "amd64", None);
        let err = import(&tar_path, &layout, &Platform::parse("linux/arm64").unwrap()).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ImageError::PlatformMismatch { .. }), "{text}");
        assert!(
            text.contains("linux/amd64") && text.contains("linux/arm64"),
            "{text}"
        );

        let zero = format!("sha256:{}", "0".repeat(64));
        let (tar_path, _) = fake_save(dir.path(), "s390x", Some(&zero));
        let err = import(&tar_path, &layout, &Platform::parse("linux/s390x").unwrap()).unwrap_err();
        match err {
            ImageError::LayerMismatch {
                layer, expected, ..
            } => {
                assert_eq!((layer.as_str(), expected), ("l1/layer.tar", zero));
            }
            other => panic!("{other}"),
        }
    }

    fn docker(args: &[&str]) -> String {
        let out = Command::new("docker")
            .args(args)
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Removes the test image even when an assertion fails.
    struct RemoveImage(String);
    impl Drop for RemoveImage {
        fn drop(&mut self) {
            let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
        }
    }

    #[test]
    fn imports_a_real_docker_save() {
        let available = Command::new("docker")
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success());
        if !available {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("docker is required on CI but `docker info` failed");
            }
            eprintln!("skipping imports_a_real_docker_save: `docker info` failed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path().join("ctx");
        std::fs::create_dir(&ctx).unwrap();
        std::fs::write(ctx.join("hello.txt"), b"hello from matrix\n").unwrap();
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM matrix-base/debian:bookworm\nCOPY hello.txt /hello.txt\nLABEL org.example.test=yes\n",
        )
        .unwrap();
        let tag = format!("matrix-test/oci-import:{}", std::process::id());
        let _cleanup = RemoveImage(tag.clone());
        docker(&["build", "-q", "-t", &tag, ctx.to_str().unwrap()]);
        let save = dir.path().join("image.tar");
        docker(&["save", "-o", save.to_str().unwrap(), &tag]);
        let id = docker(&["inspect", "-f", "{{.Id}}", &tag]);
        let plat = docker(&[
            "inspect",
            "-f",
            "{{.Os}}/{{.Architecture}}{{if .Variant}}/{{.Variant}}{{end}}",
            &tag,
        ]);
        let platform = Platform::parse(&plat).unwrap();

        let layout = Layout::create(&dir.path().join("layout")).unwrap();
        let desc = import(&save, &layout, &platform).unwrap();
        assert!(desc.platform.as_ref().unwrap().matches(&platform));
        let manifest: ImageManifest = layout.read_json(&desc.digest).unwrap();
        assert_eq!(manifest.config.digest, id);
        let config: ImageConfig = layout.read_json(&manifest.config.digest).unwrap();
        assert_eq!(config.config.labels["org.example.test"], "yes");
        assert_eq!(manifest.layers.len(), config.rootfs.diff_ids.len());
        assert!(manifest.layers.len() >= 2, "base layer plus the COPY layer");
        // Verify every stored layer independently of the importer.
        for (layer, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
            assert_eq!(layer.media_type, MEDIA_TYPE_LAYER_GZIP);
            let path = layout.blob_path(&layer.digest).unwrap();
            let mut decoder = flate2::read::GzDecoder::new(File::open(path).unwrap());
            let mut sink = HashSink(Sha256::new());
            io::copy(&mut decoder, &mut sink).unwrap();
            assert_eq!(
                &format!("sha256:{}", hex::encode(sink.0.finalize())),
                diff_id
            );
        }
        // The last layer holds the copied file.
        let top = layout
            .read_blob(&manifest.layers.last().unwrap().digest)
            .unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&top[..]));
        let mut found = false;
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.path().unwrap().to_string_lossy() == "hello.txt" {
                let mut body = String::new();
                entry.read_to_string(&mut body).unwrap();
                assert_eq!(body, "hello from matrix\n");
                found = true;
            }
        }
        assert!(found, "hello.txt missing from the top layer");
    }
}
