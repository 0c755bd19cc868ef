//! CI on one machine: four shard builds at once, a merge, and a single
//! build of the same commit giving the same bytes; and every way a merge
//! must refuse its input.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cross::example;
use crate::support::{Project, require, run};

fn shard_dir(p: &Project, i: usize) -> PathBuf {
    p.path().join(format!("shards/shard-{i}"))
}

/// Builds the four shards of hello-go at once, like four CI runners.
fn four_shards(p: &Project) {
    let children: Vec<_> = (1..=4)
        .map(|i| {
            let dist = shard_dir(p, i);
            p.matrix(&[
                "build",
                "-j",
                "1",
                "--shard",
                &format!("{i}/4"),
                "--dist",
                dist.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "shard {}: {}{}",
            i + 1,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn merge(p: &Project, dirs: &[PathBuf], extra: &[&str]) -> (i32, String, String) {
    let mut args: Vec<String> = vec!["merge".into()];
    args.extend(dirs.iter().map(|d| d.display().to_string()));
    args.extend([
        "--dist".into(),
        "merged".into(),
        "--clean".into(),
        "--oci-dir".into(),
    ]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = run(&mut p.matrix(&args));
    // Diagnostics wrap long lines; the checks below read sentences.
    let words: Vec<&str> = err.split_whitespace().filter(|w| *w != "|").collect();
    (code, out, words.join(" "))
}

fn all_shards(p: &Project) -> Vec<PathBuf> {
    (1..=4).map(|i| shard_dir(p, i)).collect()
}

/// A copy of the shards to break one thing in.
fn copy_shards(p: &Project, to: &str) -> Vec<PathBuf> {
    let base = p.path().join(to);
    let status = Command::new("cp")
        .arg("-a")
        .arg(p.path().join("shards"))
        .arg(&base)
        .status()
        .unwrap();
    assert!(status.success());
    (1..=4).map(|i| base.join(format!("shard-{i}"))).collect()
}

fn edit_manifest(dir: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let path = dir.join("manifest.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// The shard holding linux/amd64's archive, and that archive's name.
fn shard_with_linux_amd64(dirs: &[PathBuf]) -> (PathBuf, String) {
    for d in dirs {
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("manifest.json")).unwrap())
                .unwrap();
        for a in m["artifacts"].as_array().unwrap() {
            if a["target"] == "linux/amd64" {
                return (d.clone(), a["path"].as_str().unwrap().to_string());
            }
        }
    }
    panic!("no shard has linux/amd64");
}

#[test]
fn four_shards_merge_into_the_single_build() {
    if !require("go", "apt-get install golang-go")
        || !require("mksquashfs", "apt-get install squashfs-tools")
    {
        return;
    }
    let p = example("hello-go");
    std::fs::write(
        p.path().join(".gitignore"),
        "dist/\nshards/\nmerged/\nsingle/\nbroken*/\nrepo/\nrepo2/\nshard-4.tar.gz\n",
    )
    .unwrap();
    // Per-target images too: scratch images matrix assembles itself.
    let docker = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/hello-scratch.Dockerfile");
    let config = std::fs::read_to_string(p.path().join("matrix.toml")).unwrap();
    std::fs::write(
        p.path().join("matrix.toml"),
        format!(
            "{config}\n[images]\nrepositories = [\"example.org/hello\"]\ndockerfile = \"{}\"\nnative = \"always\"\n\
             [images.matrix]\nplatform = [\"linux/amd64\", \"linux/arm64\", \"linux/s390x\"]\n",
            docker.display()
        ),
    )
    .unwrap();
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    four_shards(&p);
    // Each shard built a quarter of the 16 targets and nothing release-wide.
    let mut covered = 0;
    for d in all_shards(&p) {
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("manifest.json")).unwrap())
                .unwrap();
        covered += m["shard"]["targets"].as_array().unwrap().len();
        assert!(!d.join("hello_1.2.3_checksums.txt").exists());
        assert!(!d.join("homebrew").exists());
    }
    assert_eq!(covered, 16);

    // Shards may also come as archives, the way CI systems hand them over.
    let status = Command::new("tar")
        .args(["-czf", "shard-4.tar.gz", "-C", "shards", "shard-4"])
        .current_dir(p.path())
        .status()
        .unwrap();
    assert!(status.success());
    let mut inputs = all_shards(&p)[..3].to_vec();
    inputs.push(p.path().join("shard-4.tar.gz"));
    let (code, out, err) = merge(&p, &inputs, &[]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(&mut p.matrix(&["build", "--dist", "single", "--oci-dir"]));
    assert_eq!(code, 0, "{out}\n{err}");

    // Same checksums file, so the same archives, channel files, packages
    // and notes, byte for byte.
    let sums = |d: &str| {
        std::fs::read_to_string(p.path().join(d).join("hello_1.2.3_checksums.txt")).unwrap()
    };
    assert_eq!(sums("merged"), sums("single"));
    assert!(sums("merged").contains("homebrew/hello.rb"));
    assert!(sums("merged").contains("snap/hello_1.2.3_amd64.snap"));
    assert!(
        sums("merged").contains("hello_1.2.3_default.oci.tar"),
        "{}",
        sums("merged")
    );
    let (code, out, err) = run(&mut p.matrix(&["verify", "merged"]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("ok"), "{out}");

    // The verified release goes into a repository; a channel points at it.
    let (code, out, err) = run(&mut p.matrix(&[
        "publish",
        "merged",
        "--to",
        "repo",
        "--layout",
        "gardenlinux",
    ]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("published 1.2.3"), "{out}");
    assert!(
        p.path().join("repo/amd64").is_dir(),
        "the gardenlinux layout sorts by Debian arch"
    );
    let (code, _, err) = run(&mut p.matrix(&["publish", "merged", "--to", "repo"]));
    assert_ne!(code, 0, "a version is never published twice");
    assert!(err.contains("1.2.3"), "{err}");
    let (code, _, err) =
        run(&mut p.matrix(&["channel", "set", "stable", "9.9.9", "--repo", "repo"]));
    assert_ne!(code, 0, "only published versions: {err}");
    let (code, out, err) =
        run(&mut p.matrix(&["channel", "set", "stable", "1.2.3", "--repo", "repo"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, _) = run(&mut p.matrix(&["channel", "list", "--repo", "repo"]));
    assert_eq!((code, out.as_str()), (0, "stable\t1.2.3\n"));
    let (code, _, err) = run(&mut p.matrix(&["publish", "shards/shard-1", "--to", "repo2"]));
    assert_ne!(code, 0, "a shard is not a release: {err}");

    // Refusals, each on a fresh copy of the shards.
    let broken = copy_shards(&p, "broken-byte");
    let (dir, file) = shard_with_linux_amd64(&broken);
    let path = dir.join(&file);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let (code, _, err) = merge(&p, &broken, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&file) && err.matches("sha256:").count() >= 2,
        "names the file and both hashes: {err}"
    );

    let (code, _, err) = merge(&p, &all_shards(&p)[..3], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the shards lack"), "{err}");
    let m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(shard_dir(&p, 4).join("manifest.json")).unwrap(),
    )
    .unwrap();
    for t in m["shard"]["targets"].as_array().unwrap() {
        assert!(err.contains(t.as_str().unwrap()), "lists {t}: {err}");
    }
    let (code, out, err) = merge(&p, &all_shards(&p)[..3], &["--allow-partial"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, _) = run(&mut p.matrix(&["verify", "merged"]));
    assert_eq!(code, 1, "a partial release does not verify: {out}");

    let other = copy_shards(&p, "broken-commit");
    edit_manifest(&other[0], |m| {
        m["commit"] = "0000000000000000000000000000000000000000".into()
    });
    let (code, _, err) = merge(&p, &other, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the commit is 0000000"), "{err}");

    for (name, bad) in [
        ("broken-dotdot", "../escape.tar.gz"),
        ("broken-abs", "/etc/passwd"),
    ] {
        let dirs = copy_shards(&p, name);
        edit_manifest(&dirs[0], |m| m["artifacts"][0]["path"] = bad.into());
        let (code, _, err) = merge(&p, &dirs, &[]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("is not a plain file name"), "{bad}: {err}");
    }

    let linked = copy_shards(&p, "broken-link");
    let (dir, file) = shard_with_linux_amd64(&linked);
    std::fs::remove_file(dir.join(&file)).unwrap();
    std::os::unix::fs::symlink(shard_dir(&p, 1).join("manifest.json"), dir.join(&file)).unwrap();
    let (code, _, err) = merge(&p, &linked, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a symbolic link"), "{err}");

    let extra = copy_shards(&p, "broken-extra");
    std::fs::write(extra[1].join("smuggled.tar.gz"), "x").unwrap();
    let (code, _, err) = merge(&p, &extra, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("smuggled.tar.gz is in the folder but in no record"),
        "{err}"
    );

    let (code, _, err) = merge(
        &p,
        &[shard_dir(&p, 1), shard_dir(&p, 1)],
        &["--allow-partial"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is given twice"), "{err}");
}

#[test]
fn plan_prints_shards_for_each_ci() {
    let p = example("hello-go");
    let (code, out, err) = run(&mut p.matrix(&["plan", "--shards", "4", "--format", "github"]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let include = v["include"].as_array().unwrap();
    assert_eq!(include.len(), 4);
    assert_eq!(include[0]["shard"], "1/4");
    let (code, out, err) = run(&mut p.matrix(&["plan", "--shards", "4", "--format", "json"]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let total: usize = v["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["targets"].as_array().unwrap().len())
        .sum();
    assert_eq!(total, 16);
}

fn venv_python() -> Option<PathBuf> {
    let py = PathBuf::from(std::env::var("HOME").ok()?)
        .join(".cache/matrix-tools/venv-validate/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import jsonschema, yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        ok || !ci,
        "{} lacks jsonschema/pyyaml: run scripts/setup.sh",
        py.display()
    );
    ok.then_some(py)
}

#[test]
fn ci_writes_workflows_that_validate() {
    let Some(py) = venv_python() else {
        eprintln!("SKIP: no validation venv; run scripts/setup.sh");
        return;
    };
    let p = example("hello-go");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, _, err) =
        run(&mut p.matrix(&["ci", "github", "--shards", "4", "--output", "release.yml"]));
    assert_eq!(code, 0, "{err}");
    let out = Command::new(&py)
        .arg(root.join("src/packager/testdata/validate_schema.py"))
        .arg(root.join("tests/schemas/github-workflow.json"))
        .arg(p.path().join("release.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, gitlab, err) = run(&mut p.matrix(&["ci", "gitlab", "--shards", "3"]));
    assert_eq!(code, 0, "{err}");
    std::fs::write(p.path().join(".gitlab-ci.yml"), &gitlab).unwrap();
    let out = Command::new(&py)
        .arg("-c")
        .arg("import sys, yaml, json; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))")
        .arg(p.path().join(".gitlab-ci.yml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r#""SHARD": ["1/3", "2/3", "3/3"]"#), "{text}");
}
