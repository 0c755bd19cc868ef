//! `[sign]` end to end: matrix signs with keys made by the real tools, the
//! real verifiers (`minisign -V`, `ssh-keygen -Y verify`, `gpg --verify`)
//! accept every signature and refuse it after one flipped byte in the
//! signed file or in the signature, `matrix verify` does the same, a key
//! that cannot sign fails before any job, and no secret is ever printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{Project, WRITE_BINARY, require, run, script_config};

pub(crate) const CHECKSUMS: &str = "hello_1.2.3_checksums.txt";
pub(crate) const ARCHIVE: &str = "hello_1.2.3_linux_amd64.tar.gz";

pub(crate) fn project(sign: &str) -> Project {
    let config = script_config("os = [\"linux\"]\narch = [\"amd64\"]", WRITE_BINARY);
    Project::with_config(&format!("{config}\n[sign]\n{sign}\n"))
}

pub(crate) fn tool(program: &str, args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect(program)
}

/// Flips one bit of the byte in the middle of `path`; flips it back when
/// called again.
fn flip(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(path, bytes).expect("write");
}

/// `verifies` holds for `sig` over `file`, fails once either has one
/// flipped byte, and `matrix verify` fails naming the file each time.
fn check_flips(p: &Project, file: &str, sig: &str, verifies: &dyn Fn(&Path, &Path) -> bool) {
    let dist = p.dist();
    let (file, sig) = (dist.join(file), dist.join(sig));
    assert!(verifies(&file, &sig), "{} verifies", sig.display());
    for damaged in [&file, &sig] {
        flip(damaged);
        assert!(
            !verifies(&file, &sig),
            "{} verifies after a flipped byte in {}",
            sig.display(),
            damaged.display()
        );
        let (code, out, _) = run(&mut p.matrix(&["verify", "dist"]));
        let name = sig.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(code, 1, "{out}");
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("problem: {name}: the "))
                    && l.contains("does not verify")),
            "{out}"
        );
        flip(damaged);
    }
    assert!(verifies(&file, &sig));
}

/// Neither the key nor the passphrase appears in anything matrix shows
/// or writes: its output, the manifest, the plan, the logs.
fn assert_secret_kept(p: &Project, outputs: &[&str], secrets: &[String], env: &[(&str, &str)]) {
    let mut texts: Vec<(String, String)> = outputs
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("output {i}"), t.to_string()))
        .collect();
    let mut plan = p.matrix(&["plan", "--json"]);
    plan.envs(env.iter().copied());
    let (code, out, err) = run(&mut plan);
    assert_eq!(code, 0, "{err}");
    texts.push(("plan --json".into(), format!("{out}{err}")));
    for entry in walkdir(&p.dist()) {
        if let Ok(text) = std::fs::read_to_string(&entry) {
            texts.push((entry.display().to_string(), text));
        }
    }
    for (what, text) in &texts {
        for secret in secrets {
            assert!(!secret.is_empty());
            assert!(!text.contains(secret), "{what} shows a secret");
        }
    }
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dist") {
        let path = e.expect("entry").path();
        if path.is_dir() {
            out.extend(walkdir(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The lines of a key file that carry key material (not its comments or
/// armour).
fn secret_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("key")
        .lines()
        .filter(|l| !l.starts_with("untrusted comment") && !l.starts_with("-----") && l.len() > 20)
        .map(String::from)
        .collect()
}

pub(crate) fn manifest_kinds(p: &Project) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(p.dist().join("manifest.json")).expect("manifest");
    let m: serde_json::Value = serde_json::from_str(&text).expect("json");
    m["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn minisign_signature_verifies_with_minisign() {
    if !require("minisign", "apt-get install minisign") {
        return;
    }
    let keys = tempfile::tempdir().expect("tempdir");
    let g = tool(
        "minisign",
        &["-G", "-W", "-p", "key.pub", "-s", "key.sec"],
        keys.path(),
    );
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let sec = keys.path().join("key.sec");
    let p = project(&format!(
        "method = \"minisign\"\nkey-file = \"{}\"",
        sec.display()
    ));
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let sig = format!("{CHECKSUMS}.minisig");
    let kinds = manifest_kinds(&p);
    assert!(
        kinds.contains(&(sig.clone(), "signature".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("hello.pub".into(), "key".into())),
        "{kinds:?}"
    );
    // The key matrix wrote is the one minisign made.
    let public = |f: &str| {
        std::fs::read_to_string(f)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(
        public(p.dist().join("hello.pub").to_str().unwrap()),
        public(keys.path().join("key.pub").to_str().unwrap())
    );
    let (code, out, _) = run(&mut p.matrix(&["verify", "dist"]));
    assert_eq!(code, 0, "{out}");
    // The checksums file's signature and the provenance's (the release's
    // and the archive's).
    assert!(out.contains("3 signatures"), "{out}");
    let pubkey = p.dist().join("hello.pub");
    check_flips(&p, CHECKSUMS, &sig, &|file, sig| {
        let v = tool(
            "minisign",
            &[
                "-V",
                "-p",
                pubkey.to_str().unwrap(),
                "-m",
                file.to_str().unwrap(),
                "-x",
                sig.to_str().unwrap(),
            ],
            p.path(),
        );
        v.status.success()
    });
    assert_secret_kept(&p, &[&out, &err], &secret_lines(&sec), &[]);
}

/// An encrypted minisign key: a wrong passphrase fails before any job, the
/// right one signs.
#[test]
fn an_encrypted_minisign_key_needs_its_passphrase() {
    if !require("minisign", "apt-get install minisign") {
        return;
    }
    let keys = tempfile::tempdir().expect("tempdir");
    let mut g = Command::new("minisign")
        .args(["-G", "-p", "key.pub", "-s", "key.sec"])
        .current_dir(keys.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("minisign");
    use std::io::Write;
    g.stdin
        .take()
        .unwrap()
        .write_all(b"right-pass\nright-pass\n")
        .unwrap();
    assert!(g.wait().unwrap().success());
    let sec = keys.path().join("key.sec");
    let p = project(&format!(
        "method = \"minisign\"\nkey-file = \"{}\"\npassphrase-env = \"TEST_PASS\"",
        sec.display()
    ));
    let (code, out, err) = run(p.matrix(&["build"]).env("TEST_PASS", "wrong-pass"));
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        flat(&err).contains("cannot sign: wrong passphrase"),
        "{err}"
    );
    assert!(!p.dist().exists());
    let (code, out, err) = run(p.matrix(&["build"]).env("TEST_PASS", "right-pass"));
    assert_eq!(code, 0, "{out}\n{err}");
    let v = tool(
        "minisign",
        &[
            "-V",
            "-p",
            keys.path().join("key.pub").to_str().unwrap(),
            "-m",
            p.dist().join(CHECKSUMS).to_str().unwrap(),
        ],
        p.path(),
    );
    assert!(v.status.success());
    let mut secrets = secret_lines(&sec);
    secrets.push("right-pass".into());
    assert_secret_kept(&p, &[&out, &err], &secrets, &[("TEST_PASS", "right-pass")]);
}

#[test]
fn ssh_signatures_of_every_artifact_verify_with_ssh_keygen() {
    if !require("ssh-keygen", "apt-get install openssh-client") {
        return;
    }
    let keys = tempfile::tempdir().expect("tempdir");
    let g = tool(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "s3cret-pass",
            "-C",
            "",
            "-f",
            "id",
        ],
        keys.path(),
    );
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let key = keys.path().join("id");
    let key_text = std::fs::read_to_string(&key).unwrap();
    let p = project(
        "method = \"ssh\"\nkey-env = \"TEST_SSH_KEY\"\npassphrase-env = \"TEST_SSH_PASS\"\nartifacts = \"all\"",
    );
    let env = [
        ("TEST_SSH_KEY", key_text.as_str()),
        ("TEST_SSH_PASS", "s3cret-pass"),
    ];
    // No copy of the key is written anywhere: nothing is left in TMPDIR.
    let tmp = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = run(p.matrix(&["build"]).envs(env).env("TMPDIR", tmp.path()));
    assert_eq!(code, 0, "{out}\n{err}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with("matrix-sign-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let kinds = manifest_kinds(&p);
    for signed in [CHECKSUMS, ARCHIVE] {
        assert!(
            kinds.contains(&(format!("{signed}.sig"), "signature".into())),
            "{kinds:?}"
        );
    }
    assert!(kinds.contains(&("allowed_signers".into(), "key".into())));
    let (code, out, _) = run(&mut p.matrix(&["verify", "dist"]));
    assert_eq!(code, 0, "{out}");
    // Two detached signatures and two provenance files.
    assert!(out.contains("4 signatures"), "{out}");
    // Ed25519 SSH signatures are deterministic: a second build writes the
    // same bytes.
    let sigs = |p: &Project| {
        [CHECKSUMS, ARCHIVE].map(|s| std::fs::read(p.dist().join(format!("{s}.sig"))).unwrap())
    };
    let first = sigs(&p);
    let (code, out2, err2) = run(p.matrix(&["build", "--clean"]).envs(env));
    assert_eq!(code, 0, "{out2}\n{err2}");
    assert_eq!(
        sigs(&p),
        first,
        "SSH Ed25519 signatures differ between builds"
    );
    let signers = p.dist().join("allowed_signers");
    for signed in [CHECKSUMS, ARCHIVE] {
        check_flips(&p, signed, &format!("{signed}.sig"), &|file, sig| {
            Command::new("ssh-keygen")
                .args(["-Y", "verify", "-n", "file", "-I", "hello", "-f"])
                .arg(&signers)
                .arg("-s")
                .arg(sig)
                .stdin(std::fs::File::open(file).unwrap())
                .output()
                .unwrap()
                .status
                .success()
        });
    }
    let mut secrets = secret_lines(&key);
    secrets.push("s3cret-pass".into());
    assert_secret_kept(&p, &[&out, &err], &secrets, &env);
}

#[test]
fn gpg_signature_verifies_with_gpg() {
    if !require("gpg", "apt-get install gnupg") {
        return;
    }
    let home = tempfile::tempdir().expect("tempdir");
    let gpg = |args: &[&str]| {
        Command::new("gpg")
            .env("GNUPGHOME", home.path())
            .args(["--batch"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("gpg")
    };
    let g = gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "Test Signer <signer@example.org>",
        "ed25519",
        "sign",
        "never",
    ]);
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    let listed = gpg(&["--with-colons", "--list-secret-keys"]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    let fpr = listed
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .and_then(|l| l.split(':').nth(9))
        .expect("fingerprint")
        .to_string();
    let p = project(&format!("method = \"gpg\"\nkey-id = \"{fpr}\""));
    let (code, out, err) = run(p.matrix(&["build"]).env("GNUPGHOME", home.path()));
    assert_eq!(code, 0, "{out}\n{err}");
    let sig = format!("{CHECKSUMS}.asc");
    let kinds = manifest_kinds(&p);
    assert!(
        kinds.contains(&(sig.clone(), "signature".into())),
        "{kinds:?}"
    );
    assert!(kinds.contains(&("hello-signing-key.asc".into(), "key".into())));
    // matrix verify uses only dist/: its own keyring, with the exported key.
    let (code, out, _) = run(p.matrix(&["verify", "dist"]).env_remove("GNUPGHOME"));
    assert_eq!(code, 0, "{out}");
    check_flips(&p, CHECKSUMS, &sig, &|file, sig| {
        gpg(&["--verify", sig.to_str().unwrap(), file.to_str().unwrap()])
            .status
            .success()
    });
    // The secret key never leaves gpg: its exported secret is not shown.
    let secret = gpg(&["--armor", "--export-secret-keys", &fpr]);
    let secret = String::from_utf8_lossy(&secret.stdout).into_owned();
    let lines: Vec<String> = secret
        .lines()
        .filter(|l| l.len() > 40 && !l.starts_with("-----"))
        .map(String::from)
        .collect();
    assert!(!lines.is_empty());
    assert_secret_kept(
        &p,
        &[&out, &err],
        &lines,
        &[("GNUPGHOME", home.path().to_str().unwrap())],
    );
}

/// An error as one line (miette wraps long messages).
fn flat(err: &str) -> String {
    err.split_whitespace()
        .filter(|w| *w != "|")
        .collect::<Vec<_>>()
        .join(" ")
}

/// `[sign]` keys, the environment, and the error expected.
type Case<'a> = (String, Vec<(&'a str, &'a str)>, &'a str);

/// A key that cannot sign fails before any job runs: dist/ is not made.
#[test]
fn key_problems_fail_before_any_job() {
    if !require("ssh-keygen", "apt-get install openssh-client") {
        return;
    }
    let keys = tempfile::tempdir().expect("tempdir");
    let g = tool(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "right-pass",
            "-C",
            "",
            "-f",
            "id",
        ],
        keys.path(),
    );
    assert!(g.status.success());
    let key = keys.path().join("id");
    // A key type matrix does not sign with.
    let g = tool(
        "ssh-keygen",
        &[
            "-q", "-t", "ecdsa", "-b", "384", "-N", "", "-C", "", "-f", "p384",
        ],
        keys.path(),
    );
    assert!(g.status.success());
    let minisign_missing = keys.path().join("missing.sec");
    let cases: Vec<Case> = vec![
        (
            format!(
                "method = \"ssh\"\nkey-file = \"{}\"\npassphrase-env = \"TEST_PASS\"",
                key.display()
            ),
            vec![("TEST_PASS", "wrong-pass")],
            "cannot sign: wrong passphrase",
        ),
        (
            format!("method = \"ssh\"\nkey-file = \"{}\"", key.display()),
            vec![],
            "is it encrypted? then set passphrase-env",
        ),
        (
            format!(
                "method = \"ssh\"\nkey-file = \"{}\"",
                keys.path().join("p384").display()
            ),
            vec![],
            "matrix signs with Ed25519, ECDSA P-256 and RSA keys, not ecdsa-sha2-nistp384",
        ),
        (
            format!(
                "method = \"ssh\"\nkey-file = \"{}\"\npassphrase-env = \"TEST_PASS\"",
                key.display()
            ),
            vec![],
            "the environment variable TEST_PASS (passphrase-env) is not set",
        ),
        (
            format!(
                "method = \"minisign\"\nkey-file = \"{}\"",
                minisign_missing.display()
            ),
            vec![],
            "cannot read the key file",
        ),
        (
            "method = \"minisign\"\nkey-env = \"TEST_MINISIGN_KEY\"".into(),
            vec![],
            "the environment variable TEST_MINISIGN_KEY (key-env) is not set",
        ),
        (
            // An SSH key is not a minisign key.
            format!("method = \"minisign\"\nkey-file = \"{}\"", key.display()),
            vec![],
            "not a minisign secret key",
        ),
    ];
    let key_text = std::fs::read_to_string(&key).unwrap();
    for (sign, env, expected) in cases {
        let p = project(&sign);
        let (code, out, err) = run(p.matrix(&["build"]).envs(env.iter().copied()));
        assert_eq!(code, 2, "{sign}: {out}\n{err}");
        assert!(flat(&err).contains(expected), "{sign}: {err}");
        assert!(!p.dist().exists(), "{sign}: dist/ was touched");
        for line in secret_lines(&key) {
            assert!(!err.contains(&line) && !out.contains(&line));
        }
        assert!(!err.contains("wrong-pass") && !err.contains(key_text.trim()));
    }
}

/// Bad `[sign]` values are located errors.
#[test]
fn bad_sign_config_is_located() {
    for (sign, expected) in [
        (
            "method = \"gpg\"\nkey-file = \"k\"",
            "signs with a key of the user's gpg keyring, not `key-file`",
        ),
        ("method = \"minisign\"", "needs a minisign secret key"),
        ("method = \"pgp\"", "unknown variant `pgp`"),
        (
            "method = \"ssh\"\nkey-file = \"k\"\nkey-env = \"K\"",
            "`key-file` and `key-env` both give the key",
        ),
        (
            "method = \"minisign\"\nkey-env = \"NOT A VAR\"",
            "`key-env` must name an environment variable",
        ),
        (
            "method = \"ssh\"\nkey-file = \"k\"\nartifacts = \"some\"",
            "unknown variant `some`",
        ),
    ] {
        let p = project(sign);
        let (code, _, err) = run(&mut p.matrix(&["plan"]));
        assert_eq!(code, 2, "{sign}: {err}");
        assert!(flat(&err).contains(expected), "{sign}: {err}");
        assert!(err.contains("matrix.toml:"), "{sign}: not located: {err}");
    }
}

/// Shards need no key; their merge signs, and its signatures and
/// provenance files equal a single build's (SSH Ed25519 signatures are
/// deterministic).
#[test]
fn a_merge_signs_what_its_shards_built() {
    if !require("ssh-keygen", "apt-get install openssh-client") {
        return;
    }
    let keys = tempfile::tempdir().expect("tempdir");
    let g = tool(
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", "id"],
        keys.path(),
    );
    assert!(g.status.success());
    let config = script_config(
        "os = [\"linux\", \"windows\"]\narch = [\"amd64\"]",
        WRITE_BINARY,
    );
    let p = Project::with_config(&format!(
        "{config}\n[sign]\nmethod = \"ssh\"\nkey-file = \"{}\"\nartifacts = \"all\"\n",
        keys.path().join("id").display()
    ));
    let out = tempfile::tempdir().expect("tempdir");
    let dir = |name: &str| out.path().join(name).display().to_string();
    for i in 1..=2 {
        let shard = format!("{i}/2");
        let (code, o, e) =
            run(&mut p.matrix(&["build", "--shard", &shard, "--dist", &dir(&format!("s{i}"))]));
        assert_eq!(code, 0, "{o}\n{e}");
        assert!(
            !Path::new(&dir(&format!("s{i}")))
                .join("allowed_signers")
                .exists()
        );
    }
    let (code, o, e) =
        run(&mut p.matrix(&["merge", &dir("s1"), &dir("s2"), "--dist", &dir("merged")]));
    assert_eq!(code, 0, "{o}\n{e}");
    let (code, o, e) = run(&mut p.matrix(&["build", "--dist", &dir("single")]));
    assert_eq!(code, 0, "{o}\n{e}");
    let (code, o, _) = run(&mut p.matrix(&["verify", &dir("merged")]));
    assert_eq!(code, 0, "{o}");
    // Three detached signatures, the release's provenance and each
    // archive's.
    assert!(o.contains("6 signatures"), "{o}");
    for name in [
        format!("{CHECKSUMS}.sig"),
        format!("{ARCHIVE}.sig"),
        "hello_1.2.3_windows_amd64.zip.sig".into(),
        "allowed_signers".into(),
        "hello_1.2.3.intoto.jsonl".into(),
        format!("{ARCHIVE}.intoto.jsonl"),
        "hello_1.2.3_windows_amd64.zip.intoto.jsonl".into(),
    ] {
        let read = |d: &str| std::fs::read(Path::new(&dir(d)).join(&name)).expect(&name);
        assert_eq!(read("merged"), read("single"), "{name}");
    }
    // Byte for byte what ssh-keygen -Y sign writes with the same key.
    let copy = keys.path().join(CHECKSUMS);
    std::fs::copy(Path::new(&dir("single")).join(CHECKSUMS), &copy).unwrap();
    let g = tool(
        "ssh-keygen",
        &["-Y", "sign", "-n", "file", "-f", "id", CHECKSUMS],
        keys.path(),
    );
    assert!(g.status.success(), "{}", String::from_utf8_lossy(&g.stderr));
    assert_eq!(
        std::fs::read(keys.path().join(format!("{CHECKSUMS}.sig"))).unwrap(),
        std::fs::read(Path::new(&dir("single")).join(format!("{CHECKSUMS}.sig"))).unwrap(),
        "matrix's SSH signature differs from ssh-keygen's"
    );
    // The release's provenance (signed by the right key) in place of an
    // archive's: it names more than that archive.
    let merged = Path::new(&out.path().join("merged")).to_path_buf();
    let archive_provenance = merged.join(format!("{ARCHIVE}.intoto.jsonl"));
    std::fs::copy(merged.join("hello_1.2.3.intoto.jsonl"), &archive_provenance).unwrap();
    let (code, o, _) = run(&mut p.matrix(&["verify", &dir("merged")]));
    assert_eq!(code, 1, "{o}");
    assert!(
        o.contains(&format!(
            "problem: {ARCHIVE}.intoto.jsonl: names hello_1.2.3_linux_amd64.tar.gz, hello_1.2.3_windows_amd64.zip, not exactly its archive"
        )),
        "{o}"
    );
    // Taken away, file and record: a signed release without an archive's
    // provenance (or the checksums file's signature) is incomplete.
    std::fs::remove_file(&archive_provenance).unwrap();
    std::fs::remove_file(merged.join(format!("{CHECKSUMS}.sig"))).unwrap();
    let manifest = merged.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let gone = [
        format!("{ARCHIVE}.intoto.jsonl"),
        format!("{CHECKSUMS}.sig"),
    ];
    m["artifacts"]
        .as_array_mut()
        .unwrap()
        .retain(|a| !gone.iter().any(|g| a["path"] == g.as_str()));
    std::fs::write(&manifest, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    let (code, o, _) = run(&mut p.matrix(&["verify", &dir("merged")]));
    assert_eq!(code, 1, "{o}");
    assert!(
        o.contains(&format!(
            "problem: {ARCHIVE}.intoto.jsonl: missing: the release is signed (allowed_signers)"
        )),
        "{o}"
    );
    assert!(
        o.contains(&format!(
            "problem: {CHECKSUMS}.sig: missing: the release is signed (allowed_signers) but the checksums file has no signature"
        )),
        "{o}"
    );
}
