//! The release notes' Verification section for `[sign]` with each key
//! type: snapshotted, and every command it shows run exactly as written
//! (parsed from the notes, by `sh` in dist/) against the signed build: the
//! checksums check, minisign / ssh-keygen / gpg (from an empty keyring,
//! so the `gpg --import` line is what makes it pass) and `matrix verify`.
//! After one flipped byte in the checksums file each signature command
//! fails.

use std::path::Path;
use std::process::Command;

use crate::sign::{CHECKSUMS, tool};
use crate::support::{Project, WRITE_BINARY, require, run, script_config};

const CHANGELOG: &str =
    "# Changelog\n\n## [1.2.3] - 2026-01-02\n\n### Added\n\n- Signed releases.\n";

/// A tagged project with `[sign]` = `sign` and a changelog, so the build
/// writes release notes.
fn project(sign: &str, release: &str) -> Project {
    let config = script_config("os = [\"linux\"]\narch = [\"amd64\"]", WRITE_BINARY);
    let p = Project::new();
    p.file(
        "matrix.toml",
        &format!("{config}\n[sign]\n{sign}\n{release}"),
    );
    p.file("LICENSE", "MIT License\n");
    p.file("README.md", "# hello\n");
    p.file("CHANGELOG.md", CHANGELOG);
    p.commit();
    p.git(&["tag", "v1.2.3"]);
    p
}

/// The notes' Verification section.
fn section(p: &Project) -> String {
    let notes = std::fs::read_to_string(p.dist().join("RELEASE_NOTES.md")).unwrap();
    let start = notes
        .find("## Verification\n")
        .expect("a Verification section");
    let end = notes[start..].find("\n## Known Limitations").unwrap() + start;
    notes[start..end].to_string()
}

/// Every line of the section's `sh` blocks.
fn commands(section: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in section.lines() {
        match (inside, line) {
            (false, "```sh") => inside = true,
            (true, "```") => inside = false,
            (true, l) => out.push(l.to_string()),
            _ => {}
        }
    }
    out
}

/// Sizes differ with the compressor's version; nothing else may.
fn redact(section: &str) -> String {
    let size = regex::Regex::new(r"\| [0-9.]+ (B|KiB|MiB) \|").unwrap();
    size.replace_all(section, "| <size> |").into_owned()
}

/// Runs `line` with `sh -c` in dist/: `matrix` is the binary under test.
fn sh(p: &Project, line: &str, env: &[(&str, &Path)]) -> std::process::Output {
    let bin = assert_cmd::cargo::cargo_bin("matrix");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("sh")
        .args(["-c", line])
        .current_dir(p.dist())
        .env("PATH", path)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .output()
        .unwrap()
}

/// Runs every rendered command but the downloads; then, with one byte of
/// the checksums file flipped, each command of `tool` must fail.
fn run_all(p: &Project, section: &str, tool: &str, env: &[(&str, &Path)]) -> usize {
    let lines = commands(section);
    let mut ran = 0;
    for line in lines.iter().filter(|l| !l.starts_with("curl ")) {
        let out = sh(p, line, env);
        assert!(
            out.status.success(),
            "{line}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    let sums = p.dist().join(CHECKSUMS);
    let good = std::fs::read(&sums).unwrap();
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 1;
    std::fs::write(&sums, &bad).unwrap();
    for line in lines
        .iter()
        .filter(|l| l.starts_with(tool) && l.contains(CHECKSUMS))
    {
        if line.starts_with("gpg --import") {
            continue;
        }
        assert!(
            !sh(p, line, env).status.success(),
            "{line} passed a flipped byte"
        );
    }
    std::fs::write(&sums, &good).unwrap();
    ran
}

fn build(p: &Project, env: &[(&str, &Path)]) {
    let (code, out, err) = run(p.matrix(&["build"]).envs(env.iter().map(|(k, v)| (*k, *v))));
    assert_eq!(code, 0, "{out}\n{err}");
}

#[test]
fn minisign_notes_commands_work_as_written() {
    if !require("minisign", "apt-get install minisign") {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let g = tool(
        "minisign",
        &["-G", "-W", "-p", "key.pub", "-s", "key.sec"],
        keys.path(),
    );
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let sign = format!(
        "method = \"minisign\"\nkey-file = \"{}\"",
        keys.path().join("key.sec").display()
    );
    let p = project(
        &sign,
        "\n[release]\nurl = \"https://github.com/example/hello/releases/download/{{ tag }}/{{ artifact }}\"\n\n[ci]\nattestations = true\nrepository = \"example/hello\"\n",
    );
    build(&p, &[]);
    let section = section(&p);
    insta::assert_snapshot!("verification_minisign", redact(&section));
    let lines = commands(&section);
    assert!(
        lines.contains(&format!("minisign -Vm {CHECKSUMS} -p hello.pub")),
        "{section}"
    );
    assert!(
        lines.contains(&"matrix verify --flat .".to_string()),
        "{section}"
    );
    // checksums, minisign, matrix verify; gh needs GitHub.
    let runnable: Vec<&String> = lines
        .iter()
        .filter(|l| !l.starts_with("curl ") && !l.starts_with("gh "))
        .collect();
    assert_eq!(runnable.len(), 3, "{lines:?}");
    assert!(
        lines.contains(
            &"gh attestation verify hello_1.2.3_linux_amd64.tar.gz --repo example/hello".into()
        ),
        "{section}"
    );
    let gh = section.replace(
        "gh attestation verify hello_1.2.3_linux_amd64.tar.gz --repo example/hello\n",
        "",
    );
    assert_eq!(run_all(&p, &gh, "minisign", &[]), 3);
}

#[test]
fn ssh_notes_commands_work_as_written() {
    if !require("ssh-keygen", "apt-get install openssh-client") {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let g = tool(
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", "id"],
        keys.path(),
    );
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let sign = format!(
        "method = \"ssh\"\nkey-file = \"{}\"\nartifacts = \"all\"",
        keys.path().join("id").display()
    );
    // No GitHub repository: no attestation command.
    let p = project(&sign, "");
    build(&p, &[]);
    let section = section(&p);
    insta::assert_snapshot!("verification_ssh", redact(&section));
    let lines = commands(&section);
    for file in [CHECKSUMS, "hello_1.2.3_linux_amd64.tar.gz"] {
        let want = format!(
            "ssh-keygen -Y verify -f allowed_signers -I hello -n file -s {file}.sig < {file}"
        );
        assert!(lines.contains(&want), "{section}");
    }
    assert!(!section.contains("gh attestation"), "{section}");
    // checksums, two ssh-keygen, matrix verify (the provenance).
    assert_eq!(run_all(&p, &section, "ssh-keygen", &[]), 4);
}

#[test]
fn gpg_notes_commands_work_as_written() {
    if !require("gpg", "apt-get install gnupg") {
        return;
    }
    let signer = tempfile::tempdir().unwrap();
    let gpg = |home: &Path, args: &[&str]| {
        Command::new("gpg")
            .env("GNUPGHOME", home)
            .arg("--batch")
            .args(args)
            .output()
            .unwrap()
    };
    let g = gpg(
        signer.path(),
        &[
            "--passphrase",
            "",
            "--quick-gen-key",
            "Test Signer <signer@example.org>",
            "ed25519",
            "sign",
            "never",
        ],
    );
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let listed = gpg(signer.path(), &["--with-colons", "--list-secret-keys"]);
    let fpr = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .and_then(|l| l.split(':').nth(9))
        .expect("fingerprint")
        .to_string();
    let p = project(&format!("method = \"gpg\"\nkey-id = \"{fpr}\""), "");
    build(&p, &[("GNUPGHOME", signer.path())]);
    let section = section(&p);
    insta::assert_snapshot!("verification_gpg", redact(&section));
    let lines = commands(&section);
    assert!(
        lines.contains(&"gpg --import hello-signing-key.asc".to_string()),
        "{section}"
    );
    assert!(
        lines.contains(&format!("gpg --verify {CHECKSUMS}.asc {CHECKSUMS}")),
        "{section}"
    );
    // A user's keyring: empty until the notes' import line.
    let user = tempfile::tempdir().unwrap();
    let user = user.path();
    let verify = format!("gpg --verify {CHECKSUMS}.asc {CHECKSUMS}");
    assert!(
        !sh(&p, &verify, &[("GNUPGHOME", user)]).status.success(),
        "verified without the key"
    );
    // checksums, import, verify, matrix verify (the provenance).
    assert_eq!(run_all(&p, &section, "gpg", &[("GNUPGHOME", user)]), 4);
}

/// What the plan decides for the notes (`matrix plan --json`): every name
/// from the config and the flags; GitHub's attestations and keyless image
/// signatures only on a tagged release with `[ci] repository`, image
/// signatures only with `--push`.
#[test]
fn the_plan_decides_what_the_notes_verify() {
    let sign = "method = \"minisign\"\nkey-file = \"key.sec\"";
    let images = "\n[images]\nrepositories = [\"ghcr.io/example/hello\"]\ndockerfile = \"Dockerfile\"\n\n[images.matrix]\nplatform = [\"linux/amd64\"]\n";
    let plan = |ci: &str, flags: &[&str]| -> serde_json::Value {
        let p = project(sign, &format!("{images}{ci}"));
        p.file("Dockerfile", "FROM scratch\nCOPY hello /hello\n");
        p.commit();
        p.git(&["tag", "-f", "v1.2.3"]);
        let mut args = vec!["plan", "--json"];
        args.extend(flags);
        let (code, out, err) = run(&mut p.matrix(&args));
        assert_eq!(code, 0, "{err}");
        let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
        plan["notes"]["verification"].clone()
    };
    let repo = "\n[ci]\nattestations = true\nrepository = \"example/hello\"\n";
    let v = plan(repo, &["--push"]);
    assert_eq!(
        v,
        serde_json::json!({
            "signature": {
                "kind": "minisign",
                "public_key": "hello.pub",
                "extension": "minisig",
                "every_file": false
            },
            "provenance": ["hello_1.2.3.intoto.jsonl"],
            "attestations": "example/hello",
            "image_key": "hello.cosign.pub",
            "keyless_identity": "^https://github\\.com/example/hello/\\.github/workflows/[^/@]+@refs/tags/v1\\.2\\.3$"
        })
    );
    // Not pushed: no image signatures to check.
    let v = plan(repo, &[]);
    assert_eq!(v["attestations"], "example/hello");
    assert_eq!(v["image_key"], serde_json::Value::Null);
    assert_eq!(v["keyless_identity"], serde_json::Value::Null);
    // A snapshot is not attested by the workflow (it runs on a tag only).
    let v = plan(repo, &["--push", "--snapshot"]);
    assert_eq!(v["attestations"], serde_json::Value::Null);
    assert_eq!(v["keyless_identity"], serde_json::Value::Null);
    assert_eq!(v["image_key"], "hello.cosign.pub");
    // No repository, or attestations off (the default): nothing of
    // GitHub's.
    for ci in [
        "",
        "\n[ci]\nrepository = \"example/hello\"\n",
        "\n[ci]\nattestations = false\nrepository = \"example/hello\"\n",
    ] {
        let v = plan(ci, &["--push"]);
        assert_eq!(v["attestations"], serde_json::Value::Null, "{ci}");
        assert_eq!(v["keyless_identity"], serde_json::Value::Null, "{ci}");
    }
}

/// A sha512 release writes its notes (the archives' sha256, which the
/// notes' packages carry, is hashed for them) and the notes' checksum
/// command is sha512sum's, which passes as written.
#[test]
fn a_sha512_release_has_notes_that_check_with_sha512sum() {
    let config = script_config("os = [\"linux\"]\narch = [\"amd64\"]", WRITE_BINARY);
    let p = Project::new();
    p.file(
        "matrix.toml",
        &format!("{config}\n[checksum]\nalgorithm = \"sha512\"\n"),
    );
    p.file("LICENSE", "MIT License\n");
    p.file("README.md", "# hello\n");
    p.file("CHANGELOG.md", CHANGELOG);
    p.commit();
    p.git(&["tag", "v1.2.3"]);
    build(&p, &[]);
    let section = section(&p);
    let lines: Vec<String> = commands(&section)
        .into_iter()
        .filter(|l| !l.starts_with("curl "))
        .collect();
    assert_eq!(
        lines,
        [format!("sha512sum --check --ignore-missing {CHECKSUMS}")],
        "{section}"
    );
    assert!(section.contains("SHA-512"), "{section}");
    let out = sh(&p, &lines[0], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `matrix verify --flat` checks a release downloaded into one folder (as
/// GitHub serves a release's assets: `homebrew/hello.rb` as `hello.rb`),
/// where plain `matrix verify` finds the channel file missing; a changed
/// byte in a flattened file still fails, naming the recorded path.
#[test]
fn a_flat_download_verifies_with_flat() {
    if !require("minisign", "apt-get install minisign") {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let g = tool(
        "minisign",
        &["-G", "-W", "-p", "key.pub", "-s", "key.sec"],
        keys.path(),
    );
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let sign = format!(
        "method = \"minisign\"\nkey-file = \"{}\"",
        keys.path().join("key.sec").display()
    );
    let p = project(
        &sign,
        "\n[release]\nurl = \"https://example.org/{{ tag }}/{{ artifact }}\"\n\n[channels.homebrew]\nkind = \"homebrew\"\ndesc = \"Tiny test release\"\n",
    );
    build(&p, &[]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.dist().join("manifest.json")).unwrap())
            .unwrap();
    let paths: Vec<String> = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap().to_string())
        .collect();
    assert!(
        paths.contains(&"homebrew/hello.rb".to_string()),
        "{paths:?}"
    );
    let flat = tempfile::tempdir().unwrap();
    for path in paths.iter().chain([&"manifest.json".to_string()]) {
        let name = path.rsplit('/').next().unwrap();
        std::fs::copy(p.dist().join(path), flat.path().join(name)).unwrap();
    }
    let dir = flat.path().to_str().unwrap();
    let (code, out, _) = run(&mut p.matrix(&["verify", dir]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("problem: homebrew/hello.rb: missing"), "{out}");
    let (code, out, err) = run(&mut p.matrix(&["verify", "--flat", dir]));
    assert_eq!(code, 0, "{out}\n{err}");
    // The release as `matrix build` laid it out passes with --flat too.
    let dist = p.dist();
    let (code, out, _) = run(&mut p.matrix(&["verify", "--flat", dist.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}");
    let formula = flat.path().join("hello.rb");
    let mut bytes = std::fs::read(&formula).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&formula, &bytes).unwrap();
    let (code, out, _) = run(&mut p.matrix(&["verify", "--flat", dir]));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("problem: homebrew/hello.rb: sha256:"), "{out}");
}
