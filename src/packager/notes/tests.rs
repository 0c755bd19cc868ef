//! Tests of `notes::render` (the changelog parser's are in `changelog.rs`).

use std::path::PathBuf;

use super::*;
use crate::package::archive::Format;

/// 2026-11-23T12:00:00Z
const TIMESTAMP: i64 = 1_795_435_200;

const CHANGELOG: &str = "\
# Changelog

## [Unreleased]

### Added

- `matrix publish` writes release notes.

## [0.3.0] - 2026-11-20

### Breaking Changes

- `[archive] name` is now a template; escape literal `{{`.

### Upgrade Notes

Run `matrix plan` once to see the new archive names.

### Added

- Zip archives for Windows ([#12]).

### Changed

- **Breaking:** `--dist` must be empty
  unless `--clean` is given.

## [0.2.0] - 2026-10-01

### Fixed

- Nothing breaks.

[Unreleased]: https://github.com/o/hello/compare/v0.3.0...HEAD
[0.3.0]: https://github.com/o/hello/compare/v0.2.0...v0.3.0
[#12]: https://github.com/o/hello/issues/12
";

fn release(version: &str) -> Release {
    let prerelease = semver::Version::parse(version)
        .map(|v| v.pre.to_string())
        .unwrap_or_default();
    Release {
        name: "hello".into(),
        description: "Says hello.".into(),
        homepage: "https://example.com/hello".into(),
        license: "MIT".into(),
        version: version.into(),
        tag: format!("v{version}"),
        is_snapshot: version.contains("SNAPSHOT"),
        prerelease,
        commit: "abc1234def5678".into(),
        timestamp: TIMESTAMP,
    }
}

fn package(version: &str, os: &str, arch: &str, base: &str) -> Package {
    let ext = if os == "windows" { "zip" } else { "tar.gz" };
    let file_name = format!("hello_{version}_{os}_{arch}.{ext}");
    let binary = if os == "windows" {
        "hello.exe"
    } else {
        "hello"
    };
    Package {
        target: format!("{os}/{arch}"),
        os: os.into(),
        arch: arch.into(),
        variant: None,
        platform: crate::target::platform(os, arch, None).unwrap(),
        url: format!("{base}/{file_name}"),
        path: PathBuf::from("dist").join(&file_name),
        file_name,
        sha256: "a".repeat(64),
        size: 1_572_864,
        format: if os == "windows" {
            Format::Zip
        } else {
            Format::TarGz
        },
        binary: binary.into(),
        binary_in_archive: binary.into(),
        binary_file: PathBuf::from("dist/build").join(binary),
        files: vec!["LICENSE".into()],
    }
}

const BASE: &str = "https://github.com/o/hello/releases/download/v0.3.0";

fn image() -> ImageNote {
    ImageNote {
        id: "hello-debian".into(),
        tags: vec!["0.3.0-debian".into(), "latest".into()],
        repositories: vec!["ghcr.io/o/hello".into(), "docker.io/o/hello".into()],
        digest: format!("sha256:{}", "b".repeat(64)),
        platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
    }
}

/// Renders `version` with the given archives, images and changelog.
fn notes(
    version: &str,
    packages: &[Package],
    images: &[ImageNote],
    changelog: Option<&str>,
) -> Result<Rendered, PublishError> {
    let release = release(version);
    let checksums = format!("hello_{version}_checksums.txt");
    render(
        &NotesInput {
            release: &release,
            checksums_file: &checksums,
            algorithm: crate::package::checksum::Algorithm::Sha256,
            packages,
            images,
            changelog,
            changelog_path: "CHANGELOG.md",
            known_limitations: None,
            verification: &Verification::default(),
        },
        None,
    )
}

fn headings(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("## ")).collect()
}

/// The text of the `## <name>` part, without the heading.
fn part<'t>(text: &'t str, name: &str) -> &'t str {
    let start = text.find(&format!("\n## {name}\n")).unwrap() + name.len() + 5;
    let end = text[start..]
        .find("\n## ")
        .map_or(text.len(), |e| start + e);
    text[start..end].trim()
}

#[test]
fn the_outline_is_in_order() {
    let packages = [package("0.3.0", "linux", "amd64", BASE)];
    for images in [vec![], vec![image()]] {
        let r = notes("0.3.0", &packages, &images, Some(CHANGELOG)).unwrap();
        assert!(
            r.text.starts_with("# hello 0.3.0\n\n## Summary\n"),
            "{}",
            r.text
        );
        assert_eq!(
            headings(&r.text),
            [
                "## Summary",
                "## Breaking Changes",
                "## Upgrade Notes",
                "## Images",
                "## Verification",
                "## Known Limitations",
                "## Changelog"
            ]
        );
        assert!(!r.text.contains("\n\n\n"), "{}", r.text);
        assert!(
            r.text
                .ends_with("\n\n[#12]: https://github.com/o/hello/issues/12\n"),
            "{}",
            r.text
        );
        assert!(r.text.contains("- Zip archives for Windows ([#12])."));
    }
}

#[test]
fn summary_states_release_type_and_support_level() {
    const EXPERIMENTAL: &str =
        "hello is still v0.x: it is experimental and may change in later minor releases";
    let cases = [
        ("0.3.0", true, "This is a minor release."),
        ("0.3.1", true, "This is a patch release."),
        ("1.0.0", false, "This is a major release."),
        ("1.2.0", false, "This is a minor release."),
        ("1.2.3", false, "This is a patch release."),
        (
            "0.0.2-rc.1",
            true,
            "This is a pre-release (`rc.1`) of 0.0.2, for testing: it may still change before 0.0.2 is released.",
        ),
        (
            "1.0.1-SNAPSHOT-abc1234",
            false,
            "This is a snapshot build of commit `abc1234`, not a release: it is for testing only",
        ),
    ];
    for (version, experimental, kind) in cases {
        let section = format!("## [{version}] - 2026-11-23\n\n### Fixed\n\n- A bug.\n");
        let r = notes(version, &[], &[], Some(&section)).unwrap();
        let summary = part(&r.text, "Summary");
        assert!(
            summary.starts_with("Says hello.\n\n"),
            "{version}: {summary}"
        );
        assert!(summary.contains(kind), "{version}: {summary}");
        assert!(summary.contains("\n\nProject page: <https://example.com/hello>"));
        assert_eq!(
            summary.contains(EXPERIMENTAL),
            experimental,
            "{version}: {summary}"
        );
        assert!(r.warnings.is_empty(), "{version}: {:?}", r.warnings);
    }
}

#[test]
fn a_release_needs_its_changelog_section() {
    let cases = [
        (
            Some(CHANGELOG),
            "CHANGELOG.md has no section for version 0.4.0",
        ),
        (None, "CHANGELOG.md not found"),
    ];
    for (changelog, message_start) in cases {
        let err = notes("0.4.0", &[], &[], changelog).unwrap_err();
        let PublishError::Invalid {
            channel,
            message,
            help,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(channel, "release-notes");
        assert!(message.starts_with(message_start), "{message}");
        let help = help.as_deref().unwrap();
        assert!(help.contains("`## [0.4.0] - 2026-11-23`"), "{help}");
        assert!(help.contains("CHANGELOG.md"), "{help}");
    }
    let PublishError::Invalid { help, .. } = notes("0.4.0", &[], &[], Some(CHANGELOG)).unwrap_err()
    else {
        unreachable!()
    };
    assert!(help.unwrap().contains("Unreleased"));
}

#[test]
fn a_snapshot_without_a_section_warns_and_says_so() {
    let version = "0.3.1-SNAPSHOT-abc1234";
    let r = notes(version, &[], &[], Some(CHANGELOG)).unwrap();
    assert_eq!(
        r.warnings,
        [format!(
            "CHANGELOG.md has no section for {version}; the snapshot notes show its Unreleased section (line 3)"
        )]
    );
    let changelog = part(&r.text, "Changelog");
    assert!(
        changelog.starts_with(&format!(
            "`CHANGELOG.md` has no section for {version}: the entries below are its Unreleased section"
        )),
        "{changelog}"
    );
    assert!(changelog.contains("### Added\n\n- `matrix publish` writes release notes."));
    assert!(changelog.contains("<https://github.com/o/hello/compare/v0.3.0...HEAD>"));
    assert_eq!(part(&r.text, "Breaking Changes"), "None.");

    for changelog in [None, Some("# Changelog\n\n## Unreleased\n\n### Added\n")] {
        let r = notes(version, &[], &[], changelog).unwrap();
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert_eq!(
            part(&r.text, "Breaking Changes"),
            "None listed: the changelog has no entry for this snapshot."
        );
        let expected = if changelog.is_some() {
            "has no entry for this snapshot"
        } else {
            "does not exist"
        };
        assert!(part(&r.text, "Changelog").contains(expected), "{}", r.text);
    }
}

#[test]
fn breaking_changes_upgrade_notes_and_changelog_come_from_the_section() {
    let r = notes("0.3.0", &[], &[], Some(CHANGELOG)).unwrap();
    assert_eq!(
        part(&r.text, "Breaking Changes"),
        "- `[archive] name` is now a template; escape literal `{{`.\n\
         - **Breaking:** `--dist` must be empty\n  unless `--clean` is given."
    );
    assert_eq!(
        part(&r.text, "Upgrade Notes"),
        "Run `matrix plan` once to see the new archive names."
    );
    assert_eq!(
        part(&r.text, "Changelog"),
        "### Added\n\n- Zip archives for Windows ([#12]).\n\n\
         ### Changed\n\n- **Breaking:** `--dist` must be empty\n  unless `--clean` is given.\n\n\
         The full changelog is in `CHANGELOG.md`; changes since the previous release: \
         <https://github.com/o/hello/compare/v0.2.0...v0.3.0>.\n\n\
         [#12]: https://github.com/o/hello/issues/12"
    );
    assert_eq!(
        r.warnings,
        [
            "CHANGELOG.md: the Unreleased section (line 3) still has entries, and they are not in the notes of 0.3.0; move them under `## [0.3.0]` if they belong to this release"
        ]
    );

    let r = notes("0.2.0", &[], &[], Some(CHANGELOG)).unwrap();
    assert_eq!(part(&r.text, "Breaking Changes"), "None.");
    assert_eq!(
        part(&r.text, "Upgrade Notes"),
        "The changelog lists no upgrade steps for this release."
    );
}

#[test]
fn images_are_listed_with_their_digests() {
    let r = notes("0.3.0", &[], &[image()], Some(CHANGELOG)).unwrap();
    let digest = format!("sha256:{}", "b".repeat(64));
    assert_eq!(
        part(&r.text, "Images"),
        format!(
            "### hello-debian\n\nPlatforms: linux/amd64, linux/arm64\n\n\
             - `ghcr.io/o/hello:0.3.0-debian`\n- `ghcr.io/o/hello:latest`\n\
             - `docker.io/o/hello:0.3.0-debian`\n- `docker.io/o/hello:latest`\n\n\
             Index digest: `{digest}`"
        )
    );
    let verification = part(&r.text, "Verification");
    assert!(verification.starts_with("No archives in this release."));
    assert!(verification.contains(&format!(
        "```sh\n# hello-debian: expect {digest}\n\
         docker buildx imagetools inspect ghcr.io/o/hello:0.3.0-debian\n\
         crane digest ghcr.io/o/hello:0.3.0-debian\ncrane digest ghcr.io/o/hello:latest\n\
         crane digest docker.io/o/hello:0.3.0-debian\ncrane digest docker.io/o/hello:latest\n```"
    )));

    let unpushed = ImageNote {
        repositories: vec![],
        ..image()
    };
    let r = notes("0.3.0", &[], &[unpushed], Some(CHANGELOG)).unwrap();
    assert!(part(&r.text, "Images").contains("Not pushed to a registry."));
    assert!(!r.text.contains("crane digest"));

    let r = notes("0.3.0", &[], &[], Some(CHANGELOG)).unwrap();
    assert_eq!(
        part(&r.text, "Images"),
        "No container images in this release."
    );
}

#[test]
fn verification_commands_are_exact() {
    let packages = [
        package("0.3.0", "linux", "amd64", BASE),
        package("0.3.0", "darwin", "arm64", BASE),
        package("0.3.0", "windows", "amd64", BASE),
    ];
    let r = notes("0.3.0", &packages, &[], Some(CHANGELOG)).unwrap();
    let v = part(&r.text, "Verification");
    assert!(v.contains(&format!(
        "| linux/amd64 | [`hello_0.3.0_linux_amd64.tar.gz`]({BASE}/hello_0.3.0_linux_amd64.tar.gz) | 1.5 MiB |"
    )));
    assert!(
        v.contains(&format!(
            "For example, for linux/amd64:\n\n```sh\n\
         curl -fLO {BASE}/hello_0.3.0_linux_amd64.tar.gz\n\
         curl -fLO {BASE}/hello_0.3.0_checksums.txt\n\
         sha256sum --check --ignore-missing hello_0.3.0_checksums.txt\n```"
        )),
        "{v}"
    );
    assert!(v.contains("`shasum -a 256 hello_0.3.0_darwin_arm64.tar.gz`"));
    assert!(v.contains("`Get-FileHash hello_0.3.0_windows_amd64.zip -Algorithm SHA256`"));

    // Archives hosted in different places: no guessed URL for the checksums.
    let packages = [
        package("0.3.0", "linux", "amd64", BASE),
        package(
            "0.3.0",
            "linux",
            "arm64",
            "https://mirror.example.com/hello?x=1&y=2",
        ),
    ];
    let r = notes("0.3.0", &packages, &[], Some(CHANGELOG)).unwrap();
    assert!(part(&r.text, "Verification").contains(&format!(
        "```sh\ncurl -fLO {BASE}/hello_0.3.0_linux_amd64.tar.gz\n\
         sha256sum --check --ignore-missing hello_0.3.0_checksums.txt\n```"
    )));
    assert!(!r.text.contains("shasum") && !r.text.contains("Get-FileHash"));
}

#[test]
fn known_limitations_and_custom_templates() {
    let release = release("1.0.0");
    let changelog = "## 1.0.0\n\n- First.\n";
    let mut input = NotesInput {
        release: &release,
        checksums_file: "sums.txt",
        algorithm: crate::package::checksum::Algorithm::Sha256,
        packages: &[],
        images: &[],
        changelog: Some(changelog),
        changelog_path: "docs/CHANGES.md",
        known_limitations: None,
        verification: &Verification::default(),
    };
    let r = render(&input, None).unwrap();
    assert_eq!(part(&r.text, "Known Limitations"), "None known.");
    assert!(
        part(&r.text, "Changelog")
            .starts_with("- First.\n\nThe full changelog is in `docs/CHANGES.md`.")
    );

    input.known_limitations = Some("  - No Windows ARM builds.\n");
    let r = render(&input, None).unwrap();
    assert_eq!(
        part(&r.text, "Known Limitations"),
        "- No Windows ARM builds."
    );
    assert_eq!(r, render(&input, None).unwrap());

    let custom =
        "{{ release.name }} {{ date }}: {{ summary | join(' ') }} {{ changelog.groups[0].body }}";
    let r = render(&input, Some(custom)).unwrap();
    assert_eq!(
        r.text,
        "hello 2026-11-23: Says hello. This is a major release. \
         Project page: <https://example.com/hello> - First.\n"
    );

    let err = render(&input, Some("{{ no_such_thing }}")).unwrap_err();
    assert!(
        matches!(&err, PublishError::Template { template, .. } if template == "custom release notes template"),
        "{err:?}"
    );
}

/// The Verification section with `v` and `algorithm`: the notes of 0.3.0
/// for one Linux archive and `images`.
fn verified(
    v: &Verification,
    algorithm: crate::package::checksum::Algorithm,
    images: &[ImageNote],
) -> String {
    let release = release("0.3.0");
    let packages = [package("0.3.0", "linux", "amd64", BASE)];
    let text = render(
        &NotesInput {
            release: &release,
            checksums_file: "hello_0.3.0_checksums.txt",
            algorithm,
            packages: &packages,
            images,
            changelog: Some(CHANGELOG),
            changelog_path: "CHANGELOG.md",
            known_limitations: None,
            verification: v,
        },
        None,
    )
    .unwrap()
    .text;
    part(&text, "Verification").to_string()
}

#[test]
fn verification_shows_only_what_the_release_has() {
    let sha256 = crate::package::checksum::Algorithm::Sha256;
    let plain = verified(&Verification::default(), sha256, &[image()]);
    for absent in [
        "minisign",
        "ssh-keygen",
        "gpg",
        "gh attestation",
        "cosign verify",
    ] {
        assert!(!plain.contains(absent), "{absent}: {plain}");
    }
    // GitHub's attestations: the example archive, by its sha256; with a
    // sha512 checksums file, the attestation's subjects are sha512 digests.
    let v = Verification {
        attestations: Some("o/hello".into()),
        ..Verification::default()
    };
    let text = verified(&v, sha256, &[]);
    assert!(
        text.contains("\ngh attestation verify hello_0.3.0_linux_amd64.tar.gz --repo o/hello\n"),
        "{text}"
    );
    let text = verified(&v, crate::package::checksum::Algorithm::Sha512, &[]);
    assert!(
        text.contains(
            "\ngh attestation verify hello_0.3.0_linux_amd64.tar.gz --repo o/hello --digest-alg sha512\n"
        ),
        "{text}"
    );
    assert!(text.contains("\nsha512sum --check --ignore-missing hello_0.3.0_checksums.txt\n"));
    assert!(
        text.contains("`sha512sum --check` recomputes the SHA-512 of each file"),
        "{text}"
    );
}

#[test]
fn image_signature_commands_name_each_image_by_digest() {
    let identity = workflow_identity("o/hello", "v0.3.0");
    let v = Verification {
        image_key: Some("hello.cosign.pub".into()),
        keyless_identity: Some(identity.clone()),
        ..Verification::default()
    };
    let sha256 = crate::package::checksum::Algorithm::Sha256;
    // Nothing to say without images.
    assert!(!verified(&v, sha256, &[]).contains("cosign"));
    let text = verified(&v, sha256, &[image()]);
    let digest = format!("sha256:{}", "b".repeat(64));
    for repo in ["ghcr.io/o/hello", "docker.io/o/hello"] {
        let keyed = format!(
            "\ncosign verify --key hello.cosign.pub --insecure-ignore-tlog=true {repo}@{digest}\n"
        );
        assert!(text.contains(&keyed), "{text}");
        let line = text
            .lines()
            .find(|l| l.contains("--certificate-identity-regexp") && l.contains(repo))
            .unwrap_or_else(|| panic!("no keyless line for {repo}: {text}"));
        // As a shell reads it: the regexp, the issuer, the image.
        let words = shell_words::split(line).unwrap();
        assert_eq!(
            words,
            [
                "cosign",
                "verify",
                "--certificate-identity-regexp",
                identity.as_str(),
                "--certificate-oidc-issuer",
                GITHUB_OIDC_ISSUER,
                &format!("{repo}@{digest}"),
            ]
        );
    }
    // The identity Fulcio writes for a workflow run at the tag matches;
    // another tag, a branch or another repository does not.
    let re = regex::Regex::new(&identity).unwrap();
    let at = |s: &str| format!("https://github.com/{s}");
    assert!(re.is_match(&at(
        "o/hello/.github/workflows/release.yml@refs/tags/v0.3.0"
    )));
    for other in [
        "o/hello/.github/workflows/release.yml@refs/tags/v0.3.01",
        "o/hello/.github/workflows/release.yml@refs/heads/main",
        "o/hello2/.github/workflows/release.yml@refs/tags/v0.3.0",
        "oXhello/.github/workflows/release.yml@refs/tags/v0.3.0",
    ] {
        assert!(!re.is_match(&at(other)), "{other}");
    }
}
