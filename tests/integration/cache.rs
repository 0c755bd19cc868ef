//! The action cache end to end: an unchanged build is restored, not run;
//! each kind of input that changes makes it run again (and the log says
//! which: command, environment, compiler, sources, `[cache] inputs`, the
//! container image); a corrupt entry is dropped and rerun; two builds
//! share a store; the release is the same bytes with and without the
//! cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{Project, run, script_config};

const AXES: &str = "os = [\"linux\"]\narch = [\"amd64\", \"arm64\"]";

/// A project whose build appends a line to `runs` (outside the project)
/// each time it really runs, with `[cache]` in `cache` (outside too).
/// `OUTSIDE` in the extra `[build]` lines is the folder holding both.
pub(crate) struct Cached {
    pub(crate) p: Project,
    pub(crate) runs: PathBuf,
    pub(crate) cache: PathBuf,
}

fn config(runs: &Path, extra_build: &str, cache: &Path) -> String {
    let command = r#"command = ["sh", "-c", "echo run >> \"$1\"; printf '#!/bin/sh\necho hello {{ os }}/{{ arch }}\n' > \"$0\" && chmod +x \"$0\"", "{{ out }}/{{ bin }}", "RUNS"]"#
        .replace("RUNS", &runs.display().to_string());
    let mut text = script_config(AXES, &format!("{command}\n{extra_build}"));
    text.push_str(&format!("\n[cache]\ndir = \"{}\"\n", cache.display()));
    text
}

impl Cached {
    pub(crate) fn new(extra_build: &str) -> Cached {
        let p = Project::new();
        let outside = p.dir.parent().unwrap().to_path_buf();
        let runs = outside.join("runs");
        let cache = outside.join("cache");
        let extra_build = extra_build.replace("OUTSIDE", &outside.display().to_string());
        p.file("matrix.toml", &config(&runs, &extra_build, &cache));
        p.file("LICENSE", "MIT License\n");
        p.file("README.md", "# hello\n");
        p.file("src/main.txt", "version one\n");
        p.commit();
        p.git(&["tag", "v1.2.3"]);
        Cached { p, runs, cache }
    }

    /// `matrix build --clean --snapshot` plus `args`; its stderr.
    pub(crate) fn build(&self, args: &[&str]) -> String {
        let mut all = vec!["build", "--clean", "--snapshot", "-j", "2"];
        all.extend_from_slice(args);
        let (code, out, err) = run(&mut self.p.matrix(&all));
        assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
        err
    }

    /// How many build commands really ran so far.
    pub(crate) fn runs(&self) -> usize {
        std::fs::read_to_string(&self.runs)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    pub(crate) fn log(&self, target: &str) -> String {
        self.job_log(&format!("build-{target}"))
    }

    /// The log of job `id`.
    fn job_log(&self, id: &str) -> String {
        std::fs::read_to_string(self.p.dist().join(format!("logs/{id}.log"))).unwrap()
    }

    fn manifest(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.p.dist().join("manifest.json")).unwrap())
            .unwrap()
    }

    /// The manifest's `restored` flag of each build job, in plan order.
    pub(crate) fn restored(&self) -> Vec<bool> {
        self.manifest()["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["kind"] == "build")
            .map(|j| j["restored"].as_bool().unwrap_or(false))
            .collect()
    }

    /// Each cached kind's job's (build, archive, package) `restored` flag
    /// in the manifest, by job id.
    fn restored_jobs(&self) -> BTreeMap<String, bool> {
        self.manifest()["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| ["build", "archive", "package"].contains(&j["kind"].as_str().unwrap()))
            .map(|j| {
                let id = j["id"].as_str().unwrap().to_string();
                (id, j["restored"].as_bool().unwrap_or(false))
            })
            .collect()
    }

    /// The ids of the jobs that ran (were not restored) in the last build.
    fn ran(&self) -> Vec<String> {
        self.restored_jobs()
            .into_iter()
            .filter(|(_, restored)| !restored)
            .map(|(id, _)| id)
            .collect()
    }

    /// matrix.toml with `from` replaced by `to`, left uncommitted (a
    /// commit would move the snapshot's time, which every archive holds).
    fn edit_config(&self, from: &str, to: &str) {
        let toml = std::fs::read_to_string(self.p.dir.join("matrix.toml")).unwrap();
        assert!(toml.contains(from), "{toml}");
        self.p.file("matrix.toml", &toml.replacen(from, to, 1));
    }

    /// Every file in dist/ but the logs and the manifest (durations,
    /// restored flags), by path.
    fn dist_files(&self) -> BTreeMap<String, Vec<u8>> {
        let dist = self.p.dist();
        walkdir::WalkDir::new(&dist)
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let rel = e.path().strip_prefix(&dist).unwrap();
                (rel.display().to_string(), std::fs::read(e.path()).unwrap())
            })
            .filter(|(rel, _)| !rel.starts_with("logs/") && rel != "manifest.json")
            .collect()
    }

    pub(crate) fn checksums(&self) -> String {
        let dist = self.p.dist();
        let name = std::fs::read_dir(&dist)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|n| n.ends_with("_checksums.txt"))
            .unwrap();
        std::fs::read_to_string(dist.join(name)).unwrap()
    }
}

#[test]
fn an_unchanged_rebuild_is_restored_and_the_release_is_the_same_bytes() {
    let c = Cached::new("");
    c.build(&["--no-cache"]);
    assert_eq!(c.runs(), 2);
    let uncached = c.checksums();
    assert_eq!(c.restored(), [false, false]);
    // --no-cache stores nothing.
    assert!(
        !c.cache.join("ac").exists() || std::fs::read_dir(c.cache.join("ac")).unwrap().count() == 0
    );

    c.build(&[]);
    assert_eq!(c.runs(), 4, "a cold cache runs every build");
    assert!(
        c.log("linux-amd64").contains("cache: miss (no earlier run"),
        "{}",
        c.log("linux-amd64")
    );
    assert_eq!(c.checksums(), uncached);

    c.build(&[]);
    assert_eq!(c.runs(), 4, "an unchanged build must not run");
    assert_eq!(c.restored(), [true, true]);
    let log = c.log("linux-arm64");
    assert!(log.contains("cache: restored"), "{log}");
    assert!(
        log.contains("# command: sh -c"),
        "the restored log keeps the command's header: {log}"
    );
    assert_eq!(
        c.checksums(),
        uncached,
        "restored builds make the same release"
    );
    let binary = c.p.dist().join("build/linux-arm64/hello");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        binary.metadata().unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(
        std::fs::read_to_string(binary).unwrap(),
        "#!/bin/sh\necho hello linux/arm64\n"
    );

    c.build(&["--no-cache"]);
    assert_eq!(c.runs(), 6, "--no-cache runs every build");
}

#[test]
fn a_changed_command_reruns() {
    let c = Cached::new("");
    c.build(&[]);
    c.build(&[]);
    assert_eq!(c.runs(), 2);
    let toml = std::fs::read_to_string(c.p.dir.join("matrix.toml")).unwrap();
    c.p.file("matrix.toml", &toml.replace("echo run >>", "echo run  >>"));
    c.build(&[]);
    assert_eq!(c.runs(), 4);
    assert!(
        c.log("linux-amd64")
            .contains("changed since its last run: command"),
        "{}",
        c.log("linux-amd64")
    );
}

#[test]
fn a_changed_environment_reruns() {
    let c = Cached::new("env = { GREETING = \"hi\" }");
    c.build(&[]);
    c.build(&[]);
    assert_eq!(c.runs(), 2);
    let toml = std::fs::read_to_string(c.p.dir.join("matrix.toml")).unwrap();
    c.p.file("matrix.toml", &toml.replace("\"hi\"", "\"hello\""));
    c.p.commit();
    c.build(&[]);
    assert_eq!(c.runs(), 4);
    let log = c.log("linux-arm64");
    // matrix.toml is no source: only the environment changed.
    assert!(log.contains("changed since its last run: env)"), "{log}");
}

#[test]
fn a_changed_compiler_reruns() {
    let c = Cached::new("env = { CC = \"mycc\", PATH = \"OUTSIDE/bin:/usr/bin:/bin\" }");
    let bin = c.p.dir.parent().unwrap().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let cc = bin.join("mycc");
    std::fs::write(&cc, "#!/bin/sh\necho cc 1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cc, std::fs::Permissions::from_mode(0o755)).unwrap();
    c.build(&[]);
    c.build(&[]);
    assert_eq!(c.runs(), 2);
    std::fs::write(&cc, "#!/bin/sh\necho cc 2\n").unwrap();
    c.build(&[]);
    assert_eq!(c.runs(), 4, "a new compiler is a new toolchain");
    assert!(
        c.log("linux-amd64")
            .contains("changed since its last run: toolchain"),
        "{}",
        c.log("linux-amd64")
    );
}

#[test]
fn a_changed_source_file_reruns_and_an_untracked_one_does_not() {
    let c = Cached::new("");
    c.build(&[]);
    c.p.file("notes.txt", "not tracked\n");
    c.build(&[]);
    assert_eq!(c.runs(), 2, "an untracked file is not a source");
    c.p.file("src/main.txt", "version two\n");
    c.build(&[]);
    assert_eq!(c.runs(), 4, "a dirty tracked file is a source");
    assert!(
        c.log("linux-amd64")
            .contains("changed since its last run: sources"),
        "{}",
        c.log("linux-amd64")
    );
    // Committed, the tree is new: it runs once more, then is restored.
    c.p.commit();
    c.build(&[]);
    c.build(&[]);
    assert_eq!(c.runs(), 6);
}

#[test]
fn inputs_globs_narrow_and_widen_the_sources() {
    let c = Cached::new("");
    c.edit_config(
        "[cache]\n",
        "[cache]\ninputs = [\"src/**\", \"assets/*.txt\"]\n",
    );
    c.build(&[]);
    assert_eq!(c.runs(), 2);
    c.p.file("README.md", "# hello, edited\n");
    c.build(&[]);
    assert_eq!(c.runs(), 2, "a tracked file no glob names is not a source");
    c.p.file("assets/logo.txt", "untracked but named\n");
    c.build(&[]);
    assert_eq!(c.runs(), 4, "an untracked file a glob names is a source");
    c.p.file("src/main.txt", "version two\n");
    c.build(&[]);
    assert_eq!(c.runs(), 6, "a file under src/ is a source");
    assert!(
        c.log("linux-arm64")
            .contains("changed since its last run: sources"),
        "{}",
        c.log("linux-arm64")
    );
    c.build(&[]);
    assert_eq!(c.runs(), 6, "unchanged: restored");
}

/// Runs `docker` with `args`; its trimmed stdout.
fn docker(args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write as _;
    let mut child = std::process::Command::new("docker")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_build_reruns_when_its_container_image_changes() {
    if !crate::containers::require_engine() {
        return;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let tag = format!("matrix-test/cache-image-{}-{nanos}:1", std::process::id());
    docker(&["tag", crate::containers::BUSYBOX, &tag], None);
    let p = Project::new();
    let cache = p.dir.parent().unwrap().join("cache");
    let mut text = script_config(
        "os = [\"linux\"]\narch = [\"amd64\"]",
        &format!("container = \"{tag}\"\n{}", crate::support::WRITE_BINARY),
    );
    text.push_str(&format!("\n[cache]\ndir = \"{}\"\n", cache.display()));
    p.file("matrix.toml", &text);
    p.file("LICENSE", "MIT License\n");
    p.file("README.md", "# hello\n");
    p.commit();
    let restored = || {
        let (code, out, err) = run(&mut p.matrix(&["build", "--clean", "--snapshot"]));
        assert_eq!(code, 0, "{out}\n{err}");
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p.dist().join("manifest.json")).unwrap())
                .unwrap();
        manifest["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["kind"] == "build")
            .unwrap()["restored"]
            .as_bool()
            .unwrap_or(false)
    };
    assert!(!restored(), "cold");
    assert!(restored(), "same image: restored");
    // Another image under the same tag (one label more, built locally).
    let dockerfile = format!(
        "FROM {}\nLABEL matrix-test=cache\n",
        crate::containers::BUSYBOX
    );
    docker(&["build", "-q", "-t", &tag, "-"], Some(&dockerfile));
    let rerun = restored();
    let log = std::fs::read_to_string(p.dist().join("logs/build-linux-amd64.log")).unwrap();
    docker(&["rmi", &tag], None);
    assert!(!rerun, "a new image under the tag: the build runs");
    assert!(
        log.contains("changed since its last run: container"),
        "{log}"
    );
}

#[test]
fn a_corrupt_entry_is_dropped_with_a_warning_and_rerun() {
    let c = Cached::new("");
    c.build(&[]);
    for blob in std::fs::read_dir(c.cache.join("cas")).unwrap() {
        let path = blob.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[0] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }
    let err = c.build(&[]);
    assert!(err.contains("is corrupt"), "{err}");
    assert!(err.contains("the job runs"), "{err}");
    assert_eq!(c.runs(), 4);
    assert!(
        c.log("linux-amd64").contains("its entry was corrupt"),
        "{}",
        c.log("linux-amd64")
    );
    let binary = c.p.dist().join("build/linux-amd64/hello");
    assert_eq!(
        std::fs::read_to_string(binary).unwrap(),
        "#!/bin/sh\necho hello linux/amd64\n"
    );
    // The rerun stored a good entry again.
    c.build(&[]);
    assert_eq!(c.runs(), 4);
    assert_eq!(c.restored(), [true, true]);
}

#[test]
fn an_entry_whose_blobs_another_run_removed_reruns() {
    // A prune or `matrix cache clear` in another run between this run's
    // look-up and its restore: the job runs, the release does not fail.
    let c = Cached::new("");
    c.build(&[]);
    for blob in std::fs::read_dir(c.cache.join("cas")).unwrap() {
        std::fs::remove_file(blob.unwrap().path()).unwrap();
    }
    let err = c.build(&[]);
    assert!(err.contains("the job runs"), "{err}");
    assert_eq!(c.runs(), 4);
    assert_eq!(c.restored(), [false, false]);
    c.build(&[]);
    assert_eq!(c.runs(), 4, "the rerun stored its entry again");
}

#[test]
fn two_builds_at_once_share_one_store() {
    let a = Cached::new("");
    let b = Cached::new("");
    // Both projects use a's store (b's config names its own: the flag wins).
    let shared = a.cache.display().to_string();
    let spawn = |c: &Cached| {
        c.p.matrix(&[
            "build",
            "--clean",
            "--snapshot",
            "-j",
            "2",
            "--cache-dir",
            &shared,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
    };
    let mut stderr = String::new();
    for _ in 0..2 {
        let (ka, kb) = (spawn(&a), spawn(&b));
        for out in [
            ka.wait_with_output().unwrap(),
            kb.wait_with_output().unwrap(),
        ] {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{err}");
            stderr.push_str(&err);
        }
    }
    assert_eq!(
        (a.runs(), b.runs()),
        (2, 2),
        "each project ran once, then restored:\n{stderr}\n{}\n{}",
        a.log("linux-amd64"),
        a.log("linux-arm64")
    );
    assert_eq!(a.restored(), [true, true]);
    assert_eq!(b.restored(), [true, true]);
    assert!(!b.cache.exists(), "--cache-dir replaces [cache] dir");
    // A build and an archive of each target of each project.
    let stats = run(&mut a
        .p
        .matrix(&["cache", "stats", "--json", "--cache-dir", &shared]));
    let stats: serde_json::Value = serde_json::from_str(&stats.1).unwrap();
    assert_eq!(stats["records"], 8, "{stats}");
}

#[test]
fn cache_stats_prune_and_clear() {
    let c = Cached::new("");
    c.build(&[]);
    let (code, out, err) = run(&mut c.p.matrix(&["cache", "stats"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("entries: 4"), "{out}");
    assert!(
        out.contains("size cap: 10 GiB") || out.contains("size cap: 10.0 GiB"),
        "{out}"
    );
    let (code, out, err) = run(&mut c.p.matrix(&["cache", "prune"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 entries"), "{out}");
    let (code, out, err) = run(&mut c.p.matrix(&["cache", "clear"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4 entries"), "{out}");
    c.build(&[]);
    assert_eq!(c.runs(), 4, "a cleared cache runs every build again");
    assert!(
        c.log("linux-amd64").contains("no earlier run"),
        "{}",
        c.log("linux-amd64")
    );
}

#[test]
fn plan_says_hit_or_miss_and_why() {
    let c = Cached::new("env = { GREETING = \"hi\" }");
    let status = |c: &Cached| {
        let (code, out, err) = run(&mut c.p.matrix(&["plan", "--snapshot", "--cache-status"]));
        assert_eq!(code, 0, "{err}");
        out.lines()
            .skip_while(|l| *l != "cache:")
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        status(&c),
        [
            "build-linux-amd64 miss: no earlier run of this job in the cache",
            "archive-linux-amd64 unknown: `dist/build/linux-amd64/hello` is made by a job that runs first",
            "build-linux-arm64 miss: no earlier run of this job in the cache",
            "archive-linux-arm64 unknown: `dist/build/linux-arm64/hello` is made by a job that runs first",
        ]
    );
    c.build(&[]);
    // An archive after a hit is judged by the binary the hit restores.
    assert_eq!(
        status(&c),
        [
            "build-linux-amd64 hit",
            "archive-linux-amd64 hit",
            "build-linux-arm64 hit",
            "archive-linux-arm64 hit"
        ]
    );
    let toml = std::fs::read_to_string(c.p.dir.join("matrix.toml")).unwrap();
    c.p.file("matrix.toml", &toml.replace("\"hi\"", "\"hello\""));
    assert_eq!(
        status(&c)[..2],
        [
            "build-linux-amd64 miss: changed since its last run: env",
            "archive-linux-amd64 unknown: `dist/build/linux-amd64/hello` is made by a job that runs first"
        ]
    );
    // JSON: the field is there only when asked for.
    let (_, json, _) = run(&mut c
        .p
        .matrix(&["plan", "--snapshot", "--json", "--cache-status"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["cache_status"][2]["job"], "build-linux-arm64");
    let (_, json, _) = run(&mut c.p.matrix(&["plan", "--snapshot", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(v.get("cache_status").is_none());
    assert_eq!(c.runs(), 2, "plan runs nothing");
}

#[test]
fn a_bad_cache_table_is_a_located_error() {
    let c = Cached::new("");
    let toml = std::fs::read_to_string(c.p.dir.join("matrix.toml")).unwrap();
    c.p.file("matrix.toml", &format!("{toml}max-size = \"ten gigs\"\n"));
    let (code, _, err) = run(&mut c.p.matrix(&["plan", "--snapshot"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`ten gigs` is not a size"), "{err}");
    assert!(
        err.contains("matrix.toml:"),
        "the error names the line: {err}"
    );
}

#[test]
fn a_binary_outside_dist_is_restored_but_never_through_a_link() {
    let c = Cached::new("");
    let toml = std::fs::read_to_string(c.p.dir.join("matrix.toml"))
        .unwrap()
        .replace(r#"printf '#!"#, r#"mkdir -p \"${0%/*}\" && printf '#!"#)
        .replace(
            r#""{{ out }}/{{ bin }}""#,
            r#""target/{{ os }}-{{ arch }}/{{ bin }}""#,
        )
        .replace(
            "binary = \"hello\"",
            "binary = \"hello\"\nartifact = \"target/{{ os }}-{{ arch }}/{{ bin }}\"",
        );
    c.p.file("matrix.toml", &toml);
    c.p.commit();
    c.build(&[]);
    assert_eq!(c.runs(), 2);
    let target = c.p.dir.join("target");
    std::fs::remove_dir_all(&target).unwrap();
    c.build(&[]);
    assert_eq!(c.runs(), 2, "restored, not run");
    assert_eq!(
        std::fs::read_to_string(target.join("linux-arm64/hello")).unwrap(),
        "#!/bin/sh\necho hello linux/arm64\n"
    );
    // `target` now links elsewhere: the restore must not write through
    // it (the job runs instead; what its own command does is its affair).
    std::fs::remove_dir_all(&target).unwrap();
    let elsewhere = c.p.dir.parent().unwrap().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &target).unwrap();
    c.build(&[]);
    assert_eq!(c.runs(), 4, "a linked folder makes the entry unusable");
    let log = c.log("linux-amd64");
    assert!(log.contains("its entry was corrupt"), "{log}");
    assert!(log.contains("is a symbolic link"), "{log}");
}

/// The ids of `kinds`' jobs (`build`, `archive`) of `targets` (slugs).
fn jobs(kinds: &[&str], targets: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = kinds
        .iter()
        .flat_map(|k| targets.iter().map(move |t| format!("{k}-{t}")))
        .collect();
    ids.sort();
    ids
}

#[test]
fn an_archive_is_restored_and_reruns_when_its_step_or_a_file_changes() {
    let c = Cached::new("");
    c.edit_config(r#""README.md"]"#, r#""README.md", "extra.txt"]"#);
    // Untracked: no source of the builds, but packed by the archives.
    c.p.file("extra.txt", "one\n");
    c.build(&[]);
    let cold = c.dist_files();
    let sums = c.checksums();
    c.build(&[]);
    assert_eq!(c.runs(), 2);
    assert!(c.ran().is_empty(), "{:?}", c.restored_jobs());
    assert_eq!(c.dist_files(), cold, "restored archives are the same bytes");
    let log = c.job_log("archive-linux-amd64");
    assert!(log.contains("# cache: restored "), "{log}");

    c.p.file("extra.txt", "two\n");
    c.build(&[]);
    assert_eq!(c.runs(), 2, "the builds are restored");
    assert_eq!(c.ran(), jobs(&["archive"], &["linux-amd64", "linux-arm64"]));
    // Its log says why it ran, as a build's does.
    let log = c.job_log("archive-linux-arm64");
    assert!(
        log.contains("# cache: miss (changed since its last run: files); stored as "),
        "{log}"
    );
    assert_ne!(c.checksums(), sums);

    c.edit_config(
        r#"format = "zip""#,
        r#"format = "zip" }, { when = { arch = "arm64" }, format = "tar.zst""#,
    );
    c.build(&[]);
    assert_eq!(c.ran(), ["archive-linux-arm64"]);
    let (_, out, _) = run(&mut c.p.matrix(&["plan", "--snapshot", "--cache-status"]));
    let status: Vec<&str> = out.lines().skip_while(|l| *l != "cache:").collect();
    assert!(
        status
            .iter()
            .any(|l| l.contains("archive-linux-arm64") && l.ends_with(" hit")),
        "{out}"
    );

    // Back to tar.gz: the first entry of arm64 is still there.
    c.edit_config(r#", { when = { arch = "arm64" }, format = "tar.zst" }"#, "");
    c.build(&[]);
    assert!(c.ran().is_empty(), "{:?}", c.restored_jobs());
}

#[test]
fn one_overrides_change_reruns_only_its_targets_build_and_archive() {
    let command = r#"overrides = [ { when = { arch = "arm64" }, command = ["sh", "-c", "echo run >> \"$1\"; printf '#!/bin/sh\necho arm one\n' > \"$0\" && chmod +x \"$0\"", "{{ out }}/{{ bin }}", "OUTSIDE/runs"] } ]"#;
    let c = Cached::new(command);
    c.build(&[]);
    c.build(&[]);
    assert_eq!(c.runs(), 2);
    c.edit_config("arm one", "arm two");
    c.build(&[]);
    assert_eq!(c.runs(), 3);
    assert_eq!(c.ran(), jobs(&["archive", "build"], &["linux-arm64"]));
}

#[test]
fn cache_false_always_runs_and_stores_nothing() {
    let c = Cached::new(r#"overrides = [ { when = { arch = "arm64" }, cache = false } ]"#);
    c.build(&[]);
    c.build(&[]);
    assert_eq!(c.runs(), 3, "arm64 ran twice, amd64 once");
    assert_eq!(c.ran(), jobs(&["archive", "build"], &["linux-arm64"]));
    let entries = std::fs::read_dir(c.cache.join("ac")).unwrap().count();
    assert_eq!(entries, 2, "only amd64's build and archive are stored");
    let (_, out, _) = run(&mut c.p.matrix(&["plan", "--snapshot", "--cache-status"]));
    let line = |job: &str| {
        out.lines()
            .skip_while(|l| *l != "cache:")
            .find(|l| l.trim_start().starts_with(job))
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
    };
    assert_eq!(
        line("build-linux-arm64").as_deref(),
        Some("not cached: cache = false")
    );
    assert_eq!(
        line("archive-linux-arm64").as_deref(),
        Some("not cached: cache = false")
    );
    assert_eq!(line("build-linux-amd64").as_deref(), Some("hit"));

    c.edit_config("[build]\n", "[build]\ncache = false\n");
    c.build(&[]);
    assert_eq!(c.runs(), 5);
    assert_eq!(c.ran().len(), 4, "{:?}", c.restored_jobs());

    c.edit_config("cache = false\n", "cache = \"no\"\n");
    let (code, _, err) = run(&mut c.p.matrix(&["plan", "--snapshot"]));
    assert_ne!(code, 0);
    assert!(
        err.contains("matrix.toml") && err.contains("cache"),
        "{err}"
    );
    assert!(err.contains("bool"), "{err}");
}

#[test]
fn deb_and_rpm_packages_are_restored_and_a_description_change_reruns_only_packages() {
    let c = Cached::new("");
    let toml = std::fs::read_to_string(c.p.dir.join("matrix.toml")).unwrap();
    c.p.file(
        "matrix.toml",
        &format!(
            "{toml}\n[channels.deb]\nkind = \"deb\"\nmaintainer = \"Hello Authors <hello@example.org>\"\n\n[channels.rpm]\nkind = \"rpm\"\n"
        ),
    );
    c.p.file("CHANGELOG.md", "# Changelog\n\n## Unreleased\n\n- First.\n");
    c.p.commit();
    c.build(&["--no-cache"]);
    let uncached = c.dist_files();
    assert!(
        uncached
            .keys()
            .any(|k| k.starts_with("deb/") && k.ends_with(".deb")),
        "{:?}",
        uncached.keys()
    );
    c.build(&[]);
    c.build(&[]);
    assert_eq!(c.runs(), 4);
    let ran = c.ran();
    assert!(
        !ran.iter().any(|j| j.starts_with("build-")
            || j.starts_with("archive-")
            || j.starts_with("package-")),
        "{ran:?}"
    );
    assert_eq!(
        c.dist_files(),
        uncached,
        "a restored release is the same bytes"
    );
    let deb = uncached
        .keys()
        .find(|k| k.ends_with("_amd64.deb"))
        .unwrap()
        .clone();
    if crate::support::require("dpkg-deb", "apt-get install dpkg") {
        let out = std::process::Command::new("dpkg-deb")
            .args([
                "--field",
                &c.p.dist().join(&deb).display().to_string(),
                "Description",
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "A test release."
        );
    }

    c.edit_config("A test release.", "A test release, described anew.");
    c.build(&[]);
    assert_eq!(c.runs(), 4, "no build ran");
    assert_eq!(
        c.ran(),
        jobs(
            &["package-deb", "package-rpm"],
            &["linux-amd64", "linux-arm64"]
        ),
        "only the packages (then channels, notes and release files) run"
    );
    c.build(&[]);
    assert!(c.ran().is_empty(), "{:?}", c.restored_jobs());

    // `cache = false` on the channel: its packages run every time; the
    // plan says so.
    c.edit_config("kind = \"deb\"\n", "kind = \"deb\"\ncache = false\n");
    let (_, out, _) = run(&mut c.p.matrix(&["plan", "--snapshot", "--cache-status"]));
    let deb_lines: Vec<&str> = out
        .lines()
        .skip_while(|l| *l != "cache:")
        .filter(|l| l.contains("package-deb-"))
        .collect();
    assert_eq!(deb_lines.len(), 2, "{out}");
    assert!(
        deb_lines
            .iter()
            .all(|l| l.ends_with("not cached: cache = false")),
        "{out}"
    );
    c.build(&[]);
    assert_eq!(
        c.ran(),
        jobs(&["package-deb"], &["linux-amd64", "linux-arm64"]),
        "rpm is restored"
    );
    let (_, json, _) = run(&mut c.p.matrix(&["plan", "--snapshot", "--json"]));
    assert!(json.contains("\"cache\": false"), "the plan carries it");

    c.edit_config("cache = false\n", "cache = 0\n");
    let (code, _, err) = run(&mut c.p.matrix(&["plan", "--snapshot"]));
    assert_ne!(code, 0);
    assert!(
        err.contains("matrix.toml:") && err.contains("bool"),
        "{err}"
    );
}

/// A snap channel's snaps are package jobs of their own: a change to one
/// target's override repacks that target's snap only, the other is
/// restored, and the release is the same bytes with and without the cache.
#[test]
fn one_overrides_change_repacks_only_its_targets_snap() {
    if !crate::support::require("mksquashfs", "apt-get install squashfs-tools") {
        return;
    }
    let command = r#"overrides = [ { when = { arch = "arm64" }, command = ["sh", "-c", "echo run >> \"$1\"; printf '#!/bin/sh\necho arm one\n' > \"$0\" && chmod +x \"$0\"", "{{ out }}/{{ bin }}", "OUTSIDE/runs"] } ]"#;
    let c = Cached::new(command);
    let toml = std::fs::read_to_string(c.p.dir.join("matrix.toml")).unwrap();
    c.p.file(
        "matrix.toml",
        &format!(
            "{toml}\n[release]\nurl = \"https://example.org/{{{{ artifact }}}}\"\n\n[channels.snap]\nkind = \"snapcraft\"\nsummary = \"Hello\"\n"
        ),
    );
    c.p.commit();
    c.build(&["--no-cache"]);
    let uncached = c.dist_files();
    let snaps: Vec<&String> = uncached.keys().filter(|k| k.ends_with(".snap")).collect();
    assert_eq!(snaps.len(), 2, "{:?}", uncached.keys());
    c.build(&[]);
    c.build(&[]);
    assert!(c.ran().is_empty(), "{:?}", c.restored_jobs());
    assert_eq!(
        c.dist_files(),
        uncached,
        "restored snaps are the same bytes"
    );

    c.edit_config("arm one", "arm two");
    c.build(&[]);
    assert_eq!(
        c.ran(),
        jobs(&["archive", "build", "package-snap"], &["linux-arm64"])
    );
    let now = c.dist_files();
    let amd64 = |files: &BTreeMap<String, Vec<u8>>| {
        files
            .iter()
            .find(|(k, _)| k.ends_with("_amd64.snap"))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        amd64(&now),
        amd64(&uncached),
        "amd64's snap is restored as it was"
    );
    c.build(&["--no-cache"]);
    assert_eq!(c.dist_files(), now, "the same bytes without the cache");
}

/// The store is outside input: an entry for linux/amd64's .deb that holds
/// linux/arm64's (a whole, self-consistent entry, swapped in under
/// amd64's key) is refused as corrupt. Taken, it would have overwritten
/// arm64's .deb, listed it twice in the manifest and checksums file and
/// amd64's not at all.
#[test]
fn a_package_entry_holding_another_targets_package_is_refused() {
    let c = Cached::new("");
    let toml = std::fs::read_to_string(c.p.dir.join("matrix.toml")).unwrap();
    c.p.file(
        "matrix.toml",
        &format!(
            "{toml}\n[channels.deb]\nkind = \"deb\"\nmaintainer = \"Hello Authors <hello@example.org>\"\n"
        ),
    );
    c.p.commit();
    c.build(&[]);
    let honest = c.dist_files();
    let sums = c.checksums();
    let records: Vec<(PathBuf, serde_json::Value)> = std::fs::read_dir(c.cache.join("ac"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            (path, json)
        })
        .collect();
    let of = |job: &str| {
        records
            .iter()
            .find(|(_, r)| r["job"] == job)
            .unwrap_or_else(|| panic!("no entry of {job}"))
    };
    let (amd64, mut forged) = of("package-deb-linux-amd64").clone();
    forged["outputs"] = of("package-deb-linux-arm64").1["outputs"].clone();
    std::fs::write(&amd64, serde_json::to_vec(&forged).unwrap()).unwrap();

    let err = c.build(&[]);
    assert!(
        err.contains("package-deb-linux-amd64") && err.contains("is corrupt"),
        "{err}"
    );
    assert_eq!(c.ran(), ["package-deb-linux-amd64"]);
    assert_eq!(c.dist_files(), honest, "the release is the honest one");
    assert_eq!(c.checksums(), sums);
    let debs = sums.lines().filter(|l| l.ends_with(".deb")).count();
    assert_eq!(debs, 2, "{sums}");
}

/// A cached build that runs longer than the 10 s a tokio blocking-pool
/// thread idles before it ends. The cache's file work (block_in_place)
/// could turn the thread that spawned the job's supervisor into such a
/// thread, and the supervisor's death signal (PR_SET_PDEATHSIG, bound to
/// the spawning thread) then stopped the build with SIGTERM after ~10 s.
#[test]
fn a_cached_build_longer_than_ten_seconds_is_not_stopped() {
    let p = Project::new();
    let cache = p.dir.parent().unwrap().join("cache");
    let command = r#"command = ["sh", "-c", "sleep 12; printf '#!/bin/sh\necho hi\n' > \"$0\" && chmod +x \"$0\"", "{{ out }}/{{ bin }}"]"#;
    let mut toml = script_config(AXES, command);
    toml.push_str(&format!("\n[cache]\ndir = \"{}\"\n", cache.display()));
    p.file("matrix.toml", &toml);
    p.file("LICENSE", "MIT License\n");
    p.file("README.md", "# hello\n");
    p.commit();
    let (code, out, err) = run(&mut p.matrix(&["build", "--snapshot", "-j", "2"]));
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(p.dist().join("build/linux-arm64/hello").is_file(), "{err}");
}
