//! Unit tests of cosign's layout: the exact bytes of the payload, config
//! and manifest (checked against a signature image cosign 1.13 pushed to
//! Docker Hub, whose digests are known), the tag name, the PEM key, and
//! what a re-run does to a tag that already holds signatures.

use super::*;

/// A signature image `cosign sign --key` pushed (to Docker Hub,
/// chihjenhuang/cosign1, with an ECDSA key): its payload, config and
/// manifest digests as the registry reported them.
const HUB_IMAGE: &str = "sha256:4c1c50d0ffc614f90b93b07d778028dc765548e823f676fb027f61d281ac380d";
const HUB_PAYLOAD: &str = "sha256:b671489ededd1a180bd87235bba00fd83354f9c7d13b71d9f8b66a8e52965ebc";
const HUB_CONFIG: &str = "sha256:85ad8e17d3d7c00664855c638832bd99f32d42542c2d587851410a45a7f60b95";
const HUB_MANIFEST: &str =
    "sha256:7ebe8964225fa4619b53aa35416ef0246c037e36ddf81776b21b15e1dda2262b";
const HUB_SIGNATURE: &str = "MEYCIQCPH7NJAIfrB6BZN91dV0o7l/i11muXrvrAh100jDMMhAIhAPsLH0oXb2OPITXRpWBMUd3vHtz5Ks5pql2Hr6t/IJXw";

fn pair() -> ed25519_compact::KeyPair {
    ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([7u8; 32]))
}

fn signed(payload: &[u8]) -> Vec<u8> {
    pair().sk.sign(payload, None).to_vec()
}

#[test]
fn the_payload_is_cosigns_byte_for_byte() {
    let id = identity("docker.io", "chihjenhuang/cosign1");
    assert_eq!(id, "index.docker.io/chihjenhuang/cosign1");
    let p = payload(&id, HUB_IMAGE);
    assert_eq!(
        String::from_utf8(p.clone()).unwrap(),
        format!(
            "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"index.docker.io/chihjenhuang/cosign1\"}},\
             \"image\":{{\"docker-manifest-digest\":\"{HUB_IMAGE}\"}},\"type\":\"cosign container image signature\"}},\
             \"optional\":null}}"
        )
    );
    assert_eq!(p.len(), 252);
    assert_eq!(sha256_digest(&p), HUB_PAYLOAD);
    assert_eq!(
        identity("127.0.0.1:5000", "team/hello"),
        "127.0.0.1:5000/team/hello"
    );
}

#[test]
fn the_config_and_manifest_are_cosigns_byte_for_byte() {
    // cosign 1.13 recorded the signing time; 2.x leaves Go's zero time
    // unless --record-creation-timestamp. The rest is the same.
    let config = Config {
        created: "2023-02-17T09:25:33.91047962-08:00".into(),
        ..Config::empty()
    }
    .append(HUB_PAYLOAD);
    let bytes = serde_json::to_vec(&config).unwrap();
    assert_eq!(bytes.len(), 247);
    assert_eq!(sha256_digest(&bytes), HUB_CONFIG);
    let manifest = Manifest {
        schema_version: 2,
        media_type: registry::OCI_MANIFEST.into(),
        config: Descriptor {
            media_type: OCI_CONFIG.into(),
            size: 247,
            digest: HUB_CONFIG.into(),
            annotations: BTreeMap::new(),
        },
        layers: vec![Descriptor {
            media_type: SIMPLE_SIGNING.into(),
            size: 252,
            digest: HUB_PAYLOAD.into(),
            annotations: BTreeMap::from([(SIGNATURE_ANNOTATION.into(), HUB_SIGNATURE.into())]),
        }],
    };
    let bytes = serde_json::to_vec(&manifest).unwrap();
    assert_eq!(bytes.len(), 558);
    assert_eq!(sha256_digest(&bytes), HUB_MANIFEST);
    // And it reads back as what it is.
    let hub = Existing::parse(&bytes, &serde_json::to_vec(&config).unwrap()).unwrap();
    assert_eq!(hub.manifest, manifest);
    assert_eq!(hub.config, config);
}

use super::super::registry;

#[test]
fn a_fresh_tag_gets_one_signature_in_cosigns_layout() {
    let p = payload(&identity("127.0.0.1:5000", "hello"), HUB_IMAGE);
    let sig = signed(&p);
    let Outcome::Push(image) = manifest(None, &p, &sig, &pair().pk).unwrap() else {
        panic!("a fresh tag is pushed");
    };
    assert_eq!(image.signatures, 1);
    assert_eq!(image.media_type, registry::OCI_MANIFEST);
    assert_eq!(
        String::from_utf8(image.config.clone()).unwrap(),
        format!(
            "{{\"architecture\":\"\",\"created\":\"0001-01-01T00:00:00Z\",\"history\":[{{\"created\":\"0001-01-01T00:00:00Z\"}}],\
             \"os\":\"\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{}\"]}},\"config\":{{}}}}",
            image.payload_digest
        )
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode(&sig);
    assert_eq!(
        String::from_utf8(image.manifest.clone()).unwrap(),
        format!(
            "{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
             \"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":{},\"digest\":\"{}\"}},\
             \"layers\":[{{\"mediaType\":\"application/vnd.dev.cosign.simplesigning.v1+json\",\"size\":{},\"digest\":\"{}\",\
             \"annotations\":{{\"dev.cosignproject.cosign/signature\":\"{b64}\"}}}}]}}",
            image.config.len(),
            image.config_digest,
            p.len(),
            image.payload_digest
        )
    );
    assert_eq!(image.manifest_digest, sha256_digest(&image.manifest));
    assert!(ed25519_verifies(&pair().pk, &p, &sig));
    // Ed25519 is deterministic: the same key and digest give the same
    // signature image.
    let Outcome::Push(again) = manifest(None, &p, &signed(&p), &pair().pk).unwrap() else {
        panic!()
    };
    assert_eq!(again, image);
}

#[test]
fn a_rerun_keeps_the_tag_and_another_key_appends() {
    let p = payload(&identity("127.0.0.1:5000", "hello"), HUB_IMAGE);
    let Outcome::Push(first) = manifest(None, &p, &signed(&p), &pair().pk).unwrap() else {
        panic!()
    };
    let there = Existing::parse(&first.manifest, &first.config).unwrap();
    // The same key again: cosign's duplicate check finds it.
    assert_eq!(
        manifest(Some(&there), &p, &signed(&p), &pair().pk).unwrap(),
        Outcome::Unchanged { signatures: 1 }
    );
    // Another key: appended after the first, the config growing with it.
    let other = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([9u8; 32]));
    let sig = other.sk.sign(&p, None).to_vec();
    let Outcome::Push(second) = manifest(Some(&there), &p, &sig, &other.pk).unwrap() else {
        panic!("another key's signature is appended");
    };
    assert_eq!(second.signatures, 2);
    let both = Existing::parse(&second.manifest, &second.config).unwrap();
    assert_eq!(both.manifest.layers[0], there.manifest.layers[0]);
    assert_eq!(both.config.rootfs.diff_ids, [p_digest(&p), p_digest(&p)]);
    assert_eq!(both.config.history.len(), 2);
    // A config that does not match its manifest is not a signature image.
    assert!(Existing::parse(&second.manifest, &first.config).is_err());
    assert!(Existing::parse(b"{}", &first.config).is_err());
}

fn p_digest(p: &[u8]) -> String {
    sha256_digest(p)
}

#[test]
fn tags_and_keys_are_cosigns() {
    assert_eq!(
        tag(HUB_IMAGE).unwrap(),
        "sha256-4c1c50d0ffc614f90b93b07d778028dc765548e823f676fb027f61d281ac380d.sig"
    );
    assert_eq!(tag("sha512:abc"), None);
    assert_eq!(tag("sha256:ABC"), None);
    // RFC 8410's example key.
    let public: [u8; 32] =
        hex::decode("19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1")
            .unwrap()
            .try_into()
            .unwrap();
    assert_eq!(
        public_key_pem(&public),
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"
    );
}

#[test]
fn review13_a_config_digest_that_is_no_sha256_digest_is_refused() {
    let p = payload(&identity("127.0.0.1:5000", "hello"), HUB_IMAGE);
    let Outcome::Push(image) = manifest(None, &p, &signed(&p), &pair().pk).unwrap() else {
        panic!()
    };
    assert_eq!(
        Existing::config_digest(&image.manifest).unwrap(),
        image.config_digest
    );
    // What a hostile registry could put there to steer the next request.
    for bad in [
        "sha256:../../../v2/other/blobs/x",
        "sha256:abc?ns=evil",
        &format!("sha256:{}", "A".repeat(64)),
        &format!("sha512:{}", "a".repeat(128)),
        "",
    ] {
        let mut m: Manifest = serde_json::from_slice(&image.manifest).unwrap();
        m.config.digest = bad.to_owned();
        let why = Existing::config_digest(&serde_json::to_vec(&m).unwrap()).unwrap_err();
        assert!(
            why.contains(&format!("its config digest {bad:?} is not sha256:")),
            "{why}"
        );
    }
}
