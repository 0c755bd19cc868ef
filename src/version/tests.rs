//! Tests for [`super::git_facts`] against real temporary git repositories, and
//! for [`super::resolve`] and its helpers as pure functions.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// 2026-11-23T10:00:00Z
const T0: i64 = 1_795_428_000;

/// A throwaway repository whose git runs ignore the machine's git config.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Self {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn git_at(&self, time: i64, args: &[&str]) -> String {
        let date = format!("@{time} +0000");
        let out = Command::new("git")
            .arg("-C")
            .arg(self.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn git(&self, args: &[&str]) -> String {
        self.git_at(T0, args)
    }

    fn write(&self, rel: &str, content: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// Commits a change to `file` at `time`, returns the full hash.
    fn commit_at(&self, time: i64, file: &str) -> String {
        self.write(file, &format!("{file} at {time}\n"));
        self.git_at(time, &["add", "--", file]);
        self.git_at(time, &["commit", "-q", "-m", file]);
        self.git(&["rev-parse", "HEAD"])
    }

    fn commit(&self, file: &str) -> String {
        self.commit_at(T0, file)
    }

    fn facts(&self) -> GitFacts {
        git_facts(self.path(), &[]).unwrap()
    }
}

fn release() -> Request {
    Request::default()
}

fn snapshot() -> Request {
    Request {
        snapshot: true,
        ..Request::default()
    }
}

fn env(version: &str) -> Request {
    Request {
        env_version: Some(version.to_owned()),
        ..Request::default()
    }
}

#[test]
fn release_from_tag_at_head() {
    let repo = Repo::new();
    repo.commit_at(T0 - 100, "a.txt");
    let commit = repo.commit("b.txt");
    repo.git(&["tag", "v1.2.3"]);

    let facts = repo.facts();
    assert_eq!(
        facts,
        GitFacts {
            commit: commit.clone(),
            short_commit: commit[..7].to_owned(),
            commit_timestamp: T0,
            tag_at_head: Some("v1.2.3".to_owned()),
            latest_tag: Some("v1.2.3".to_owned()),
            dirty_files: vec![],
            merged_tags: vec!["v1.2.3".to_owned()],
            head_tags: vec!["v1.2.3".to_owned()],
        }
    );
    assert_eq!(
        resolve(Some(&facts), &release()).unwrap(),
        Version {
            version: "1.2.3".to_owned(),
            tag: "v1.2.3".to_owned(),
            major: 1,
            minor: 2,
            patch: 3,
            prerelease: String::new(),
            commit: commit.clone(),
            short_commit: commit[..7].to_owned(),
            commit_timestamp: T0,
            commit_date: "2026-11-23T10:00:00Z".to_owned(),
            is_snapshot: false,
            timestamp: T0,
        }
    );
}

#[test]
fn release_from_annotated_prerelease_tag() {
    let repo = Repo::new();
    repo.commit("a.txt");
    repo.git(&["tag", "-a", "-m", "rc", "v0.0.2-rc.1"]);

    let v = resolve(Some(&repo.facts()), &release()).unwrap();
    assert_eq!(
        (v.version.as_str(), v.tag.as_str(), v.prerelease.as_str()),
        ("0.0.2-rc.1", "v0.0.2-rc.1", "rc.1")
    );
    assert_eq!((v.major, v.minor, v.patch), (0, 0, 2));
}

#[test]
fn highest_tag_at_head_wins_and_latest_is_reachable_only() {
    let repo = Repo::new();
    repo.commit("a.txt");
    repo.git(&["tag", "v0.9.0"]);
    // A higher tag on a branch HEAD does not contain must not count.
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.commit("side.txt");
    repo.git(&["tag", "v9.0.0"]);
    repo.git(&["checkout", "-q", "main"]);
    repo.commit("b.txt");
    for tag in ["v1.0.0-rc.2", "v1.0.0", "1.0.0-rc.10", "nightly", "v0.9.9"] {
        repo.git(&["tag", tag]);
    }

    let facts = repo.facts();
    assert_eq!(facts.tag_at_head.as_deref(), Some("v1.0.0"));
    assert_eq!(facts.latest_tag.as_deref(), Some("v1.0.0"));
    assert_eq!(resolve(Some(&facts), &release()).unwrap().version, "1.0.0");
}

#[test]
fn untagged_head_is_an_error() {
    let repo = Repo::new();
    repo.commit("a.txt");
    repo.git(&["tag", "v1.2.3"]);
    repo.commit("b.txt");

    let facts = repo.facts();
    assert_eq!(facts.tag_at_head, None);
    assert_eq!(facts.latest_tag.as_deref(), Some("v1.2.3"));
    let err = resolve(Some(&facts), &release()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "HEAD has no semver tag (latest tag: v1.2.3)"
    );
    assert_eq!(
        miette::Diagnostic::help(&err).unwrap().to_string(),
        "tag HEAD (git tag v1.2.4) or pass --snapshot"
    );

    let repo = Repo::new();
    repo.commit("a.txt");
    let err = resolve(Some(&repo.facts()), &release()).unwrap_err();
    assert!(
        matches!(&err, VersionError::NoTagAtHead { latest: None, suggestion } if suggestion == "v0.0.1"),
        "{err:?}"
    );
}

#[test]
fn dirty_tree_is_an_error() {
    let repo = Repo::new();
    repo.commit("a.txt");
    repo.commit("c.txt");
    repo.git(&["tag", "v1.2.3"]);
    repo.write("a.txt", "changed\n");
    repo.write("new dir/new.txt", "untracked\n");
    repo.git(&["mv", "c.txt", "renamed.txt"]);

    let facts = repo.facts();
    assert_eq!(
        facts.dirty_files,
        ["a.txt", "new dir/new.txt", "renamed.txt"]
    );
    let err = resolve(Some(&facts), &release()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the working tree has uncommitted changes (3 files): a.txt, new dir/new.txt, renamed.txt"
    );
    assert_eq!(
        miette::Diagnostic::help(&err).unwrap().to_string(),
        "commit or stash them, or pass --snapshot; untracked folders matrix wrote (a dist, a shard, a merge output: they hold its manifest.json) are not counted"
    );
}

#[test]
fn dirty_list_is_capped() {
    let facts = GitFacts {
        commit: "0123456789".to_owned(),
        short_commit: "0123456".to_owned(),
        commit_timestamp: T0,
        tag_at_head: Some("v1.0.0".to_owned()),
        latest_tag: Some("v1.0.0".to_owned()),
        dirty_files: (0..12).map(|i| format!("f{i:02}")).collect(),
        merged_tags: vec![],
        head_tags: vec![],
    };
    match resolve(Some(&facts), &release()) {
        Err(VersionError::Dirty { files, total }) => {
            assert_eq!(files.len(), 10);
            assert_eq!(total, 12);
            assert_eq!(
                dirty_list(&files, total).rsplit(", ").next(),
                Some("f09 and 2 more")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn changes_under_ignored_paths_are_not_dirty() {
    let repo = Repo::new();
    repo.commit("a.txt");
    repo.commit("dist/tracked.txt");
    repo.git(&["tag", "v1.2.3"]);
    repo.write("dist/tracked.txt", "rebuilt\n");
    repo.write("dist/app.tar.gz", "archive\n");
    repo.write("dist-notes.txt", "not under dist/\n");

    let dirty = |dir: &Path, ignore: &[PathBuf]| git_facts(dir, ignore).unwrap().dirty_files;
    let dist = PathBuf::from("dist");
    assert_eq!(
        dirty(repo.path(), &[]),
        ["dist-notes.txt", "dist/app.tar.gz", "dist/tracked.txt"]
    );
    // A tracked file stays a change even in the run's own dist.
    assert_eq!(
        dirty(repo.path(), std::slice::from_ref(&dist)),
        ["dist-notes.txt", "dist/tracked.txt"]
    );
    repo.git(&["rm", "-q", "--cached", "dist/tracked.txt"]);
    repo.git(&["commit", "-q", "-m", "untrack"]);
    repo.git(&["tag", "-f", "v1.2.3"]);
    assert_eq!(
        dirty(repo.path(), std::slice::from_ref(&dist)),
        ["dist-notes.txt"]
    );
    assert_eq!(
        dirty(repo.path(), &[repo.path().join("dist")]),
        ["dist-notes.txt"]
    );
    // From a subdirectory: ignore paths are relative to it, output to the top.
    std::fs::create_dir(repo.path().join("sub")).unwrap();
    assert_eq!(
        dirty(&repo.path().join("sub"), &[PathBuf::from("../dist")]),
        ["dist-notes.txt"]
    );
    // A path outside the repository changes nothing.
    assert_eq!(
        dirty(repo.path(), &[PathBuf::from("../elsewhere")]).len(),
        3
    );
    // A dist at the top hides untracked files, never tracked changes.
    repo.write("a.txt", "edited\n");
    assert_eq!(dirty(repo.path(), &[PathBuf::from(".")]), ["a.txt"]);
    repo.git(&["checkout", "-q", "--", "a.txt"]);

    std::fs::remove_file(repo.path().join("dist-notes.txt")).unwrap();
    let facts = git_facts(repo.path(), &[dist]).unwrap();
    assert_eq!(resolve(Some(&facts), &release()).unwrap().version, "1.2.3");
}

#[test]
fn snapshot_versions() {
    let repo = Repo::new();
    let commit = repo.commit("a.txt");
    let short = &commit[..7];
    repo.write("a.txt", "dirty is fine for a snapshot\n");
    let v = resolve(Some(&repo.facts()), &snapshot()).unwrap();
    assert_eq!(v.version, format!("0.0.1-SNAPSHOT-{short}"));
    assert_eq!(v.tag, format!("v0.0.1-SNAPSHOT-{short}"));
    assert_eq!(v.prerelease, format!("SNAPSHOT-{short}"));
    assert!(v.is_snapshot);

    repo.git(&["tag", "v1.2.3"]);
    // Even at a tag, a snapshot is the next patch: it is not that release.
    let v = resolve(Some(&repo.facts()), &snapshot()).unwrap();
    assert_eq!(v.version, format!("1.2.4-SNAPSHOT-{short}"));

    repo.git(&["commit", "-q", "-a", "-m", "more"]);
    repo.git(&["tag", "v0.0.2-rc.1"]); // lower than v1.2.3: latest stays 1.2.3
    let commit = repo.commit("b.txt");
    let v = resolve(Some(&repo.facts()), &snapshot()).unwrap();
    assert_eq!(v.version, format!("1.2.4-SNAPSHOT-{}", &commit[..7]));

    let repo = Repo::new();
    let commit = repo.commit("a.txt");
    repo.git(&["tag", "v0.0.2-rc.1"]);
    repo.commit("b.txt");
    let facts = repo.facts();
    assert_ne!(facts.commit, commit);
    let v = resolve(Some(&facts), &snapshot()).unwrap();
    assert_eq!(v.version, format!("0.0.2-SNAPSHOT-{}", facts.short_commit));
    assert_eq!((v.major, v.minor, v.patch), (0, 0, 2));
}

#[test]
fn matrix_version_overrides_git() {
    let repo = Repo::new();
    let commit = repo.commit("a.txt");
    repo.write("a.txt", "dirty and untagged\n");
    let facts = repo.facts();

    for (value, version) in [("v2.0.0", "2.0.0"), ("2.1.0-beta.1", "2.1.0-beta.1")] {
        let v = resolve(Some(&facts), &env(value)).unwrap();
        assert_eq!(
            (v.version.as_str(), v.tag.clone()),
            (version, format!("v{version}"))
        );
        assert_eq!(v.commit, commit);
        assert!(!v.is_snapshot);
    }
    let v = resolve(
        Some(&facts),
        &Request {
            snapshot: true,
            ..env("3.0.0")
        },
    )
    .unwrap();
    assert_eq!((v.version.as_str(), v.is_snapshot), ("3.0.0", true));

    for bad in ["2.0", "vv2.0.0", "2.0.0 ", "latest", ""] {
        let err = resolve(Some(&facts), &env(bad)).unwrap_err();
        assert!(
            matches!(&err, VersionError::InvalidEnvVersion { value, .. } if value == bad),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn source_date_epoch() {
    let repo = Repo::new();
    repo.commit("a.txt");
    repo.git(&["tag", "v1.0.0"]);
    let facts = repo.facts();
    let with = |value: &str| Request {
        source_date_epoch: Some(value.to_owned()),
        ..release()
    };

    let v = resolve(Some(&facts), &with("1700000000")).unwrap();
    assert_eq!((v.timestamp, v.commit_timestamp), (1_700_000_000, T0));
    assert_eq!(v.commit_date, "2026-11-23T10:00:00Z");
    assert_eq!(resolve(Some(&facts), &with("0")).unwrap().timestamp, 0);

    for bad in [
        "-1",
        "+1",
        "1.5",
        "",
        " 1",
        "1e9",
        "abc",
        "99999999999999999999",
    ] {
        let err = resolve(Some(&facts), &with(bad)).unwrap_err();
        assert!(
            matches!(&err, VersionError::InvalidSourceDateEpoch { value } if value == bad),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn commit_date_is_rfc3339_utc() {
    let facts = |t: i64| GitFacts {
        commit: "abcdef0123".to_owned(),
        short_commit: "abcdef0".to_owned(),
        commit_timestamp: t,
        tag_at_head: Some("v1.0.0".to_owned()),
        latest_tag: Some("v1.0.0".to_owned()),
        dirty_files: vec![],
        merged_tags: vec![],
        head_tags: vec![],
    };
    for (t, date) in [
        (0, "1970-01-01T00:00:00Z"),
        (951_868_799, "2000-02-29T23:59:59Z"),
        (T0, "2026-11-23T10:00:00Z"),
    ] {
        let v = resolve(Some(&facts(t)), &release()).unwrap();
        assert_eq!((v.commit_date.as_str(), v.timestamp), (date, t));
    }
    let err = resolve(Some(&facts(i64::MAX)), &release()).unwrap_err();
    assert!(
        matches!(
            err,
            VersionError::InvalidTimestamp {
                timestamp: i64::MAX
            }
        ),
        "{err:?}"
    );
}

#[test]
fn outside_git() {
    let dir = tempfile::tempdir().unwrap();
    let err = git_facts(dir.path(), &[]).unwrap_err();
    assert!(
        matches!(&err, VersionError::NotARepo { dir: d, .. } if d == dir.path()),
        "{err:?}"
    );

    let v = resolve(
        None,
        &Request {
            source_date_epoch: Some("1700000000".to_owned()),
            ..env("v1.4.0")
        },
    )
    .unwrap();
    assert_eq!(
        (
            v.version.as_str(),
            v.tag.as_str(),
            v.commit.as_str(),
            v.short_commit.as_str()
        ),
        ("1.4.0", "v1.4.0", "", "")
    );
    assert_eq!(
        (v.commit_timestamp, v.timestamp),
        (1_700_000_000, 1_700_000_000)
    );
    assert_eq!(v.commit_date, "2023-11-14T22:13:20Z");

    assert!(matches!(
        resolve(None, &env("1.4.0")),
        Err(VersionError::MissingSourceDateEpoch)
    ));
    assert!(matches!(
        resolve(None, &release()),
        Err(VersionError::NoGit)
    ));
    assert!(matches!(
        resolve(None, &snapshot()),
        Err(VersionError::NoGit)
    ));
}

#[test]
fn repository_without_commits() {
    let repo = Repo::new();
    let err = git_facts(repo.path(), &[]).unwrap_err();
    assert!(matches!(err, VersionError::NoCommits { .. }), "{err:?}");
}

#[test]
fn missing_git_binary() {
    let dir = tempfile::tempdir().unwrap();
    let git = Git {
        program: OsStr::new("matrix-test-no-such-git"),
        dir: dir.path(),
    };
    assert!(matches!(
        git.facts(&[]),
        Err(VersionError::GitNotFound { .. })
    ));
}

#[test]
fn picks_highest_tag() {
    let cases: &[(&[&str], Option<&str>)] = &[
        (&[], None),
        (&["nightly", "release-1"], None),
        (&["v1.2.3", "v1.10.0", "v1.9.9"], Some("v1.10.0")),
        (
            &["v1.0.0-rc.1", "v1.0.0-beta.2", "v1.0.0-rc.10"],
            Some("v1.0.0-rc.10"),
        ),
        (&["v1.0.0", "v1.0.0-rc.1"], Some("v1.0.0")),
        // Same precedence: the choice must not depend on listing order.
        (&["v1.0.0", "1.0.0"], Some("v1.0.0")),
        (&["1.0.0", "v1.0.0"], Some("v1.0.0")),
        (&["vv2.0.0", "V3.0.0", "v1.0.0"], Some("v1.0.0")),
    ];
    for (tags, expected) in cases {
        assert_eq!(
            highest_tag(tags.iter().copied()).as_deref(),
            *expected,
            "{tags:?}"
        );
    }
}

#[test]
fn next_patch_table() {
    for (tag, next) in [
        (None, "0.0.1"),
        (Some("v1.2.3"), "1.2.4"),
        (Some("1.2.3"), "1.2.4"),
        (Some("v0.0.2-rc.1"), "0.0.2"),
        (Some("v2.0.0+build.5"), "2.0.1"),
    ] {
        assert_eq!(next_patch(tag).unwrap().to_string(), next, "{tag:?}");
    }
    assert!(matches!(
        next_patch(Some("main")),
        Err(VersionError::InvalidTag { .. })
    ));
}

#[test]
fn parses_porcelain_z() {
    let out = " M b.txt\0?? a b.txt\0R  new.txt\0old.txt\0A  z\0";
    let entries: Vec<(String, bool)> = dirty::parse_status(out)
        .into_iter()
        .map(|e| (e.path, e.untracked))
        .collect();
    let want = [
        ("b.txt", false),
        ("a b.txt", true),
        ("new.txt", false),
        ("z", false),
    ]
    .map(|(p, u)| (p.to_owned(), u));
    assert_eq!(entries, want);
    assert!(dirty::parse_status("").is_empty());
}

#[test]
fn calendar_versions_from_a_real_repository() {
    // 2024-01-15 is day 1384 after 2020-04-01.
    let repo = Repo::new();
    // 2024-01-15T12:00:00Z and 18:00Z.
    let noon = 1_705_320_000;
    repo.commit_at(noon, "one");
    let scheme = Some(calendar::CalendarScheme::gardenlinux());
    let req = |snapshot| Request {
        snapshot,
        calendar: scheme,
        ..Request::default()
    };
    // Untagged: a release names the tag to make, a snapshot builds.
    match resolve(Some(&repo.facts()), &req(false)) {
        Err(VersionError::NoTagAtHead { suggestion, .. }) => assert_eq!(suggestion, "1384.0"),
        other => panic!("{other:?}"),
    }
    let snap = resolve(Some(&repo.facts()), &req(true)).unwrap();
    assert_eq!(
        snap.version,
        format!("1384.0-{}", repo.facts().short_commit)
    );
    assert!(snap.is_snapshot);
    // Tagged: the tag is the version; a rebuild the same day is .1.
    repo.git(&["tag", "1384.0"]);
    let v = resolve(Some(&repo.facts()), &req(false)).unwrap();
    assert_eq!((v.version.as_str(), v.major, v.minor), ("1384.0", 1384, 0));
    repo.commit_at(noon + 6 * 3600, "two");
    match resolve(Some(&repo.facts()), &req(false)) {
        Err(VersionError::NoTagAtHead { suggestion, .. }) => assert_eq!(suggestion, "1384.1"),
        other => panic!("{other:?}"),
    }
}

mod look;
mod matrix_folders;
