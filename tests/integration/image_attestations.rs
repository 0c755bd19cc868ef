//! `[sbom]` with `[images]`: each platform image's SBOM and provenance as
//! attestation manifests in the variant's index, in BuildKit's layout.
//! Built from hello-go on the real engine (a Debian image) and natively (a
//! scratch image), pushed to the local registry and read back through its
//! HTTP API; the SPDX predicate validated against the official schema; the
//! Debian image's packages compared with `dpkg-query -W` run in it; two
//! builds, and two shards merged, give the same attestations.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::containers::require_engine;
use crate::cross::example;
use crate::support::{Project, require, run};

const SPDX: &str = "https://spdx.dev/Document";
const SLSA: &str = "https://slsa.dev/provenance/v1";

fn registry() -> String {
    std::env::var("MATRIX_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into())
}

fn docker_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docker")
}

/// hello-go for Linux on amd64 and arm64 (no channels), with `[sbom]` and
/// `extra` appended.
fn project(extra: &str) -> Project {
    let p = example("hello-go");
    let config = std::fs::read_to_string(p.dir.join("matrix.toml")).unwrap();
    let (head, rest) = config.split_once("[matrix]").unwrap();
    let (_, rest) = rest.split_once("[build]").unwrap();
    let (rest, _) = rest.split_once("# Release channels").unwrap();
    let config =
        format!("{head}[matrix]\nos = [\"linux\"]\narch = [\"amd64\", \"arm64\"]\n\n[build]{rest}");
    std::fs::write(
        p.dir.join(".gitignore"),
        "dist/\nshards/\nmerged/\nsingle/\nx/\n",
    )
    .unwrap();
    p.file("matrix.toml", &format!("{config}\n[sbom]\n{extra}"));
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    p
}

fn manifest(dist: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dist.join("manifest.json")).unwrap()).unwrap()
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

/// GET from the registry's HTTP API.
fn get(repo: &str, what: &str, accept: &str) -> Vec<u8> {
    let url = format!("http://{}/v2/{repo}/{what}", registry());
    let out = Command::new("curl")
        .args(["-fsSL", "-H"])
        .arg(format!("Accept: {accept}"))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "GET {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn get_json(repo: &str, what: &str, accept: &str) -> Value {
    serde_json::from_slice(&get(repo, what, accept)).unwrap()
}

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Checks an index's attestation manifests against its platforms and
/// returns each platform's (digest, SPDX predicate, provenance predicate),
/// reading blobs with `blob`.
fn attestations(
    index: &Value,
    platforms: &[(String, String)],
    names: &dyn Fn(&str) -> Vec<String>,
    manifest_of: &dyn Fn(&str) -> Value,
    blob: &dyn Fn(&str) -> Vec<u8>,
) -> Vec<(String, Value, Value)> {
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2 * platforms.len(), "{index:#}");
    let mut out = Vec::new();
    for (i, (platform, digest)) in platforms.iter().enumerate() {
        let image = &entries[i];
        assert_eq!(&image["digest"], digest, "{index:#}");
        let att = &entries[platforms.len() + i];
        assert_eq!(att["mediaType"], OCI_MANIFEST);
        assert_eq!(
            att["platform"],
            json!({"architecture": "unknown", "os": "unknown"})
        );
        assert_eq!(
            att["annotations"],
            json!({
                "vnd.docker.reference.digest": digest,
                "vnd.docker.reference.type": "attestation-manifest",
            })
        );
        let m = manifest_of(att["digest"].as_str().unwrap());
        assert_eq!(m["mediaType"], OCI_MANIFEST);
        assert_eq!(
            m["config"]["mediaType"],
            "application/vnd.oci.image.config.v1+json"
        );
        let config: Value =
            serde_json::from_slice(&blob(m["config"]["digest"].as_str().unwrap())).unwrap();
        assert_eq!(config["architecture"], "unknown");
        assert_eq!(config["os"], "unknown");
        let layers = m["layers"].as_array().unwrap();
        let kinds: Vec<&str> = layers
            .iter()
            .map(|l| {
                assert_eq!(l["mediaType"], "application/vnd.in-toto+json");
                l["annotations"]["in-toto.io/predicate-type"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(kinds, [SPDX, SLSA]);
        let mut predicates = Vec::new();
        for (layer, kind) in layers.iter().zip(kinds) {
            let s: Value =
                serde_json::from_slice(&blob(layer["digest"].as_str().unwrap())).unwrap();
            assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
            assert_eq!(s["predicateType"], kind);
            let subjects = s["subject"].as_array().unwrap();
            let got: Vec<&str> = subjects
                .iter()
                .map(|x| {
                    assert_eq!(
                        format!("sha256:{}", x["digest"]["sha256"].as_str().unwrap()),
                        *digest
                    );
                    x["name"].as_str().unwrap()
                })
                .collect();
            assert_eq!(got, names(platform), "{s:#}");
            predicates.push(s["predicate"].clone());
        }
        let prov = predicates.pop().unwrap();
        let spdx = predicates.pop().unwrap();
        out.push((digest.clone(), spdx, prov));
    }
    out
}

/// The validation venv scripts/setup.sh makes; see sbom.rs.
fn validate_spdx(doc: &Value, dir: &Path) {
    let py = PathBuf::from(std::env::var("HOME").unwrap())
        .join(".cache/matrix-tools/venv-validate/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import jsonschema, referencing, yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        ok || !ci,
        "{} lacks jsonschema: run scripts/setup.sh",
        py.display()
    );
    if !ok {
        eprintln!("SKIP schema checks: no validation venv; run scripts/setup.sh");
        return;
    }
    std::fs::create_dir_all(dir).unwrap();
    let file = dir.join("image.spdx.json");
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let out = Command::new(py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/packager/testdata/validate_schema.py"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/spdx-2.3.schema.json"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// purls of a kind (`pkg:deb/`) in an SPDX document.
fn purls(doc: &Value, prefix: &str) -> BTreeSet<String> {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["externalRefs"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["referenceLocator"].as_str().map(str::to_string))
        .filter(|l| l.starts_with(prefix))
        .collect()
}

fn file_sha(doc: &Value, name: &str) -> Option<String> {
    doc["files"].as_array()?.iter().find_map(|f| {
        (f["fileName"] == name).then(|| {
            f["checksums"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["algorithm"] == "SHA256")
                .unwrap()["checksumValue"]
                .as_str()
                .unwrap()
                .to_string()
        })
    })
}

/// Percent-encoding as purls write it.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn image_attestations_are_pushed_read_back_and_reproduce() {
    if !require_engine()
        || !require("curl", "apt-get install curl")
        || !require("go", "apt-get install golang-go")
    {
        return;
    }
    let repo = format!("matrix-attest-{}/hello", std::process::id());
    let full = format!("{}/{repo}", registry());
    let p = project(&format!(
        "[images]\nrepositories = [\"{full}\"]\ndockerfile = \"{}/hello-{{{{ distro }}}}.Dockerfile\"\n\
         args = {{ BASE = \"matrix-base/debian:bookworm\" }}\n\
         [images.matrix]\ndistro = [\"debian\", \"scratch\"]\nplatform = [\"linux/amd64\", \"linux/arm64\"]\n\
         exclude = [ {{ distro = \"debian\", platform = \"linux/arm64\" }} ]\n",
        docker_dir().display()
    ));
    let build = |extra: &[&str]| {
        let mut args = vec!["build", "--oci-dir", "--clean"];
        args.extend(extra);
        let (code, out, err) = run(&mut p.matrix(&args));
        assert_eq!(code, 0, "{out}\n{err}");
        manifest(&p.dist())
    };
    let first = build(&["--push"]);
    let images = first["images"].as_array().unwrap().clone();
    assert_eq!(images.len(), 2, "{first:#}");
    let binary = |platform: &str| {
        sha256(
            &p.dist()
                .join(format!("build/{}/hello", platform.replace('/', "-"))),
        )
    };

    let mut scratch_index = String::new();
    for image in &images {
        let platforms: Vec<(String, String)> = image["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["platform"].as_str().unwrap().to_string(),
                    x["digest"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let tags: Vec<String> = image["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        let names = |platform: &str| {
            tags.iter()
                .map(|t| {
                    format!(
                        "pkg:docker/{}/{repo}@{t}?platform={}",
                        enc(&registry()),
                        enc(platform)
                    )
                })
                .collect::<Vec<_>>()
        };
        let index = get_json(&repo, &format!("manifests/{}", tags[0]), OCI_INDEX);
        let digest = image["digest"].as_str().unwrap();
        let found = attestations(
            &index,
            &platforms,
            &names,
            &|d| get_json(&repo, &format!("manifests/{d}"), OCI_MANIFEST),
            &|d| get(&repo, &format!("blobs/{d}"), "*/*"),
        );
        for ((platform, _), (_, spdx, prov)) in platforms.iter().zip(&found) {
            validate_spdx(spdx, &p.path().join("x"));
            // The release binary: its file in the image and its modules.
            let at = if image["id"] == "debian" {
                "./usr/local/bin/hello"
            } else {
                "./hello"
            };
            assert_eq!(file_sha(spdx, at), Some(binary(platform)), "{spdx:#}");
            assert!(
                purls(spdx, "pkg:golang/stdlib@").len() == 1,
                "the Go standard library: {spdx:#}"
            );
            let b = &prov["buildDefinition"];
            assert_eq!(b["externalParameters"]["platform"], platform.as_str());
            assert_eq!(b["externalParameters"]["buildArgs"]["VERSION"], "1.2.3");
            assert_eq!(
                b["internalParameters"]["binary"]["sha256"],
                binary(platform)
            );
            let dockerfile = docker_dir().join(format!(
                "hello-{}.Dockerfile",
                image["id"].as_str().unwrap()
            ));
            assert_eq!(
                b["externalParameters"]["dockerfile"]["sha256"],
                sha256(&dockerfile)
            );
            assert!(
                b["resolvedDependencies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d["digest"]["gitCommit"] == first["commit"]),
                "{prov:#}"
            );
        }
        if image["id"] == "debian" {
            // What dpkg itself says the image holds.
            let local = image["platforms"][0]["local_tag"].as_str().unwrap();
            let out = Command::new("docker")
                .args([
                    "run",
                    "--rm",
                    "--entrypoint",
                    "dpkg-query",
                    local,
                    "-W",
                    "-f",
                ])
                .arg("${db:Status-Status} ${Package} ${Version} ${Architecture}\\n")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let want: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.strip_prefix("installed "))
                .map(|l| {
                    let f: Vec<&str> = l.split(' ').collect();
                    format!(
                        "pkg:deb/debian/{}@{}?arch={}",
                        enc(f[0]),
                        enc(f[1]),
                        enc(f[2])
                    )
                })
                .collect();
            assert!(want.len() > 50, "{want:?}");
            assert_eq!(purls(&found[0].1, "pkg:deb/"), want);
            let bases = &found[0].2["buildDefinition"]["externalParameters"]["bases"];
            assert_eq!(
                bases,
                &json!(["pkg:docker/matrix-base/debian@bookworm?platform=linux%2Famd64"])
            );
            let _ = Command::new("docker").args(["rmi", local]).output();
        } else {
            assert!(purls(&found[0].1, "pkg:deb/").is_empty());
            scratch_index = digest.to_string();
        }
    }

    // `matrix verify` checks each attestation's subject in the OCI tars.
    let (code, out, err) = run(&mut p.matrix(&["verify", "dist"]));
    assert_eq!(code, 0, "{out}\n{err}");

    // Reproducible: the natively assembled variant's index, attestations
    // included, and its archive are the same bytes again.
    let archive = sha256(&p.dist().join("hello_1.2.3_scratch.oci.tar"));
    let second = build(&[]);
    assert_eq!(second["images"][1]["digest"], scratch_index.as_str());
    assert_eq!(
        sha256(&p.dist().join("hello_1.2.3_scratch.oci.tar")),
        archive
    );
    if let Some(local) = second["images"][0]["platforms"][0]["local_tag"].as_str() {
        let _ = Command::new("docker").args(["rmi", local]).output();
    }
}

/// The image index of an OCI archive in dist/, unpacked with tar.
fn archive_index(tar: &Path, work: &Path) -> Value {
    let out = work.join(tar.file_name().unwrap());
    std::fs::create_dir_all(&out).unwrap();
    let status = Command::new("tar")
        .arg("-xf")
        .arg(tar)
        .arg("-C")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let blob = |d: &str| std::fs::read(out.join("blobs/sha256").join(&d[7..])).unwrap();
    let top: Value =
        serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
    serde_json::from_slice(&blob(top["manifests"][0]["digest"].as_str().unwrap())).unwrap()
}

#[test]
fn sharded_image_attestations_merge_into_the_single_build() {
    if !require("go", "apt-get install golang-go") {
        return;
    }
    let p = project(&format!(
        "[images]\nrepositories = [\"example.org/hello\"]\ndockerfile = \"{}\"\nnative = \"always\"\n\
         [images.matrix]\nplatform = [\"linux/amd64\", \"linux/arm64\"]\n",
        docker_dir().join("hello-scratch.Dockerfile").display()
    ));
    for i in 1..=2 {
        let dist = p.path().join(format!("shards/shard-{i}"));
        let (code, out, err) = run(&mut p.matrix(&[
            "build",
            "--shard",
            &format!("{i}/2"),
            "--dist",
            dist.to_str().unwrap(),
        ]));
        assert_eq!(code, 0, "{out}\n{err}");
    }
    let shards: Vec<String> = (1..=2)
        .map(|i| {
            p.path()
                .join(format!("shards/shard-{i}"))
                .display()
                .to_string()
        })
        .collect();
    let (code, out, err) = run(&mut p.matrix(&[
        "merge",
        &shards[0],
        &shards[1],
        "--dist",
        "merged",
        "--clean",
        "--oci-dir",
    ]));
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(&mut p.matrix(&["build", "--dist", "single", "--oci-dir"]));
    assert_eq!(code, 0, "{out}\n{err}");

    let merged = manifest(&p.path().join("merged"));
    let single = manifest(&p.path().join("single"));
    assert_eq!(merged["images"][0]["digest"], single["images"][0]["digest"]);
    let tar = "hello_1.2.3_default.oci.tar";
    assert_eq!(
        sha256(&p.path().join("merged").join(tar)),
        sha256(&p.path().join("single").join(tar))
    );
    let index = archive_index(&p.path().join("merged").join(tar), &p.path().join("x"));
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "{index:#}");
    for (i, platform) in merged["images"][0]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_eq!(
            entries[2 + i]["annotations"]["vnd.docker.reference.digest"],
            platform["digest"]
        );
    }
    let (code, out, err) = run(&mut p.matrix(&["verify", "merged"]));
    assert_eq!(code, 0, "{out}\n{err}");
}
