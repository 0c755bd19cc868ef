//! Calendar versions: the alternative to semver tags for projects that
//! release on a date line, as Garden Linux does.
//!
//! Sits beside [`super::resolve`] in the version step: where `resolve` reads
//! the version from a semver tag, [`calendar_version`] derives it from the
//! commit date. Pure: the caller gathers the commit time, the repository's
//! tag names and the tag at HEAD (no git here), so every rule is a table
//! test.
//!
//! The scheme, following Garden Linux's versioning proposal:
//! - `major` is the number of whole days from the scheme's epoch
//!   (2020-04-01 for Garden Linux, day 0) to the commit date in UTC. The
//!   commit date rather than the build date, so rebuilding a commit
//!   tomorrow still names the same day;
//! - `minor` is the patch level: 0 for the first release of a major, one
//!   more than the highest existing `<major>.<minor>` tag otherwise (same-day
//!   rebuilds and later patch releases of that major alike);
//! - a release reads `<major>.<minor>` (`1443.0`); a snapshot appends the
//!   short commit, `<major>.<minor>-<short commit>` (`1443.0-deadbee`), the
//!   form the proposal's repository examples show (`18.0-deadbeef`). The
//!   `-` makes a snapshot sort before the release it precedes, as in semver.
//!
//! Tags may carry one leading `v` (`v1443.0`); numbers are canonical decimal
//! (no sign, no leading zero), so `1443.01` and `1443.1` can never both
//! name one release.

mod env;

use time::macros::date;
use time::{Date, OffsetDateTime};

pub(super) use env::from_env;
pub use env::parse_calendar_version;

/// Garden Linux's day 0.
pub const GARDENLINUX_EPOCH: Date = date!(2020 - 04 - 01);

/// A calendar versioning scheme: which day counts as major version 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarScheme {
    /// Day 0 (UTC). Commits before it have no version.
    pub epoch: Date,
}

impl crate::config::VersionConfig {
    /// The calendar scheme, if chosen (the epoch was parsed at load time).
    pub fn calendar(&self) -> Option<CalendarScheme> {
        if self.scheme != crate::config::VersionScheme::Calendar {
            return None;
        }
        let epoch = match self.epoch {
            Some(crate::config::Epoch(date)) => date,
            None => GARDENLINUX_EPOCH,
        };
        Some(CalendarScheme { epoch })
    }
}

impl CalendarScheme {
    /// Garden Linux's scheme: days since 2020-04-01.
    pub const fn gardenlinux() -> Self {
        CalendarScheme {
            epoch: GARDENLINUX_EPOCH,
        }
    }

    /// Whole days from the epoch to the UTC date of `timestamp` (seconds
    /// since 1970): `major` of a version built from a commit at that time.
    pub fn day(&self, timestamp: i64) -> Result<u64, CalendarError> {
        let at = OffsetDateTime::from_unix_timestamp(timestamp)
            .map_err(|_| CalendarError::InvalidTimestamp { timestamp })?;
        let days = (at.date() - self.epoch).whole_days();
        u64::try_from(days).map_err(|_| CalendarError::BeforeEpoch {
            date: at.date(),
            epoch: self.epoch,
        })
    }
}

impl Default for CalendarScheme {
    fn default() -> Self {
        CalendarScheme::gardenlinux()
    }
}

/// The version of a calendar-versioned build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CalendarVersion {
    /// Days since the scheme's epoch.
    pub major: u64,
    /// Patch level within the major.
    pub minor: u64,
    /// `<major>.<minor>`, or `<major>.<minor>-<short commit>` for a snapshot;
    /// never with a leading `v`.
    pub text: String,
}

/// Why no calendar version could be given.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CalendarError {
    #[error("the commit date {date} is before the versioning epoch {epoch}")]
    #[diagnostic(
        code(matrix::version::calendar::before_epoch),
        help(
            "a calendar version counts days from the epoch, so older commits have none; check the epoch in the configuration, or SOURCE_DATE_EPOCH if it stands in for the commit time"
        )
    )]
    BeforeEpoch { date: Date, epoch: Date },

    #[error("timestamp {timestamp} is outside the range of dates")]
    #[diagnostic(code(matrix::version::calendar::invalid_timestamp))]
    InvalidTimestamp { timestamp: i64 },

    #[error("tag {tag:?} at HEAD is not a calendar version")]
    #[diagnostic(
        code(matrix::version::calendar::invalid_tag),
        help(
            "calendar release tags look like 1443.0 or v1443.0 (days since the epoch, then the patch level); remove or move the tag, or pass --snapshot"
        )
    )]
    InvalidTagAtHead { tag: String },

    #[error("a snapshot version needs the commit hash, and there is none")]
    #[diagnostic(
        code(matrix::version::calendar::no_commit),
        help("build snapshots inside the project's git checkout")
    )]
    SnapshotWithoutCommit,

    #[error("short commit {value:?} contains characters other than letters and digits")]
    #[diagnostic(code(matrix::version::calendar::invalid_commit))]
    InvalidCommit { value: String },

    #[error("MATRIX_VERSION={value:?} is not a calendar version")]
    #[diagnostic(
        code(matrix::version::calendar::invalid_env_version),
        help(
            "with [version] scheme = \"calendar\", give <days since the epoch>.<patch level>, e.g. MATRIX_VERSION=1443.0, optionally with a suffix of letters and digits (1443.0-deadbee) and a leading v"
        )
    )]
    InvalidEnvVersion { value: String },

    #[error("major version {major} has no patch level left after {minor}")]
    #[diagnostic(
        code(matrix::version::calendar::patch_exhausted),
        help("a tag {major}.{minor} exists; delete the bogus tag")
    )]
    PatchLevelExhausted { major: u64, minor: u64 },
}

/// Parses a calendar tag, `<major>.<minor>` with an optional leading `v`.
/// Anything else (semver tags, snapshots, leading zeros) is `None`.
pub fn parse_calendar_tag(tag: &str) -> Option<(u64, u64)> {
    let text = tag.strip_prefix('v').unwrap_or(tag);
    let (major, minor) = text.split_once('.')?;
    Some((canonical_number(major)?, canonical_number(minor)?))
}

/// A decimal number as written canonically: digits only, no leading zero.
fn canonical_number(text: &str) -> Option<u64> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok()
}

/// The highest calendar tag among `tags` (e.g. every tag pointing at HEAD),
/// ties between `v1443.0` and `1443.0` broken by name so the answer never
/// depends on the order given. Semver-only git facts never report calendar
/// tags (`1443.0` is not semver), so the caller picks the tag at HEAD here.
pub fn highest_calendar_tag(tags: &[String]) -> Option<&str> {
    tags.iter()
        .filter_map(|t| parse_calendar_tag(t).map(|v| (v, t.as_str())))
        .max()
        .map(|(_, t)| t)
}

/// Decides the calendar version of a build.
///
/// - `commit_time`: committer time of HEAD, seconds since 1970 (UTC day);
/// - `existing_tags`: every tag name in the repository; non-calendar tags
///   are ignored;
/// - `tag_at_head`: a calendar tag on HEAD is used as-is (building a tagged
///   release, possibly an older major's patch release made later). In a
///   release build any other tag there is an error; a snapshot ignores it.
///
/// Without a usable tag at HEAD the version is the next one for the commit's
/// day: patch level 0, or one above the highest existing tag of that major.
/// A snapshot of a tagged commit is `<tag>-<short commit>`; of an untagged
/// one, `<next version>-<short commit>`.
pub fn calendar_version(
    scheme: &CalendarScheme,
    commit_time: i64,
    existing_tags: &[String],
    snapshot: bool,
    short_commit: &str,
    tag_at_head: Option<&str>,
) -> Result<CalendarVersion, CalendarError> {
    let tagged = match tag_at_head {
        Some(tag) => match parse_calendar_tag(tag) {
            Some(v) => Some(v),
            None if snapshot => None,
            None => {
                return Err(CalendarError::InvalidTagAtHead {
                    tag: tag.to_owned(),
                });
            }
        },
        None => None,
    };
    let (major, minor) = match tagged {
        Some(v) => v,
        None => {
            let major = scheme.day(commit_time)?;
            (major, next_minor(major, existing_tags)?)
        }
    };
    let text = if snapshot {
        if short_commit.is_empty() {
            return Err(CalendarError::SnapshotWithoutCommit);
        }
        // The text ends up in file names and URLs: keep it to what a hash is.
        if !short_commit.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CalendarError::InvalidCommit {
                value: short_commit.to_owned(),
            });
        }
        format!("{major}.{minor}-{short_commit}")
    } else {
        format!("{major}.{minor}")
    };
    Ok(CalendarVersion { major, minor, text })
}

/// Patch level of the next release of `major`.
fn next_minor(major: u64, existing_tags: &[String]) -> Result<u64, CalendarError> {
    let highest = existing_tags
        .iter()
        .filter_map(|t| parse_calendar_tag(t))
        .filter(|&(m, _)| m == major)
        .map(|(_, minor)| minor)
        .max();
    match highest {
        None => Ok(0),
        Some(minor) => minor
            .checked_add(1)
            .ok_or(CalendarError::PatchLevelExhausted { major, minor }),
    }
}

/// A calendar version (`[version] scheme = "calendar"`): the commit's day
/// since the epoch and its patch level among the tags (see [`calendar`]).
pub(super) fn resolve(
    scheme: &CalendarScheme,
    facts: &super::GitFacts,
    req: &super::Request,
    epoch: Option<i64>,
) -> Result<super::Version, super::VersionError> {
    let at_head = highest_calendar_tag(&facts.head_tags);
    if !req.snapshot && at_head.is_none() {
        let next = calendar_version(
            scheme,
            facts.commit_timestamp,
            &facts.merged_tags,
            false,
            &facts.short_commit,
            None,
        )?;
        return Err(super::VersionError::NoTagAtHead {
            latest: highest_calendar_tag(&facts.merged_tags).map(str::to_owned),
            suggestion: next.text,
        });
    }
    if !req.snapshot && !facts.dirty_files.is_empty() {
        return Err(super::VersionError::Dirty {
            files: facts
                .dirty_files
                .iter()
                .take(super::DIRTY_SHOWN)
                .cloned()
                .collect(),
            total: facts.dirty_files.len(),
        });
    }
    let v = calendar_version(
        scheme,
        facts.commit_timestamp,
        &facts.merged_tags,
        req.snapshot,
        &facts.short_commit,
        at_head,
    )?;
    let commit_date = time::OffsetDateTime::from_unix_timestamp(facts.commit_timestamp)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .ok_or(super::VersionError::InvalidTimestamp {
            timestamp: facts.commit_timestamp,
        })?;
    let tag = match (req.snapshot, at_head) {
        (false, Some(t)) => t.to_owned(),
        _ => v.text.clone(),
    };
    Ok(super::Version {
        major: v.major,
        minor: v.minor,
        patch: 0,
        prerelease: if req.snapshot {
            facts.short_commit.clone()
        } else {
            String::new()
        },
        version: v.text,
        tag,
        commit: facts.commit.clone(),
        short_commit: facts.short_commit.clone(),
        commit_timestamp: facts.commit_timestamp,
        commit_date,
        is_snapshot: req.snapshot,
        timestamp: epoch.unwrap_or(facts.commit_timestamp),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const GL: CalendarScheme = CalendarScheme::gardenlinux();

    fn tags(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn day_counts_whole_utc_days_from_the_epoch() {
        // (commit time, expected major)
        let cases = [
            (datetime!(2020-04-01 00:00:00 UTC), 0),
            (datetime!(2020-04-01 23:59:59 UTC), 0),
            (datetime!(2020-04-02 00:00:00 UTC), 1),
            // The proposal's example: first build on 2020-04-11 is 10.0.
            (datetime!(2020-04-11 12:00:00 UTC), 10),
            // 2020's leap day is before the epoch: one plain year is 365.
            (datetime!(2021-04-01 00:00:00 UTC), 365),
            // 2024's leap day counts as a day of its own.
            (datetime!(2024-02-28 23:59:59 UTC), 1428),
            (datetime!(2024-02-29 00:00:00 UTC), 1429),
            (datetime!(2024-02-29 23:59:59 UTC), 1429),
            (datetime!(2024-03-01 00:00:00 UTC), 1430),
            (datetime!(2024-03-14 08:00:00 UTC), 1443),
            // Only the UTC date counts: 01:00 at +02:00 is the previous UTC day.
            (datetime!(2024-03-15 01:00:00 +02:00), 1443),
        ];
        for (at, major) in cases {
            assert_eq!(GL.day(at.unix_timestamp()).unwrap(), major, "{at}");
        }
    }

    #[test]
    fn commits_before_the_epoch_have_no_version() {
        let t = datetime!(2020-03-31 23:59:59 UTC).unix_timestamp();
        let err = calendar_version(&GL, t, &[], false, "abc1234", None).unwrap_err();
        assert!(
            matches!(err, CalendarError::BeforeEpoch { date, epoch }
                if date == date!(2020-03-31) && epoch == GARDENLINUX_EPOCH),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the commit date 2020-03-31 is before the versioning epoch 2020-04-01"
        );
        // Same with another epoch, one second after its midnight is fine.
        let scheme = CalendarScheme {
            epoch: date!(2000 - 01 - 01),
        };
        let t = datetime!(2000-01-01 00:00:01 UTC).unix_timestamp();
        assert_eq!(scheme.day(t).unwrap(), 0);
        assert!(scheme.day(t - 2).is_err());
        assert!(matches!(
            GL.day(i64::MAX),
            Err(CalendarError::InvalidTimestamp { .. })
        ));
    }

    #[test]
    fn release_versions_table() {
        let day_1443 = datetime!(2024-03-14 10:00:00 UTC).unix_timestamp();
        // (existing tags, tag at HEAD, expected text)
        let cases: &[(&[&str], Option<&str>, &str)] = &[
            // First release of the day.
            (&[], None, "1443.0"),
            (&["v1.2.3", "1442.0", "1442.7", "1444.0"], None, "1443.0"),
            // Same-day rebuilds count up, with or without `v`.
            (&["1443.0", "1443.1"], None, "1443.2"),
            (&["v1443.0", "1443.1"], None, "1443.2"),
            // Gaps do not get filled: the next is above the highest.
            (&["1443.0", "1443.5"], None, "1443.6"),
            // Non-calendar look-alikes are ignored.
            (
                &["1443.09", "1443.1-abc", "1443", "x1443.4"],
                None,
                "1443.0",
            ),
            // A tagged HEAD is used as-is, even an older major's patch release.
            (&["1443.0", "1450.0"], Some("v1443.1"), "1443.1"),
            (&["1443.0"], Some("1443.0"), "1443.0"),
        ];
        for (existing, head, want) in cases {
            let got =
                calendar_version(&GL, day_1443, &tags(existing), false, "abc1234", *head).unwrap();
            assert_eq!(got.text, *want, "{existing:?} {head:?}");
            assert_eq!(format!("{}.{}", got.major, got.minor), *want);
        }
    }

    #[test]
    fn snapshots_append_the_short_commit() {
        let day_1443 = datetime!(2024-03-14 10:00:00 UTC).unix_timestamp();
        // (existing tags, tag at HEAD, expected text)
        let cases: &[(&[&str], Option<&str>, &str)] = &[
            (&[], None, "1443.0-deadbee"),
            (&["1443.0"], None, "1443.1-deadbee"),
            // A tagged commit's snapshot names the tag it was built from.
            (&["1443.0"], Some("1443.0"), "1443.0-deadbee"),
            // A snapshot does not need a release tag: a stray one is ignored.
            (&["1443.0"], Some("nightly"), "1443.1-deadbee"),
        ];
        for (existing, head, want) in cases {
            let got =
                calendar_version(&GL, day_1443, &tags(existing), true, "deadbee", *head).unwrap();
            assert_eq!(got.text, *want, "{existing:?} {head:?}");
        }
        let err = calendar_version(&GL, day_1443, &[], true, "", None).unwrap_err();
        assert!(
            matches!(err, CalendarError::SnapshotWithoutCommit),
            "{err:?}"
        );
        let err = calendar_version(&GL, day_1443, &[], true, "ab/cd", None).unwrap_err();
        assert!(
            matches!(err, CalendarError::InvalidCommit { .. }),
            "{err:?}"
        );
        // A release does not use the commit, so an empty one is fine there.
        let got = calendar_version(&GL, day_1443, &[], false, "", None).unwrap();
        assert_eq!(got.text, "1443.0");
    }

    #[test]
    fn tag_at_head_must_be_a_calendar_version_for_a_release() {
        let t = datetime!(2024-03-14 10:00:00 UTC).unix_timestamp();
        for bad in ["v1.2.3", "1443", "1443.01", "release-1443.0", "v1443.0-rc1"] {
            let err = calendar_version(&GL, t, &[], false, "abc1234", Some(bad)).unwrap_err();
            assert!(
                matches!(&err, CalendarError::InvalidTagAtHead { tag } if tag == bad),
                "{bad}: {err:?}"
            );
        }
        // A tagged commit before the epoch still builds: the tag decides.
        let old = datetime!(2019-01-01 00:00:00 UTC).unix_timestamp();
        let got = calendar_version(&GL, old, &[], false, "", Some("7.0")).unwrap();
        assert_eq!((got.major, got.minor), (7, 0));
    }

    #[test]
    fn patch_level_overflow_is_an_error() {
        let t = datetime!(2024-03-14 10:00:00 UTC).unix_timestamp();
        let existing = vec![format!("1443.{}", u64::MAX)];
        let err = calendar_version(&GL, t, &existing, false, "", None).unwrap_err();
        assert!(
            matches!(err, CalendarError::PatchLevelExhausted { major: 1443, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn parses_and_picks_calendar_tags() {
        // (tag, parsed)
        let cases = [
            ("0.0", Some((0, 0))),
            ("v10.2", Some((10, 2))),
            ("1443.10", Some((1443, 10))),
            ("01.0", None),
            ("1.00", None),
            ("vv1.0", None),
            ("1.2.3", None),
            ("+1.0", None),
            ("1.", None),
            (".1", None),
            ("", None),
        ];
        for (tag, want) in cases {
            assert_eq!(parse_calendar_tag(tag), want, "{tag}");
        }
        let all = tags(&["v1.2.3", "1443.2", "v1443.10", "1443.9"]);
        assert_eq!(highest_calendar_tag(&all), Some("v1443.10"));
        // `1443.0` and `v1443.0` tie on the number; the name decides.
        let both = tags(&["v1443.0", "1443.0"]);
        assert_eq!(highest_calendar_tag(&both), Some("v1443.0"));
        let reversed = tags(&["1443.0", "v1443.0"]);
        assert_eq!(highest_calendar_tag(&reversed), Some("v1443.0"));
        assert_eq!(highest_calendar_tag(&tags(&["v1.0.0"])), None);
    }
}
