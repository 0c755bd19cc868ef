//! `matrix publish` committing the Homebrew formula to a tap and the Scoop
//! manifest to a bucket, against real bare git repositories: the right
//! author, message, path and bytes (dist/'s, exactly); one commit per
//! release; none when the file is already there; a remote that moved or
//! was rewritten between the fetch and the push refused and left as it
//! was; never a force-push.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Project, WRITE_BINARY, require, run, script_config};

/// A bare repository, optionally with one commit on `branch`.
fn bare(root: &Path, name: &str, branch: Option<&str>) -> PathBuf {
    let path = root.join(name);
    git(root, &["init", "-q", "--bare", path.to_str().unwrap()]);
    if let Some(branch) = branch {
        let seed = root.join(format!("{name}-seed"));
        git(root, &["init", "-q", "-b", branch, seed.to_str().unwrap()]);
        std::fs::write(seed.join("README.md"), "# tap\n").unwrap();
        git(&seed, &["add", "-A"]);
        git(&seed, &["commit", "-q", "-m", "start"]);
        git(&seed, &["push", "-q", path.to_str().unwrap(), branch]);
    }
    path
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Seed")
        .env("GIT_AUTHOR_EMAIL", "seed@example.org")
        .env("GIT_COMMITTER_NAME", "Seed")
        .env("GIT_COMMITTER_EMAIL", "seed@example.org")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn config(tap: &Path, bucket: &Path) -> String {
    let mut text = script_config(
        "os = [\"linux\", \"windows\"]\narch = [\"amd64\"]",
        WRITE_BINARY,
    );
    text.push_str(&format!(
        r#"
[release]
url = "https://github.com/example/hello/releases/download/{{{{ tag }}}}/{{{{ artifact }}}}"

[channels.brew]
kind = "homebrew"
desc = "Test release"
tap = {{ url = "{}", author = "Release Bot <bot@example.org>" }}

[channels.scoop]
kind = "scoop"
bucket = {{ url = "file://{}", branch = "master", message = "scoop: {{{{ name }}}} {{{{ tag }}}}" }}
"#,
        tap.display(),
        bucket.display()
    ));
    text
}

/// A HOME whose git config names the fallback author.
fn home(root: &Path) -> PathBuf {
    let home = root.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join(".gitconfig"),
        "[user]\n\tname = Git User\n\temail = git-user@example.org\n",
    )
    .unwrap();
    home
}

fn matrix(p: &Project, home: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = p.matrix(args);
    cmd.env("HOME", home).env_remove("GIT_CONFIG_GLOBAL");
    run(&mut cmd)
}

fn build(p: &Project, home: &Path) {
    let (code, out, err) = matrix(p, home, &["build", "--clean"]);
    assert_eq!(code, 0, "{out}\n{err}");
}

/// `git log` of a branch as `subject|author name <mail>`, newest first.
fn log(repo: &Path, branch: &str) -> Vec<String> {
    git(repo, &["log", "--format=%s|%an <%ae>", branch])
        .lines()
        .map(String::from)
        .collect()
}

fn show(repo: &Path, branch: &str, path: &str) -> Vec<u8> {
    let out = Command::new("git")
        .args(["show", &format!("{branch}:{path}")])
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(out.status.success(), "{path} in {}", repo.display());
    out.stdout
}

fn setup() -> Option<(Project, tempfile::TempDir, PathBuf, PathBuf, PathBuf)> {
    if !require("git", "apt-get install -y git") {
        return None;
    }
    let remotes = tempfile::tempdir().unwrap();
    let tap = bare(remotes.path(), "tap.git", Some("main"));
    // An empty bucket: the first publish makes its branch.
    let bucket = bare(remotes.path(), "bucket.git", None);
    let home = home(remotes.path());
    let p = Project::with_config(&config(&tap, &bucket));
    Some((p, remotes, tap, bucket, home))
}

#[test]
fn publish_commits_the_formula_and_manifest_once_per_release() {
    let Some((p, remotes, tap, bucket, home)) = setup() else {
        return;
    };
    build(&p, &home);
    let repo = remotes.path().join("site");

    // A dry run fetches and compares, and pushes nothing.
    let (code, out, err) = matrix(
        &p,
        &home,
        &["publish", "--to", repo.to_str().unwrap(), "--dry-run"],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("would publish 1.2.3"), "{out}");
    assert!(
        out.contains(&format!(
            "channel brew: would commit Formula/hello.rb ({} bytes) to {} main as Release Bot <bot@example.org>: hello 1.2.3",
            std::fs::metadata(p.dist().join("homebrew/hello.rb")).unwrap().len(),
            tap.display()
        )),
        "{out}"
    );
    assert!(!repo.exists(), "a dry run writes nothing");
    assert_eq!(log(&tap, "main").len(), 1);

    let (code, out, err) = matrix(&p, &home, &["publish", "--to", repo.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("published 1.2.3"), "{out}");
    assert!(
        out.contains("channel brew: committed Formula/hello.rb to"),
        "{out}"
    );
    assert!(
        out.contains("channel scoop: committed bucket/hello.json to"),
        "{out}"
    );

    // The tap: one commit on top of its history, by the configured author,
    // holding dist/'s formula byte for byte.
    assert_eq!(
        log(&tap, "main"),
        [
            "hello 1.2.3|Release Bot <bot@example.org>",
            "start|Seed <seed@example.org>"
        ]
    );
    assert_eq!(
        show(&tap, "main", "Formula/hello.rb"),
        std::fs::read(p.dist().join("homebrew/hello.rb")).unwrap()
    );
    assert_eq!(show(&tap, "main", "README.md"), b"# tap\n");
    // The bucket: its branch made by the first commit, by git's user.
    assert_eq!(
        log(&bucket, "master"),
        ["scoop: hello v1.2.3|Git User <git-user@example.org>"]
    );
    assert_eq!(
        show(&bucket, "master", "bucket/hello.json"),
        std::fs::read(p.dist().join("scoop/hello.json")).unwrap()
    );
    let files = git(&tap, &["ls-tree", "-r", "--name-only", "main"]);
    assert_eq!(files, "Formula/hello.rb\nREADME.md");
    // Dated with the release, not the clock: the same release on the same
    // base is the same commit.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.dist().join("manifest.json")).unwrap()).unwrap();
    let time = manifest["timestamp"].as_i64().unwrap();
    for remote in [(&tap, "main"), (&bucket, "master")] {
        assert_eq!(
            git(remote.0, &["log", "-1", "--format=%at %ct", remote.1]),
            format!("{time} {time}")
        );
    }

    // The same release again: nothing to commit, and it says so.
    let (code, out, err) = matrix(&p, &home, &["publish", "--channels-only"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("channel brew: Formula/hello.rb on") && out.contains("no commit"),
        "{out}"
    );
    assert_eq!(log(&tap, "main").len(), 2);
    assert_eq!(log(&bucket, "master").len(), 1);

    // The next version: exactly one more commit on each.
    p.file("NEWS", "1.3.0\n");
    p.commit();
    p.git(&["tag", "v1.3.0"]);
    build(&p, &home);
    let (code, out, err) = matrix(&p, &home, &["publish", "--to", repo.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let tap_log = log(&tap, "main");
    assert_eq!(tap_log.len(), 3, "{tap_log:?}");
    assert_eq!(tap_log[0], "hello 1.3.0|Release Bot <bot@example.org>");
    assert_eq!(log(&bucket, "master").len(), 2);
    assert_eq!(
        show(&tap, "main", "Formula/hello.rb"),
        std::fs::read(p.dist().join("homebrew/hello.rb")).unwrap()
    );
    assert!(
        String::from_utf8(show(&tap, "main", "Formula/hello.rb"))
            .unwrap()
            .contains("1.3.0")
    );
    // Nothing but the commits: no other branch, no tag.
    assert_eq!(
        git(&tap, &["for-each-ref", "--format=%(refname)"]),
        "refs/heads/main"
    );
}

/// A pre-receive hook that, the first time, moves `main` itself before the
/// push lands: to a new commit on top (`-p refs/heads/main`) or to an
/// unrelated one (history rewritten, no parent).
fn race(repo: &Path, parent: &str) {
    let hook = repo.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\n\
             cat >/dev/null\n\
             [ -e raced ] && exit 0\n\
             touch raced\n\
             unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES\n\
             export GIT_AUTHOR_NAME=Racer GIT_AUTHOR_EMAIL=racer@example.org GIT_COMMITTER_NAME=Racer GIT_COMMITTER_EMAIL=racer@example.org\n\
             tree=$(git hash-object -w -t tree /dev/null)\n\
             c=$(git commit-tree \"$tree\" {parent} -m race)\n\
             git update-ref refs/heads/main \"$c\"\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn refused_when_the_remote_changes(parent: &str) {
    let Some((p, _remotes, tap, _bucket, home)) = setup() else {
        return;
    };
    build(&p, &home);
    race(&tap, parent);
    let (code, out, err) = matrix(&p, &home, &["publish", "--channels-only"]);
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(
        err.contains(&format!(
            "channel brew: {} branch main moved while matrix was publishing",
            tap.display()
        )),
        "{err}"
    );
    assert!(err.contains("nothing was pushed"), "{err}");
    // The remote holds the racer's commit, not ours, and nothing else.
    let raced = log(&tap, "main");
    assert_eq!(raced[0], "race|Racer <racer@example.org>", "{raced:?}");
    assert!(!raced.iter().any(|l| l.starts_with("hello ")), "{raced:?}");
    // Publishing again commits on top of what is there now.
    let (code, out, err) = matrix(&p, &home, &["publish", "--channels-only"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let after = log(&tap, "main");
    assert_eq!(after.len(), raced.len() + 1);
    assert_eq!(after[1..], raced[..]);
}

#[test]
fn a_remote_that_moved_since_the_fetch_is_refused_and_left_alone() {
    refused_when_the_remote_changes("-p refs/heads/main");
}

#[test]
fn a_rewritten_remote_is_never_overwritten() {
    refused_when_the_remote_changes("");
}

#[test]
fn bad_tap_settings_are_located_errors() {
    let p = Project::with_config(&format!(
        "{}\n[channels.brew]\nkind = \"homebrew\"\ndesc = \"Test release\"\ntap = {{ url = \"https://bot:s3cret@example.org/tap.git\" }}\n",
        script_config("os = [\"linux\"]\narch = [\"amd64\"]", WRITE_BINARY)
    ));
    let (code, out, err) = run(&mut p.matrix(&["plan"]));
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("matrix.toml"), "{err}");
    assert!(err.contains("holds a password"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn publish_without_a_tap_is_unchanged_and_channels_only_needs_one() {
    let p = Project::with_config(&script_config(
        "os = [\"linux\"]\narch = [\"amd64\"]",
        WRITE_BINARY,
    ));
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = run(&mut p.matrix(&["publish", "--channels-only"]));
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("no channel in matrix.toml has a tap or bucket"),
        "{err}"
    );
    let (code, out, err) = run(&mut p.matrix(&["publish"]));
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(err.contains("--to"), "{err}");
}

#[test]
fn a_changed_formula_in_dist_is_never_committed() {
    let Some((p, _remotes, tap, bucket, home)) = setup() else {
        return;
    };
    build(&p, &home);
    let formula = p.dist().join("homebrew/hello.rb");
    let mut text = std::fs::read_to_string(&formula).unwrap();
    text.push_str("# changed after the build\n");
    std::fs::write(&formula, text).unwrap();
    let (code, out, err) = matrix(&p, &home, &["publish", "--channels-only"]);
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(err.contains("homebrew/hello.rb"), "{err}");
    assert_eq!(log(&tap, "main").len(), 1, "the tap is untouched");
    assert!(git(&bucket, &["for-each-ref"]).is_empty(), "the bucket too");
}

#[test]
fn a_link_in_the_tap_is_replaced_never_followed() {
    let Some((p, remotes, tap, _bucket, home)) = setup() else {
        return;
    };
    // The tap holds Formula/hello.rb as a symbolic link out of the tree.
    let work = remotes.path().join("tap-work");
    git(
        remotes.path(),
        &[
            "clone",
            "-q",
            "-b",
            "main",
            tap.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    std::fs::create_dir_all(work.join("Formula")).unwrap();
    let outside = remotes.path().join("outside.rb");
    std::fs::write(&outside, "outside\n").unwrap();
    std::os::unix::fs::symlink(&outside, work.join("Formula/hello.rb")).unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "link"]);
    git(&work, &["push", "-q", "origin", "main"]);
    build(&p, &home);
    let (code, out, err) = matrix(&p, &home, &["publish", "--channels-only"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "outside\n");
    let entry = git(&tap, &["ls-tree", "main", "Formula/hello.rb"]);
    assert!(entry.starts_with("100644 blob "), "{entry}");
    assert_eq!(
        show(&tap, "main", "Formula/hello.rb"),
        std::fs::read(p.dist().join("homebrew/hello.rb")).unwrap()
    );
}

#[test]
fn no_author_anywhere_is_an_error_before_any_commit() {
    let Some((p, remotes, tap, bucket, _home)) = setup() else {
        return;
    };
    // The bucket has no author in matrix.toml, and this HOME names none.
    let bare_home = remotes.path().join("bare-home");
    std::fs::create_dir_all(&bare_home).unwrap();
    build(&p, &bare_home);
    let mut cmd = p.matrix(&["publish", "--channels-only"]);
    cmd.env("HOME", &bare_home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_CONFIG_GLOBAL")
        .env_remove("XDG_CONFIG_HOME");
    let (code, out, err) = run(&mut cmd);
    assert_ne!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("channel scoop: no author for the commit to"),
        "{err}"
    );
    assert!(err.contains("user.name"), "{err}");
    // Neither the tap before it (which names its author) nor the bucket
    // got a commit.
    assert_eq!(log(&tap, "main").len(), 1);
    assert!(git(&bucket, &["for-each-ref"]).is_empty());
}
