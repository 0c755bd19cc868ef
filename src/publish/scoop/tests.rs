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
    assert_eq!(got["checkver"], "github");
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
    input.release.license = String::new();
    let sha = input.packages[0].sha256.clone();
    let want = format!(
        r#"{{
    "version": "1.2.3",
    "description": "Says hello to the world.",
    "homepage": "https://github.com/acme/hello",
    "architecture": {{
        "64bit": {{
            "url": "https://github.com/acme/hello/releases/download/v1.2.3/hello_1.2.3_windows_amd64.zip",
            "hash": "{sha}"
        }}
    }},
    "bin": "hello.exe",
    "checkver": "github",
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

    let mut elsewhere = input(Format::Zip, false);
    elsewhere.release.homepage = "https://hello.example.org".into();
    let got = manifest(&elsewhere, &opts());
    assert!(got.get("checkver").is_none(), "{got}");
    assert!(got.get("autoupdate").is_some());
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
