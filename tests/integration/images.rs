//! The examples built in their builder images, and the image matrix: per
//! platform images on the real engine, natively assembled ones, indexes
//! pushed to a local registry and read back over its HTTP API.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::containers::require_engine;
use crate::cross::example;
use crate::support::{Project, run};

/// The local registry scripts/setup-containers.sh runs.
fn registry() -> String {
    std::env::var("MATRIX_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into())
}

/// The example's container config, pointed at this checkout's docker/.
fn containers_config(p: &Project, edit: impl Fn(String) -> String) {
    let docker = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker");
    let text = std::fs::read_to_string(p.dir.join("matrix.containers.toml")).unwrap();
    let text = text.replace("../../docker/", &format!("{}/", docker.display()));
    std::fs::write(p.dir.join("matrix.containers.toml"), edit(text)).unwrap();
    retag(p);
}

/// Commits the edited config and moves the release tag onto it.
fn retag(p: &Project) {
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success(), "sha256sum {}", path.display());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// sha256 of every built binary, by target slug.
fn binaries(dist: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dist.join("build")).unwrap() {
        let entry = entry.unwrap();
        for file in std::fs::read_dir(entry.path()).unwrap() {
            let file = file.unwrap();
            if file.file_type().unwrap().is_file() {
                out.insert(
                    format!(
                        "{}/{}",
                        entry.file_name().to_string_lossy(),
                        file.file_name().to_string_lossy()
                    ),
                    sha256(&file.path()),
                );
            }
        }
    }
    out
}

fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the config");
    text.replacen(from, to, 1)
}

#[test]
fn examples_in_builder_containers_give_the_host_binaries() {
    if !require_engine() || !crate::support::require("go", "apt-get install golang-go") {
        return;
    }
    // hello-go: the same targets on the host and in the Go builder.
    let host = example("hello-go");
    let targets = [
        "--target",
        "linux/amd64",
        "--target",
        "linux/arm64",
        "--target",
        "windows/amd64",
        "--target",
        "darwin/arm64",
    ];
    let mut args = vec!["build"];
    args.extend(targets);
    let (code, out, err) = run(&mut host.matrix(&args));
    assert_eq!(code, 0, "{out}\n{err}");
    let boxed = example("hello-go");
    containers_config(&boxed, |t| t);
    let mut args = vec!["build", "-c", "matrix.containers.toml", "--no-images"];
    args.extend(targets);
    let (code, out, err) = run(boxed.matrix(&args).env("MATRIX_LOCAL_BASES", "1"));
    assert_eq!(code, 0, "{out}\n{err}");
    let want = binaries(&host.dist());
    assert_eq!(want.len(), 4, "{want:?}");
    assert_eq!(binaries(&boxed.dist()), want);

    // hello-c: the gcc-cross targets in the C builder; zig targets stay on
    // the host.
    let c = example("hello-c");
    let targets = [
        "--target",
        "linux/arm64/gnu",
        "--target",
        "linux/s390x/gnu",
        "--target",
        "windows/386/gnu",
    ];
    let mut args = vec!["build"];
    args.extend(targets);
    let (code, out, err) = run(&mut c.matrix(&args));
    assert_eq!(code, 0, "{out}\n{err}");
    let want = binaries(&c.dist());
    let docker = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker");
    let text = std::fs::read_to_string(c.dir.join("matrix.toml")).unwrap();
    let text = replace_once(&text, "[build]\n", "[build]\nbuilder = \"c\"\n");
    let text = format!(
        "{text}\n[builders.c]\ndockerfile = \"{0}/builder-c.Dockerfile\"\nargs = {{ BASE = \"matrix-base/debian:bookworm\" }}\n",
        docker.display()
    );
    std::fs::write(c.dir.join("matrix.toml"), text).unwrap();
    retag(&c);
    let mut args = vec!["build", "--clean"];
    args.extend(targets);
    let (code, out, err) = run(&mut c.matrix(&args));
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(want.len(), 3, "{want:?}");
    assert_eq!(binaries(&c.dist()), want);
    let log = std::fs::read_to_string(c.dist().join("logs/build-linux-arm64-gnu.log")).unwrap();
    assert!(
        log.contains("# container: ") && log.contains("matrix-builder/hello-c-c:"),
        "{log}"
    );
}

fn manifest(p: &Project) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p.dist().join("manifest.json")).unwrap()).unwrap()
}

fn inspect(image: &str, format: &str) -> String {
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", format, image])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "inspect {image}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// GET a manifest from the registry's HTTP API: (headers, body).
fn get_manifest(repo: &str, reference: &str) -> (String, serde_json::Value) {
    let url = format!("http://{}/v2/{repo}/manifests/{reference}", registry());
    let out = Command::new("curl")
        .args(["-fsS", "-D", "-", "-H"])
        .arg("Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "GET {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap();
    (headers.to_lowercase(), serde_json::from_str(body).unwrap())
}

#[test]
fn image_matrix_builds_tags_labels_pushes_and_reproduces() {
    if !require_engine() || !crate::support::require("curl", "apt-get install curl") {
        return;
    }
    let p = example("hello-go");
    containers_config(&p, |t| {
        let t = replace_once(
            &t,
            "os   = [\"darwin\", \"linux\", \"windows\"]",
            "os = [\"linux\"]",
        );
        let t = replace_once(
            &t,
            "exclude = [ { os = \"windows\", arch = \"arm64\" } ]",
            "",
        );
        replace_once(
            &t,
            "distro = [\"debian\", \"busybox\", \"scratch\"]",
            "distro = [\"busybox\", \"scratch\"]",
        )
    });
    let repo = format!("matrix-test-{}/hello", std::process::id());
    let full = format!("{}/{repo}", registry());
    let _remove = RemoveImages(full.clone());
    let build = |extra: &[&str]| {
        let mut args = vec![
            "build",
            "-c",
            "matrix.containers.toml",
            "--oci-dir",
            "--clean",
        ];
        args.extend(extra);
        let (code, out, err) = run(p
            .matrix(&args)
            .env("MATRIX_LOCAL_BASES", "1")
            .env("MATRIX_IMAGE_REPOSITORY", &full));
        assert_eq!(code, 0, "{out}\n{err}");
        manifest(&p)
    };
    let first = build(&["--push"]);
    let images = first["images"].as_array().unwrap();
    assert_eq!(images.len(), 2, "{first:#}");
    let (busybox, scratch) = (&images[0], &images[1]);
    assert_eq!(busybox["id"], "busybox");
    assert_eq!(
        busybox["tags"],
        serde_json::json!(["1.2.3-busybox", "latest-busybox"])
    );
    assert_eq!(
        scratch["tags"],
        serde_json::json!(["1.2.3-scratch", "latest-scratch"])
    );
    for (image, native) in [(busybox, false), (scratch, true)] {
        let platforms: Vec<&str> = image["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                assert_eq!(p["native"], native, "{image:#}");
                p["platform"].as_str().unwrap()
            })
            .collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
        assert_eq!(image["pushed"].as_array().unwrap().len(), 2, "{image:#}");
    }

    // The engine-built arm64 image: its architecture and labels.
    let local = busybox["platforms"][1]["local_tag"].as_str().unwrap();
    assert_eq!(inspect(local, "{{.Architecture}}"), "arm64");
    let labels: serde_json::Value =
        serde_json::from_str(&inspect(local, "{{json .Config.Labels}}")).unwrap();
    assert_eq!(labels["org.opencontainers.image.version"], "1.2.3");
    assert_eq!(labels["org.opencontainers.image.title"], "hello");
    assert_eq!(labels["org.opencontainers.image.licenses"], "MIT");
    assert_eq!(
        labels["org.opencontainers.image.created"],
        "2026-01-02T03:04:05Z"
    );
    assert_eq!(labels["org.opencontainers.image.revision"], first["commit"]);

    // Each index, read back through the registry's HTTP API, lists both
    // platforms under both tags with the digest the manifest records.
    for image in [busybox, scratch] {
        for tag in image["tags"].as_array().unwrap() {
            let (headers, index) = get_manifest(&repo, tag.as_str().unwrap());
            assert_eq!(
                index["mediaType"],
                "application/vnd.oci.image.index.v1+json"
            );
            let digest = image["digest"].as_str().unwrap();
            assert!(
                headers.contains(&format!("docker-content-digest: {digest}")),
                "{headers}"
            );
            let archs: Vec<&str> = index["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["platform"]["architecture"].as_str().unwrap())
                .collect();
            assert_eq!(archs, ["amd64", "arm64"]);
        }
    }

    // A real consumer runs the natively assembled image from the registry.
    let pulled = format!("{full}:1.2.3-scratch");
    let out = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--platform",
            "linux/amd64",
            &pulled,
            "--version",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1.2.3",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = Command::new("docker").args(["rmi", &pulled]).output();

    // The OCI archives are release artifacts with checksums.
    let sums = std::fs::read_to_string(p.dist().join("hello_1.2.3_checksums.txt")).unwrap();
    for name in ["hello_1.2.3_busybox.oci.tar", "hello_1.2.3_scratch.oci.tar"] {
        assert!(sums.contains(name), "{sums}");
    }
    let check = Command::new("sha256sum")
        .args(["--check", "hello_1.2.3_checksums.txt"])
        .current_dir(p.dist())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let archive = sha256(&p.dist().join("hello_1.2.3_scratch.oci.tar"));

    // The native path is reproducible: the same digests and archive bytes.
    // And the unchanged builder image is found, not rebuilt.
    let second = build(&[]);
    let log = std::fs::read_to_string(p.dist().join("logs/builder-go.log")).unwrap();
    assert!(log.contains("is already built"), "{log}");
    assert_eq!(second["images"][1]["digest"], scratch["digest"]);
    assert_eq!(second["images"][1]["platforms"], scratch["platforms"]);
    assert_eq!(
        sha256(&p.dist().join("hello_1.2.3_scratch.oci.tar")),
        archive
    );
}

/// Removes every engine image of a repository when dropped (also when the
/// test fails), so test runs do not pile up images in the engine.
struct RemoveImages(String);

impl Drop for RemoveImages {
    fn drop(&mut self) {
        let Ok(out) = Command::new("docker")
            .args(["images", "--format", "{{.Repository}}:{{.Tag}}", &self.0])
            .output()
        else {
            return;
        };
        let tags: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with(&format!("{}:", self.0)))
            .map(str::to_string)
            .collect();
        if !tags.is_empty() {
            let _ = Command::new("docker").arg("rmi").args(&tags).output();
        }
    }
}
