//! `[sign]` with pushed images: the example's images pushed to the local
//! registry get cosign's signatures (`sha256-<hex>.sig` tags) for the index
//! and every manifest it lists, read back through the registry's HTTP API
//! and checked with openssl against `<project>.cosign.pub`; a flipped byte
//! fails. A re-run, and a merge of shards, leave the same signatures; a
//! key that cannot sign Ed25519 is refused before anything runs.
//!
//! cosign itself is not installable on these machines (no Debian package),
//! so openssl checks the signatures and the payload's fields are read
//! here; the layout's bytes are pinned by the unit tests in
//! src/image/cosign/tests.rs against a signature image cosign pushed.

use std::path::Path;
use std::process::Command;

use crate::containers::require_engine;
use crate::cross::example;
use crate::sign::tool;
use crate::support::{Project, require, run};

const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
const ACCEPT: &str =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";

fn registry() -> String {
    std::env::var("MATRIX_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into())
}

/// hello-go's container config for Linux and the scratch image only (the
/// one matrix assembles itself), with `sign` as its `[sign]` table.
fn project(sign: &str) -> Project {
    let p = example("hello-go");
    let docker = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker");
    let text = std::fs::read_to_string(p.dir.join("matrix.containers.toml")).unwrap();
    let text = text
        .replace("../../docker/", &format!("{}/", docker.display()))
        .replace(
            "os   = [\"darwin\", \"linux\", \"windows\"]",
            "os = [\"linux\"]",
        )
        .replace("exclude = [ { os = \"windows\", arch = \"arm64\" } ]", "")
        .replace(
            "distro = [\"debian\", \"busybox\", \"scratch\"]",
            "distro = [\"scratch\"]",
        );
    assert!(text.contains("distro = [\"scratch\"]"));
    std::fs::write(
        p.dir.join("matrix.containers.toml"),
        format!("{text}\n[sign]\n{sign}\n"),
    )
    .unwrap();
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    p
}

/// The `[sign]` of these tests: a minisign key from the environment, so
/// that another key signs the same commit's images.
const SIGN: &str = "method = \"minisign\"\nkey-env = \"TEST_MINISIGN_KEY\"";

/// A minisign key made by minisign itself, in `dir`: the secret key file's
/// text.
fn minisign_key(dir: &Path) -> String {
    let g = tool(
        "minisign",
        &["-G", "-W", "-p", "key.pub", "-s", "key.sec"],
        dir,
    );
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    std::fs::read_to_string(dir.join("key.sec")).unwrap()
}

/// GET from the registry's HTTP API: (lowercased headers, body).
fn get(path: &str) -> (String, Vec<u8>) {
    let url = format!("http://{}/v2/{path}", registry());
    let out = Command::new("curl")
        .args(["-fsS", "-D", "/dev/stderr", "-H"])
        .arg(format!("Accept: {ACCEPT}"))
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "GET {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stderr).to_lowercase(),
        out.stdout,
    )
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Whether openssl accepts `signature` of `payload` with the PEM key.
fn openssl_verifies(key: &Path, payload: &[u8], signature: &[u8]) -> bool {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("payload"), payload).unwrap();
    std::fs::write(dir.path().join("sig"), signature).unwrap();
    let out = Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
        .arg(key)
        .args(["-rawin", "-in", "payload", "-sigfile", "sig"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    out.status.success()
}

/// The signature image under `digest`'s `.sig` tag in `repo`: checks its
/// layout and that each signature verifies, returns the tag's manifest
/// digest.
fn check_signed(repo: &str, digest: &str, key: &Path) -> String {
    let tag = format!("sha256-{}.sig", digest.strip_prefix("sha256:").unwrap());
    let (headers, body) = get(&format!("{repo}/manifests/{tag}"));
    let manifest = json(&body);
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest:#}");
    let layer = &layers[0];
    assert_eq!(layer["mediaType"], SIMPLE_SIGNING);
    let layer_digest = layer["digest"].as_str().unwrap();
    let (_, payload) = get(&format!("{repo}/blobs/{layer_digest}"));
    assert_eq!(sha256(&payload), layer_digest);
    assert_eq!(payload.len() as u64, layer["size"].as_u64().unwrap());
    // The payload names this digest and this repository, in cosign's words.
    assert_eq!(
        String::from_utf8(payload.clone()).unwrap(),
        format!(
            "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"{}/{repo}\"}},\"image\":{{\"docker-manifest-digest\":\"{digest}\"}},\"type\":\"cosign container image signature\"}},\"optional\":null}}",
            registry()
        )
    );
    let p = json(&payload);
    assert_eq!(p["critical"]["image"]["docker-manifest-digest"], digest);
    // The config: one diff id (the payload's digest) and the zero time.
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let (_, config) = get(&format!("{repo}/blobs/{config_digest}"));
    assert_eq!(
        String::from_utf8(config).unwrap(),
        format!(
            "{{\"architecture\":\"\",\"created\":\"0001-01-01T00:00:00Z\",\"history\":[{{\"created\":\"0001-01-01T00:00:00Z\"}}],\"os\":\"\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{layer_digest}\"]}},\"config\":{{}}}}"
        )
    );
    use base64::Engine;
    let signature = base64::engine::general_purpose::STANDARD
        .decode(
            layer["annotations"]["dev.cosignproject.cosign/signature"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert!(
        openssl_verifies(key, &payload, &signature),
        "{repo}@{digest}"
    );
    // One flipped byte in the payload, or in the signature, fails.
    let mut bad = payload.clone();
    bad[payload.len() / 2] ^= 1;
    assert!(!openssl_verifies(key, &bad, &signature));
    let mut bad = signature.clone();
    bad[10] ^= 1;
    assert!(!openssl_verifies(key, &payload, &bad));
    headers
        .lines()
        .find_map(|l| l.strip_prefix("docker-content-digest: "))
        .unwrap()
        .trim()
        .to_string()
}

/// The index (by tag) and every manifest it lists, each signed in `repo`:
/// the `.sig` manifests' digests in that order.
fn check_image(repo: &str, tag: &str, key: &Path) -> Vec<String> {
    let (headers, body) = get(&format!("{repo}/manifests/{tag}"));
    let index = json(&body);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let digest = headers
        .lines()
        .find_map(|l| l.strip_prefix("docker-content-digest: "))
        .unwrap()
        .trim()
        .to_string();
    let mut digests = vec![digest];
    digests.extend(
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["digest"].as_str().unwrap().to_string()),
    );
    assert!(digests.len() >= 3, "{index:#}");
    digests.iter().map(|d| check_signed(repo, d, key)).collect()
}

fn build(p: &Project, key: &str, repo: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["build", "-c", "matrix.containers.toml", "--clean"];
    args.extend(extra);
    run(p
        .matrix(&args)
        .env("TEST_MINISIGN_KEY", key)
        .env("MATRIX_LOCAL_BASES", "1")
        .env("MATRIX_IMAGE_REPOSITORY", format!("{}/{repo}", registry())))
}

fn kinds(dist: &Path) -> Vec<(String, String)> {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dist.join("manifest.json")).unwrap())
            .unwrap();
    m["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn pushed_images_carry_cosign_signatures_that_openssl_verifies() {
    if !require_engine()
        || !require("curl", "apt-get install curl")
        || !require("minisign", "apt-get install minisign")
        || !require("openssl", "apt-get install openssl")
    {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let secret = minisign_key(keys.path());
    let p = project(SIGN);
    let repo = format!("matrix-test-{}/cosign", std::process::id());
    let (code, out, err) = build(&p, &secret, &repo, &["--push"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let dist = p.dist();
    assert!(
        kinds(&dist).contains(&("hello.cosign.pub".into(), "key".into())),
        "{:?}",
        kinds(&dist)
    );
    let key = dist.join("hello.cosign.pub");
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(
        pem.starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"),
        "{pem}"
    );
    // The PEM key is minisign's public key: its last 32 bytes.
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).unwrap();
    let minisign_pub = b64(std::fs::read_to_string(keys.path().join("key.pub"))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap());
    assert_eq!(b64(pem.lines().nth(1).unwrap())[12..], minisign_pub[10..]);
    // The secret key is nowhere in what matrix printed or wrote.
    let secret_line = secret.lines().nth(1).unwrap().to_string();
    assert!(!format!("{out}{err}").contains(&secret_line));
    for log in std::fs::read_dir(dist.join("logs")).unwrap() {
        let text = std::fs::read_to_string(log.unwrap().path()).unwrap();
        assert!(!text.contains(&secret_line));
    }
    let first = check_image(&repo, "1.2.3-scratch", &key);
    let log = std::fs::read_to_string(dist.join("logs/push-scratch.log")).unwrap();
    assert_eq!(
        log.matches("# signed sha256:").count(),
        first.len(),
        "{log}"
    );
    // matrix verify is not confused by the second key.
    let (code, out, _) = run(&mut p.matrix(&["verify", "dist"]));
    assert_eq!(code, 0, "{out}");
    // Another Ed25519 key in its place, its record fixed: nothing in the
    // checksums file covers key files, so verify ties it to the release's
    // key itself.
    let cosign_pub = dist.join("hello.cosign.pub");
    let good = std::fs::read(&cosign_pub).unwrap();
    let other = Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519"])
        .output()
        .unwrap();
    let mut forge = Command::new("openssl")
        .args(["pkey", "-pubout"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    forge
        .stdin
        .take()
        .unwrap()
        .write_all(&other.stdout)
        .unwrap();
    let forged = forge.wait_with_output().unwrap().stdout;
    assert!(String::from_utf8_lossy(&forged).starts_with("-----BEGIN PUBLIC KEY-----"));
    std::fs::write(&cosign_pub, &forged).unwrap();
    let manifest = dist.join("manifest.json");
    let original = std::fs::read_to_string(&manifest).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&original).unwrap();
    for a in m["artifacts"].as_array_mut().unwrap() {
        if a["path"] == "hello.cosign.pub" {
            a["digest"] = sha256(&forged).into();
            a["size"] = forged.len().into();
        }
    }
    std::fs::write(&manifest, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    let (code, out, _) = run(&mut p.matrix(&["verify", "dist"]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("problem: hello.cosign.pub: not the Ed25519 key of hello.pub"),
        "{out}"
    );
    std::fs::write(&cosign_pub, &good).unwrap();
    std::fs::write(&manifest, &original).unwrap();

    // A re-run of the same commit: Ed25519 is deterministic, so the tags
    // already hold these signatures and stay as they are.
    let (code, out, err) = build(&p, &secret, &repo, &["--push"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(check_image(&repo, "1.2.3-scratch", &key), first);
    let log = std::fs::read_to_string(dist.join("logs/push-scratch.log")).unwrap();
    assert_eq!(
        log.matches("already holds this signature").count(),
        first.len(),
        "{log}"
    );

    // Shards push nothing; the merge pushes and signs.
    for i in 1..=2 {
        let dir = p.path().join(format!("shards/shard-{i}"));
        let (code, out, err) = build(
            &p,
            &secret,
            &repo,
            &[
                "--shard",
                &format!("{i}/2"),
                "--dist",
                dir.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(!kinds(&dir).iter().any(|(_, k)| k == "key"));
        assert!(!dir.join("logs/push-scratch.log").exists());
    }
    // The merge pushes to the same repository: its images are the single
    // build's, byte for byte, so their tags already hold these signatures.
    let (code, out, err) = run(p
        .matrix(&[
            "merge",
            "-c",
            "matrix.containers.toml",
            "shards/shard-1",
            "shards/shard-2",
            "--dist",
            "merged",
            "--clean",
            "--push",
        ])
        .env("MATRIX_LOCAL_BASES", "1")
        .env("TEST_MINISIGN_KEY", &secret)
        .env("MATRIX_IMAGE_REPOSITORY", format!("{}/{repo}", registry())));
    assert_eq!(code, 0, "{out}\n{err}");
    let merged = p.path().join("merged");
    assert_eq!(
        std::fs::read(merged.join("hello.cosign.pub")).unwrap(),
        pem.as_bytes()
    );
    assert_eq!(check_image(&repo, "1.2.3-scratch", &key), first);
    let log = std::fs::read_to_string(merged.join("logs/push-scratch.log")).unwrap();
    assert_eq!(
        log.matches("already holds this signature").count(),
        first.len(),
        "{log}"
    );

    // Another key: as cosign does, its signature is appended to the one
    // there, and each verifies with its own key.
    let old_key = keys.path().join("first.cosign.pub");
    std::fs::copy(&key, &old_key).unwrap();
    let other = tempfile::tempdir().unwrap();
    let (code, out, err) = build(&p, &minisign_key(other.path()), &repo, &["--push"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (headers, body) = get(&format!("{repo}/manifests/1.2.3-scratch"));
    let index = headers
        .lines()
        .find_map(|l| l.strip_prefix("docker-content-digest: "))
        .unwrap()
        .trim()
        .strip_prefix("sha256:")
        .unwrap()
        .to_string();
    assert!(json(&body)["manifests"].is_array());
    let (_, body) = get(&format!("{repo}/manifests/sha256-{index}.sig"));
    let manifest = json(&body);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "{manifest:#}");
    let (_, config) = get(&format!(
        "{repo}/blobs/{}",
        manifest["config"]["digest"].as_str().unwrap()
    ));
    assert_eq!(
        json(&config)["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    for (layer, key) in layers
        .iter()
        .zip([&old_key, &p.dist().join("hello.cosign.pub")])
    {
        let (_, payload) = get(&format!(
            "{repo}/blobs/{}",
            layer["digest"].as_str().unwrap()
        ));
        let signature = b64(layer["annotations"]["dev.cosignproject.cosign/signature"]
            .as_str()
            .unwrap());
        assert!(openssl_verifies(key, &payload, &signature));
    }
}

#[test]
fn keys_that_cannot_sign_images_are_refused_before_anything_runs() {
    let gpg = project("method = \"gpg\"\nkey-id = \"ABCDEF\"");
    let plan = |p: &Project, push: bool| {
        let mut args = vec!["plan", "-c", "matrix.containers.toml", "--json"];
        if push {
            args.push("--push");
        }
        run(p.matrix(&args).env("MATRIX_LOCAL_BASES", "1"))
    };
    // Without --push nothing is signed in a registry: no problem.
    let (code, out, err) = plan(&gpg, false);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("cosign_key"), "{out}");
    let (code, out, err) = plan(&gpg, true);
    assert_eq!(code, 2, "{out}\n{err}");
    let flat: String = err.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("cannot sign the pushed images"), "{err}");
    assert!(flat.contains("images = false"), "{err}");
    assert!(err.contains("matrix.containers.toml:"), "{err}");
    // The way out it names.
    let text = std::fs::read_to_string(gpg.dir.join("matrix.containers.toml")).unwrap();
    std::fs::write(
        gpg.dir.join("matrix.containers.toml"),
        format!("{text}images = false\n"),
    )
    .unwrap();
    let (code, out, err) = plan(&gpg, true);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("cosign_key"), "{out}");

    // An SSH RSA key cannot sign Ed25519: refused when it is loaded,
    // before dist/ is touched.
    if !require("ssh-keygen", "apt-get install openssh-client") {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let g = tool(
        "ssh-keygen",
        &["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", "id"],
        keys.path(),
    );
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let ssh = project(&format!(
        "method = \"ssh\"\nkey-file = \"{}\"",
        keys.path().join("id").display()
    ));
    let (code, out, err) = run(ssh
        .matrix(&["build", "-c", "matrix.containers.toml", "--push"])
        .env("MATRIX_LOCAL_BASES", "1"));
    assert_eq!(code, 2, "{out}\n{err}");
    let flat: String = err.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("needs an Ed25519 key"), "{err}");
    assert!(flat.contains("images = false"), "{err}");
    assert!(!ssh.dist().exists());
}
