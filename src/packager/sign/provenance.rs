//! Provenance: in-toto Statements v1 with a SLSA Provenance v1 predicate,
//! one for the release (subjects: every file the checksums file lists)
//! and one per archive (its only subject: that archive). The build
//! definition holds the config's hash, the commit and each target's
//! resolved command, environment and toolchain (preset, container image)
//! when the plan has one. Each is a DSSE envelope signed with the `[sign]`
//! key ([`super::Signer::sign_dsse`]). No clock and no randomness in the
//! statement: two builds of one commit write the same statements, and the
//! same files where the signature is deterministic. Part of the `sign`
//! packager.

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
    /// How each target covered was built.
    pub targets: Vec<TargetBuild>,
}

/// How one target was built, as the plan says.
pub struct TargetBuild {
    pub id: String,
    /// The resolved command.
    pub command: Vec<String>,
    /// The environment added to the inherited one.
    pub env: BTreeMap<String, String>,
    /// The toolchain the plan names (preset, container image), if any.
    pub toolchain: Option<Value>,
}

/// The file name of a release's provenance in dist/.
pub fn file_name(project: &str, version: &str) -> String {
    format!("{project}_{version}.intoto.jsonl")
}

/// The file name of an archive's provenance in dist/.
pub fn archive_file_name(archive: &str) -> String {
    format!("{archive}{SUFFIX}")
}

/// What every provenance file's name ends with.
pub const SUFFIX: &str = ".intoto.jsonl";

/// The invocation id: the same for every build of one commit with one
/// config (no clock, no random id).
pub fn invocation_id(project: &str, commit: &str, config_sha256: &str) -> String {
    format!(
        "{project}@{commit}+config.{}",
        config_sha256.get(..16).unwrap_or(config_sha256)
    )
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
        .map(|t| {
            let mut v = json!({"target": t.id, "command": t.command, "env": t.env});
            if let Some(toolchain) = &t.toolchain {
                v["toolchain"] = toolchain.clone();
            }
            v
        })
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
                "metadata": {"invocationId": invocation_id(r.project, r.commit, r.config_sha256)},
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

/// An envelope taken apart, its signature not yet checked.
pub struct Envelope {
    pub payload: Vec<u8>,
    pub keyid: String,
    pub sig: Vec<u8>,
}

impl Envelope {
    /// Reads one DSSE envelope (one JSON line, one signature).
    pub fn parse(text: &str) -> Result<Envelope, String> {
        let env: Value =
            serde_json::from_str(text.trim()).map_err(|e| format!("not a DSSE envelope: {e}"))?;
        if env["payloadType"] != PAYLOAD_TYPE {
            return Err(format!("payloadType is not {PAYLOAD_TYPE}"));
        }
        let payload = env["payload"]
            .as_str()
            .and_then(|p| STANDARD.decode(p).ok())
            .ok_or("no base64 payload")?;
        let signatures = env["signatures"].as_array().map_or(0, Vec::len);
        if signatures != 1 {
            return Err(format!("{signatures} signatures, matrix writes one"));
        }
        let sig = env["signatures"][0]["sig"]
            .as_str()
            .and_then(|s| STANDARD.decode(s).ok())
            .ok_or("no base64 signature")?;
        let keyid = env["signatures"][0]["keyid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Ok(Envelope {
            payload,
            keyid,
            sig,
        })
    }

    /// What the signature covers.
    pub fn pae(&self) -> Vec<u8> {
        pae(PAYLOAD_TYPE, &self.payload)
    }

    /// The statement it carries.
    pub fn statement(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.payload).map_err(|e| format!("the payload is not JSON: {e}"))
    }
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
