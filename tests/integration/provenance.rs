//! Provenance (`[sign]`): the release's and each archive's DSSE envelope
//! checked apart from matrix, with every kind of key (the PAE recomputed
//! here; Ed25519, ECDSA and RSA signatures by openssl, OpenPGP ones by
//! `gpg --verify`), their subjects against the checksums file and the
//! archive, their bytes across two builds, and tampering refused.

use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::sign::{ARCHIVE, CHECKSUMS, manifest_kinds, project, tool};
use crate::support::{require, run};

const RELEASE: &str = "hello_1.2.3.intoto.jsonl";

/// DSSE's pre-authentication encoding, written here again so the check
/// does not share matrix's code.
fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// openssl's verdict on an envelope's Ed25519 signature, with the key
/// from the minisign public key file.
fn openssl_verifies(envelope: &serde_json::Value, minisign_pub: &str, work: &Path) -> bool {
    let key = B64.decode(minisign_pub.lines().nth(1).unwrap()).unwrap();
    assert_eq!(&key[..2], b"Ed");
    openssl_checks(envelope, &Pem::Ed25519(key[10..42].to_vec()), work)
}

/// A public key for openssl: raw Ed25519, or a PEM file's text.
enum Pem {
    Ed25519(Vec<u8>),
    Spki(String),
}

/// openssl's verdict on an envelope's signature: Ed25519 over the PAE, or
/// (ECDSA, RSA PKCS#1 v1.5) over the PAE's SHA-256.
fn openssl_checks(envelope: &serde_json::Value, key: &Pem, work: &Path) -> bool {
    let payload = B64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let sig = B64
        .decode(envelope["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    let pem = match key {
        Pem::Ed25519(raw) => {
            // SubjectPublicKeyInfo of an Ed25519 key (RFC 8410), then the key.
            let mut der = hex_bytes("302a300506032b6570032100");
            der.extend_from_slice(raw);
            format!(
                "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                B64.encode(der)
            )
        }
        Pem::Spki(text) => text.clone(),
    };
    std::fs::write(work.join("pub.pem"), pem).unwrap();
    std::fs::write(
        work.join("pae.bin"),
        pae(envelope["payloadType"].as_str().unwrap(), &payload),
    )
    .unwrap();
    std::fs::write(work.join("sig.bin"), sig).unwrap();
    let args: &[&str] = match key {
        Pem::Ed25519(_) => &[
            "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "pae.bin",
            "-sigfile", "sig.bin",
        ],
        Pem::Spki(_) => &[
            "dgst",
            "-sha256",
            "-verify",
            "pub.pem",
            "-signature",
            "sig.bin",
            "pae.bin",
        ],
    };
    tool("openssl", args, work).status.success()
}

/// One byte of an envelope's signature flipped.
fn flipped(envelope: &serde_json::Value) -> serde_json::Value {
    let mut sig = B64
        .decode(envelope["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    let at = sig.len() / 2;
    sig[at] ^= 1;
    let mut out = envelope.clone();
    out["signatures"][0]["sig"] = B64.encode(sig).into();
    out
}

fn read_envelope(p: &crate::support::Project, name: &str) -> (String, serde_json::Value) {
    let text = std::fs::read_to_string(p.dist().join(name)).expect(name);
    assert_eq!(text.lines().count(), 1, "{name}: one JSON line");
    assert!(text.ends_with('\n'), "{name}: newline ended");
    let envelope: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    (text, envelope)
}

fn statement_of(envelope: &serde_json::Value) -> serde_json::Value {
    let payload = B64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

fn sha256_hex(path: &Path) -> String {
    let out = tool("sha256sum", &[path.to_str().unwrap()], Path::new("/"));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// An archive's provenance names only that archive, by its sha256, and
/// its target's build.
fn check_archive_statement(p: &crate::support::Project, envelope: &serde_json::Value) {
    let statement = statement_of(envelope);
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    let subjects = statement["subject"].as_array().unwrap();
    assert_eq!(subjects.len(), 1, "{statement}");
    assert_eq!(subjects[0]["name"], ARCHIVE);
    assert_eq!(
        subjects[0]["digest"]["sha256"].as_str().unwrap(),
        sha256_hex(&p.dist().join(ARCHIVE))
    );
    let build = &statement["predicate"]["buildDefinition"];
    let targets = build["internalParameters"]["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0]["target"], "linux/amd64");
    assert!(!targets[0]["command"].as_array().unwrap().is_empty());
    assert_eq!(
        build["externalParameters"]["configSha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    let run = &statement["predicate"]["runDetails"];
    assert!(run["builder"]["id"].as_str().unwrap().contains("matrix@"));
    assert!(
        run["metadata"]["invocationId"]
            .as_str()
            .unwrap()
            .starts_with("hello@")
    );
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn minisign_key_signs_the_release_provenance() {
    use base64::Engine;
    if !require("minisign", "apt-get install minisign")
        || !require("openssl", "apt-get install openssl")
    {
        return;
    }
    let keys = tempfile::tempdir().expect("tempdir");
    let g = tool(
        "minisign",
        &["-G", "-W", "-p", "key.pub", "-s", "key.sec"],
        keys.path(),
    );
    assert!(g.status.success());
    let p = project(&format!(
        "method = \"minisign\"\nkey-file = \"{}\"",
        keys.path().join("key.sec").display()
    ));
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let name = RELEASE;
    let archive_name = format!("{ARCHIVE}.intoto.jsonl");
    assert!(manifest_kinds(&p).contains(&(name.into(), "provenance".into())));
    assert!(manifest_kinds(&p).contains(&(archive_name.clone(), "provenance".into())));
    // The archive's provenance names its target in the manifest.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.dist().join("manifest.json")).unwrap())
            .unwrap();
    let record = |name: &str| {
        manifest["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(record(&archive_name)["target"], "linux/amd64");
    assert!(record(name)["target"].is_null());
    let text = std::fs::read_to_string(p.dist().join(name)).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON line");
    let envelope: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    let public = std::fs::read_to_string(p.dist().join("hello.pub")).unwrap();
    assert!(openssl_verifies(&envelope, &public, keys.path()));
    let (archive_text, archive_envelope) = read_envelope(&p, &archive_name);
    assert!(openssl_verifies(&archive_envelope, &public, keys.path()));
    assert!(!openssl_verifies(
        &flipped(&archive_envelope),
        &public,
        keys.path()
    ));
    check_archive_statement(&p, &archive_envelope);
    // The key id: minisign's, as its public key file's comment shows it.
    let ids = [&envelope, &archive_envelope].map(|e| e["signatures"][0]["keyid"].clone());
    assert_eq!(ids[0], ids[1]);
    let id = ids[0].as_str().unwrap();
    assert_eq!(id.len(), 16);
    assert!(
        public.lines().next().unwrap().ends_with(&format!(" {id}")),
        "{id}: {public}"
    );
    // The statement, and its subjects against the checksums file.
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    let mut subjects: Vec<(String, String)> = statement["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["digest"]["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    subjects.sort();
    let sums = std::fs::read_to_string(p.dist().join(CHECKSUMS)).unwrap();
    let mut listed: Vec<(String, String)> = sums
        .lines()
        .map(|l| {
            let (hash, file) = l.split_once("  ").unwrap();
            (file.to_string(), hash.to_string())
        })
        .collect();
    listed.sort();
    assert_eq!(subjects, listed);
    let predicate = &statement["predicate"]["buildDefinition"];
    assert_eq!(
        predicate["resolvedDependencies"][0]["digest"]["gitCommit"]
            .as_str()
            .unwrap()
            .len(),
        40
    );
    assert_eq!(
        predicate["internalParameters"]["targets"][0]["target"],
        "linux/amd64"
    );
    // Two builds of one commit: the same bytes (Ed25519 is deterministic).
    let (code, out, err) = run(&mut p.matrix(&["build", "--clean"]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(std::fs::read_to_string(p.dist().join(name)).unwrap(), text);
    assert_eq!(
        std::fs::read_to_string(p.dist().join(&archive_name)).unwrap(),
        archive_text
    );
    let (code, out, _) = run(&mut p.matrix(&["verify", "dist"]));
    assert_eq!(code, 0, "{out}");
    // A subject's digest changed in the payload: openssl and matrix verify
    // both refuse it.
    let tampered =
        String::from_utf8(payload.clone())
            .unwrap()
            .replacen(&listed[0].1, &"0".repeat(64), 1);
    let mut forged = envelope.clone();
    forged["payload"] = b64.encode(tampered.as_bytes()).into();
    assert!(!openssl_verifies(&forged, &public, keys.path()));
    std::fs::write(p.dist().join(name), format!("{forged}\n")).unwrap();
    let (code, out, _) = run(&mut p.matrix(&["verify", "dist"]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "problem: {name}: the DSSE signature does not verify"
        )),
        "{out}"
    );
    // One flipped byte of the signature fails too.
    assert!(!openssl_verifies(&flipped(&envelope), &public, keys.path()));
}

/// An SSH key of each kind signs both provenance files with its own
/// algorithm (Ed25519; ECDSA P-256 and RSA PKCS#1 v1.5 over SHA-256),
/// openssl verifies each with the public key ssh-keygen gives, the key id
/// is the key's SHA256 fingerprint, ssh-keygen still verifies the
/// detached signature, and two builds write the same bytes (all three are
/// deterministic as matrix makes them).
#[test]
fn ssh_keys_of_every_kind_sign_the_provenance() {
    if !require("ssh-keygen", "apt-get install openssh-client")
        || !require("openssl", "apt-get install openssl")
    {
        return;
    }
    for kind in [
        &["-t", "ed25519"][..],
        &["-t", "ecdsa", "-b", "256"],
        &["-t", "rsa", "-b", "2048"],
    ] {
        let keys = tempfile::tempdir().expect("tempdir");
        let mut args = vec!["-q", "-N", "pass-phrase", "-C", "", "-f", "id"];
        args.extend_from_slice(kind);
        let g = tool("ssh-keygen", &args, keys.path());
        assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
        let p = project(&format!(
            "method = \"ssh\"\nkey-file = \"{}\"\npassphrase-env = \"TEST_PASS\"",
            keys.path().join("id").display()
        ));
        let build = |args: &[&str]| {
            let (code, out, err) = run(p.matrix(args).env("TEST_PASS", "pass-phrase"));
            assert_eq!(code, 0, "{kind:?}: {out}\n{err}");
        };
        build(&["build"]);
        let key = if kind[1] == "ed25519" {
            let line = std::fs::read_to_string(keys.path().join("id.pub")).unwrap();
            let blob = B64.decode(line.split_whitespace().nth(1).unwrap()).unwrap();
            Pem::Ed25519(blob[blob.len() - 32..].to_vec())
        } else {
            let e = tool(
                "ssh-keygen",
                &["-e", "-m", "PKCS8", "-f", "id.pub"],
                keys.path(),
            );
            assert!(e.status.success());
            Pem::Spki(String::from_utf8(e.stdout).unwrap())
        };
        let fingerprint = tool(
            "ssh-keygen",
            &["-l", "-E", "sha256", "-f", "id.pub"],
            keys.path(),
        );
        let fingerprint = String::from_utf8_lossy(&fingerprint.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string();
        let archive_name = format!("{ARCHIVE}.intoto.jsonl");
        let mut texts = Vec::new();
        for name in [RELEASE, archive_name.as_str()] {
            let (text, envelope) = read_envelope(&p, name);
            assert!(
                openssl_checks(&envelope, &key, keys.path()),
                "{kind:?}: {name}"
            );
            assert!(!openssl_checks(&flipped(&envelope), &key, keys.path()));
            assert_eq!(envelope["signatures"][0]["keyid"], fingerprint.as_str());
            texts.push(text);
        }
        let (_, archive_envelope) = read_envelope(&p, &archive_name);
        check_archive_statement(&p, &archive_envelope);
        // The detached signature: ssh-keygen's own check.
        let v = Command::new("ssh-keygen")
            .args(["-Y", "verify", "-n", "file", "-I", "hello", "-f"])
            .arg(p.dist().join("allowed_signers"))
            .arg("-s")
            .arg(p.dist().join(format!("{CHECKSUMS}.sig")))
            .stdin(std::fs::File::open(p.dist().join(CHECKSUMS)).unwrap())
            .output()
            .unwrap();
        assert!(
            v.status.success(),
            "{kind:?}: {}",
            String::from_utf8_lossy(&v.stderr)
        );
        let (code, out, _) = run(&mut p.matrix(&["verify", "dist"]));
        assert_eq!(code, 0, "{kind:?}: {out}");
        assert!(out.contains("3 signatures"), "{out}");
        let sig = std::fs::read(p.dist().join(format!("{CHECKSUMS}.sig"))).unwrap();
        build(&["build", "--clean"]);
        for (name, text) in [RELEASE, archive_name.as_str()].iter().zip(&texts) {
            assert_eq!(
                &std::fs::read_to_string(p.dist().join(name)).unwrap(),
                text,
                "{kind:?}: {name} differs between builds"
            );
        }
        assert_eq!(
            std::fs::read(p.dist().join(format!("{CHECKSUMS}.sig"))).unwrap(),
            sig,
            "{kind:?}: the SSH signature differs between builds"
        );
        // A flipped byte of an envelope's signature: matrix verify refuses.
        let (_, envelope) = read_envelope(&p, &archive_name);
        std::fs::write(
            p.dist().join(&archive_name),
            format!("{}\n", flipped(&envelope)),
        )
        .unwrap();
        let (code, out, _) = run(&mut p.matrix(&["verify", "dist"]));
        assert_eq!(code, 1, "{out}");
        assert!(
            out.contains(&format!(
                "problem: {archive_name}: the DSSE signature does not verify"
            )),
            "{kind:?}: {out}"
        );
    }
}

/// A gpg key: each provenance's signature is a binary OpenPGP detached
/// signature of the PAE, which `gpg --verify sig pae` accepts, keyed by
/// the key's fingerprint; gpg's signatures carry their time, so two builds
/// differ only there: the statements are the same bytes.
#[test]
fn a_gpg_key_signs_the_provenance() {
    if !require("gpg", "apt-get install gnupg") {
        return;
    }
    let home = tempfile::tempdir().expect("tempdir");
    let gpg = |args: &[&str]| {
        Command::new("gpg")
            .env("GNUPGHOME", home.path())
            .args(["--batch"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("gpg")
    };
    let g = gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "Test Signer <signer@example.org>",
        "ed25519",
        "sign",
        "never",
    ]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let listed = gpg(&["--with-colons", "--list-secret-keys"]);
    let fpr = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .and_then(|l| l.split(':').nth(9))
        .expect("fingerprint")
        .to_string();
    let p = project(&format!("method = \"gpg\"\nkey-id = \"{fpr}\""));
    let (code, out, err) = run(p.matrix(&["build"]).env("GNUPGHOME", home.path()));
    assert_eq!(code, 0, "{out}\n{err}");
    let work = tempfile::tempdir().expect("tempdir");
    let gpg_verifies = |envelope: &serde_json::Value| {
        let payload = B64.decode(envelope["payload"].as_str().unwrap()).unwrap();
        let sig = B64
            .decode(envelope["signatures"][0]["sig"].as_str().unwrap())
            .unwrap();
        let (sig_file, pae_file) = (work.path().join("sig"), work.path().join("pae"));
        std::fs::write(&sig_file, sig).unwrap();
        std::fs::write(
            &pae_file,
            pae(envelope["payloadType"].as_str().unwrap(), &payload),
        )
        .unwrap();
        gpg(&[
            "--verify",
            sig_file.to_str().unwrap(),
            pae_file.to_str().unwrap(),
        ])
        .status
        .success()
    };
    let archive_name = format!("{ARCHIVE}.intoto.jsonl");
    let mut statements = Vec::new();
    for name in [RELEASE, archive_name.as_str()] {
        let (_, envelope) = read_envelope(&p, name);
        assert!(gpg_verifies(&envelope), "{name}");
        assert!(!gpg_verifies(&flipped(&envelope)), "{name}");
        // Binary, not armored.
        let sig = B64
            .decode(envelope["signatures"][0]["sig"].as_str().unwrap())
            .unwrap();
        assert!(!sig.starts_with(b"-----"));
        assert_eq!(envelope["signatures"][0]["keyid"], fpr.as_str());
        statements.push(envelope["payload"].clone());
    }
    let (_, archive_envelope) = read_envelope(&p, &archive_name);
    check_archive_statement(&p, &archive_envelope);
    // matrix verify: its own keyring with the exported key.
    let (code, out, _) = run(p.matrix(&["verify", "dist"]).env_remove("GNUPGHOME"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 signatures"), "{out}");
    // A second build: the same statements.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (code, out, err) = run(p
        .matrix(&["build", "--clean"])
        .env("GNUPGHOME", home.path()));
    assert_eq!(code, 0, "{out}\n{err}");
    for (name, payload) in [RELEASE, archive_name.as_str()].iter().zip(&statements) {
        let (_, envelope) = read_envelope(&p, name);
        assert_eq!(&envelope["payload"], payload, "{name}");
    }
    // A flipped byte of the signature: matrix verify refuses.
    std::fs::write(
        p.dist().join(RELEASE),
        format!("{}\n", flipped(&read_envelope(&p, RELEASE).1)),
    )
    .unwrap();
    let (code, out, _) = run(p.matrix(&["verify", "dist"]).env_remove("GNUPGHOME"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "problem: {RELEASE}: the DSSE signature does not verify"
        )),
        "{out}"
    );
}
