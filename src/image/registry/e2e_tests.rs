//! End-to-end tests of the registry client against a real registry:
//! Debian's `docker-registry` (distribution 2.8), started per test on a
//! free loopback port with its storage in a temp dir, and a small
//! two-platform OCI layout built by hand.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A running registry; killed when dropped, even if the test panics.
struct RegistryProcess {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for RegistryProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RegistryProcess {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

/// Starts docker-registry, or returns None (skip) when it is not installed
/// and CI is unset; on CI a missing registry is a failure.
fn start_registry(htpasswd: Option<&str>) -> Option<RegistryProcess> {
    if !Path::new(REGISTRY_BIN).exists() {
        if std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false")) {
            panic!(
                "{REGISTRY_BIN} is not installed; CI must run the registry tests (apt-get install docker-registry)"
            );
        }
        eprintln!("skipping: {REGISTRY_BIN} is not installed (apt-get install docker-registry)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let storage = dir.path().join("storage");
    std::fs::create_dir(&storage).unwrap();
    let mut config = format!(
        "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
        storage.display()
    );
    if let Some(line) = htpasswd {
        let file = dir.path().join("htpasswd");
        std::fs::write(&file, format!("{line}\n")).unwrap();
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: matrix-test\n    path: {}\n",
            file.display()
        ));
    }
    let config_path = dir.path().join("config.yml");
    std::fs::write(&config_path, config).unwrap();
    let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
    let child = Command::new(REGISTRY_BIN)
        .arg("serve")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut registry = RegistryProcess { child, port, dir };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // Any HTTP answer (200, or 401 with auth) means it is serving.
        if agent
            .get(format!("http://127.0.0.1:{port}/v2/"))
            .call()
            .is_ok()
        {
            return Some(registry);
        }
        if let Ok(Some(status)) = registry.child.try_wait() {
            panic!("docker-registry exited with {status}:\n{}", registry.log());
        }
        if Instant::now() > deadline {
            panic!(
                "docker-registry did not answer on port {port}:\n{}",
                registry.log()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A two-platform image in an OCI layout: per-platform configs, one shared
/// gzip'd tar layer, two manifests and an index.
struct TestImage {
    layout: tempfile::TempDir,
    root: Descriptor,
    index_bytes: Vec<u8>,
    blobs: Vec<Descriptor>,
    manifests: Vec<Descriptor>,
}

fn write_blob(layout: &Path, media_type: &str, bytes: &[u8]) -> Descriptor {
    let digest = digest_of("sha256", bytes);
    let dir = layout.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&digest[7..]), bytes).unwrap();
    Descriptor {
        media_type: media_type.into(),
        digest,
        size: bytes.len() as u64,
    }
}

fn build_image() -> TestImage {
    let layout = tempfile::tempdir().unwrap();
    let dir = layout.path();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();

    let mut tar = tar::Builder::new(Vec::new());
    let content = b"hello from matrix\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, "hello.txt", &content[..])
        .unwrap();
    let tar_bytes = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar_bytes).unwrap();
    let layer = write_blob(
        dir,
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &gz.finish().unwrap(),
    );
    let diff_id = digest_of("sha256", &tar_bytes);

    let mut blobs = vec![layer.clone()];
    let mut manifests = Vec::new();
    let mut entries = Vec::new();
    for arch in ["amd64", "arm64"] {
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        });
        let config = write_blob(
            dir,
            "application/vnd.oci.image.config.v1+json",
            config.to_string().as_bytes(),
        );
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": config, "layers": [layer],
        });
        let manifest = write_blob(dir, OCI_MANIFEST, manifest.to_string().as_bytes());
        let mut entry = serde_json::to_value(&manifest).unwrap();
        entry["platform"] = serde_json::json!({"architecture": arch, "os": "linux"});
        entries.push(entry);
        blobs.push(config);
        manifests.push(manifest);
    }
    let index_bytes =
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
            .to_string()
            .into_bytes();
    let root = write_blob(dir, OCI_INDEX, &index_bytes);
    let layout_index =
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [root]});
    std::fs::write(dir.join("index.json"), layout_index.to_string()).unwrap();
    TestImage {
        layout,
        root,
        index_bytes,
        blobs,
        manifests,
    }
}

fn platforms(index: &[u8]) -> Vec<String> {
    let doc: serde_json::Value = serde_json::from_slice(index).unwrap();
    let mut out: Vec<String> = doc["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn pushes_a_multi_platform_index_in_one_go() {
    let Some(registry) = start_registry(None) else {
        return;
    };
    let image = build_image();
    let reference =
        Reference::parse(&format!("127.0.0.1:{}/matrix/app:1.0", registry.port)).unwrap();
    let mut client = Client::new(ClientOptions::default());

    let report = client
        .push(image.layout.path(), &image.root, &reference)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", registry.log()));
    let manifest_bytes: u64 = image.manifests.iter().map(|m| m.size).sum::<u64>() + image.root.size;
    let blob_bytes: u64 = image.blobs.iter().map(|b| b.size).sum();
    assert_eq!(
        report,
        PushReport {
            blobs_uploaded: 3, // two configs and the shared layer, once
            blobs_present: 0,
            manifests_pushed: 3,
            bytes_sent: blob_bytes + manifest_bytes,
            root_digest: image.root.digest.clone(),
        }
    );

    let (media_type, bytes, digest) = client.fetch_manifest(&reference, &[OCI_INDEX]).unwrap();
    assert_eq!(media_type, OCI_INDEX);
    assert_eq!(digest, image.root.digest);
    assert_eq!(bytes, image.index_bytes);
    assert_eq!(platforms(&bytes), ["linux/amd64", "linux/arm64"]);

    // A child manifest is reachable by digest.
    let child = Reference::parse(&format!(
        "{}@{}",
        reference.name(),
        image.manifests[1].digest
    ))
    .unwrap();
    let (media_type, _, digest) = client.fetch_manifest(&child, &[OCI_MANIFEST]).unwrap();
    assert_eq!(
        (media_type.as_str(), digest.as_str()),
        (OCI_MANIFEST, image.manifests[1].digest.as_str())
    );

    for blob in &image.blobs {
        assert!(
            client.blob_exists(&reference, &blob.digest).unwrap(),
            "{}",
            blob.digest
        );
    }
    assert!(
        !client
            .blob_exists(&reference, &format!("sha256:{}", "e".repeat(64)))
            .unwrap()
    );

    let again = client
        .push(image.layout.path(), &image.root, &reference)
        .unwrap();
    assert_eq!(
        (again.blobs_uploaded, again.blobs_present, again.bytes_sent),
        (0, 3, manifest_bytes)
    );

    // Without a tag the root goes up by digest.
    let untagged = Reference::parse(&format!("127.0.0.1:{}/matrix/other", registry.port)).unwrap();
    client
        .push(image.layout.path(), &image.root, &untagged)
        .unwrap();
    let pinned = Reference::parse(&format!("{}@{}", untagged.name(), image.root.digest)).unwrap();
    let (_, bytes, _) = client.fetch_manifest(&pinned, &[OCI_INDEX]).unwrap();
    assert_eq!(bytes, image.index_bytes);

    // A tag that was never pushed is a clear 404 naming the repository.
    let missing = reference.with_tag("nope").unwrap();
    match client.fetch_manifest(&missing, &[OCI_INDEX]) {
        Err(e @ RegistryError::Status { status: 404, .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("matrix/app") && text.contains("MANIFEST_UNKNOWN"),
                "{text}"
            );
        }
        other => panic!("expected 404, got {other:?}"),
    }
    // A reference pinned to another digest is refused before any upload.
    let wrong = Reference::parse(&format!(
        "{}@{}",
        reference.name(),
        image.manifests[0].digest
    ))
    .unwrap();
    assert!(matches!(
        client.push(image.layout.path(), &image.root, &wrong),
        Err(RegistryError::PinnedDigest { .. })
    ));
}

#[test]
fn basic_auth_registry_needs_credentials() {
    let password = "correct horse battery";
    let line = format!("matrix:{}", bcrypt::hash(password, 4).unwrap());
    let Some(registry) = start_registry(Some(&line)) else {
        return;
    };
    let image = build_image();
    let reference =
        Reference::parse(&format!("127.0.0.1:{}/matrix/private:1", registry.port)).unwrap();
    let registry_name = format!("127.0.0.1:{}", registry.port);
    // No credentials anywhere (and no docker config) -> AuthRequired.
    let empty_home: PathBuf = registry.dir.path().join("no-docker");
    let anonymous = ClientOptions {
        docker_config_dir: Some(empty_home.clone()),
        ..ClientOptions::default()
    };
    match Client::new(anonymous).push(image.layout.path(), &image.root, &reference) {
        Err(e @ RegistryError::AuthRequired { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains(&registry_name) && text.contains("matrix/private"),
                "{text}"
            );
        }
        other => panic!("expected AuthRequired, got {other:?}"),
    }

    let env = |user: &str, pass: &str| {
        let vars: BTreeMap<&str, String> = [
            ("MATRIX_REGISTRY_USER", user.to_owned()),
            ("MATRIX_REGISTRY_PASSWORD", pass.to_owned()),
            ("DOCKER_CONFIG", empty_home.display().to_string()),
        ]
        .into();
        ClientOptions::from_lookup(|k| vars.get(k).cloned()).unwrap()
    };
    let wrong_password = "not the password";
    match Client::new(env("matrix", wrong_password)).push(
        image.layout.path(),
        &image.root,
        &reference,
    ) {
        Err(e @ RegistryError::AuthRejected { .. }) => {
            let text = format!("{e} {e:?}");
            assert!(text.contains("MATRIX_REGISTRY_USER"), "{text}");
            assert!(!text.contains(wrong_password), "password leaked: {text}");
        }
        other => panic!("expected AuthRejected, got {other:?}"),
    }

    let mut client = Client::new(env("matrix", password));
    let report = client
        .push(image.layout.path(), &image.root, &reference)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", registry.log()));
    assert_eq!((report.blobs_uploaded, report.manifests_pushed), (3, 3));
    assert!(!format!("{client:?}").contains(password));
    let (media_type, _, digest) = client.fetch_manifest(&reference, &[OCI_INDEX]).unwrap();
    assert_eq!(
        (media_type.as_str(), digest),
        (OCI_INDEX, image.root.digest.clone())
    );
}

/// A one-thread fake registry with a token service, enough to drive the
/// Bearer flow (no local registry here runs a token server). It answers
/// 401 with a Bearer challenge until it sees its token, and hands that
/// token only to the right basic credentials. Returns the port and a log
/// of the token requests' query strings.
fn fake_bearer_registry() -> (u16, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead as _, BufReader};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            let mut auth = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("authorization")
                {
                    auth = value.trim().to_owned();
                }
            }
            let path = first.split(' ').nth(1).unwrap_or("").to_owned();
            let basic = format!(
                "Basic {}",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "u:p")
            );
            let (status, extra, body) = if let Some(query) = path.strip_prefix("/token?") {
                let _ = tx.send(query.to_owned());
                if auth == basic {
                    ("200 OK", String::new(), r#"{"token":"t0k"}"#)
                } else {
                    ("401 Unauthorized", String::new(), "")
                }
            } else if auth == "Bearer t0k" {
                ("200 OK", String::new(), "")
            } else {
                let challenge = format!(
                    "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake\",scope=\"repository:team/app:pull\"\r\n"
                );
                (
                    "401 Unauthorized",
                    challenge,
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                )
            };
            let response = format!(
                "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (port, rx)
}

#[test]
fn bearer_challenge_fetches_a_token_with_credentials() {
    let (port, token_requests) = fake_bearer_registry();
    let reference = Reference::parse(&format!("127.0.0.1:{port}/team/app:1")).unwrap();
    let digest = format!("sha256:{}", "a".repeat(64));
    let with_creds = ClientOptions {
        env_credentials: Some(Credentials::new("u", "p")),
        ..ClientOptions::default()
    };
    let mut client = Client::new(with_creds);
    assert!(client.blob_exists(&reference, &digest).unwrap());
    let query = token_requests.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(query, "service=fake&scope=repository%3Ateam%2Fapp%3Apull");
    // The token is reused: no second token request.
    assert!(client.blob_exists(&reference, &digest).unwrap());
    assert!(token_requests.try_recv().is_err());

    let wrong = ClientOptions {
        env_credentials: Some(Credentials::new("u", "nope")),
        ..ClientOptions::default()
    };
    match Client::new(wrong).blob_exists(&reference, &digest) {
        Err(e @ RegistryError::Token { status: 401, .. }) => {
            assert!(!format!("{e} {e:?}").contains("nope"))
        }
        other => panic!("expected a token error, got {other:?}"),
    }
}
