use super::*;

fn subject() -> Subject {
    Subject {
        project: "hello".into(),
        version: "1.2.3".into(),
        license: "MIT".into(),
        homepage: "https://example.org".into(),
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        timestamp: 1_700_000_000,
        target: "linux/amd64".into(),
        archive: "hello_1.2.3_linux_amd64.tar.gz".into(),
        archive_sha256: "ab".repeat(32),
        files: vec![FileEntry {
            path: "hello".into(),
            sha256: "cd".repeat(32),
            sha1: "ef".repeat(20),
        }],
        tools: vec![Tool {
            name: "go".into(),
            version: "go version go1.22.2 linux/amd64".into(),
        }],
        go: Some(gobuildinfo::BuildInfo {
            go_version: "go1.22.2".into(),
            path: "example.org/hello".into(),
            main: Some(gobuildinfo::Module {
                path: "example.org/hello".into(),
                version: "(devel)".into(),
                sum: String::new(),
                replace: None,
            }),
            deps: vec![gobuildinfo::Module {
                path: "golang.org/x/Text".into(),
                version: "v0.14.0+incompatible".into(),
                sum: "h1:abc=".into(),
                replace: None,
            }],
            settings: vec![("GOOS".into(), "linux".into())],
        }),
        crates: None,
        generator: "0.1.0".into(),
    }
}

#[test]
fn names_are_decided_per_archive_and_format() {
    let steps = plan(&SbomConfig::default(), ["a.tar.gz", "b.zip"]);
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[1].target, 1);
    assert_eq!(steps[1].files[0].file_name, "b.zip.cdx.json");
    assert_eq!(steps[1].files[1].file_name, "b.zip.spdx.json");
}

#[test]
fn purls_encode_paths_and_versions() {
    assert_eq!(
        purl("golang", "golang.org/x/Text", "v0.14.0+incompatible"),
        "pkg:golang/golang.org/x/Text@v0.14.0%2Bincompatible"
    );
    assert_eq!(
        purl("golang", "example.org/hello", "(devel)"),
        "pkg:golang/example.org/hello"
    );
    assert_eq!(purl("cargo", "itoa", "1.0.11"), "pkg:cargo/itoa@1.0.11");
}

#[test]
fn documents_derive_from_the_subject_alone() {
    let s = subject();
    for format in SbomFormat::ALL {
        assert_eq!(render(format, &s), render(format, &s));
    }
    let cdx: serde_json::Value =
        serde_json::from_slice(&render(SbomFormat::Cyclonedx, &s)).unwrap();
    let serial = cdx["serialNumber"].as_str().unwrap();
    assert!(serial.starts_with("urn:uuid:"), "{serial}");
    assert_eq!(cdx["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(cdx["metadata"]["component"]["name"], s.archive);
    // Another commit, another serial number.
    let mut other = s.clone();
    other.commit = "f".repeat(40);
    let cdx2: serde_json::Value =
        serde_json::from_slice(&render(SbomFormat::Cyclonedx, &other)).unwrap();
    assert_ne!(cdx2["serialNumber"], cdx["serialNumber"]);
    let spdx: serde_json::Value = serde_json::from_slice(&render(SbomFormat::Spdx, &s)).unwrap();
    assert_eq!(spdx["creationInfo"]["created"], "2023-11-14T22:13:20Z");
    let names: Vec<&str> = spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            s.archive.as_str(),
            "example.org/hello",
            "golang.org/x/Text",
            "stdlib"
        ]
    );
}

#[test]
fn formats_are_checked() {
    let empty = SbomConfig { formats: vec![] };
    assert!(check(&empty).unwrap_err().0.is_none());
    let twice = SbomConfig {
        formats: vec![SbomFormat::Spdx, SbomFormat::Spdx],
    };
    assert_eq!(check(&twice).unwrap_err().0, Some(1));
    assert!(check(&SbomConfig::default()).is_ok());
}

#[test]
fn the_compiler_comes_from_cc_then_the_preset_then_the_command() {
    use std::collections::BTreeMap;
    let none = BTreeMap::new();
    let zig = BTreeMap::from([("CC".to_string(), "zig cc -target x86_64-macos".to_string())]);
    assert_eq!(
        c::compiler(Some("zig-cc"), &[], &zig).as_deref(),
        Some("zig")
    );
    let cargo = ["cargo".to_string(), "build".to_string()];
    assert_eq!(
        c::compiler(Some("cargo"), &cargo, &none).as_deref(),
        Some("rustc")
    );
    let make = ["/usr/bin/make".to_string(), "-s".to_string()];
    assert_eq!(c::compiler(None, &make, &none).as_deref(), Some("make"));
    assert_eq!(c::compiler(None, &[], &none), None);
    // A compiler that is not there has a name and no version.
    let gone = c::tool("no-such-compiler-here", &none, std::path::Path::new("/"));
    assert_eq!(gone.name, "no-such-compiler-here");
    assert!(gone.version.is_empty());
}

#[test]
fn each_document_names_its_archive_back() {
    let s = subject();
    for format in SbomFormat::ALL {
        let (name, sha) = named_archive(&render(format, &s)).unwrap();
        assert_eq!(
            (name.as_str(), sha.as_str()),
            (s.archive.as_str(), s.archive_sha256.as_str())
        );
    }
    assert!(named_archive(b"{}").is_err());
    assert!(named_archive(b"\xff").is_err());
    assert!(named_archive(br#"{"bomFormat":"CycloneDX","metadata":{}}"#).is_err());
}
