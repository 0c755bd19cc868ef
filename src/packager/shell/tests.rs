use std::path::PathBuf;
use std::process::Command;

use super::*;
use crate::packager::snap::tests::{require, runs};

fn release() -> Release {
    Release {
        name: "hello".into(),
        description: "Says hello to the world.".into(),
        homepage: "https://example.org/hello".into(),
        license: "MIT".into(),
        version: "1.2.3".into(),
        tag: "v1.2.3".into(),
        prerelease: String::new(),
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        timestamp: 1_700_000_000,
        is_snapshot: false,
    }
}

/// A package as `exec` would build it, wrapped in a folder; `libc` is a
/// third part of the target id (`linux/amd64/musl`) when set.
fn package(os: &str, arch: &str, variant: Option<&str>, libc: &str, format: Format) -> Package {
    let platform = crate::target::platform(os, arch, variant).unwrap();
    let mut target = platform.name();
    let mut slug = format!("hello_1.2.3_{os}_{arch}{}", variant.unwrap_or(""));
    if !libc.is_empty() {
        target = format!("{target}/{libc}");
        slug = format!("{slug}_{libc}");
    }
    let file_name = format!("{slug}{}", format.extension());
    let seed = file_name
        .bytes()
        .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
    let binary_in_archive = match format {
        Format::Binary => file_name.clone(),
        _ => format!("{slug}/hello"),
    };
    Package {
        target,
        os: os.into(),
        arch: arch.into(),
        variant: variant.map(str::to_string),
        platform,
        url: format!("https://github.com/acme/hello/releases/download/v1.2.3/{file_name}"),
        path: PathBuf::from("dist").join(&file_name),
        file_name,
        sha256: format!("{seed:016x}").repeat(4),
        size: 1234,
        format,
        binary: "hello".into(),
        binary_in_archive,
        binary_file: PathBuf::from("dist/build/hello"),
        files: Vec::new(),
    }
}

fn input(packages: Vec<Package>) -> ChannelInput {
    ChannelInput {
        release: release(),
        packages,
    }
}

fn usual() -> ChannelInput {
    input(vec![
        package("darwin", "amd64", None, "", Format::TarGz),
        package("darwin", "arm64", None, "", Format::TarGz),
        package("linux", "amd64", None, "", Format::TarGz),
        package("linux", "arm64", None, "", Format::TarGz),
        package("freebsd", "amd64", None, "", Format::TarGz),
    ])
}

fn opts() -> ShellOptions {
    ShellOptions {
        channel: "install".into(),
        script: "install.sh".into(),
        checksums: "hello_1.2.3_checksums.txt".into(),
        checksums_url: None,
    }
}

fn invalid_message(result: Result<String, PublishError>) -> String {
    match result {
        Err(PublishError::Invalid {
            channel, message, ..
        }) => {
            assert_eq!(channel, "install");
            message
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn every_build_gets_its_case_and_the_checksums_file_beside_it() {
    let input = usual();
    let text = render(&input, &opts(), None).unwrap();
    assert!(text.starts_with("#!/bin/sh\n"), "{text}");
    assert!(text.contains("prefix=\"${HELLO_INSTALL_DIR:-}\""), "{text}");
    for p in &input.packages {
        let case = format!(
            "{}/*)\n\ttarget='{}'\n\tfile='{}'\n\turl='{}'\n\tsums='https://github.com/acme/hello/releases/download/v1.2.3/hello_1.2.3_checksums.txt'\n\tsha256='{}'\n\tformat='tar.gz'\n\tmember='{}'\n\tbinary='hello'\n",
            p.target, p.target, p.file_name, p.url, p.sha256, p.binary_in_archive
        );
        assert!(text.contains(&case), "{case}\nnot in\n{text}");
    }
    assert!(
        text.contains(
            "Builds: darwin/amd64, darwin/arm64, linux/amd64, linux/arm64, freebsd/amd64\n"
        )
    );
    assert!(text.contains("x86_64 | amd64 | x64) arch=amd64 ;;\n"));
    assert!(text.contains("aarch64 | arm64) arch=arm64 ;;\n"));
    assert!(text.contains("Linux) os=linux ;;\n"));
    assert!(text.contains("--proto '=https' --tlsv1.2"));
    assert!(text.contains("sysctl -n hw.optional.arm64"), "rosetta");
    assert!(
        !text.contains("ld-musl"),
        "one build per platform: no libc test"
    );
    assert!(text.contains("\ntar.gz)\n") && !text.contains("\nzip)\n"));
    assert_eq!(text, render(&input, &opts(), None).unwrap());
}

#[test]
fn glibc_and_musl_builds_are_told_apart() {
    let input = input(vec![
        package("linux", "amd64", None, "gnu", Format::TarGz),
        package("linux", "amd64", None, "musl", Format::TarXz),
        package("linux", "arm64", None, "musl", Format::TarGz),
    ]);
    let text = render(&input, &opts(), None).unwrap();
    assert!(
        text.contains("\nlinux/amd64/gnu)\n\ttarget='linux/amd64/gnu'\n"),
        "{text}"
    );
    assert!(
        text.contains("\nlinux/amd64/musl)\n\ttarget='linux/amd64/musl'\n"),
        "{text}"
    );
    // The only arm64 build runs whatever the libc.
    assert!(
        text.contains("\nlinux/arm64/*)\n\ttarget='linux/arm64/musl'\n"),
        "{text}"
    );
    assert!(text.contains("/lib/ld-musl-*"), "{text}");
    assert!(text.contains("Builds: linux/amd64 (gnu), linux/amd64 (musl), linux/arm64\n"));
    assert!(text.contains("\ntar.xz)\n") && text.contains("xz -dc"));
}

#[test]
fn an_armv7_system_takes_an_armv6_build_when_there_is_no_v7_one() {
    let v6 = input(vec![package("linux", "arm", Some("v6"), "", Format::TarGz)]);
    let text = render(&v6, &opts(), None).unwrap();
    assert!(
        text.contains("\nlinux/arm/v6/* | linux/arm/v7/*)\n"),
        "{text}"
    );
    assert!(text.contains("armv7l | armv7 | armv7hl | armv8l | armhf) arch=arm/v7 ;;"));
    let both = input(vec![
        package("linux", "arm", Some("v6"), "", Format::TarGz),
        package("linux", "arm", Some("v7"), "", Format::TarGz),
    ]);
    let text = render(&both, &opts(), None).unwrap();
    assert!(text.contains("\nlinux/arm/v6/*)\n") && text.contains("\nlinux/arm/v7/*)\n"));
}

#[test]
fn checksums_url_from_the_channel_and_urls_it_cannot_guess() {
    let mut input = usual();
    let custom = ShellOptions {
        checksums_url: Some("https://dl.example.org/sums.txt".into()),
        ..opts()
    };
    let text = render(&input, &custom, None).unwrap();
    assert_eq!(
        text.matches("\tsums='https://dl.example.org/sums.txt'\n")
            .count(),
        5
    );

    input.packages[2].url = "https://dl.example.org/latest/linux-amd64".into();
    let message = invalid_message(render(&input, &opts(), None));
    assert!(
        message.contains("linux/amd64") && message.contains("does not end with the archive's name"),
        "{message}"
    );
    assert!(render(&input, &custom, None).is_ok());
}

#[test]
fn plain_http_is_kept_as_written() {
    let mut input = usual();
    for p in &mut input.packages {
        p.url = format!("http://127.0.0.1:8000/{}", p.file_name);
    }
    let text = render(&input, &opts(), None).unwrap();
    assert!(text.contains("\turl='http://127.0.0.1:8000/hello_1.2.3_linux_amd64.tar.gz'\n"));
    assert!(text.contains("\tsums='http://127.0.0.1:8000/hello_1.2.3_checksums.txt'\n"));
    assert!(!text.contains("--proto"), "{text}");

    input.packages[0].url = format!("ftp://example.org/{}", input.packages[0].file_name);
    assert!(invalid_message(render(&input, &opts(), None)).contains("not an http(s) URL"));
}

#[test]
fn refused_inputs() {
    let windows = input(vec![package("windows", "amd64", None, "", Format::Zip)]);
    assert!(
        invalid_message(render(&windows, &opts(), None))
            .contains("cannot install on windows/amd64")
    );
    assert!(
        invalid_message(render(&input(Vec::new()), &opts(), None)).contains("selects no package")
    );
    let twice = input(vec![
        package("linux", "amd64", None, "", Format::TarGz),
        package("linux", "amd64", None, "", Format::Zip),
    ]);
    let message = invalid_message(render(&twice, &opts(), None));
    assert!(
        message.contains("hello_1.2.3_linux_amd64.tar.gz")
            && message.contains("hello_1.2.3_linux_amd64.zip"),
        "{message}"
    );
}

#[test]
fn names_are_quoted_for_the_shell() {
    assert_eq!(sh_quote("a b"), "'a b'");
    assert_eq!(sh_quote("it's $HOME"), r"'it'\''s $HOME'");
    assert_eq!(env_name("hello"), "HELLO_INSTALL_DIR");
    assert_eq!(env_name("my-tool.x"), "MY_TOOL_X_INSTALL_DIR");
    assert_eq!(env_name("7zip"), "_7ZIP_INSTALL_DIR");
    let mut input = usual();
    // A space in a URL is refused; a quote is quoted.
    input.packages[2].file_name = "it's here.tar.gz".into();
    input.packages[2].url = "https://example.org/x/it's here.tar.gz".into();
    assert!(invalid_message(render(&input, &opts(), None)).contains("not an http(s) URL"));
    input.packages[2].file_name = "it's.tar.gz".into();
    input.packages[2].url = "https://example.org/x/it's.tar.gz".into();
    let text = render(&input, &opts(), None).unwrap();
    assert!(text.contains(r"	file='it'\''s.tar.gz'"), "{text}");
}

#[test]
fn user_templates_see_the_builds() {
    let input = usual();
    let template = "#!/bin/sh\n{% for b in builds %}{{ b.target | sh }} {{ b.checksums_url }}\n{% endfor %}{{ env }} {{ script }} {{ libc | lower }}\n";
    let text = render(&input, &opts(), Some(template)).unwrap();
    assert!(text.starts_with("#!/bin/sh\n'darwin/amd64' https://github.com/acme/hello/releases/download/v1.2.3/hello_1.2.3_checksums.txt\n"), "{text}");
    assert!(
        text.ends_with("HELLO_INSTALL_DIR install.sh false\n"),
        "{text}"
    );
    assert!(matches!(
        render(&input, &opts(), Some("{{ missing }}")),
        Err(PublishError::Template { .. })
    ));
}

/// Every variant of the script: shellcheck -s sh has nothing to say, and
/// dash, bash and busybox ash all parse it and print its help.
#[test]
fn scripts_are_shellcheck_clean_and_parse_in_every_shell() {
    let Some(()) = require(if runs("shellcheck", &["--version"]) {
        Ok(())
    } else {
        Err("shellcheck is not installed (apt-get install shellcheck)".to_string())
    }) else {
        return;
    };
    let mut http = usual();
    for p in &mut http.packages {
        p.url = format!("http://127.0.0.1:8000/{}", p.file_name);
    }
    let variants = [
        ("usual", usual()),
        ("plain http", http),
        (
            "every format, both libcs",
            input(vec![
                package("linux", "amd64", None, "gnu", Format::TarGz),
                package("linux", "amd64", None, "musl", Format::TarXz),
                package("linux", "arm64", None, "", Format::TarZst),
                package("linux", "arm", Some("v6"), "", Format::Zip),
                package("linux", "riscv64", None, "", Format::Binary),
            ]),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (what, input) in &variants {
        let text = render(input, &opts(), None).unwrap();
        let file = dir.path().join("install.sh");
        std::fs::write(&file, &text).unwrap();
        let out = Command::new("shellcheck")
            .args(["-s", "sh"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{what}: shellcheck:\n{}\n{text}",
            String::from_utf8_lossy(&out.stdout)
        );
        for shell in [&["dash"][..], &["bash", "--posix"], &["busybox", "ash"]] {
            let probe: Vec<&str> = shell[1..].iter().copied().chain(["-c", "true"]).collect();
            if !runs(shell[0], &probe) {
                require::<()>(Err(format!("{} is not installed", shell[0])));
                continue;
            }
            let out = Command::new(shell[0])
                .args(&shell[1..])
                .arg(&file)
                .arg("--help")
                .output()
                .unwrap();
            let help = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{what}: {shell:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                help.starts_with("Installs hello 1.2.3.\n"),
                "{what}: {shell:?}: {help}"
            );
        }
    }
}

#[test]
fn a_bare_executable_is_the_download_itself() {
    let mut bare = package("linux", "amd64", None, "", Format::Binary);
    // `exec` puts a wrapping folder's name before it even for a bare
    // executable; the script moves the download, so the name is its own.
    bare.binary_in_archive = "hello_1.2.3_linux_amd64/hello".into();
    let text = render(&input(vec![bare]), &opts(), None).unwrap();
    assert!(
        text.contains("\tformat='binary'\n\tmember='hello_1.2.3_linux_amd64'\n\tbinary='hello'\n"),
        "{text}"
    );
    assert!(text.contains("\nbinary)\n\tmv \"$tmp/archive\" \"$tmp/unpacked/$member\"\n"));
}

#[test]
fn only_a_glibc_and_a_musl_build_share_a_platform() {
    assert!(libc_apart("linux/amd64/gnu", "linux/amd64/musl"));
    assert!(libc_apart("linux/amd64/musl", "linux/amd64/glibc"));
    assert!(!libc_apart("linux/amd64/gnu", "linux/amd64/glibc"));
    assert!(!libc_apart("linux/amd64/gnu", "linux/amd64/static"));
    assert!(!libc_apart("linux/amd64", "linux/amd64/musl"));
    // The registry asks install.sh only.
    use crate::packager::ChannelKind;
    assert!(ChannelKind::Shell.libc_apart("linux/amd64/gnu", "linux/amd64/musl"));
    assert!(!ChannelKind::Homebrew.libc_apart("linux/amd64/gnu", "linux/amd64/musl"));
    assert!(!ChannelKind::Snapcraft.libc_apart("linux/amd64/gnu", "linux/amd64/musl"));
}
