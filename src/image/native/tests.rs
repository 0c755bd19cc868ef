//! Tests of the parent module.

use super::*;
use crate::image::dockerfile::parse;
use crate::image::oci::MEDIA_TYPE_LAYER_GZIP;

const DOCKERFILE: &str = "FROM scratch\nARG NAME=app\nCOPY bin/${NAME} /usr/local/bin/\nCOPY --chmod=0600 --chown=10:20 conf/ /etc/${NAME}/\nCOPY README.md /doc\nCOPY *.txt /txt/\nENV MODE=prod\nLABEL org.opencontainers.image.title=$NAME\nWORKDIR /srv\nUSER 10:20\nEXPOSE 8080\nENTRYPOINT [\"/usr/local/bin/app\"]\nCMD --serve\n";

fn context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    fs::create_dir_all(p.join("bin")).unwrap();
    fs::create_dir_all(p.join("conf/sub")).unwrap();
    fs::write(p.join("bin/app"), b"#!/bin/sh\necho app\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(p.join("bin/app"), fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink("main.toml", p.join("conf/link.toml")).unwrap();
    }
    fs::write(p.join("conf/main.toml"), b"a = 1\n").unwrap();
    fs::write(p.join("conf/sub/extra.toml"), b"b = 2\n").unwrap();
    fs::write(p.join("README.md"), b"readme\n").unwrap();
    fs::write(p.join("a.txt"), b"a\n").unwrap();
    fs::write(p.join("b.txt"), b"b\n").unwrap();
    dir
}

fn build_into(
    ctx: &Path,
    layout_dir: &Path,
    text: &str,
) -> Result<(Layout, Descriptor), ImageError> {
    let df = parse(text, Path::new("Dockerfile"), &BTreeMap::new())?;
    let layout = Layout::create(layout_dir)?;
    let labels = BTreeMap::from([(
        "org.opencontainers.image.version".to_string(),
        "1.2.3".to_string(),
    )]);
    let platform = Platform::new("linux", "arm", Some("v7"));
    let desc = build(&NativeBuild {
        dockerfile: &df,
        context: ctx,
        platform: &platform,
        labels: &labels,
        created: 1_700_000_000,
        layout: &layout,
    })?;
    Ok((layout, desc))
}

#[test]
fn builds_are_reproducible_and_sensitive_to_content() {
    let ctx = context();
    let out = tempfile::tempdir().unwrap();
    let (_, one) = build_into(ctx.path(), &out.path().join("one"), DOCKERFILE).unwrap();
    let (_, two) = build_into(ctx.path(), &out.path().join("two"), DOCKERFILE).unwrap();
    assert_eq!(one, two);
    assert_eq!(
        one.platform,
        Some(Platform::new("linux", "arm", Some("v7")))
    );
    fs::write(ctx.path().join("conf/main.toml"), b"a = 2\n").unwrap();
    let (_, three) = build_into(ctx.path(), &out.path().join("three"), DOCKERFILE).unwrap();
    assert_ne!(one.digest, three.digest);
}

#[test]
fn config_and_layer_are_as_docker_would_make_them() {
    let ctx = context();
    let out = tempfile::tempdir().unwrap();
    let (layout, desc) = build_into(ctx.path(), &out.path().join("img"), DOCKERFILE).unwrap();
    let manifest: ImageManifest = layout.read_json(&desc.digest).unwrap();
    assert_eq!(manifest.layers.len(), 1);
    assert_eq!(manifest.layers[0].media_type, MEDIA_TYPE_LAYER_GZIP);
    let config: ImageConfig = layout.read_json(&manifest.config.digest).unwrap();
    assert_eq!(config.created.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert_eq!(
        (config.os.as_str(), config.architecture.as_str()),
        ("linux", "arm")
    );
    assert_eq!(config.variant.as_deref(), Some("v7"));
    let rc = &config.config;
    assert_eq!(
        rc.env,
        vec![format!("PATH={DEFAULT_PATH}"), "MODE=prod".to_string()]
    );
    assert_eq!(rc.entrypoint, Some(vec!["/usr/local/bin/app".to_string()]));
    assert_eq!(
        rc.cmd,
        Some(vec!["/bin/sh".into(), "-c".into(), "--serve".into()])
    );
    assert_eq!(
        (rc.working_dir.as_str(), rc.user.as_str()),
        ("/srv", "10:20")
    );
    assert_eq!(rc.exposed_ports.keys().collect::<Vec<_>>(), ["8080/tcp"]);
    assert_eq!(rc.labels["org.opencontainers.image.title"], "app");
    assert_eq!(rc.labels["org.opencontainers.image.version"], "1.2.3");

    let gz = layout.read_blob(&manifest.layers[0].digest).unwrap();
    // gzip header: no FNAME flag, mtime 0, OS 255.
    assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut tar_bytes)
        .unwrap();
    assert_eq!(
        config.rootfs.diff_ids,
        vec![crate::image::oci::sha256_digest(&tar_bytes)]
    );

    let mut entries = Vec::new();
    for e in tar::Archive::new(&tar_bytes[..]).entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        assert_eq!(h.mtime().unwrap(), 1_700_000_000);
        assert_eq!(h.username().unwrap().unwrap_or_default(), "");
        let link = h
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned());
        entries.push((
            e.path().unwrap().to_string_lossy().into_owned(),
            h.mode().unwrap(),
            h.uid().unwrap(),
            h.gid().unwrap(),
            link,
        ));
    }
    let want: Vec<(&str, u32, u64, u64, Option<&str>)> = vec![
        ("doc", 0o644, 0, 0, None),
        ("etc/", 0o755, 0, 0, None),
        ("etc/app/", 0o600, 10, 20, None),
        ("etc/app/link.toml", 0o777, 10, 20, Some("main.toml")),
        ("etc/app/main.toml", 0o600, 10, 20, None),
        ("etc/app/sub/", 0o600, 10, 20, None),
        ("etc/app/sub/extra.toml", 0o600, 10, 20, None),
        ("srv/", 0o755, 0, 0, None),
        ("txt/", 0o755, 0, 0, None),
        ("txt/a.txt", 0o644, 0, 0, None),
        ("txt/b.txt", 0o644, 0, 0, None),
        ("usr/", 0o755, 0, 0, None),
        ("usr/local/", 0o755, 0, 0, None),
        ("usr/local/bin/", 0o755, 0, 0, None),
        ("usr/local/bin/app", 0o755, 0, 0, None),
    ];
    let got: Vec<(&str, u32, u64, u64, Option<&str>)> = entries
        .iter()
        .map(|(p, m, u, g, l)| (p.as_str(), *m, *u, *g, l.as_deref()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn sources_outside_the_context_are_refused() {
    let ctx = context();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), b"x").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path().join("secret"), ctx.path().join("escape")).unwrap();
    let table = [
        ("COPY ../x /x", "escapes the build context"),
        ("COPY /etc/passwd /x", "escapes the build context"),
        ("COPY missing /x", "does not exist"),
        ("COPY *.nothing /x/", "matches nothing"),
        #[cfg(unix)]
        ("COPY escape /x", "points outside the build context"),
    ];
    let out = tempfile::tempdir().unwrap();
    for (line, reason) in table {
        let text = format!("FROM scratch\n{line}\n");
        let err = build_into(ctx.path(), &out.path().join("l"), &text).unwrap_err();
        match &err {
            ImageError::CopySource {
                line, reason: r, ..
            } => {
                assert_eq!(*line, 2);
                assert!(r.contains(reason), "{text}: {r}");
            }
            other => panic!("{text}: {other}"),
        }
    }
    let err = build_into(
        ctx.path(),
        &out.path().join("l"),
        "FROM scratch\nRUN true\n",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("line 2: RUN needs a container engine"),
        "{err}"
    );
}

#[test]
fn resolve_cleans_like_docker() {
    let table = [
        ("/", "app", "app"),
        ("/srv", "app/", "srv/app"),
        ("/srv", "/abs", "abs"),
        ("/srv", "../..", ""),
        ("/srv", "./x/./y", "srv/x/y"),
    ];
    for (wd, path, want) in table {
        assert_eq!(resolve(wd, path), want, "{wd} {path}");
    }
}
