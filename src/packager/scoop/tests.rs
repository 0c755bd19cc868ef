use std::path::PathBuf;

use serde_json::json;

use super::*;

fn release() -> Release {
    Release {
        name: "hello".into(),
        description: "Says hello to the world.".into(),
        homepage: "https://github.com/acme/hello".into(),
        license: "MIT OR Apache-2.0".into(),
        version: "1.2.3".into(),
        tag: "v1.2.3".into(),
        prerelease: String::new(),
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        timestamp: 1_700_000_000,
        is_snapshot: false,
    }
}

/// A package as `exec` would build it; `wrapped` puts everything in a
/// `hello_1.2.3_<os>_<arch>/` folder. `variant` only changes the names.
fn package(os: &str, arch: &str, format: Format, wrapped: bool, variant: &str) -> Package {
    let platform = crate::target::platform(os, arch, None).unwrap();
    let slug = format!("hello_1.2.3_{os}_{arch}{variant}");
    // A bare Windows executable keeps its `.exe`.
    let extension = match format {
        Format::Binary => platform.exe_suffix,
        _ => format.extension(),
    };
    let file_name = format!("{slug}{extension}");
    let binary = format!("hello{}", platform.exe_suffix);
    let seed = file_name
        .bytes()
        .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
    let inner = |path: &str| {
        if wrapped {
            format!("{slug}/{path}")
        } else {
            path.to_string()
        }
    };
    let (binary_in_archive, files) = if format == Format::Binary {
        (file_name.clone(), Vec::new())
    } else {
        (inner(&binary), vec![inner("LICENSE"), inner("README.md")])
    };
    Package {
        target: format!("{os}/{arch}"),
        os: os.into(),
        arch: arch.into(),
        variant: None,
        platform,
        url: format!("https://github.com/acme/hello/releases/download/v1.2.3/{file_name}"),
        path: PathBuf::from("dist").join(&file_name),
        file_name,
        sha256: format!("{seed:016x}").repeat(4),
        size: 1234,
        format,
        binary,
        binary_in_archive,
        binary_file: PathBuf::from(format!("dist/build/{slug}/hello")),
        files,
    }
}

/// linux/amd64 plus the three Windows targets, in plan order.
fn input(format: Format, wrapped: bool) -> ChannelInput {
    ChannelInput {
        release: release(),
        packages: [
            ("linux", "amd64"),
            ("windows", "arm64"),
            ("windows", "386"),
            ("windows", "amd64"),
        ]
        .iter()
        .map(|(os, arch)| package(os, arch, format, wrapped, ""))
        .collect(),
    }
}

fn opts() -> ScoopOptions {
    ScoopOptions {
        channel: "scoop".into(),
        bin: None,
        checkver: None,
    }
}

fn manifest(input: &ChannelInput, opts: &ScoopOptions) -> serde_json::Value {
    let text = render(input, opts, None).unwrap();
    assert!(text.ends_with("}\n"), "{text}");
    serde_json::from_str(&text).unwrap()
}

fn invalid_message(result: Result<String, PublishError>) -> String {
    match result {
        Err(PublishError::Invalid {
            channel, message, ..
        }) => {
            assert_eq!(channel, "scoop");
            message
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn manifest_for_wrapped_zips() {
    let input = input(Format::Zip, true);
    let got = manifest(&input, &opts());
    assert_eq!(got["version"], "1.2.3");
    assert_eq!(got["description"], "Says hello to the world.");
    assert_eq!(got["homepage"], "https://github.com/acme/hello");
    assert_eq!(got["license"], "MIT|Apache-2.0");
    assert_eq!(got["bin"], "hello.exe");
    assert_eq!(
        got["checkver"],
        json!({"github": "https://github.com/acme/hello"})
    );
    let arches = got["architecture"].as_object().unwrap();
    assert_eq!(arches.len(), 3, "linux/amd64 is left out: {arches:?}");
    for (key, arch) in [("64bit", "amd64"), ("32bit", "386"), ("arm64", "arm64")] {
        let p = input
            .packages
            .iter()
            .find(|p| p.target == format!("windows/{arch}"))
            .unwrap();
        let slug = format!("hello_1.2.3_windows_{arch}");
        assert_eq!(arches[key]["url"], p.url.as_str(), "{key}");
        assert_eq!(arches[key]["hash"], p.sha256.as_str(), "{key}");
        assert_eq!(arches[key]["extract_dir"], slug.as_str(), "{key}");
        let auto = &got["autoupdate"]["architecture"][key];
        assert_eq!(
            auto["url"],
            format!(
                "https://github.com/acme/hello/releases/download/v$version/hello_$version_windows_{arch}.zip"
            ),
            "{key}"
        );
        assert_eq!(
            auto["extract_dir"],
            format!("hello_$version_windows_{arch}"),
            "{key}"
        );
    }
    assert_eq!(
        render(&input, &opts(), None).unwrap(),
        render(&input, &opts(), None).unwrap()
    );
}

#[test]
fn text_is_pretty_and_in_scoop_order() {
    let mut input = input(Format::Zip, false);
    input.packages.retain(|p| p.target == "windows/amd64");
    input.release.license = "MIT".into();
    let sha = input.packages[0].sha256.clone();
    let want = format!(
        r#"{{
    "version": "1.2.3",
    "description": "Says hello to the world.",
    "homepage": "https://github.com/acme/hello",
    "license": "MIT",
    "architecture": {{
        "64bit": {{
            "url": "https://github.com/acme/hello/releases/download/v1.2.3/hello_1.2.3_windows_amd64.zip",
            "hash": "{sha}"
        }}
    }},
    "bin": "hello.exe",
    "checkver": {{
        "github": "https://github.com/acme/hello"
    }},
    "autoupdate": {{
        "architecture": {{
            "64bit": {{
                "url": "https://github.com/acme/hello/releases/download/v$version/hello_$version_windows_amd64.zip"
            }}
        }}
    }}
}}
"#
    );
    assert_eq!(render(&input, &opts(), None).unwrap(), want);
}

#[test]
fn bare_executables_are_renamed_by_the_url() {
    let got = manifest(&input(Format::Binary, false), &opts());
    let arch = &got["architecture"]["64bit"];
    assert_eq!(
        arch["url"],
        "https://github.com/acme/hello/releases/download/v1.2.3/hello_1.2.3_windows_amd64.exe#/hello.exe"
    );
    assert!(arch.get("extract_dir").is_none(), "{arch}");
    assert_eq!(got["bin"], "hello.exe");
    assert_eq!(
        got["autoupdate"]["architecture"]["64bit"]["url"],
        "https://github.com/acme/hello/releases/download/v$version/hello_$version_windows_amd64.exe#/hello.exe"
    );
}

#[test]
fn unwrapped_archives_and_options() {
    let options = ScoopOptions {
        bin: Some("tools\\hello.exe".into()),
        checkver: Some("Version ([\\d.]+)".into()),
        ..opts()
    };
    let got = manifest(&input(Format::Zip, false), &options);
    assert!(got["architecture"]["32bit"].get("extract_dir").is_none());
    assert_eq!(got["bin"], "tools\\hello.exe");
    assert_eq!(got["checkver"], "Version ([\\d.]+)");

    // GitHub release downloads name their repository, whatever the
    // homepage.
    let mut elsewhere = input(Format::Zip, false);
    elsewhere.release.homepage = "https://hello.example.org".into();
    let got = manifest(&elsewhere, &opts());
    assert_eq!(
        got["checkver"],
        json!({"github": "https://github.com/acme/hello"})
    );
    assert!(got.get("autoupdate").is_some());
}

#[test]
fn every_autoupdate_gets_a_checkver() {
    // Downloads elsewhere, a GitHub homepage: Scoop's "github" shorthand.
    let mut mirrored = input(Format::Zip, false);
    for p in &mut mirrored.packages {
        p.url = format!("https://dl.example.org/v1.2.3/{}", p.file_name);
    }
    let got = manifest(&mirrored, &opts());
    assert_eq!(got["checkver"], "github");
    assert!(got.get("autoupdate").is_some());

    // Nothing on GitHub: the homepage, and a regex made from the
    // autoupdate URL's file name that finds this very release's file.
    mirrored.release.homepage = "https://hello.example.org".into();
    let got = manifest(&mirrored, &opts());
    assert_eq!(got["checkver"]["url"], "https://hello.example.org");
    let regex = got["checkver"]["regex"].as_str().unwrap();
    assert_eq!(
        regex,
        r"hello_([\d.]+(?:-[0-9A-Za-z.]+)?)_windows_amd64\.zip"
    );
    let re = regex::Regex::new(regex).unwrap();
    for (page, version) in [
        ("<a href=\"hello_1.2.3_windows_amd64.zip\">", "1.2.3"),
        ("hello_2.0.0-rc.1_windows_amd64.zip", "2.0.0-rc.1"),
    ] {
        assert_eq!(&re.captures(page).unwrap()[1], version, "{page}");
    }
    assert!(!re.is_match("hello_1.2.3_windows_arm64.zip"));
    // Assembled the way Scoop does: $version back into the autoupdate
    // URL gives the URL of that version.
    let auto = got["autoupdate"]["architecture"]["64bit"]["url"]
        .as_str()
        .unwrap();
    assert_eq!(
        auto.replace("$version", "1.2.3"),
        got["architecture"]["64bit"]["url"]
    );
}

#[test]
fn github_release_urls_name_their_repository() {
    for (url, want) in [
        (
            "https://github.com/o/r/releases/download/v1/a.zip",
            Some("https://github.com/o/r"),
        ),
        (
            "https://github.com/o/r/releases/download/v1/a.exe#/a.exe",
            Some("https://github.com/o/r"),
        ),
        ("https://github.com/o/r/archive/v1.zip", None),
        ("https://github.com/o/r/releases/download/v1", None),
        ("https://github.com//r/releases/download/v1/a.zip", None),
        ("http://github.com/o/r/releases/download/v1/a.zip", None),
        ("https://example.org/o/r/releases/download/v1/a.zip", None),
    ] {
        assert_eq!(github_release_repo(url), want, "{url}");
    }
}

#[test]
fn urls_without_the_version_get_no_autoupdate() {
    let mut input = input(Format::Zip, true);
    for p in &mut input.packages {
        p.url = format!("https://example.org/latest/hello_{}.zip", p.arch);
    }
    let got = manifest(&input, &opts());
    assert!(got.get("autoupdate").is_none(), "{got}");
    assert_eq!(
        got["architecture"]["arm64"]["url"],
        "https://example.org/latest/hello_arm64.zip"
    );
}

#[test]
fn refused_inputs() {
    let mut only_linux = input(Format::Zip, true);
    only_linux.packages.retain(|p| p.os == "linux");
    assert!(invalid_message(render(&only_linux, &opts(), None)).contains("no Windows packages"));

    let mut twice = input(Format::Zip, true);
    twice
        .packages
        .push(package("windows", "amd64", Format::Zip, true, "_gnu"));
    let message = invalid_message(render(&twice, &opts(), None));
    assert!(
        message.contains("hello_1.2.3_windows_amd64.zip")
            && message.contains("hello_1.2.3_windows_amd64_gnu.zip")
            && message.contains("64bit"),
        "{message}"
    );

    let mut mixed = input(Format::Zip, true);
    mixed.packages[1].binary_in_archive = "hello_1.2.3_windows_arm64/bin/hello.exe".into();
    let message = invalid_message(render(&mixed, &opts(), None));
    assert!(message.contains("bin/hello.exe"), "{message}");
}

#[test]
fn github_homepages() {
    for (homepage, repo) in [
        ("https://github.com/acme/hello", true),
        ("https://github.com/acme/hello/", true),
        ("https://github.com/acme", false),
        ("https://github.com/acme/hello/wiki", false),
        ("http://github.com/acme/hello", false),
        ("https://gitlab.com/acme/hello", false),
    ] {
        assert_eq!(is_github_repo(homepage), repo, "{homepage}");
    }
}

#[test]
fn licenses_in_scoop_spelling() {
    for (spdx, scoop) in [
        ("MIT", "MIT"),
        ("MIT OR Apache-2.0", "MIT|Apache-2.0"),
        ("MIT or Apache-2.0 OR Zlib", "MIT|Apache-2.0|Zlib"),
        ("MIT AND BSD-3-Clause", "MIT,BSD-3-Clause"),
        ("MIT AND (A OR B)", "MIT AND (A OR B)"),
        ("MIT OR A AND B", "MIT OR A AND B"),
        (
            "Apache-2.0 WITH LLVM-exception",
            "Apache-2.0 WITH LLVM-exception",
        ),
        ("", ""),
    ] {
        assert_eq!(scoop_license(spdx), scoop, "{spdx}");
    }
}

#[test]
fn user_templates_render_json() {
    let input = input(Format::Zip, true);
    let template = r#"{"name": {{ release.name | tojson }}, "desc": {{ "say \"hi\"" | tojson }},
"arches": {{ architectures | map(attribute="name") | list | tojson }}, "n": {{ packages | length | tojson }},
"first": {{ architectures[0] | tojson(2) }}}
"#;
    let text = render(&input, &opts(), Some(template)).unwrap();
    let got: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(got["name"], "hello");
    assert_eq!(got["desc"], "say \"hi\"");
    assert_eq!(got["arches"], json!(["64bit", "32bit", "arm64"]));
    assert_eq!(got["n"], 3);
    assert_eq!(
        got["first"]["autoupdate"]["extract_dir"],
        "hello_$version_windows_amd64"
    );

    match render(&input, &opts(), Some("{\"version\": {{ version }}}")) {
        Err(PublishError::Template {
            template, message, ..
        }) => {
            assert_eq!(template, "user template");
            assert!(message.contains("not JSON"), "{message}");
        }
        other => panic!("expected a template error, got {other:?}"),
    }
    assert!(matches!(
        render(&input, &opts(), Some("{{ missing }}")),
        Err(PublishError::Template { .. })
    ));
}

#[test]
fn a_release_without_a_license_is_refused() {
    let mut input = input(Format::Zip, true);
    input.release.license = " ".into();
    assert!(invalid_message(render(&input, &opts(), None)).contains("needs a license"));
}

/// Runs validate_schema.py (JSON is YAML) against Scoop's schema; Err
/// carries the validator's report.
fn validate(python: &std::path::Path, manifest: &str) -> Result<(), String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hello.json");
    std::fs::write(&file, manifest).unwrap();
    let out = std::process::Command::new(python)
        .arg(root.join("src/packager/testdata/validate_schema.py"))
        .arg(root.join("tests/schemas/scoop.json"))
        .arg(&file)
        .output()
        .unwrap();
    match out.status.code() {
        Some(0) => Ok(()),
        Some(1) => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        _ => panic!(
            "the validator could not run: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[test]
fn manifests_pass_scoops_schema_and_the_schema_bites() {
    use crate::packager::snap::tests::{python, require};
    let Some(py) = require(python()) else { return };
    let mut mirrored = input(Format::Zip, false);
    for p in &mut mirrored.packages {
        p.url = format!("https://dl.example.org/v1.2.3/{}", p.file_name);
    }
    let mut elsewhere = mirrored.clone();
    elsewhere.release.homepage = "https://hello.example.org".into();
    let mut fixed = input(Format::Zip, true);
    for p in &mut fixed.packages {
        p.url = format!("https://example.org/latest/hello_{}.zip", p.arch);
    }
    let variants = [
        ("wrapped zips", input(Format::Zip, true), opts()),
        ("bare executables", input(Format::Binary, false), opts()),
        ("github homepage", mirrored, opts()),
        ("url and regex", elsewhere, opts()),
        ("no autoupdate", fixed, opts()),
        (
            "own checkver",
            input(Format::Zip, false),
            ScoopOptions {
                checkver: Some("Version ([\\d.]+)".into()),
                ..opts()
            },
        ),
    ];
    for (what, input, options) in &variants {
        let text = render(input, options, None).unwrap();
        if let Err(report) = validate(&py, &text) {
            panic!("{what}: Scoop's schema refuses\n{text}\n{report}");
        }
    }
    // The schema bites: a manifest missing what Scoop requires, or with a
    // checkver key Scoop does not know, is refused.
    let good: serde_json::Value =
        serde_json::from_str(&render(&variants[0].1, &opts(), None).unwrap()).unwrap();
    let mut no_license = good.clone();
    no_license.as_object_mut().unwrap().remove("license");
    let mut bad_checkver = good.clone();
    bad_checkver["checkver"] = json!({"gitlab": "https://gitlab.com/acme/hello"});
    let mut bad_autoupdate = good;
    bad_autoupdate["autoupdate"]["architecture"]["64bit"]["url"] = json!(5);
    for (what, broken) in [
        ("no license", no_license),
        ("unknown checkver key", bad_checkver),
        ("a number for a URL", bad_autoupdate),
    ] {
        let text = serde_json::to_string_pretty(&broken).unwrap();
        assert!(validate(&py, &text).is_err(), "{what} passed:\n{text}");
    }
}
