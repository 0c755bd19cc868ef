//! What a platform image's attestations say: its SBOM (an SPDX 2.3
//! document, the predicate `https://spdx.dev/Document`) and its build's
//! provenance (a SLSA Provenance v1 predicate).
//!
//! The SBOM is the archive SBOM's document ([`super::spdx`]) made about
//! the image instead: the described package is the image (its manifest's
//! sha256, its purl), and it CONTAINS the release binary's modules or
//! crates, the Debian packages of the image's dpkg database
//! ([`super::dpkg`]) and every file of the image with its digests. The
//! provenance names the Dockerfile and the binary by sha256, the build
//! arguments, the base images and the platform. Neither has a clock or a
//! random part: `exec` gathers the facts, these functions only shape them.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Subject;
use super::dpkg::{self, Deb};

const ARCHIVE_ID: &str = "SPDXRef-Package-archive";
const IMAGE_ID: &str = "SPDXRef-Package-image";
const BUILD_TYPE: &str = "https://matrix.invalid/image/v1";

/// Everything an image's SBOM is made from.
#[derive(Debug, Clone)]
pub struct ImageSbom {
    /// `archive` is the image's name (`<repository>:<tag>`),
    /// `archive_sha256` its platform manifest's sha256, `files` the
    /// image's files, `go` and `crates` what its release binary holds.
    pub subject: Subject,
    /// The image's purl (see `image::attestation::image_purl`).
    pub purl: String,
    /// The platform, `linux/amd64`.
    pub platform: String,
    pub debs: Vec<Deb>,
    /// The purl namespace of the Debian packages (`debian`, `ubuntu`).
    pub distro: String,
}

/// The SPDX 2.3 document of an image.
pub fn spdx(s: &ImageSbom) -> Value {
    let mut doc = super::spdx::render(&s.subject);
    rename(&mut doc, ARCHIVE_ID, IMAGE_ID);
    if let Some(image) = doc["packages"].get_mut(0).and_then(Value::as_object_mut) {
        image.remove("packageFileName");
        image.insert("primaryPackagePurpose".into(), json!("CONTAINER"));
        image.insert(
            "externalRefs".into(),
            json!([{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": s.purl,
            }]),
        );
    }
    let mut packages = Vec::new();
    let mut relationships = Vec::new();
    for (i, deb) in s.debs.iter().enumerate() {
        let id = format!("SPDXRef-Package-deb-{i}");
        let mut p = json!({
            "SPDXID": id,
            "name": deb.name,
            "versionInfo": deb.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": dpkg::purl(&s.distro, deb),
            }],
        });
        if !deb.source.is_empty() {
            p["sourceInfo"] = json!(format!("built from the source package {}", deb.source));
        }
        packages.push(p);
        relationships.push(json!({
            "spdxElementId": IMAGE_ID,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    if let Some(list) = doc["packages"].as_array_mut() {
        list.extend(packages);
    }
    if let Some(list) = doc["relationships"].as_array_mut() {
        list.extend(relationships);
    }
    doc["comment"] = json!(format!(
        "image {} for {}{}",
        s.subject.archive,
        s.platform,
        if s.subject.commit.is_empty() {
            String::new()
        } else {
            format!(", commit {}", s.subject.commit)
        }
    ));
    doc
}

/// Renames an SPDX id wherever the document uses it.
fn rename(doc: &mut Value, from: &str, to: &str) {
    match doc {
        Value::String(s) if s == from => *s = to.to_string(),
        Value::Array(items) => items.iter_mut().for_each(|v| rename(v, from, to)),
        Value::Object(map) => map.values_mut().for_each(|v| rename(v, from, to)),
        _ => {}
    }
}

/// What an image's provenance says about its build.
#[derive(Debug, Clone)]
pub struct ImageBuild {
    pub project: String,
    pub version: String,
    pub commit: String,
    pub homepage: String,
    /// The image variant (`debian`) and its platform (`linux/amd64`).
    pub variant: String,
    pub platform: String,
    /// The binary target the image ships.
    pub target: String,
    /// The Dockerfile, relative to the project when it is inside it.
    pub dockerfile: String,
    pub dockerfile_sha256: String,
    pub args: BTreeMap<String, String>,
    /// The base images of the Dockerfile's stages (`scratch` left out),
    /// as purls.
    pub bases: Vec<String>,
    /// The binary's name in the build context and its sha256.
    pub binary: String,
    pub binary_sha256: String,
    /// Assembled by matrix (true) or built by the engine.
    pub native: bool,
}

/// The SLSA Provenance v1 predicate of an image build.
pub fn provenance(b: &ImageBuild) -> Value {
    let mut deps = Vec::new();
    if !b.commit.is_empty() {
        let repo = if b.homepage.is_empty() {
            &b.project
        } else {
            &b.homepage
        };
        deps.push(json!({"uri": format!("git+{repo}"), "digest": {"gitCommit": b.commit}}));
    }
    deps.push(json!({
        "name": b.dockerfile,
        "uri": format!("file:{}", b.dockerfile),
        "digest": {"sha256": b.dockerfile_sha256},
    }));
    deps.push(json!({
        "name": b.binary,
        "uri": format!("file:{}", b.binary),
        "digest": {"sha256": b.binary_sha256},
        "annotations": {"target": b.target},
    }));
    for base in &b.bases {
        deps.push(json!({"uri": base}));
    }
    json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "project": b.project,
                "version": b.version,
                "image": b.variant,
                "platform": b.platform,
                "dockerfile": {"path": b.dockerfile, "sha256": b.dockerfile_sha256},
                "buildArgs": b.args,
                "bases": b.bases,
            },
            "internalParameters": {
                "target": b.target,
                "binary": {"name": b.binary, "sha256": b.binary_sha256},
                "builtBy": if b.native { "matrix" } else { "engine" },
            },
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": {"id": format!("https://matrix.invalid/matrix@{}", env!("CARGO_PKG_VERSION"))},
            "metadata": {"invocationId": format!("{}@{}", b.project, b.commit)},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packager::sbom::FileEntry;

    fn subject() -> Subject {
        Subject {
            project: "hello".into(),
            version: "1.2.3".into(),
            license: "MIT".into(),
            homepage: String::new(),
            commit: "c0ffee".into(),
            timestamp: 0,
            target: "linux/amd64".into(),
            archive: "r/hello:1.2.3".into(),
            archive_sha256: "ab".repeat(32),
            files: vec![FileEntry {
                path: "usr/local/bin/hello".into(),
                sha256: "cd".repeat(32),
                sha1: "ef".repeat(20),
            }],
            tools: vec![],
            go: None,
            crates: None,
            generator: "0".into(),
        }
    }

    #[test]
    fn an_image_sbom_describes_the_image_and_its_packages() {
        let s = ImageSbom {
            subject: subject(),
            purl: "pkg:docker/r/hello@1.2.3?platform=linux%2Famd64".into(),
            platform: "linux/amd64".into(),
            debs: vec![Deb {
                name: "libc6".into(),
                version: "2.36".into(),
                arch: "amd64".into(),
                source: "glibc".into(),
            }],
            distro: "debian".into(),
        };
        let doc = spdx(&s);
        assert_eq!(doc["documentDescribes"][0], IMAGE_ID);
        assert_eq!(doc["packages"][0]["primaryPackagePurpose"], "CONTAINER");
        assert!(doc["packages"][0].get("packageFileName").is_none());
        let deb = &doc["packages"][1];
        assert_eq!(
            deb["externalRefs"][0]["referenceLocator"],
            "pkg:deb/debian/libc6@2.36?arch=amd64"
        );
        assert_eq!(doc["files"][0]["fileName"], "./usr/local/bin/hello");
        let text = doc.to_string();
        assert!(!text.contains(ARCHIVE_ID), "{text}");
        assert_eq!(spdx(&s), doc, "the same facts give the same document");
    }
}
