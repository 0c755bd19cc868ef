//! The CycloneDX 1.6 JSON document of an archive.
//!
//! The archive is `metadata.component` (named by its file name, with its
//! sha256); the binary's modules or crates and the archive's files are
//! `components`; `dependencies` says the archive holds them all.

use serde_json::{Value, json};

use super::{Subject, components, derived_uuid, rfc3339};

const ARCHIVE_REF: &str = "archive";

pub(super) fn render(s: &Subject) -> Value {
    let mut refs = Vec::new();
    let mut list = Vec::new();
    for (i, c) in components(s).into_iter().enumerate() {
        let bom_ref = match &c.purl {
            Some(p) => format!("{p}#{i}"),
            None => format!("component-{i}"),
        };
        let mut v = json!({
            "type": c.kind,
            "bom-ref": bom_ref,
            "name": c.name,
        });
        if !c.version.is_empty() {
            v["version"] = json!(c.version);
        }
        if let Some(sha) = &c.sha256 {
            v["hashes"] = json!([{ "alg": "SHA-256", "content": sha }]);
        }
        if let Some(p) = &c.purl {
            v["purl"] = json!(p);
        }
        if !c.properties.is_empty() {
            v["properties"] = properties(&c.properties);
        }
        refs.push(bom_ref);
        list.push(v);
    }
    for (i, f) in s.files.iter().enumerate() {
        let bom_ref = format!("file-{i}");
        list.push(json!({
            "type": "file",
            "bom-ref": bom_ref,
            "name": f.path,
            "hashes": [{ "alg": "SHA-256", "content": f.sha256 }],
        }));
        refs.push(bom_ref);
    }
    let mut archive = json!({
        "type": "application",
        "bom-ref": ARCHIVE_REF,
        "name": s.archive,
        "version": s.version,
        "hashes": [{ "alg": "SHA-256", "content": s.archive_sha256 }],
    });
    if !s.license.is_empty() {
        archive["licenses"] = json!([{ "expression": s.license }]);
    }
    if !s.homepage.is_empty() {
        archive["externalReferences"] = json!([{ "type": "website", "url": s.homepage }]);
    }
    let mut meta = vec![
        ("matrix:project".to_string(), s.project.clone()),
        ("matrix:target".to_string(), s.target.clone()),
    ];
    if !s.commit.is_empty() {
        meta.push(("matrix:commit".into(), s.commit.clone()));
    }
    if let Some(go) = &s.go {
        for (k, v) in &go.settings {
            meta.push((format!("matrix:go:build:{k}"), v.clone()));
        }
    }
    let mut tools = vec![json!({
        "type": "application",
        "name": "matrix",
        "version": s.generator,
    })];
    for t in &s.tools {
        let mut v = json!({ "type": "application", "name": t.name });
        if !t.version.is_empty() {
            v["version"] = json!(t.version);
        }
        tools.push(v);
    }
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", derived_uuid(s, "cyclonedx")),
        "version": 1,
        "metadata": {
            "timestamp": rfc3339(s),
            "tools": { "components": tools },
            "component": archive,
            "properties": properties(&meta),
        },
        "components": list,
        "dependencies": [{ "ref": ARCHIVE_REF, "dependsOn": refs }],
    })
}

fn properties(p: &[(String, String)]) -> Value {
    Value::Array(
        p.iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect(),
    )
}
