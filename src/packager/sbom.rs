//! SBOMs: a CycloneDX 1.6 and an SPDX 2.3 document per archive, from what
//! its binary really contains.
//!
//! Part of `packager`, one kind among the others but release-wide, like the
//! notes: `[sbom]` ([`config`]) turns on one SBOM job per archive, planned
//! here ([`plan`]: the output names are decided at plan time) and run by
//! `exec`, which reads the binary and the archive's files and hands a
//! [`Subject`] to [`render`]. What a binary contains comes from
//! [`gobuildinfo`] (Go's embedded build info), [`cargo`] (`cargo auditable`
//! or Cargo.lock) and [`c`] (the toolchain and the files with their
//! digests). Everything in a document derives from the commit and the
//! archive's digest: no clock, no random serial.

pub mod c;
pub mod cargo;
mod config;
mod cyclonedx;
pub mod dpkg;
pub mod gobuildinfo;
pub mod image;
mod spdx;

use serde::Serialize;

pub use config::{SbomConfig, SbomFormat, check};

use crate::image::attestation::purl_encode;

/// The SBOM files of one archive.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SbomStep {
    /// Index into the plan's targets.
    pub target: usize,
    /// One file per configured format, in the order of `formats`.
    pub files: Vec<SbomFile>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SbomFile {
    pub format: SbomFormat,
    /// `<archive>.cdx.json` or `<archive>.spdx.json`, in dist/.
    pub file_name: String,
}

/// One step per archive (`archives`: the targets' archive file names, in
/// target order).
pub fn plan<'a>(config: &SbomConfig, archives: impl IntoIterator<Item = &'a str>) -> Vec<SbomStep> {
    archives
        .into_iter()
        .enumerate()
        .map(|(target, archive)| SbomStep {
            target,
            files: config
                .formats
                .iter()
                .map(|&format| SbomFile {
                    format,
                    file_name: format!("{archive}{}", format.extension()),
                })
                .collect(),
        })
        .collect()
}

/// A file of the archive with its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Its path in the archive.
    pub path: String,
    pub sha256: String,
    /// SPDX 2.3 asks every file for a SHA1 beside any other digest.
    pub sha1: String,
}

/// A program that made the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    pub name: String,
    /// Empty when unknown.
    pub version: String,
}

/// Everything an archive's SBOM is made from.
#[derive(Debug, Clone)]
pub struct Subject {
    pub project: String,
    pub version: String,
    /// SPDX expression of [project] license, or empty.
    pub license: String,
    pub homepage: String,
    /// Full commit hash, empty outside git.
    pub commit: String,
    /// SOURCE_DATE_EPOCH, else the commit time: the documents' time.
    pub timestamp: i64,
    pub target: String,
    /// The archive's file name and sha256.
    pub archive: String,
    pub archive_sha256: String,
    /// The binary's and the other files' paths in the archive and digests.
    pub files: Vec<FileEntry>,
    /// The toolchain: the preset's compiler, Go's version, ...
    pub tools: Vec<Tool>,
    pub go: Option<gobuildinfo::BuildInfo>,
    pub crates: Option<(cargo::CrateSource, Vec<cargo::Crate>)>,
    /// matrix's own version, named as the SBOMs' author tool.
    pub generator: String,
}

/// The document of `subject` in `format`: pretty JSON with a final
/// newline, byte-identical for identical subjects.
pub fn render(format: SbomFormat, subject: &Subject) -> Vec<u8> {
    let doc = match format {
        SbomFormat::Cyclonedx => cyclonedx::render(subject),
        SbomFormat::Spdx => spdx::render(subject),
    };
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The archive an SBOM names and its sha256, read back from a CycloneDX
/// or SPDX document (as `matrix verify` checks it); why not, if it names
/// none.
pub fn named_archive(bytes: &[u8]) -> Result<(String, String), String> {
    let doc: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let (name, sha) = if doc["bomFormat"] == "CycloneDX" {
        let c = &doc["metadata"]["component"];
        let sha = c["hashes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|h| h["alg"] == "SHA-256")
            .map(|h| &h["content"]);
        (&c["name"], sha)
    } else if doc["spdxVersion"].is_string() {
        let described = &doc["documentDescribes"][0];
        let p = doc["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| &p["SPDXID"] == described);
        let sha = p.and_then(|p| {
            p["checksums"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["algorithm"] == "SHA256")
                .map(|c| &c["checksumValue"])
        });
        (p.map_or(&serde_json::Value::Null, |p| &p["name"]), sha)
    } else {
        return Err("neither a CycloneDX nor an SPDX document".into());
    };
    match (name.as_str(), sha.and_then(|s| s.as_str())) {
        (Some(name), Some(sha)) => Ok((name.to_string(), sha.to_string())),
        _ => Err("names no archive with its sha256".into()),
    }
}

/// A component of the binary, the one shape both documents are made from.
#[derive(Debug, Clone)]
struct Component {
    /// `library` or `application` (the Go main module, a local crate).
    kind: &'static str,
    name: String,
    version: String,
    purl: Option<String>,
    sha256: Option<String>,
    /// `matrix:<what>` properties: Go sums and replacements, sources.
    properties: Vec<(String, String)>,
}

/// The components of a subject, in a stable order: Go's main module, its
/// dependencies and the standard library, then the crates.
fn components(s: &Subject) -> Vec<Component> {
    let mut out = Vec::new();
    if let Some(go) = &s.go {
        let module = |m: &gobuildinfo::Module, kind: &'static str, role: &str| {
            let mut properties = vec![("matrix:go:module".to_string(), role.to_string())];
            if !m.sum.is_empty() {
                properties.push(("matrix:go:sum".into(), m.sum.clone()));
            }
            if let Some(r) = &m.replace {
                properties.push(("matrix:go:replaced-by".into(), r.path.clone()));
                if !r.version.is_empty() {
                    properties.push(("matrix:go:replaced-by-version".into(), r.version.clone()));
                }
                if !r.sum.is_empty() {
                    properties.push(("matrix:go:replaced-by-sum".into(), r.sum.clone()));
                }
            }
            Component {
                kind,
                name: m.path.clone(),
                version: m.version.clone(),
                purl: Some(purl("golang", &m.path, &m.version)),
                sha256: None,
                properties,
            }
        };
        if let Some(main) = &go.main {
            out.push(module(main, "application", "main"));
        }
        out.extend(go.deps.iter().map(|d| module(d, "library", "dep")));
        out.push(Component {
            kind: "library",
            name: "stdlib".into(),
            version: go.go_version.clone(),
            purl: Some(purl("golang", "stdlib", &go.go_version)),
            sha256: None,
            properties: vec![("matrix:go:module".into(), "stdlib".into())],
        });
    }
    if let Some((source, crates)) = &s.crates {
        for c in crates {
            let mut properties =
                vec![("matrix:cargo:from".to_string(), source.as_str().to_string())];
            if !c.source.is_empty() {
                properties.push(("matrix:cargo:source".into(), c.source.clone()));
            }
            out.push(Component {
                kind: if c.source.is_empty() {
                    "application"
                } else {
                    "library"
                },
                name: c.name.clone(),
                version: c.version.clone(),
                purl: Some(purl("cargo", &c.name, &c.version)),
                sha256: c.checksum.clone(),
                properties,
            });
        }
    }
    out
}

/// A package URL: `pkg:<type>/<name>@<version>`, each path segment and the
/// version percent-encoded; no version when it is empty or `(devel)`.
fn purl(kind: &str, name: &str, version: &str) -> String {
    let name: Vec<String> = name.split('/').map(purl_encode).collect();
    let mut p = format!("pkg:{kind}/{}", name.join("/"));
    if !version.is_empty() && version != "(devel)" {
        p.push('@');
        p.push_str(&purl_encode(version));
    }
    p
}

/// A UUID (RFC 9562 version 8 layout) from the sha256 of the archive's
/// digest, the commit and `what`: the same release gives the same serial
/// number, another archive or commit another one.
fn derived_uuid(s: &Subject, what: &str) -> String {
    crate::package::checksum::derived_uuid(&[what, &s.archive, &s.archive_sha256, &s.commit], 8)
}

/// RFC 3339 UTC of the subject's timestamp (the epoch when out of range).
fn rfc3339(s: &Subject) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(s.timestamp)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

#[cfg(test)]
mod tests;
