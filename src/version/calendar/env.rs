//! `MATRIX_VERSION` under `[version] scheme = "calendar"`.
//!
//! Part of the version step, beside [`super::resolve`]: where that derives
//! a calendar version from the commit date and the tags, this takes the one
//! the environment gives, so a calendar-versioned project can be built
//! outside git (from a source tarball, in a container without `.git`) or
//! with a version chosen by its pipeline.

use super::{CalendarError, parse_calendar_tag};
use crate::version::{GitFacts, Request, Version, VersionError};

/// Parses a calendar `MATRIX_VERSION`: a calendar tag (`1443.0`, `v1443.0`)
/// with an optional `-suffix` of ASCII letters and digits, the form a
/// snapshot takes (`1443.0-deadbee`). Returns major, minor and suffix.
pub fn parse_calendar_version(text: &str) -> Option<(u64, u64, Option<&str>)> {
    let (core, suffix) = match text.split_once('-') {
        Some((core, suffix)) => (core, Some(suffix)),
        None => (text, None),
    };
    if let Some(s) = suffix
        && (s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_alphanumeric()))
    {
        return None;
    }
    let (major, minor) = parse_calendar_tag(core)?;
    Some((major, minor, suffix))
}

/// The version `MATRIX_VERSION` gives under the calendar scheme: taken as
/// it is (no tag or date is consulted), with the commit from git when there
/// is one, else `SOURCE_DATE_EPOCH` standing in for the commit time.
pub(in crate::version) fn from_env(
    value: &str,
    facts: Option<&GitFacts>,
    req: &Request,
    epoch: Option<i64>,
) -> Result<Version, VersionError> {
    let (major, minor, suffix) =
        parse_calendar_version(value).ok_or_else(|| CalendarError::InvalidEnvVersion {
            value: value.to_owned(),
        })?;
    let version = value.strip_prefix('v').unwrap_or(value).to_owned();
    let (commit, short_commit, commit_timestamp) = crate::version::commit_of(facts, epoch)?;
    let commit_date = time::OffsetDateTime::from_unix_timestamp(commit_timestamp)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .ok_or(VersionError::InvalidTimestamp {
            timestamp: commit_timestamp,
        })?;
    Ok(Version {
        major,
        minor,
        patch: 0,
        prerelease: suffix.unwrap_or_default().to_owned(),
        // Calendar tags are written as the user writes them (`1443.0` or
        // `v1443.0`), unlike semver's `v` + version.
        tag: value.to_owned(),
        version,
        commit,
        short_commit,
        commit_timestamp,
        commit_date,
        is_snapshot: req.snapshot,
        timestamp: epoch.unwrap_or(commit_timestamp),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::calendar::CalendarScheme;
    use crate::version::{git_facts, resolve};

    const GL: CalendarScheme = CalendarScheme::gardenlinux();

    #[test]
    fn matrix_version_gives_a_calendar_version_with_and_without_git() {
        let env = |value: &str| Request {
            env_version: Some(value.to_owned()),
            source_date_epoch: Some("1700000000".to_owned()),
            calendar: Some(GL),
            ..Default::default()
        };
        // Without git: SOURCE_DATE_EPOCH is the commit time.
        let v = resolve(None, &env("1443.0")).unwrap();
        assert_eq!((v.version.as_str(), v.tag.as_str()), ("1443.0", "1443.0"));
        assert_eq!((v.major, v.minor, v.patch), (1443, 0, 0));
        assert_eq!((v.commit_timestamp, v.commit.as_str()), (1_700_000_000, ""));
        let v = resolve(None, &env("v1443.2-deadbee")).unwrap();
        assert_eq!(
            (v.version.as_str(), v.tag.as_str()),
            ("1443.2-deadbee", "v1443.2-deadbee")
        );
        assert_eq!(v.prerelease, "deadbee");
        let no_epoch = Request {
            source_date_epoch: None,
            ..env("1443.0")
        };
        assert!(matches!(
            resolve(None, &no_epoch),
            Err(VersionError::MissingSourceDateEpoch)
        ));
        for bad in ["1.2.3", "1443", "1443.01", "1443.0-", "1443.0-a.b", "x.1"] {
            let err = resolve(None, &env(bad)).unwrap_err();
            assert!(
                err.to_string().contains("is not a calendar version"),
                "{bad}: {err}"
            );
        }

        // With git: the commit comes from the repository, untagged or not.
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(["-c", "commit.gpgsign=false"])
                .args(args)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_COMMITTER_DATE", "@1600000000 +0000")
                .output()
                .unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
        };
        git(&["init", "-q", "-b", "main"]);
        std::fs::write(dir.path().join("a"), "a").unwrap();
        git(&["add", "a"]);
        git(&["commit", "-q", "-m", "a"]);
        let facts = git_facts(dir.path(), &[]).unwrap();
        let v = resolve(Some(&facts), &env("1443.0")).unwrap();
        assert_eq!(v.version, "1443.0");
        assert_eq!(v.commit, facts.commit);
        assert_eq!(v.commit_timestamp, 1_600_000_000);
        // SOURCE_DATE_EPOCH still stamps the build.
        assert_eq!(v.timestamp, 1_700_000_000);
        // Without MATRIX_VERSION an untagged commit still needs a tag.
        let plain = Request {
            env_version: None,
            ..env("1443.0")
        };
        assert!(resolve(Some(&facts), &plain).is_err());
    }
}
