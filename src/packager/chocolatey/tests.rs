//! Tests of the Chocolatey renderer and packager against real validators:
//! `xmllint` (Debian libxml2-utils) for every XML part and `unzip -t` for
//! the package. A missing tool skips the test locally and fails it in CI.

use std::path::{Path, PathBuf};
use std::process::Command;

use regex::Regex;

use super::*;
use crate::packager::input::{ChannelInput, Package, Release};

const SHA_A: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const SHA_B: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn release() -> Release {
    Release {
        name: "hello".to_string(),
        description: "Says <hello> & \"goodbye\" to the world's people".to_string(),
        homepage: "https://example.com/hello".to_string(),
        license: "MIT".to_string(),
        version: "1.2.3".to_string(),
        tag: "v1.2.3".to_string(),
        prerelease: String::new(),
        commit: "abc1234".to_string(),
        timestamp: 1_700_000_000,
        is_snapshot: false,
    }
}

fn package(os: &str, arch: &str, format: Format, sha: &str) -> Package {
    let exe = if os == "windows" { ".exe" } else { "" };
    let file_name = format!("hello_1.2.3_{os}_{arch}{}", format.extension());
    Package {
        target: format!("{os}/{arch}"),
        os: os.to_string(),
        arch: arch.to_string(),
        variant: None,
        platform: crate::target::platform(os, arch, None).unwrap(),
        url: format!("https://github.com/o/hello/releases/download/v1.2.3/{file_name}"),
        path: PathBuf::from("dist").join(&file_name),
        file_name,
        sha256: sha.to_string(),
        size: 1234,
        format,
        binary: format!("hello{exe}"),
        binary_in_archive: format!("hello{exe}"),
        binary_file: PathBuf::from(format!("dist/build/{os}_{arch}/hello{exe}")),
        files: vec!["LICENSE".to_string()],
    }
}

fn input(packages: Vec<Package>) -> ChannelInput {
    ChannelInput {
        release: release(),
        packages,
    }
}

fn both_zip() -> ChannelInput {
    input(vec![
        package("linux", "amd64", Format::TarGz, SHA_A),
        package("windows", "amd64", Format::Zip, SHA_A),
        package("windows", "386", Format::Zip, SHA_B),
    ])
}

fn opts() -> ChocoOptions {
    ChocoOptions {
        channel: "choco".to_string(),
        id: default_id("hello"),
        authors: "Ann & Bob".to_string(),
        tags: vec!["cli".to_string(), "hello-world".to_string()],
        project_source_url: Some("https://github.com/o/hello".to_string()),
        summary: Some("A <greeting> tool".to_string()),
        release_notes: Some("Line 1\nLine 2 with 'quotes'".to_string()),
        ..ChocoOptions::default()
    }
}

/// Whether `program` can run; in CI a missing tool is a failure.
fn have(program: &str, package: &str) -> bool {
    if Command::new(program).arg("--version").output().is_ok() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "{program} is missing in CI: apt-get install -y {package}"
    );
    eprintln!("skipping: {program} not installed (apt-get install -y {package})");
    false
}

/// `xmllint --noout` on `xml`; panics with its diagnostics when invalid.
fn xmllint(name: &str, xml: &str, dir: &Path) {
    let path = dir.join(name.replace('/', "_"));
    std::fs::write(&path, xml).unwrap();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xmllint rejects {name}: {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The text of the first element with local name `element`, unescaped by
/// xmllint itself.
fn xpath_text(xml: &str, element: &str, dir: &Path) -> String {
    let path = dir.join("xpath.xml");
    std::fs::write(&path, xml).unwrap();
    let expr = format!("string(//*[local-name()='{element}'])");
    let out = Command::new("xmllint")
        .args(["--xpath", &expr])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut text = String::from_utf8(out.stdout).unwrap();
    // xmllint ends its output with a newline of its own.
    if text.ends_with('\n') {
        text.pop();
    }
    text
}

/// `-Name 'value'` arguments of the install script, quotes undone.
fn ps_args(script: &str) -> Vec<(String, String)> {
    let re = Regex::new(r"(?m)^\s+-(\w+) '((?:[^']|'')*)' `?$").unwrap();
    re.captures_iter(script)
        .map(|c| (c[1].to_string(), c[2].replace("''", "'")))
        .collect()
}

fn arg<'a>(args: &'a [(String, String)], name: &str) -> Option<&'a str> {
    args.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn zip_install_script_points_at_the_input_packages() {
    let input = both_zip();
    let files = render(&input, &opts(), ChocoTemplates::default()).unwrap();
    let args = ps_args(&files.install);
    let amd64 = &input.packages[1];
    let i386 = &input.packages[2];
    assert_eq!(arg(&args, "Url"), Some(i386.url.as_str()));
    assert_eq!(arg(&args, "Checksum"), Some(i386.sha256.as_str()));
    assert_eq!(arg(&args, "ChecksumType"), Some("sha256"));
    assert_eq!(arg(&args, "Url64bit"), Some(amd64.url.as_str()));
    assert_eq!(arg(&args, "Checksum64"), Some(amd64.sha256.as_str()));
    assert_eq!(arg(&args, "ChecksumType64"), Some("sha256"));
    assert_eq!(args.len(), 6, "{}", files.install);
    assert!(files.install.contains("Install-ChocolateyZipPackage `\n"));
    assert!(files.install.contains(
        "  -UnzipLocation \"$(Split-Path -parent $MyInvocation.MyCommand.Definition)\"\n"
    ));
    assert!(!files.install.contains("Get-ChocolateyWebFile"));
    // Every continued line ends in exactly one backtick, the last has none.
    let body: Vec<&str> = files
        .install
        .lines()
        .skip_while(|l| !l.starts_with("Install-"))
        .collect();
    assert!(body[..body.len() - 1].iter().all(|l| l.ends_with(" `")));
    assert!(!body[body.len() - 1].ends_with('`'));
    assert!(
        files
            .install
            .starts_with("$ErrorActionPreference = 'Stop'\n")
    );
    // Installed into the package folder: Chocolatey cleans up itself.
    assert_eq!(files.uninstall, None);
}

#[test]
fn binary_install_uses_get_chocolatey_web_file_and_one_slot_only() {
    let input = input(vec![package("windows", "amd64", Format::Binary, SHA_A)]);
    let files = render(&input, &opts(), ChocoTemplates::default()).unwrap();
    let args = ps_args(&files.install);
    assert!(files.install.contains("Get-ChocolateyWebFile `\n"));
    assert!(!files.install.contains("Install-ChocolateyZipPackage"));
    assert_eq!(arg(&args, "Url"), None);
    assert_eq!(arg(&args, "Url64bit"), Some(input.packages[0].url.as_str()));
    assert_eq!(arg(&args, "Checksum64"), Some(SHA_A));
    assert!(
        files
            .install
            .ends_with("  -FileFullPath (Join-Path $toolsDir 'hello.exe')\n"),
        "{}",
        files.install
    );
}

#[test]
fn nuspec_is_wellformed_and_carries_escaped_values() {
    if !have("xmllint", "libxml2-utils") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut input = both_zip();
    input.release.version = "0.0.2-rc.1+build.7".to_string();
    // Without a license, the channel's license URL stands alone.
    input.release.license = String::new();
    let options = ChocoOptions {
        license_url: Some("https://example.com/LICENSE?a=1&b=2".to_string()),
        ..opts()
    };
    let files = render(&input, &options, ChocoTemplates::default()).unwrap();
    xmllint("hello.nuspec", &files.nuspec, dir.path());
    assert!(!files.nuspec.contains("<license "), "{}", files.nuspec);
    let nuspec = &files.nuspec;
    assert!(nuspec.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"));
    assert!(
        nuspec.contains(
            "<package xmlns=\"http://schemas.microsoft.com/packaging/2015/06/nuspec.xsd\">"
        )
    );
    let text = |e: &str| xpath_text(nuspec, e, dir.path());
    let table = [
        ("id", "hello"),
        ("version", "0.0.2-rc-0001"),
        ("title", "hello"),
        ("authors", "Ann & Bob"),
        ("projectUrl", "https://example.com/hello"),
        ("licenseUrl", "https://example.com/LICENSE?a=1&b=2"),
        ("projectSourceUrl", "https://github.com/o/hello"),
        ("tags", "cli hello-world"),
        ("summary", "A <greeting> tool"),
        (
            "description",
            "Says <hello> & \"goodbye\" to the world's people",
        ),
        ("releaseNotes", "Line 1\nLine 2 with 'quotes'"),
    ];
    for (element, want) in table {
        assert_eq!(text(element), want, "<{element}>");
    }
    // Unset options are left out rather than written empty.
    for absent in [
        "owners",
        "docsUrl",
        "bugTrackerUrl",
        "iconUrl",
        "packageSourceUrl",
    ] {
        assert!(!nuspec.contains(&format!("<{absent}>")), "{absent}");
    }
    assert!(nuspec.contains(r#"<file src="tools\**" target="tools" />"#));
}

#[test]
fn ps_quote_table() {
    let table = [
        ("plain", "'plain'"),
        ("it's", "'it''s'"),
        ("$env:X `n", "'$env:X `n'"),
        ("a\u{2019}b", "'a\u{2019}\u{2019}b'"),
    ];
    for (text, want) in table {
        assert_eq!(ps_quote(text), want);
    }
    let mut input = both_zip();
    input.packages[1].url = "https://example.com/it's.zip".to_string();
    let files = render(&input, &opts(), ChocoTemplates::default()).unwrap();
    assert!(
        files
            .install
            .contains("-Url64bit 'https://example.com/it''s.zip' `")
    );
}

#[test]
fn invalid_inputs_are_errors_that_say_why() {
    type Case = (
        &'static str,
        fn(&mut ChannelInput, &mut ChocoOptions),
        &'static str,
    );
    let cases: &[Case] = &[
        (
            "tar.gz windows archive",
            |i, _| i.packages[1].format = Format::TarGz,
            "format override",
        ),
        (
            "arm64",
            |i, _| {
                i.packages
                    .push(package("windows", "arm64", Format::Zip, SHA_A))
            },
            "windows/amd64 and windows/386",
        ),
        (
            "no windows package",
            |i, _| i.packages.retain(|p| p.os != "windows"),
            "build a windows target",
        ),
        (
            "two amd64 packages",
            |i, _| {
                i.packages
                    .push(package("windows", "amd64", Format::Binary, SHA_A))
            },
            "one archive per architecture",
        ),
        (
            "mixed formats",
            |i, _| i.packages[2].format = Format::Binary,
            "same format",
        ),
        (
            "upper-case id",
            |_, o| o.id = "Hello".to_string(),
            "lowercase",
        ),
        (
            "empty description",
            |i, _| i.release.description.clear(),
            "description",
        ),
        (
            "empty authors",
            |_, o| o.authors = " ".to_string(),
            "authors",
        ),
        ("bad tag", |_, o| o.tags.push("a,b".to_string()), "one word"),
        (
            "bad url",
            |_, o| o.docs_url = Some("docs".to_string()),
            "full URL",
        ),
        (
            "bad checksum",
            |i, _| i.packages[1].sha256 = "x".to_string(),
            "64 lowercase",
        ),
        (
            "numeric prerelease",
            |i, _| i.release.version = "1.0.0-1".to_string(),
            "rc.1",
        ),
    ];
    for (what, change, expect) in cases {
        let mut input = both_zip();
        let mut opts = opts();
        change(&mut input, &mut opts);
        let err = render(&input, &opts, ChocoTemplates::default()).unwrap_err();
        let shown = format!(
            "{err} | {}",
            miette::Diagnostic::help(&err)
                .map(|h| h.to_string())
                .unwrap_or_default()
        );
        assert!(shown.starts_with("choco: "), "{what}: {shown}");
        assert!(shown.contains(expect), "{what}: {shown}");
    }
}

#[test]
fn user_templates_replace_the_embedded_ones() {
    let input = both_zip();
    let templates = ChocoTemplates {
        nuspec: Some("<x a=\"{{ summary }}\">{{ description }}</x>\n"),
        install: Some("# {{ id }} {{ version }}\n{{ install.x64.url | psq }}\n"),
        uninstall: Some("Uninstall-BinFile -Name {{ 'hello' | psq }}\n"),
    };
    let files = render(&input, &opts(), templates).unwrap();
    // A user nuspec is escaped all the same.
    assert_eq!(
        files.nuspec,
        "<x a=\"A &lt;greeting&gt; tool\">Says &lt;hello&gt; &amp; &quot;goodbye&quot; \
         to the world&apos;s people</x>\n"
    );
    assert_eq!(
        files.install,
        format!("# hello 1.2.3\n'{}'\n", input.packages[1].url)
    );
    assert_eq!(
        files.uninstall.as_deref(),
        Some("Uninstall-BinFile -Name 'hello'\n")
    );

    let broken = ChocoTemplates {
        install: Some("{{ no_such_variable }}"),
        ..ChocoTemplates::default()
    };
    let err = render(&input, &opts(), broken).unwrap_err();
    assert!(
        matches!(&err, PublishError::Template { template, .. }
            if template == "chocolateyinstall.ps1.j2 (user template)"),
        "{err:?}"
    );
    let empty = ChocoTemplates {
        install: Some("{# nothing #}\n"),
        ..ChocoTemplates::default()
    };
    let err = render(&input, &opts(), empty).unwrap_err();
    assert!(err.to_string().contains("rendered to nothing"), "{err}");
}

/// Names, in order, and the bytes of every entry of a zip.
fn entries(bytes: &[u8]) -> Vec<(String, Vec<u8>, zip::DateTime, zip::CompressionMethod)> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            let modified = f.last_modified().unwrap();
            (
                f.name().unwrap().into_owned(),
                data,
                modified,
                f.compression(),
            )
        })
        .collect()
}

#[test]
fn nupkg_is_a_valid_opc_zip_and_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let input = both_zip();
    let opts = opts();
    let files = render(&input, &opts, ChocoTemplates::default()).unwrap();
    let name = nupkg_file_name(&opts, &input).unwrap();
    assert_eq!(name, "hello.1.2.3.nupkg");
    let out = dir.path().join(&name);
    write_nupkg(&files, &opts, &input, &out).unwrap();
    let first = std::fs::read(&out).unwrap();
    write_nupkg(&files, &opts, &input, &out).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), first, "two writes differ");
    // Atomic write: nothing but the package is left in the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let parts = entries(&first);
    let names: Vec<&str> = parts.iter().map(|(n, ..)| n.as_str()).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert_eq!(
        names[..3],
        ["_rels/.rels", "hello.nuspec", "tools/chocolateyinstall.ps1"]
    );
    let psmdcp =
        Regex::new(r"^package/services/metadata/core-properties/[0-9a-f]{32}\.psmdcp$").unwrap();
    assert!(psmdcp.is_match(names[3]), "{}", names[3]);
    assert_eq!(names[4], "[Content_Types].xml");
    for (name, _, modified, method) in &parts {
        assert_eq!(
            (
                modified.year(),
                modified.month(),
                modified.day(),
                modified.hour()
            ),
            (2023, 11, 14, 22),
            "{name}"
        );
        assert_eq!(*method, zip::CompressionMethod::Deflated, "{name}");
    }
    let text = |i: usize| String::from_utf8(parts[i].1.clone()).unwrap();
    assert_eq!(text(1), files.nuspec);
    assert_eq!(text(2), files.install);

    let rels = text(0);
    assert!(rels.contains(
        r#"Type="http://schemas.microsoft.com/packaging/2010/07/manifest" Target="/hello.nuspec""#
    ));
    assert!(rels.contains(&format!(
        r#"Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="/{}""#,
        names[3]
    )));
    let core = text(3);
    for want in [
        "<dc:creator>Ann &amp; Bob</dc:creator>",
        "<dc:identifier>hello</dc:identifier>",
        "<version>1.2.3</version>",
        "<keywords>cli hello-world</keywords>",
        "<lastModifiedBy>matrix</lastModifiedBy>",
        "<dc:description>Says &lt;hello&gt; &amp; &quot;goodbye&quot;",
    ] {
        assert!(core.contains(want), "{want} in {core}");
    }
    let types = text(4);
    for ext in ["rels", "nuspec", "ps1", "psmdcp"] {
        assert!(types.contains(&format!("Extension=\"{ext}\"")), "{ext}");
    }

    if have("xmllint", "libxml2-utils") {
        for i in [0, 1, 3, 4] {
            xmllint(&parts[i].0, &text(i), dir.path());
        }
    }
    if have("unzip", "unzip") {
        let out = Command::new("unzip").arg("-t").arg(&out).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "unzip -t: {stdout}");
        assert!(stdout.contains("No errors detected"), "{stdout}");
    }
}

#[test]
fn nupkg_names_follow_the_content_and_keep_an_uninstall_script() {
    let dir = tempfile::tempdir().unwrap();
    let input = both_zip();
    let opts = opts();
    let mut files = render(&input, &opts, ChocoTemplates::default()).unwrap();
    let a = dir.path().join("a.nupkg");
    write_nupkg(&files, &opts, &input, &a).unwrap();
    files.uninstall = Some("Write-Host bye\n".to_string());
    let b = dir.path().join("b.nupkg");
    write_nupkg(&files, &opts, &input, &b).unwrap();
    let (pa, pb) = (
        entries(&std::fs::read(a).unwrap()),
        entries(&std::fs::read(b).unwrap()),
    );
    let names_b: Vec<&str> = pb.iter().map(|(n, ..)| n.as_str()).collect();
    assert_eq!(names_b[3], "tools/chocolateyuninstall.ps1");
    assert_eq!(pb[3].1, b"Write-Host bye\n");
    // Different content, different core-properties part name.
    assert_ne!(pa[3].0, pb[4].0);
    assert!(pb[5].1.windows(4).any(|w| w == b"ps1\""));
}

#[test]
fn nupkg_refuses_a_nuspec_that_disagrees_with_the_options() {
    let dir = tempfile::tempdir().unwrap();
    let input = both_zip();
    let opts = opts();
    let mut files = render(&input, &opts, ChocoTemplates::default()).unwrap();
    files.nuspec = files
        .nuspec
        .replace("<version>1.2.3</version>", "<version>9</version>");
    let out = dir.path().join("x.nupkg");
    let err = write_nupkg(&files, &opts, &input, &out).unwrap_err();
    assert!(
        err.to_string().contains("<version>1.2.3</version>"),
        "{err}"
    );
    assert!(!out.exists());

    let missing = dir.path().join("no/such/dir/x.nupkg");
    let files = render(&input, &opts, ChocoTemplates::default()).unwrap();
    let err = write_nupkg(&files, &opts, &input, &missing).unwrap_err();
    assert!(
        matches!(err, PublishError::Io { ref path, .. } if path == &missing),
        "{err:?}"
    );
}

#[test]
fn the_project_license_becomes_a_license_expression() {
    let mut input = both_zip();
    input.release.license = "MIT OR Apache-2.0".to_string();
    let files = render(&input, &opts(), ChocoTemplates::default()).unwrap();
    assert!(
        files
            .nuspec
            .contains("    <license type=\"expression\">MIT OR Apache-2.0</license>\n"),
        "{}",
        files.nuspec
    );
    // NuGet's placeholder for clients older than <license>, as `nuget
    // pack` writes it.
    assert!(
        files
            .nuspec
            .contains("    <licenseUrl>https://aka.ms/deprecateLicenseUrl</licenseUrl>\n"),
        "{}",
        files.nuspec
    );
    let with_url = |url: &str| ChocoOptions {
        license_url: Some(url.to_string()),
        ..opts()
    };
    assert!(
        render(
            &input,
            &with_url("https://aka.ms/deprecateLicenseUrl"),
            ChocoTemplates::default()
        )
        .is_ok()
    );
    let err = render(
        &input,
        &with_url("https://example.com/LICENSE"),
        ChocoTemplates::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("cannot stand beside the license"),
        "{err}"
    );
    input.release.license = "MIT OR".to_string();
    let err = render(&input, &opts(), ChocoTemplates::default()).unwrap_err();
    assert!(
        err.to_string().contains("not an SPDX license expression"),
        "{err}"
    );
}

#[test]
fn spdx_expression_syntax() {
    for ok in [
        "MIT",
        "GPL-2.0+",
        "MIT OR Apache-2.0",
        "(MIT AND BSD-2-Clause) OR ISC",
        "GPL-2.0-or-later WITH Classpath-exception-2.0",
        "LicenseRef-my.license",
    ] {
        assert!(validate::license("c", ok, None).is_ok(), "{ok}");
    }
    for bad in [
        "MIT OR",
        "OR MIT",
        "(MIT",
        "MIT)",
        "MIT Apache-2.0",
        "MIT <b>",
        "MIT WITH (ISC)",
        "()",
    ] {
        assert!(validate::license("c", bad, None).is_err(), "{bad}");
    }
}

/// The NuGet nuspec schema made by scripts/install-validators.sh.
fn nuspec_schema() -> Option<PathBuf> {
    let tools = std::env::var_os("MATRIX_TOOLS")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/matrix-tools"))
        })?;
    let xsd = tools.join("nuspec.xsd");
    if xsd.is_file() {
        return Some(xsd);
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !ci,
        "{} is missing in CI: run bash scripts/install-validators.sh",
        xsd.display()
    );
    eprintln!(
        "skipping: no {} (bash scripts/install-validators.sh)",
        xsd.display()
    );
    None
}

/// Chocolatey's metadata elements that NuGet's schema does not know; each
/// is one line of the nuspec matrix writes.
const CHOCOLATEY_ONLY: [&str; 4] = [
    "packageSourceUrl",
    "projectSourceUrl",
    "docsUrl",
    "bugTrackerUrl",
];

/// `xmllint --schema` on `nuspec` with Chocolatey's own elements removed;
/// Err carries xmllint's report.
fn against_nuget_schema(xsd: &Path, nuspec: &str, dir: &Path) -> Result<(), String> {
    let plain: String = nuspec
        .lines()
        .filter(|l| {
            !CHOCOLATEY_ONLY
                .iter()
                .any(|e| l.trim_start().starts_with(&format!("<{e}>")))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let path = dir.join("nuget.nuspec");
    std::fs::write(&path, &plain).unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(xsd)
        .arg(&path)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{}\n{plain}", String::from_utf8_lossy(&out.stderr)))
    }
}

#[test]
fn nuspecs_pass_the_nuget_schema_and_the_schema_bites() {
    if !have("xmllint", "libxml2-utils") {
        return;
    }
    let Some(xsd) = nuspec_schema() else { return };
    let dir = tempfile::tempdir().unwrap();
    let everything = ChocoOptions {
        owners: Some("Ann".to_string()),
        package_source_url: Some("https://github.com/o/hello-choco".to_string()),
        docs_url: Some("https://example.com/docs".to_string()),
        bug_tracker_url: Some("https://github.com/o/hello/issues".to_string()),
        icon_url: Some("https://example.com/icon.png".to_string()),
        ..opts()
    };
    let mut unlicensed = both_zip();
    unlicensed.release.license = String::new();
    let mut dual = both_zip();
    dual.release.license = "(MIT AND BSD-2-Clause) OR Apache-2.0".to_string();
    let variants = [
        ("licensed", both_zip(), opts()),
        ("dual licensed", dual, opts()),
        ("every option", both_zip(), everything),
        (
            "license url only",
            unlicensed,
            ChocoOptions {
                license_url: Some("https://example.com/LICENSE".to_string()),
                ..opts()
            },
        ),
    ];
    for (what, input, options) in &variants {
        let files = render(input, options, ChocoTemplates::default()).unwrap();
        if let Err(report) = against_nuget_schema(&xsd, &files.nuspec, dir.path()) {
            panic!("{what}: the NuGet schema refuses it:\n{report}");
        }
    }
    let good = render(&variants[0].1, &variants[0].2, ChocoTemplates::default())
        .unwrap()
        .nuspec;
    // The schema bites: a license without its type, an unknown type, a
    // misspelt element and a missing id are all refused.
    let license = good
        .lines()
        .find(|l| l.contains("<license "))
        .unwrap()
        .to_string();
    for (what, broken) in [
        (
            "license without type",
            good.replace(&license, "    <license>MIT</license>"),
        ),
        (
            "unknown license type",
            good.replace("type=\"expression\"", "type=\"spdx\""),
        ),
        (
            "misspelt element",
            good.replace("<license type", "<licence type")
                .replace("</license>", "</licence>"),
        ),
        ("no id", good.replace("    <id>hello</id>\n", "")),
    ] {
        assert_ne!(broken, good, "{what}: the edit changed nothing");
        assert!(
            against_nuget_schema(&xsd, &broken, dir.path()).is_err(),
            "{what} passed:\n{broken}"
        );
    }
}
