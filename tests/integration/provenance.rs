//! The release's provenance (`[sign]` with a minisign key): the DSSE
//! envelope checked apart from matrix (the PAE recomputed here, the Ed25519
//! signature by openssl), its subjects against the checksums file, its
//! bytes across two builds, and tampering refused.

use std::path::Path;

use crate::sign::{CHECKSUMS, manifest_kinds, project, tool};
use crate::support::{require, run};

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
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let sig = b64
        .decode(envelope["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    let key = b64.decode(minisign_pub.lines().nth(1).unwrap()).unwrap();
    assert_eq!(&key[..2], b"Ed");
    // SubjectPublicKeyInfo of an Ed25519 key (RFC 8410), then the key.
    let mut der = hex_bytes("302a300506032b6570032100");
    der.extend_from_slice(&key[10..42]);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        b64.encode(der)
    );
    std::fs::write(work.join("pub.pem"), pem).unwrap();
    std::fs::write(
        work.join("pae.bin"),
        pae(envelope["payloadType"].as_str().unwrap(), &payload),
    )
    .unwrap();
    std::fs::write(work.join("sig.bin"), sig).unwrap();
    tool(
        "openssl",
        &[
            "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "pae.bin",
            "-sigfile", "sig.bin",
        ],
        work,
    )
    .status
    .success()
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
    let name = "hello_1.2.3.intoto.jsonl";
    assert!(manifest_kinds(&p).contains(&(name.into(), "provenance".into())));
    let text = std::fs::read_to_string(p.dist().join(name)).unwrap();
    assert_eq!(text.lines().count(), 1, "one JSON line");
    let envelope: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    let public = std::fs::read_to_string(p.dist().join("hello.pub")).unwrap();
    assert!(openssl_verifies(&envelope, &public, keys.path()));
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
    let mut sig = b64
        .decode(envelope["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    sig[10] ^= 1;
    let mut flipped = envelope.clone();
    flipped["signatures"][0]["sig"] = b64.encode(sig).into();
    assert!(!openssl_verifies(&flipped, &public, keys.path()));
}
