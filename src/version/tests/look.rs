//! [`super::resolve_to_look`]: what `plan` and `doctor` show when a release
//! build would be refused.

use super::*;

fn facts(tag_at_head: Option<&str>, dirty: &[&str]) -> GitFacts {
    GitFacts {
        commit: "0123456789abcdef0123456789abcdef01234567".to_owned(),
        short_commit: "0123456".to_owned(),
        commit_timestamp: T0,
        tag_at_head: tag_at_head.map(str::to_owned),
        latest_tag: Some("v1.0.0".to_owned()),
        dirty_files: dirty.iter().map(|f| f.to_string()).collect(),
        merged_tags: vec!["v1.0.0".to_owned()],
        head_tags: tag_at_head.into_iter().map(str::to_owned).collect(),
    }
}

#[test]
fn a_releasable_checkout_shows_the_release() {
    let f = facts(Some("v1.0.0"), &[]);
    let looked = resolve_to_look(Some(&f), &release()).unwrap();
    assert_eq!(looked.version, resolve(Some(&f), &release()).unwrap());
    assert!(!looked.version.is_snapshot);
    assert_eq!(looked.release_refused, None);
}

#[test]
fn no_tag_or_a_dirty_tree_shows_the_snapshot_and_why() {
    let cases = [
        (
            facts(None, &[]),
            "HEAD has no semver tag (latest tag: v1.0.0)",
        ),
        (
            facts(Some("v1.0.0"), &["matrix.toml"]),
            "the working tree has uncommitted changes (1 file): matrix.toml",
        ),
        (
            facts(None, &["a.c", "b.c"]),
            "HEAD has no semver tag (latest tag: v1.0.0); the working tree has uncommitted changes (2 files): a.c, b.c",
        ),
    ];
    for (f, why) in cases {
        let looked = resolve_to_look(Some(&f), &release()).unwrap();
        // Exactly what `--snapshot` would build.
        assert_eq!(looked.version, resolve(Some(&f), &snapshot()).unwrap());
        assert_eq!(looked.version.version, "1.0.1-SNAPSHOT-0123456");
        assert_eq!(looked.release_refused.as_deref(), Some(why));
        // The release itself is still refused.
        assert!(resolve(Some(&f), &release()).is_err());
    }
}

#[test]
fn with_snapshot_the_refusal_is_still_reported() {
    let f = facts(None, &[]);
    let looked = resolve_to_look(Some(&f), &snapshot()).unwrap();
    assert!(looked.version.is_snapshot);
    assert!(looked.release_refused.is_some());
    let clean = facts(Some("v1.0.0"), &[]);
    let looked = resolve_to_look(Some(&clean), &snapshot()).unwrap();
    assert!(looked.version.is_snapshot, "--snapshot is what was asked");
    assert_eq!(looked.release_refused, None);
}

#[test]
fn other_errors_are_the_builds_errors() {
    // Not a refusal --snapshot lifts: the same error as a build's.
    let bad = Request {
        env_version: Some("one".to_owned()),
        ..Request::default()
    };
    assert!(matches!(
        resolve_to_look(Some(&facts(None, &[])), &bad),
        Err(VersionError::InvalidEnvVersion { .. })
    ));
    assert!(matches!(
        resolve_to_look(None, &release()),
        Err(VersionError::NoGit)
    ));
    // MATRIX_VERSION makes a release without a tag: nothing is refused.
    let looked = resolve_to_look(Some(&facts(None, &[])), &env("2.0.0")).unwrap();
    assert_eq!(looked.version.version, "2.0.0");
    assert_eq!(looked.release_refused, None);
}

#[test]
fn calendar_versions_look_the_same_way() {
    let req = Request {
        calendar: Some(calendar::CalendarScheme::gardenlinux()),
        ..Request::default()
    };
    let f = GitFacts {
        merged_tags: vec![],
        head_tags: vec![],
        latest_tag: None,
        ..facts(None, &["x"])
    };
    let looked = resolve_to_look(Some(&f), &req).unwrap();
    assert!(looked.version.is_snapshot);
    let why = looked.release_refused.unwrap();
    assert!(why.starts_with("HEAD has no semver tag"), "{why}");
    assert!(why.ends_with("(1 file): x"), "{why}");
}
