//! Unit tests of the image cache's entry checks.

use super::*;
use crate::cache::store::Blob;

fn blob(base: &str, content: &str) -> OutputFile {
    let sha256 = oci::digest_hex(&oci::sha256_digest(content.as_bytes()))
        .unwrap()
        .to_string();
    OutputFile {
        base: base.into(),
        path: sha256.clone(),
        blob: Blob {
            sha256,
            size: content.len() as u64,
        },
        mode: 0o644,
    }
}

fn record(outputs: Vec<OutputFile>) -> Record {
    Record {
        format: crate::cache::FORMAT,
        key: "0".repeat(64),
        job: "image-default-linux-amd64".into(),
        inputs: Inputs::default(),
        outputs,
        log: None,
    }
}

fn descriptor(o: &OutputFile) -> oci::Descriptor {
    oci::Descriptor {
        media_type: oci::MEDIA_TYPE_LAYER_GZIP.into(),
        digest: format!("sha256:{}", o.path),
        size: o.blob.size,
        platform: None,
        annotations: BTreeMap::new(),
    }
}

#[test]
fn an_entry_holds_one_manifest_and_blobs_named_by_their_sha256() {
    let (m, config, layer) = (blob(MANIFEST, "m"), blob(BLOBS, "c"), blob(BLOBS, "l"));
    let good = record(vec![m.clone(), config.clone(), layer.clone()]);
    let (manifest, blobs) = split(&good).unwrap();
    assert_eq!((manifest, blobs), (&m, vec![&config, &layer]));
    let renamed = OutputFile {
        path: "index.json".into(),
        ..layer.clone()
    };
    let elsewhere = OutputFile {
        base: "dist".into(),
        ..layer.clone()
    };
    let misnamed = OutputFile {
        path: config.blob.sha256.clone(),
        ..layer.clone()
    };
    for (outputs, why) in [
        (vec![m.clone(), renamed], "writes only blobs"),
        (vec![m.clone(), elsewhere], "writes only blobs"),
        (
            vec![m.clone(), config.clone(), misnamed],
            "writes only blobs",
        ),
        (vec![m.clone(), layer.clone(), layer.clone()], "twice"),
        (vec![m.clone(), blob(MANIFEST, "n")], "two manifests"),
        (vec![config.clone()], "no manifest"),
    ] {
        let err = split(&record(outputs)).unwrap_err();
        assert!(err.contains(why), "{why}: {err}");
    }
}

#[test]
fn the_manifest_references_exactly_the_blobs_held() {
    let (config, layer, extra) = (blob(BLOBS, "c"), blob(BLOBS, "l"), blob(BLOBS, "x"));
    let manifest = ImageManifest::new(descriptor(&config), vec![descriptor(&layer)]);
    check_references(&manifest, &[&config, &layer]).unwrap();
    for (held, why) in [
        (vec![&config], "does not hold"),
        (vec![&config, &layer, &extra], "does not reference"),
    ] {
        let err = check_references(&manifest, &held).unwrap_err();
        assert!(err.contains(why), "{why}: {err}");
    }
    let mut bigger = manifest.clone();
    bigger.layers[0].size += 1;
    assert!(check_references(&bigger, &[&config, &layer]).is_err());
    let mut index = manifest;
    index.media_type = oci::MEDIA_TYPE_INDEX.into();
    assert!(check_references(&index, &[&config, &layer]).is_err());
}

#[test]
fn a_manifest_is_refused_unless_it_is_the_one_matrix_writes() {
    let (config, layer) = (blob(BLOBS, "c"), blob(BLOBS, "l"));
    let manifest = ImageManifest::new(descriptor(&config), vec![descriptor(&layer)]);
    let bytes = oci::canonical_json(&manifest, "m").unwrap();
    check_form(&manifest, &bytes).unwrap();
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let mut subject = value.clone();
    subject["subject"] = serde_json::to_value(descriptor(&config)).unwrap();
    let mut urls = value.clone();
    urls["layers"][0]["urls"] = serde_json::json!(["https://example.org/l"]);
    value["annotations"] = serde_json::json!({"org.example": "x"});
    for changed in [subject, urls, value] {
        let bytes = serde_json::to_vec(&changed).unwrap();
        let parsed: ImageManifest = serde_json::from_slice(&bytes).unwrap();
        let err = check_form(&parsed, &bytes).unwrap_err();
        assert!(err.contains("not one matrix writes"), "{err}");
    }
    let pretty = serde_json::to_vec_pretty(&manifest).unwrap();
    assert!(check_form(&manifest, &pretty).is_err());
}

/// Docker with its buildx plugin builds with the plugin: another plugin
/// (its version, or its file's content) is another key; podman and
/// docker's classic builder have none.
#[test]
fn the_buildx_plugin_is_part_of_the_engine() {
    use crate::config::EngineKind;
    use crate::engine::Buildx;
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("docker-buildx");
    let engine = |kind, version: Option<&str>| Engine {
        kind,
        program: dir.path().join("docker"),
        version: "27.0".into(),
        classic_builder: version.is_none(),
        buildx: version.map(|v| Buildx {
            version: v.into(),
            file: Some(plugin.clone()),
        }),
    };
    // A new cache is a new run: identities are remembered for a run.
    let key = |run: &str, engine: &Engine| {
        let cache = super::super::tests::cache(&dir.path().join(run));
        let mut i = Inputs::default();
        i.set("engine", engine_identity(&cache, engine));
        i.key()
    };
    std::fs::write(&plugin, "plugin one").unwrap();
    let docker = engine(EngineKind::Docker, Some("v0.17.1"));
    let one = key("a", &docker);
    assert_eq!(one, key("b", &docker));
    assert_ne!(one, key("c", &engine(EngineKind::Docker, Some("v0.18.0"))));
    std::fs::write(&plugin, "plugin two").unwrap();
    assert_ne!(one, key("d", &docker), "the same version, another file");
    let cache = super::super::tests::cache(&dir.path().join("e"));
    for other in [
        engine(EngineKind::Podman, None),
        engine(EngineKind::Docker, None),
    ] {
        let id = engine_identity(&cache, &other);
        assert!(id.get("buildx").is_none(), "{id}");
    }
}
