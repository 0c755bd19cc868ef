//! The release's provenance: an in-toto Statement v1 with a SLSA
//! Provenance v1 predicate (subjects: every artifact's digest; build
//! definition: the config's hash, the commit and each target's resolved
//! command and environment), in a DSSE envelope signed with the `[sign]`
//! key when it is Ed25519 (minisign). No clock and no randomness: two
//! builds of one commit write the same file. Part of the `sign` packager.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
const BUILD_TYPE: &str = "https://matrix.invalid/release/v1";

/// What the statement says about a release.
pub struct Release<'a> {
    pub project: &'a str,
    pub version: &'a str,
    pub tag: &'a str,
    pub commit: &'a str,
    pub config_sha256: &'a str,
    /// (name, `<algorithm>:<hex>`) of every file it covers.
    pub subjects: Vec<(String, String)>,
    /// Target id, its command and environment.
    pub targets: Vec<(String, Vec<String>, BTreeMap<String, String>)>,
}

/// The file name of a release's provenance in dist/.
pub fn file_name(project: &str, version: &str) -> String {
    format!("{project}_{version}.intoto.jsonl")
}

/// The in-toto statement, as JSON.
pub fn statement(r: &Release) -> Value {
    let mut subjects: Vec<&(String, String)> = r.subjects.iter().collect();
    subjects.sort();
    let subject: Vec<Value> = subjects
        .iter()
        .filter_map(|(name, digest)| {
            let (alg, hex) = digest.split_once(':')?;
            Some(json!({"name": name, "digest": {alg: hex}}))
        })
        .collect();
    let targets: Vec<Value> = r
        .targets
        .iter()
        .map(|(id, argv, env)| json!({"target": id, "command": argv, "env": env}))
        .collect();
    json!({
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "project": r.project,
                    "version": r.version,
                    "tag": r.tag,
                    "configSha256": r.config_sha256,
                },
                "internalParameters": {"targets": targets},
                "resolvedDependencies": [
                    {"uri": format!("git+{}", r.project), "digest": {"gitCommit": r.commit}}
                ],
            },
            "runDetails": {
                "builder": {"id": format!("https://matrix.invalid/matrix@{}", env!("CARGO_PKG_VERSION"))},
                "metadata": {"invocationId": format!("{}@{}", r.project, r.commit)},
            },
        },
    })
}

/// DSSE's pre-authentication encoding of a payload.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The DSSE envelope (one JSON line) of `payload` with its signature.
pub fn envelope(payload: &[u8], keyid: &str, signature: &[u8]) -> String {
    let env = json!({
        "payloadType": PAYLOAD_TYPE,
        "payload": STANDARD.encode(payload),
        "signatures": [{"keyid": keyid, "sig": STANDARD.encode(signature)}],
    });
    format!("{env}\n")
}

/// Checks an envelope against an Ed25519 public key and gives back its
/// statement; the reason when it does not hold.
pub fn open(envelope: &str, public: &[u8; 32]) -> Result<Value, String> {
    let env: Value =
        serde_json::from_str(envelope.trim()).map_err(|e| format!("not a DSSE envelope: {e}"))?;
    if env["payloadType"] != PAYLOAD_TYPE {
        return Err(format!("payloadType is not {PAYLOAD_TYPE}"));
    }
    let payload = env["payload"]
        .as_str()
        .and_then(|p| STANDARD.decode(p).ok())
        .ok_or("no base64 payload")?;
    let sig = env["signatures"][0]["sig"]
        .as_str()
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or("no base64 signature")?;
    let sig = ed25519_compact::Signature::from_slice(&sig).map_err(|e| e.to_string())?;
    let pk = ed25519_compact::PublicKey::new(*public);
    pk.verify(pae(PAYLOAD_TYPE, &payload), &sig)
        .map_err(|_| "the DSSE signature does not verify".to_string())?;
    serde_json::from_slice(&payload).map_err(|e| format!("the payload is not JSON: {e}"))
}

/// The Ed25519 public key inside a minisign public key file.
pub fn minisign_public(text: &str) -> Option<[u8; 32]> {
    let line = text.lines().nth(1)?;
    let bytes = STANDARD.decode(line.trim()).ok()?;
    (bytes.len() == 42 && &bytes[..2] == b"Ed").then(|| {
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&bytes[10..]);
        pk
    })
}
