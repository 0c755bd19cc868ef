//! The deb and rpm channels on the real example: each package read back by
//! the format's own tools (dpkg-deb, lintian, rpm, rpmlint), installed
//! (dpkg -i in the local Debian base image; rpm -i into a scratch root)
//! and run; two builds give the same bytes; bad settings are plan errors
//! at their line.

use std::path::Path;
use std::process::Command;

use crate::cross::example;
use crate::support::{Project, WRITE_BINARY, require, run, script_config};

/// What the example adds for its Linux packages. The lintian override and
/// the rpmlint filter (below) are the only suppressions: the example is a
/// Go program, statically linked by design, which both linters flag as an
/// error for distribution packages.
const CHANNELS: &str = r#"
[channels.deb]
kind = "deb"
maintainer = "Hello Authors <hello@example.org>"
summary = "tiny greeter"
description = """
Hello greets you. It is released for every OS and architecture Go supports,
as an example of matrix releases.
"""
depends = ["libc6 (>= 2.17) | busybox"]
files = { "/usr/share/man/man1/hello.1" = "man/hello.1", "/usr/share/lintian/overrides/hello" = "pkg/lintian-overrides" }
config-files = { "/etc/hello.toml" = "pkg/hello.toml" }
scripts = { postinst = "pkg/postinst" }

[channels.rpm]
kind = "rpm"
maintainer = "Hello Authors <hello@example.org>"
summary = "Tiny greeter"
description = """
Hello greets you. It is released for every OS and architecture Go supports,
as an example of matrix releases.
"""
depends = ["glibc (>= 2.17)"]
files = { "/usr/share/man/man1/hello.1" = "man/hello.1" }
config-files = { "/etc/hello.toml" = "pkg/hello.toml" }
scripts = { postinst = "pkg/postinst" }
"#;

/// rpmlint's errors kept out, each for a reason: the Go binary is static,
/// and matrix does not sign RPMs (the checksums file and `[sign]` cover
/// them).
const RPMLINTRC: &str = "addFilter(\"statically-linked-binary\")\naddFilter(\"no-signature\")\n";

fn tools() -> bool {
    [
        ("go", "apt-get install golang-go"),
        ("dpkg-deb", "apt-get install dpkg"),
        ("lintian", "apt-get install lintian"),
        ("rpm", "apt-get install rpm"),
        ("rpmlint", "apt-get install rpmlint"),
    ]
    .iter()
    .all(|(tool, install)| require(tool, install))
}

fn example_with_packages() -> Project {
    let p = example("hello-go");
    let config = std::fs::read_to_string(p.path().join("matrix.toml")).unwrap();
    p.file("matrix.toml", &format!("{config}{CHANNELS}"));
    p.file("man/hello.1", ".TH HELLO 1\n.SH NAME\nhello \\- greet\n");
    p.file("pkg/hello.toml", "greeting = \"hi\"\n");
    p.file("pkg/postinst", "#!/bin/sh\nset -e\necho configured\n");
    p.file(
        "pkg/lintian-overrides",
        "# A Go program: static by design.\nhello: statically-linked-binary [usr/bin/hello]\n",
    );
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    p
}

fn build(p: &Project) {
    let (code, out, err) = run(&mut p.matrix(&[
        "build",
        "--clean",
        "--target",
        "linux/amd64",
        "--target",
        "linux/arm64",
    ]));
    assert_eq!(code, 0, "{out}\n{err}");
}

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const DEBS: [&str; 2] = ["deb/hello_1.2.3_amd64.deb", "deb/hello_1.2.3_arm64.deb"];
const RPMS: [&str; 2] = [
    "rpm/hello-1.2.3-1.x86_64.rpm",
    "rpm/hello-1.2.3-1.aarch64.rpm",
];

fn bytes(p: &Project) -> Vec<Vec<u8>> {
    DEBS.iter()
        .chain(&RPMS)
        .map(|rel| std::fs::read(p.dist().join(rel)).unwrap())
        .collect()
}

#[test]
fn deb_and_rpm_pass_their_own_tools_and_reproduce() {
    if !tools() {
        return;
    }
    let p = example_with_packages();
    build(&p);
    let dist = p.dist();

    // Artifacts: in the checksums file and the manifest, kind package.
    let sums = std::fs::read_to_string(dist.join("hello_1.2.3_checksums.txt")).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dist.join("manifest.json")).unwrap())
            .unwrap();
    let text = manifest.to_string();
    for rel in DEBS.iter().chain(&RPMS) {
        assert!(sums.contains(&format!("  {rel}\n")), "{rel} in {sums}");
        assert!(
            text.contains(&format!("\"kind\":\"package\",\"name\":\"{rel}\""))
                || text.contains(&format!(
                    "\"name\":\"{rel}\",\"path\":\"{rel}\",\"kind\":\"package\""
                )),
            "{rel} in {text}"
        );
    }
    let check = Command::new("sha256sum")
        .args(["--check", "--strict", "hello_1.2.3_checksums.txt"])
        .current_dir(&dist)
        .output()
        .unwrap();
    assert!(check.status.success());

    // deb: dpkg-deb reads the fields and the files.
    let deb = dist.join(DEBS[0]);
    let info = output(Command::new("dpkg-deb").arg("--info").arg(&deb));
    for want in [
        "Package: hello",
        "Version: 1.2.3",
        "Architecture: amd64",
        "Maintainer: Hello Authors <hello@example.org>",
        "Depends: libc6 (>= 2.17) | busybox",
        "Homepage: https://example.org/hello",
        "Description: tiny greeter",
        "  Hello greets you.",
        "conffiles",
        "md5sums",
        "postinst",
    ] {
        assert!(info.contains(want), "{want:?} in {info}");
    }
    let contents = output(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    for want in [
        "-rwxr-xr-x root/root   1",
        "usr/bin/hello\n",
        "usr/share/man/man1/hello.1.gz\n",
        "usr/share/doc/hello/copyright\n",
        "usr/share/doc/hello/changelog.gz\n",
        "etc/hello.toml\n",
        " 2026-01-02 03:04 ",
    ] {
        assert!(contents.contains(want), "{want:?} in {contents}");
    }
    assert!(!contents.contains("1000/"), "root-owned: {contents}");
    let arm = output(
        Command::new("dpkg-deb")
            .args(["--field"])
            .arg(dist.join(DEBS[1]))
            .arg("Architecture"),
    );
    assert_eq!(arm.trim(), "arm64");

    // lintian: no errors and no warnings; the one override is shown.
    let lint = Command::new("lintian")
        .args([
            "--tag-display-limit",
            "0",
            "-EvIL",
            "+pedantic",
            "--show-overrides",
        ])
        .arg(&deb)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&lint.stdout).into_owned();
    let tags: Vec<&str> = report
        .lines()
        .filter(|l| l.len() > 2 && l.as_bytes()[1] == b':' && !l.starts_with("N:"))
        .collect();
    assert_eq!(
        tags,
        ["O: hello: statically-linked-binary [usr/bin/hello]"],
        "{report}{}",
        String::from_utf8_lossy(&lint.stderr)
    );
    // Its own verdict: it fails on any error or warning not overridden.
    output(
        Command::new("lintian")
            .args(["-EvIL", "+pedantic", "--fail-on", "error,warning"])
            .arg(&deb),
    );

    // rpm: the header, the digests, rpmlint, an install into a scratch root.
    let rpm = dist.join(RPMS[0]);
    let info = output(Command::new("rpm").arg("-qip").arg(&rpm));
    for want in [
        "Name        : hello",
        "Version     : 1.2.3",
        "Release     : 1",
        "Architecture: x86_64",
        "License     : MIT",
        "Packager    : Hello Authors <hello@example.org>",
        "URL         : https://example.org/hello",
        "Summary     : Tiny greeter",
        "Hello greets you.",
    ] {
        assert!(info.contains(want), "{want:?} in {info}");
    }
    let digests = output(Command::new("rpm").args(["-K", "-v"]).arg(&rpm));
    for want in ["Header SHA256 digest: OK", "Payload SHA256 digest: OK"] {
        assert!(digests.contains(want), "{want:?} in {digests}");
    }
    assert!(!digests.contains("BAD"), "{digests}");
    let files = output(
        Command::new("rpm")
            .args(["-qp", "--configfiles", "--requires"])
            .arg(&rpm),
    );
    assert!(
        files.contains("/etc/hello.toml") && files.contains("glibc >= 2.17"),
        "{files}"
    );
    let scripts = output(Command::new("rpm").args(["-qp", "--scripts"]).arg(&rpm));
    assert!(scripts.contains("echo configured"), "{scripts}");
    let rc = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(rc.path(), RPMLINTRC).unwrap();
    let lint = output(Command::new("rpmlint").arg("-r").arg(rc.path()).arg(&rpm));
    assert!(lint.contains(" 0 errors,"), "{lint}");
    let root = tempfile::tempdir().unwrap();
    output(
        Command::new("rpm")
            .arg("--root")
            .arg(root.path())
            .arg("--initdb"),
    );
    output(
        Command::new("rpm")
            .args(["-i", "--nodeps", "--noscripts", "--root"])
            .arg(root.path())
            .arg(&rpm),
    );
    if std::env::consts::ARCH == "x86_64" {
        let version = output(Command::new(root.path().join("usr/bin/hello")).arg("--version"));
        assert_eq!(version.trim(), "1.2.3");
    }
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/hello.toml")).unwrap(),
        "greeting = \"hi\"\n"
    );

    // Two builds, the same bytes.
    let first = bytes(&p);
    build(&p);
    assert!(first == bytes(&p), "a second build changed a package");
}

#[test]
fn deb_installs_and_runs_in_debian() {
    if !tools() || !crate::containers::require_engine() {
        return;
    }
    let p = example_with_packages();
    build(&p);
    let mount = format!("{}:/deb:ro", p.dist().join("deb").display());
    let out = output(Command::new("docker").args([
        "run",
        "--rm",
        "--network",
        "none",
        "--platform",
        "linux/amd64",
        "-v",
        &mount,
        "matrix-base/debian:bookworm",
        "sh",
        "-c",
        "dpkg -i /deb/hello_1.2.3_amd64.deb && hello --version && cat /etc/hello.toml && dpkg -s hello",
    ]));
    for want in [
        "Setting up hello (1.2.3)",
        "configured\n",
        "1.2.3\n",
        "greeting = \"hi\"",
        "Status: install ok installed",
    ] {
        assert!(out.contains(want), "{want:?} in {out}");
    }
}

/// A plan of a project with `channel` added, expected to fail: its error.
fn plan_error(channel: &str, setup: impl Fn(&Path)) -> String {
    let config = format!(
        "{}\n{channel}\n",
        script_config(
            "os = [\"linux\"]\narch = [\"amd64\", \"loong64\"]",
            WRITE_BINARY
        )
    );
    let p = Project::new();
    p.file("matrix.toml", &config);
    p.file("LICENSE", "MIT\n");
    p.file("README.md", "# hello\n");
    p.file("man/hello.1", "x\n");
    setup(p.path());
    p.commit();
    p.git(&["tag", "v1.2.3"]);
    let (code, out, err) = run(&mut p.matrix(&["plan"]));
    assert_ne!(code, 0, "{out}\n{err}");
    // miette wraps long messages: join the lines again.
    let wrapped = regex::Regex::new(r"\s*\n\s*\|?\s*").unwrap();
    wrapped.replace_all(&err, " ").into_owned()
}

#[test]
fn bad_package_settings_are_located_plan_errors() {
    let url = "url = \"https://example.org/{{ artifact }}\"";
    // An architecture neither format has a name for, chosen with `when`.
    let err = plan_error(
        &format!(
            "[channels.deb]\nkind = \"deb\"\nmaintainer = \"A <a@b.c>\"\n{url}\nwhen = {{ os = \"linux\", arch = \"loong64\" }}"
        ),
        |_| {},
    );
    assert!(
        err.contains("matrix.toml:") && err.contains("cannot ship linux/loong64"),
        "{err}"
    );
    // Without `when`, the target is left out with a warning, not an error.
    let cases: [(&str, &str); 6] = [
        (
            "depends = [\"libc6 >= 2\"]",
            "a version relation is written `(>= 1.2)`",
        ),
        ("depends = [\"Bad_Name\"]", "is not a package name"),
        (
            "files = { \"/usr/share/x\" = \"../outside\" }",
            "is outside the project",
        ),
        ("files = { \"/usr/share/x\" = \"link\" }", "is a symlink"),
        (
            "files = { \"usr/share/x\" = \"man/hello.1\" }",
            "not an absolute path",
        ),
        (
            "config-files = { \"/usr/share/x\" = \"man/hello.1\" }",
            "is not under /etc",
        ),
    ];
    for (kind, extra) in [("deb", "maintainer = \"A <a@b.c>\""), ("rpm", "")] {
        for (setting, message) in cases {
            let err = plan_error(
                &format!("[channels.pkg]\nkind = \"{kind}\"\n{extra}\n{url}\n{setting}"),
                |root| std::os::unix::fs::symlink("/etc/passwd", root.join("link")).unwrap(),
            );
            let key = setting.split(' ').next().unwrap();
            assert!(err.contains(message), "{kind} {setting}: {err}");
            assert!(
                err.contains(&format!("channels.pkg.{key}")) && err.contains("matrix.toml:"),
                "{kind} {setting}: located at the key: {err}"
            );
        }
    }
    // deb needs a maintainer; rpm takes no alternatives.
    let err = plan_error(&format!("[channels.deb]\nkind = \"deb\"\n{url}"), |_| {});
    assert!(
        err.contains("needs a maintainer") && err.contains("matrix.toml:"),
        "{err}"
    );
    let err = plan_error(
        &format!("[channels.rpm]\nkind = \"rpm\"\n{url}\ndepends = [\"aa | bb\"]"),
        |_| {},
    );
    assert!(
        err.contains("alternatives") && err.contains("channels.rpm.depends"),
        "{err}"
    );
    let err = plan_error(
        &format!("[channels.rpm]\nkind = \"rpm\"\n{url}\nrelease = \"1-2\""),
        |_| {},
    );
    assert!(
        err.contains("not an RPM release") && err.contains("channels.rpm.release"),
        "{err}"
    );
}
