//! The action cache shared through a real OCI registry (the local
//! docker-registry of scripts/setup-containers.sh, or MATRIX_TEST_REGISTRY):
//! two runners with their own cache folders restore each other's builds;
//! a registry that is down costs one warning and no time; a tampered
//! entry is refused and the job reruns; two runs push to one repository
//! at once; `plan --cache-status` reads the registry's records only.

use std::io::Read as _;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use sha2::Digest as _;

use crate::cache::Cached;
use crate::support::run;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOWN: &str = "is not used for the rest of this run";

/// The test registry's host:port, or `None` (a skip) when nothing listens
/// there outside CI; in CI a missing registry fails the test.
fn registry() -> Option<String> {
    let host = std::env::var("MATRIX_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into());
    let addr = host.parse().ok().or_else(|| {
        use std::net::ToSocketAddrs as _;
        host.to_socket_addrs().ok()?.next()
    });
    if addr.is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok()) {
        return Some(host);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "no registry at {host}: start one with scripts/setup-containers.sh"
    );
    eprintln!("SKIP: no registry at {host}; start one with scripts/setup-containers.sh");
    None
}

/// A repository no other test or run uses.
fn fresh_repo(registry: &str, name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{registry}/matrix-test-{}-{nanos}/{name}",
        std::process::id()
    )
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn two_runners_share_builds_through_a_registry() {
    let Some(registry) = registry() else { return };
    let repo = fresh_repo(&registry, "cache");
    let c = Cached::new("");
    let err = c.build(&["--cache-to", &repo]);
    assert_eq!(c.runs(), 2);
    assert_eq!(count(&err, DOWN), 0, "{err}");
    let first = c.checksums();

    // The second runner: an empty cache folder, reading the registry.
    let other = c.p.dir.parent().unwrap().join("runner-b");
    let other = other.display().to_string();
    let err = c.build(&["--cache-dir", &other, "--cache-from", &repo]);
    assert_eq!(
        c.runs(),
        2,
        "every build is restored from the registry:\n{err}"
    );
    assert_eq!(c.restored(), [true, true]);
    assert_eq!(c.checksums(), first, "the same release bytes");
    let binary = c.p.dist().join("build/linux-arm64/hello");
    assert_eq!(
        std::fs::read_to_string(binary).unwrap(),
        "#!/bin/sh\necho hello linux/arm64\n"
    );
    // It is in runner b's folder now: no registry needed to restore again.
    let down = format!("127.0.0.1:{}/cache", closed_port());
    let err = c.build(&["--cache-dir", &other, "--cache-from", &down]);
    assert_eq!(c.restored(), [true, true]);
    assert_eq!(count(&err, DOWN), 0, "a local hit asks no registry: {err}");
}

#[test]
fn plan_says_which_jobs_a_registry_has_without_downloading_them() {
    let Some(registry) = registry() else { return };
    let repo = fresh_repo(&registry, "cache");
    let c = Cached::new("");
    c.build(&["--cache-to", &repo]);
    let other = c.p.dir.parent().unwrap().join("runner-b");
    let other_arg = other.display().to_string();
    let status = |from: &str| {
        let (code, out, err) = run(&mut c.p.matrix(&[
            "plan",
            "--snapshot",
            "--cache-status",
            "--cache-dir",
            &other_arg,
            "--cache-from",
            from,
        ]));
        assert_eq!(code, 0, "{err}");
        let rows: Vec<String> = out
            .lines()
            .skip_while(|l| *l != "cache:")
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        (rows, err)
    };
    let (rows, _) = status(&repo);
    let name = repo.split_once('/').unwrap().1;
    for id in [
        "build-linux-amd64",
        "archive-linux-amd64",
        "build-linux-arm64",
    ] {
        let want = format!("{id} hit (in ");
        assert!(
            rows.iter()
                .any(|r| r.starts_with(&want) && r.contains(name)),
            "{id} is in the registry: {rows:?}"
        );
    }
    // Records only: runner b's folder holds no file and no record of any
    // entry (a build pulling them fills both, checked last).
    let stored = |sub: &str| std::fs::read_dir(other.join(sub)).map_or(0, |d| d.count());
    assert_eq!((stored("cas"), stored("ac")), (0, 0), "nothing downloaded");
    // A registry without the entries: misses, and a down one is a warning.
    let (rows, _) = status(&fresh_repo(&registry, "empty"));
    assert!(rows.iter().all(|r| !r.contains(" hit")), "{rows:?}");
    let (rows, err) = status(&format!("127.0.0.1:{}/cache", closed_port()));
    assert!(rows.iter().all(|r| !r.contains(" hit")), "{rows:?}");
    assert_eq!(count(&err, DOWN), 1, "{err}");
    c.build(&["--cache-dir", &other_arg, "--cache-from", &repo]);
    assert_eq!(c.restored(), [true, true]);
    assert!(
        stored("cas") > 0 && stored("ac") > 0,
        "a build pulls entries"
    );
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_registry_that_is_down_warns_once_and_costs_no_time() {
    let c = Cached::new("");
    let down = format!("127.0.0.1:{}/cache", closed_port());
    let started = Instant::now();
    let err = c.build(&["--cache-from", &down, "--cache-to", &down]);
    let took = started.elapsed();
    assert_eq!(c.runs(), 2);
    assert_eq!(count(&err, DOWN), 1, "one warning: {err}");
    assert!(err.contains("is the registry running?"), "{err}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    // The local cache worked all along.
    c.build(&["--cache-from", &down]);
    assert_eq!(c.restored(), [true, true]);
}

/// Puts `bytes` as a blob of `repo` (`host/name`); its digest.
fn put_blob(repo: &str, bytes: &[u8]) -> String {
    let (host, name) = repo.split_once('/').unwrap();
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)));
    let agent = ureq::Agent::new_with_defaults();
    let started = agent
        .post(format!("http://{host}/v2/{name}/blobs/uploads/"))
        .send_empty()
        .unwrap();
    let location = started.headers()["location"].to_str().unwrap().to_string();
    let url = match location.starts_with("http") {
        true => location,
        false => format!("http://{host}{location}"),
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    agent
        .put(format!("{url}{sep}digest={digest}"))
        .header("content-type", "application/octet-stream")
        .send(bytes)
        .unwrap();
    digest
}

/// Replaces the record of every entry `c` stored under `repo` with
/// `tamper`'s edit of it, keeping the layers.
fn tamper_entries(c: &Cached, repo: &str, tamper: impl Fn(&mut serde_json::Value)) {
    let (host, name) = repo.split_once('/').unwrap();
    let agent = ureq::Agent::new_with_defaults();
    for entry in std::fs::read_dir(c.cache.join("ac")).unwrap() {
        let path = entry.unwrap().path();
        let key = path.file_stem().unwrap().to_str().unwrap().to_string();
        let url = format!("http://{host}/v2/{name}/manifests/ac-{key}");
        let mut manifest = String::new();
        agent
            .get(&url)
            .header("accept", OCI_MANIFEST)
            .call()
            .unwrap()
            .into_body()
            .into_reader()
            .read_to_string(&mut manifest)
            .unwrap();
        let mut manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
        let mut record: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        tamper(&mut record);
        let bytes = serde_json::to_vec(&record).unwrap();
        manifest["config"]["digest"] = put_blob(repo, &bytes).into();
        manifest["config"]["size"] = bytes.len().into();
        agent
            .put(&url)
            .header("content-type", OCI_MANIFEST)
            .send(serde_json::to_vec(&manifest).unwrap().as_slice())
            .unwrap();
    }
}

/// A change made to a stored record.
type Edit = fn(&mut serde_json::Value);

#[test]
fn a_tampered_entry_is_refused_and_the_job_reruns() {
    let Some(registry) = registry() else { return };
    let repo = fresh_repo(&registry, "cache");
    let c = Cached::new("");
    c.build(&["--cache-to", &repo]);
    assert_eq!(c.runs(), 2);
    let edits: [(&str, Edit); 3] = [
        ("a path out of its folder", |r| {
            r["outputs"][0]["path"] = "../../../escaped".into()
        }),
        ("a blob's size", |r| {
            let size = r["outputs"][0]["size"].as_u64().unwrap();
            r["outputs"][0]["size"] = (size + 1).into();
        }),
        ("a blob the registry does not have", |r| {
            r["outputs"][0]["sha256"] = "e".repeat(64).into();
        }),
    ];
    for (i, (what, edit)) in edits.into_iter().enumerate() {
        tamper_entries(&c, &repo, edit);
        let fresh = c.p.dir.parent().unwrap().join(format!("fresh-{i}"));
        let err = c.build(&[
            "--cache-dir",
            &fresh.display().to_string(),
            "--cache-from",
            &repo,
        ]);
        assert_eq!(c.runs(), 4 + 2 * i, "{what}: both jobs rerun\n{err}");
        assert_eq!(c.restored(), [false, false], "{what}");
        // Each target's build and archive entry.
        assert_eq!(count(&err, "is refused"), 4, "{what}: {err}");
        assert_eq!(count(&err, DOWN), 0, "{what}: {err}");
        let binary = c.p.dist().join("build/linux-amd64/hello");
        assert_eq!(
            std::fs::read_to_string(binary).unwrap(),
            "#!/bin/sh\necho hello linux/amd64\n",
            "{what}"
        );
        assert!(!c.p.dir.parent().unwrap().join("escaped").exists());
    }
}

#[test]
fn two_runs_push_to_one_repository_at_once() {
    let Some(registry) = registry() else { return };
    let repo = fresh_repo(&registry, "cache");
    let (a, b) = (Cached::new(""), Cached::new(""));
    let spawn = |c: &Cached| {
        c.p.matrix(&[
            "build",
            "--clean",
            "--snapshot",
            "-j",
            "2",
            "--cache-from",
            &repo,
            "--cache-to",
            &repo,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
    };
    let (ka, kb) = (spawn(&a), spawn(&b));
    for out in [
        ka.wait_with_output().unwrap(),
        kb.wait_with_output().unwrap(),
    ] {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(count(&err, DOWN), 0, "{err}");
    }
    // Each project's entries are whole in the registry: a runner with an
    // empty folder restores both projects.
    for (i, c) in [&a, &b].into_iter().enumerate() {
        let fresh = c.p.dir.parent().unwrap().join(format!("empty-{i}"));
        let (code, out, err) = run(&mut c.p.matrix(&[
            "build",
            "--clean",
            "--snapshot",
            "--cache-dir",
            &fresh.display().to_string(),
            "--cache-from",
            &repo,
        ]));
        assert_eq!(code, 0, "{out}\n{err}");
        assert_eq!(c.runs(), 2, "{err}");
        assert_eq!(c.restored(), [true, true]);
    }
}

#[test]
fn a_cache_reference_with_a_tag_is_a_located_error() {
    let c = Cached::new("");
    let toml = std::fs::read_to_string(c.p.dir.join("matrix.toml")).unwrap();
    c.p.file(
        "matrix.toml",
        &format!("{toml}from = [\"127.0.0.1:5000/ok\", \"127.0.0.1:5000/cache:v1\"]\n"),
    );
    let (code, _, err) = run(&mut c.p.matrix(&["plan", "--snapshot"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("names a tag or digest"), "{err}");
    assert!(
        err.contains("matrix.toml:"),
        "the error names the line: {err}"
    );
    c.p.file("matrix.toml", &toml);
    let (code, _, err) = run(&mut c
        .p
        .matrix(&["build", "--snapshot", "--cache-to", "Not A Repo"]));
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("Not A Repo"), "{err}");
}
