//! The SPDX 2.3 JSON document of an archive.
//!
//! The document describes one package, the archive (its file name and
//! sha256); the binary's modules or crates are packages it CONTAINS, with
//! their purls as external references, and the archive's files are files
//! it CONTAINS, with their sha256.

use serde_json::{Value, json};

use super::{Subject, components, derived_uuid, rfc3339};

const ARCHIVE_ID: &str = "SPDXRef-Package-archive";

pub(super) fn render(s: &Subject) -> Value {
    let mut packages = Vec::new();
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": ARCHIVE_ID,
    })];
    let license = if s.license.is_empty() {
        "NOASSERTION".to_string()
    } else {
        s.license.clone()
    };
    let mut archive = json!({
        "SPDXID": ARCHIVE_ID,
        "name": s.archive,
        "versionInfo": s.version,
        "packageFileName": s.archive,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "checksums": [{ "algorithm": "SHA256", "checksumValue": s.archive_sha256 }],
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": license,
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "ARCHIVE",
    });
    if !s.homepage.is_empty() {
        archive["homepage"] = json!(s.homepage);
    }
    packages.push(archive);
    for (i, c) in components(s).into_iter().enumerate() {
        let id = format!("SPDXRef-Package-{i}");
        let mut p = json!({
            "SPDXID": id,
            "name": c.name,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": if c.kind == "application" { "APPLICATION" } else { "LIBRARY" },
        });
        if !c.version.is_empty() {
            p["versionInfo"] = json!(c.version);
        }
        if let Some(sha) = &c.sha256 {
            p["checksums"] = json!([{ "algorithm": "SHA256", "checksumValue": sha }]);
        }
        if let Some(purl) = &c.purl {
            p["externalRefs"] = json!([{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": purl,
            }]);
        }
        if !c.properties.is_empty() {
            let notes: Vec<String> = c
                .properties
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            p["comment"] = json!(notes.join("\n"));
        }
        relationships.push(contains(&id));
        packages.push(p);
    }
    let mut files = Vec::new();
    for (i, f) in s.files.iter().enumerate() {
        let id = format!("SPDXRef-File-{i}");
        files.push(json!({
            "SPDXID": id,
            "fileName": format!("./{}", f.path),
            "checksums": [
                { "algorithm": "SHA1", "checksumValue": f.sha1 },
                { "algorithm": "SHA256", "checksumValue": f.sha256 },
            ],
            "licenseConcluded": "NOASSERTION",
            "copyrightText": "NOASSERTION",
        }));
        relationships.push(contains(&id));
    }
    let mut creators = vec![format!("Tool: matrix-{}", s.generator)];
    creators.extend(s.tools.iter().map(|t| {
        if t.version.is_empty() {
            format!("Tool: {}", t.name)
        } else {
            format!("Tool: {}-{}", t.name, t.version)
        }
    }));
    let mut comment = format!("target {}", s.target);
    if !s.commit.is_empty() {
        comment.push_str(&format!(", commit {}", s.commit));
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": s.archive,
        "documentNamespace": format!(
            "https://spdx.org/spdxdocs/{}-{}",
            s.project,
            derived_uuid(s, "spdx")
        ),
        "comment": comment,
        "creationInfo": {
            "created": rfc3339(s),
            "creators": creators,
        },
        "documentDescribes": [ARCHIVE_ID],
        "packages": packages,
        "files": files,
        "relationships": relationships,
    })
}

fn contains(id: &str) -> Value {
    json!({
        "spdxElementId": ARCHIVE_ID,
        "relationshipType": "CONTAINS",
        "relatedSpdxElement": id,
    })
}
