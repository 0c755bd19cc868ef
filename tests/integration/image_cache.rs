//! Platform image jobs through the action cache: an unchanged natively
//! assembled image is restored into its layout byte for byte; a changed
//! Dockerfile, context file, binary or label makes it run again; a corrupt
//! or hostile entry is dropped with a warning and rerun; an engine-built
//! image is restored, keeps its engine tag only while the engine has it,
//! and reruns when the base image it reads is another.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Project, run, script_config};

const AXES: &str = "os = [\"linux\"]\narch = [\"amd64\", \"arm64\"]";

/// The binary: a script of its architecture and `src/main.txt`.
const BUILD: &str = r#"command = ["sh", "-c", "printf '#!/bin/sh\n# {{ arch }}\n' > \"$0\" && cat src/main.txt >> \"$0\" && chmod +x \"$0\"", "{{ out }}/{{ bin }}"]"#;

const NATIVE: &str = "FROM scratch\nCOPY hello /hello\nCOPY etc/ /etc/hello/\nLABEL kind=native\nENTRYPOINT [\"/hello\"]\n";

/// A project with `[images]` over its two targets, its Dockerfile
/// `Dockerfile` and its cache outside it.
struct Images {
    p: Project,
    cache: PathBuf,
}

impl Images {
    fn new(dockerfile: &str, images: &str, platforms: &str) -> Images {
        let p = Project::new();
        let cache = p.dir.parent().unwrap().join("cache");
        let mut text = script_config(AXES, BUILD);
        text.push_str(&format!(
            "\n[cache]\ndir = \"{}\"\n\n[images]\ndockerfile = \"Dockerfile\"\n\
             context-files = [\"etc/*\"]\nlabels = {{ flavour = \"one\" }}\n{images}\n\
             [images.matrix]\nplatform = {platforms}\n",
            cache.display()
        ));
        p.file("matrix.toml", &text);
        p.file("Dockerfile", dockerfile);
        p.file("etc/greeting.conf", "hello\n");
        p.file("LICENSE", "MIT License\n");
        p.file("README.md", "# hello\n");
        p.file("src/main.txt", "echo one\n");
        p.commit();
        p.git(&["tag", "v1.2.3"]);
        Images { p, cache }
    }

    fn native() -> Images {
        Images::new(
            NATIVE,
            "repositories = [\"example.org/hello\"]\nnative = \"always\"",
            "[\"linux/amd64\", \"linux/arm64\"]",
        )
    }

    /// `matrix build --clean --snapshot --oci-dir` plus `args`; its stderr.
    fn build(&self, args: &[&str]) -> String {
        let mut all = vec!["build", "--clean", "--snapshot", "--oci-dir", "-j", "2"];
        all.extend_from_slice(args);
        let (code, out, err) = run(&mut self.p.matrix(&all));
        assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
        err
    }

    fn manifest(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.p.dist().join("manifest.json")).unwrap())
            .unwrap()
    }

    /// Each image platform job's `restored` flag in the manifest.
    fn restored(&self) -> BTreeMap<String, bool> {
        self.manifest()["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["kind"] == "image")
            .map(|j| {
                let id = j["id"].as_str().unwrap().to_string();
                (id, j["restored"].as_bool().unwrap_or(false))
            })
            .collect()
    }

    /// Asserts every image job was restored (`true`) or ran (`false`).
    fn all_restored(&self, want: bool, why: &str) {
        let restored = self.restored();
        assert!(!restored.is_empty());
        assert!(restored.values().all(|r| *r == want), "{why}: {restored:?}");
    }

    fn log(&self, job: &str) -> String {
        std::fs::read_to_string(self.p.dist().join(format!("logs/{job}.log"))).unwrap_or_default()
    }

    /// Every file of the images' layouts and OCI archives, by path.
    fn image_files(&self) -> BTreeMap<String, Vec<u8>> {
        let dist = self.p.dist();
        walkdir::WalkDir::new(&dist)
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| e.path().strip_prefix(&dist).unwrap().display().to_string())
            .filter(|rel| rel.starts_with("images/oci/") || rel.ends_with(".oci.tar"))
            .map(|rel| {
                let bytes = std::fs::read(dist.join(&rel)).unwrap();
                (rel, bytes)
            })
            .collect()
    }

    /// The cache records of image jobs, by their file.
    fn image_records(&self) -> Vec<(PathBuf, serde_json::Value)> {
        std::fs::read_dir(self.cache.join("ac"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|path| {
                let record: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                (path, record)
            })
            .filter(|(_, r)| r["job"].as_str().unwrap().starts_with("image-"))
            .collect()
    }

    fn edit(&self, file: &str, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.p.dir.join(file)).unwrap();
        assert!(text.contains(from), "{text}");
        self.p.file(file, &text.replacen(from, to, 1));
    }
}

#[test]
fn an_unchanged_native_image_is_restored_byte_for_byte() {
    let c = Images::native();
    c.build(&["--no-cache"]);
    let uncached = c.image_files();
    let digest = c.manifest()["images"][0]["digest"].clone();
    assert!(
        uncached.keys().any(|k| k.ends_with(".oci.tar")),
        "{uncached:?}"
    );

    c.build(&[]);
    c.all_restored(false, "a cold cache builds every image");
    let err = c.build(&[]);
    c.all_restored(true, "an unchanged image is restored");
    let log = c.log("image-default-linux-amd64");
    assert!(log.contains("cache: restored"), "{log}\n{err}");
    assert_eq!(c.manifest()["images"][0]["digest"], digest);
    assert_eq!(c.manifest()["images"][0]["platforms"][0]["native"], true);
    let restored = c.image_files();
    assert_eq!(
        restored.keys().collect::<Vec<_>>(),
        uncached.keys().collect::<Vec<_>>()
    );
    assert!(
        restored == uncached,
        "the layout and archive are the same bytes"
    );

    // `plan --cache-status` says so too.
    let (code, out, err) = run(&mut c.p.matrix(&["plan", "--snapshot", "--cache-status"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let (_, status) = out
        .split_once("\ncache:\n")
        .unwrap_or_else(|| panic!("{out}"));
    let row = status
        .lines()
        .find(|l| l.contains("image-default-linux-arm64"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("hit"), "{out}");
}

#[test]
fn each_input_of_an_image_reruns_it() {
    let c = Images::native();
    c.build(&[]);
    c.build(&[]);
    c.all_restored(true, "unchanged");
    let changes: [(&str, &str, &str); 4] = [
        ("Dockerfile", "LABEL kind=native", "LABEL kind=changed"),
        ("etc/greeting.conf", "hello", "bonjour"),
        ("src/main.txt", "echo one", "echo two"),
        ("matrix.toml", "flavour = \"one\"", "flavour = \"two\""),
    ];
    for (file, from, to) in changes {
        c.edit(file, from, to);
        c.build(&[]);
        c.all_restored(false, file);
        c.build(&[]);
        c.all_restored(true, &format!("{file}, unchanged since"));
    }
    // A context file's mode is copied into the image.
    use std::os::unix::fs::PermissionsExt;
    let conf = c.p.dir.join("etc/greeting.conf");
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();
    c.build(&[]);
    c.all_restored(false, "a context file's mode");
    c.build(&[]);
    c.all_restored(true, "the mode, unchanged since");
    // An image follows its binary's target: `cache = false` runs it.
    c.edit(
        "matrix.toml",
        "verify = false",
        "verify = false\ncache = false",
    );
    c.build(&[]);
    c.build(&[]);
    c.all_restored(false, "cache = false");
    let (code, out, err) = run(&mut c.p.matrix(&["plan", "--snapshot", "--cache-status"]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("image-default-linux-amd64  not cached: cache = false"),
        "{out}"
    );
}

/// A change made to a cache record.
type Edit = fn(&mut serde_json::Value);

/// `edit` applied to every image job's cache record, then a build: its
/// stderr.
fn build_after(c: &Images, edit: impl Fn(&mut serde_json::Value)) -> String {
    for (path, mut record) in c.image_records() {
        edit(&mut record);
        std::fs::write(&path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
    }
    c.build(&[])
}

#[test]
fn a_corrupt_or_hostile_entry_is_dropped_and_the_image_rebuilt() {
    let c = Images::native();
    c.build(&[]);
    let good = c.image_files();
    let digest = c.manifest()["images"][0]["digest"].clone();
    let outputs = |r: &serde_json::Value| r["outputs"].as_array().unwrap().clone();
    // A flipped byte in a stored layer.
    for (_, record) in c.image_records() {
        let layer = outputs(&record)
            .into_iter()
            .max_by_key(|o| o["size"].as_u64())
            .unwrap();
        let blob = c.cache.join("cas").join(layer["sha256"].as_str().unwrap());
        let mut bytes = std::fs::read(&blob).unwrap();
        bytes[10] ^= 0xff;
        std::fs::write(&blob, bytes).unwrap();
    }
    let hostile: [(&str, Edit); 3] = [
        ("", |_| {}),
        // A blob written under another name: over the layout's index.
        ("writes only blobs named by their sha256", |r| {
            r["outputs"][1]["path"] = "index.json".into();
        }),
        // A manifest referencing a blob the entry does not hold.
        ("which it does not hold", |r| {
            r["outputs"].as_array_mut().unwrap().pop();
        }),
    ];
    for (why, edit) in hostile {
        let err = build_after(&c, edit);
        assert!(err.contains("is corrupt"), "{err}");
        assert!(err.contains(why), "{why}: {err}");
        c.all_restored(false, why);
        assert_eq!(c.manifest()["images"][0]["digest"], digest);
        assert!(c.image_files() == good, "{why}: the rebuilt image is right");
    }
    c.build(&[]);
    c.all_restored(true, "the rerun stored a good entry");
    assert!(c.image_files() == good);
}

/// Removes engine images (by tag) when dropped, also when a test fails.
struct Untag(Vec<String>);

impl Drop for Untag {
    fn drop(&mut self) {
        let _ = Command::new("docker").arg("rmi").args(&self.0).output();
    }
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Builds `tag` from `dockerfile` (which reads only local images).
fn docker_build(tag: &str, dockerfile: &str, dir: &Path) {
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    docker(&["build", "-q", "-t", tag, &dir.display().to_string()]);
}

#[test]
fn an_engine_image_is_restored_and_reruns_on_another_base() {
    if !crate::containers::require_engine() {
        return;
    }
    let id = std::process::id();
    let base = format!("matrix-test-{id}/base:one");
    let repo = format!("matrix-test-{id}/hello");
    let scratch = tempfile::tempdir().unwrap();
    docker(&["tag", "matrix-base/busybox:amd64", &base]);
    let dockerfile = "ARG BASE\nFROM ${BASE} AS base\nFROM base\nCOPY hello /usr/local/bin/hello\n\
                      RUN echo built > /built\nENTRYPOINT [\"/usr/local/bin/hello\"]\n";
    let c = Images::new(
        dockerfile,
        &format!("repositories = [\"{repo}\"]\nargs = {{ BASE = \"{base}\" }}"),
        "[\"linux/amd64\"]",
    );
    let mut untag = Untag(vec![base.clone()]);
    c.build(&[]);
    c.all_restored(false, "cold");
    let first = c.manifest()["images"][0].clone();
    let local = first["platforms"][0]["local_tag"]
        .as_str()
        .unwrap()
        .to_string();
    untag.0.push(local.clone());
    assert_eq!(first["platforms"][0]["native"], false);
    let built_id = docker(&["image", "inspect", "--format", "{{.Id}}", &local]);

    // Unchanged: restored, and the engine's image keeps its tag.
    c.build(&[]);
    c.all_restored(true, "unchanged");
    let second = c.manifest()["images"][0].clone();
    assert_eq!(second["digest"], first["digest"]);
    assert_eq!(second["platforms"][0]["local_tag"], local.as_str());
    assert!(c.log("image-default-linux-amd64").contains("tagged"));
    assert_eq!(
        docker(&["image", "inspect", "--format", "{{.Id}}", &local]),
        built_id
    );

    // The engine lost the image: restored, but no tag is claimed.
    docker(&["rmi", &local]);
    c.build(&[]);
    c.all_restored(true, "restored without the engine's image");
    let third = c.manifest()["images"][0].clone();
    assert_eq!(third["digest"], first["digest"]);
    assert!(third["platforms"][0]["local_tag"].is_null(), "{third:#}");
    let log = c.log("image-default-linux-amd64");
    assert!(log.contains("the engine has no image"), "{log}");

    // The base tag now names another image: the image is built again.
    docker_build(
        &base,
        "FROM matrix-base/busybox:amd64\nLABEL another=base\n",
        scratch.path(),
    );
    let err = c.build(&["-v"]);
    c.all_restored(false, "another base image");
    assert!(err.contains("bases"), "the miss names the base: {err}");
    assert_eq!(
        c.manifest()["images"][0]["platforms"][0]["local_tag"],
        local.as_str()
    );
    c.build(&[]);
    c.all_restored(true, "unchanged since");
}

/// Each image job's record by its job id, from the records not in `before`.
fn records_since(
    c: &Images,
    before: &[(PathBuf, serde_json::Value)],
) -> BTreeMap<String, (PathBuf, serde_json::Value)> {
    c.image_records()
        .into_iter()
        .filter(|(path, _)| !before.iter().any(|(b, _)| b == path))
        .map(|(path, r)| (r["job"].as_str().unwrap().to_string(), (path, r)))
        .collect()
}

#[test]
fn an_entry_of_another_platform_leaves_nothing_in_the_layout() {
    let c = Images::native();
    c.build(&[]);
    let good = c.image_files();
    let first = records_since(&c, &[]);
    // Another image of each platform (another label) in the cache.
    c.edit("matrix.toml", "flavour = \"one\"", "flavour = \"two\"");
    c.build(&[]);
    let before: Vec<_> = first.values().cloned().collect();
    let second = records_since(&c, &before);
    c.edit("matrix.toml", "flavour = \"two\"", "flavour = \"one\"");
    // Each platform's entry now holds the other platform's other image:
    // blobs by their sha256, references right, only the config is wrong.
    for (job, other) in [
        ("image-default-linux-amd64", "image-default-linux-arm64"),
        ("image-default-linux-arm64", "image-default-linux-amd64"),
    ] {
        let (path, mut record) = first[job].clone();
        record["outputs"] = second[other].1["outputs"].clone();
        std::fs::write(&path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
    }
    let err = c.build(&[]);
    assert!(err.contains("is corrupt"), "{err}");
    assert!(err.contains("it is an image for linux/"), "{err}");
    c.all_restored(false, "another platform");
    let now = c.image_files();
    assert_eq!(
        now.keys().collect::<Vec<_>>(),
        good.keys().collect::<Vec<_>>(),
        "no blob of the refused entries in the layout or its archive"
    );
    assert!(now == good);
}

#[test]
fn an_entry_whose_layers_are_not_its_configs_is_refused() {
    use sha2::Digest as _;
    let c = Images::native();
    c.build(&[]);
    let good = c.image_files();
    let records = records_since(&c, &[]);
    let blob = |sha: &str| std::fs::read(c.cache.join("cas").join(sha)).unwrap();
    let (path, mut amd64) = records["image-default-linux-amd64"].clone();
    let arm64 = &records["image-default-linux-arm64"].1;
    let manifest_sha = |r: &serde_json::Value| {
        let outputs = r["outputs"].as_array().unwrap();
        let out = outputs.iter().find(|o| o["base"] == "manifest").unwrap();
        out["sha256"].as_str().unwrap().to_string()
    };
    let manifest_of = |r: &serde_json::Value| -> serde_json::Value {
        serde_json::from_slice(&blob(&manifest_sha(r))).unwrap()
    };
    // amd64's config over arm64's layer: the platform and every
    // reference are right, the layer is not the one the config names.
    let layer_of = |m: serde_json::Value| {
        let l = &m["layers"][0];
        format!("\"digest\":{},\"size\":{}", l["digest"], l["size"])
    };
    let (mine, theirs) = (manifest_of(&amd64), manifest_of(arm64));
    let text = String::from_utf8(blob(&manifest_sha(&amd64))).unwrap();
    let text = text.replacen(&layer_of(mine), &layer_of(theirs.clone()), 1);
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(manifest["layers"], theirs["layers"]);
    let bytes = text.into_bytes();
    let sha = hex::encode(sha2::Sha256::digest(&bytes));
    std::fs::write(c.cache.join("cas").join(&sha), &bytes).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap()[7..].to_string();
    let config = manifest["config"]["digest"].as_str().unwrap()[7..].to_string();
    let output = |base: &str, sha: &str| {
        serde_json::json!({"base": base, "path": sha, "sha256": sha,
            "size": blob(sha).len(), "mode": 0o644})
    };
    amd64["outputs"] = serde_json::json!([
        output("manifest", &sha),
        output("blobs", &config),
        output("blobs", &layer)
    ]);
    std::fs::write(&path, serde_json::to_vec_pretty(&amd64).unwrap()).unwrap();
    let err = c.build(&[]);
    assert!(err.contains("is corrupt"), "{err}");
    assert!(err.contains("its config says"), "{err}");
    assert!(!c.restored()["image-default-linux-amd64"]);
    assert!(c.restored()["image-default-linux-arm64"]);
    assert!(c.image_files() == good);
}
