//! Unit tests of `[sign]`: the config's rules, a minisign key loaded from
//! a file signing and verifying natively, and the secret kept out of
//! `Debug`.

use super::config::{Method, SignConfig, Signed};
use super::*;

fn config(method: Method) -> SignConfig {
    SignConfig {
        method,
        key_file: None,
        key_env: None,
        key_id: None,
        passphrase_env: None,
        artifacts: Signed::Checksums,
        images: true,
    }
}

#[test]
fn the_keys_are_checked_together() {
    let key = |k: &str| Some(k.to_string());
    let problem = |c: SignConfig| c.problem().map(|(key, _, _)| key);
    assert_eq!(problem(config(Method::Minisign)), Some("method"));
    assert_eq!(problem(config(Method::Gpg)), Some("method"));
    assert_eq!(
        problem(SignConfig {
            key_file: key("k"),
            ..config(Method::Minisign)
        }),
        None
    );
    assert_eq!(
        problem(SignConfig {
            key_file: key("k"),
            key_env: key("K"),
            ..config(Method::Ssh)
        }),
        Some("key-env")
    );
    assert_eq!(
        problem(SignConfig {
            key_file: key("k"),
            key_id: key("ABC"),
            ..config(Method::Ssh)
        }),
        Some("key-id")
    );
    assert_eq!(
        problem(SignConfig {
            key_id: key("ABC"),
            key_env: key("K"),
            ..config(Method::Gpg)
        }),
        Some("key-env")
    );
    assert_eq!(
        problem(SignConfig {
            key_id: key("--export"),
            ..config(Method::Gpg)
        }),
        Some("key-id")
    );
    assert_eq!(
        problem(SignConfig {
            key_env: key("A-B"),
            ..config(Method::Minisign)
        }),
        Some("key-env")
    );
    assert_eq!(
        problem(SignConfig {
            key_file: key("k"),
            passphrase_env: key(""),
            ..config(Method::Minisign)
        }),
        Some("passphrase-env")
    );
}

#[test]
fn signature_files_are_named_by_method() {
    assert_eq!(method_of("x.txt.minisig"), Some(Method::Minisign));
    assert_eq!(method_of("x.txt.sig"), Some(Method::Ssh));
    assert_eq!(method_of("x.txt.asc"), Some(Method::Gpg));
    assert_eq!(method_of("x.txt"), None);
}

#[test]
fn a_minisign_key_signs_and_verifies_natively_and_stays_secret() {
    let dir = tempfile::tempdir().unwrap();
    let pair = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    let secret_box = pair.sk.to_box(None).unwrap().into_string();
    std::fs::write(dir.path().join("key.sec"), &secret_box).unwrap();
    let step = plan(
        "hello",
        &SignConfig {
            key_file: Some("key.sec".into()),
            ..config(Method::Minisign)
        },
    );
    let signer = Signer::load(&step, dir.path(), "hello", "abc123").unwrap();
    assert_eq!(signer.public_name, "hello.pub");
    let debug = format!("{signer:?}");
    let secret_line = secret_box.lines().nth(1).unwrap();
    assert!(!debug.contains(secret_line), "{debug}");
    assert!(debug.contains("key-file key.sec"), "{debug}");

    let file = dir.path().join("sums.txt");
    std::fs::write(&file, "abc  file\n").unwrap();
    let sig = signer.sign("sums.txt", &file).unwrap();
    let text = String::from_utf8(sig.clone()).unwrap();
    assert!(text.contains("trusted comment: file:sums.txt project:hello commit:abc123"));
    let (public, sig_path) = (
        dir.path().join("hello.pub"),
        dir.path().join("sums.txt.minisig"),
    );
    std::fs::write(&public, &signer.public_text).unwrap();
    std::fs::write(&sig_path, &sig).unwrap();
    verify(Method::Minisign, &public, &sig_path, &file).unwrap();
    std::fs::write(&file, "abd  file\n").unwrap();
    assert!(verify(Method::Minisign, &public, &sig_path, &file).is_err());

    // The same key signs DSSE envelopes with raw Ed25519, keyed by
    // minisign's key id, and `dsse` checks them with the public key file.
    let ed25519 = signer.ed25519_public().unwrap();
    assert_eq!(
        provenance::minisign_public(&signer.public_text),
        Some(ed25519)
    );
    let payload = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
    let pae = provenance::pae(provenance::PAYLOAD_TYPE, payload);
    let (keyid, sig) = signer.sign_dsse("x.intoto.jsonl", &pae).unwrap();
    assert_eq!(
        signer.sign_ed25519(&pae),
        Some((keyid.clone(), sig.clone()))
    );
    assert!(signer.public_text.lines().next().unwrap().ends_with(&keyid));
    let envelope = provenance::envelope(payload, &keyid, &sig);
    let statement = dsse(Method::Minisign, &public, &envelope).unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    let mut bad = sig.clone();
    bad[0] ^= 1;
    let envelope = provenance::envelope(payload, &keyid, &bad);
    assert!(dsse(Method::Minisign, &public, &envelope).is_err());
}

#[test]
fn a_key_of_the_wrong_kind_names_its_source_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key"), "not a key at all, SECRETSTUFF\n").unwrap();
    for method in [Method::Minisign, Method::Ssh] {
        let step = plan(
            "hello",
            &SignConfig {
                key_file: Some("key".into()),
                ..config(method)
            },
        );
        let e = Signer::load(&step, dir.path(), "hello", "c").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("key-file key"), "{text}");
        assert!(!text.contains("SECRETSTUFF"), "{text}");
    }
}
