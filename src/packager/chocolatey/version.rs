//! Chocolatey package versions: how a release's SemVer 2 version becomes a
//! version every Chocolatey CLI in use accepts and orders correctly.
//!
//! Part of `packager::chocolatey`; called by `render` (the nuspec's
//! `<version>`) and `write_nupkg` (the psmdcp and the file name).
//!
//! Chocolatey follows NuGet, but two generations are in the field:
//! - Chocolatey CLI v1 (NuGet.Core 2): `Major.Minor.Patch[.Rev][-Special]`
//!   where Special matches `[A-Za-z][0-9A-Za-z-]*` (no dots, first
//!   character a letter) and is at most 20 characters. Specials are compared
//!   as whole strings, ordinal and case-insensitive, so `rc2 > rc10`.
//! - Chocolatey CLI v2 (NuGet.Client): SemVer 2 (dotted labels, numeric
//!   labels compared as numbers), leading zeros in the numeric parts
//!   rejected.
//!
//! A package must install on both, so the mapping produces a v1 special
//! that v2 also parses, and keeps SemVer 2 precedence under v1's string
//! comparison (v2 sees a single non-numeric label, so it compares the same
//! way).

use super::CHANNEL_DEFAULT;
use crate::packager::PublishError;

/// NuGet.Core 2 rejects a special version longer than this.
const MAX_SPECIAL: usize = 20;

/// Numeric identifiers are zero-padded to this width so that string order
/// equals numeric order (`0002 < 0010`) for numbers up to 9999.
const NUMERIC_WIDTH: usize = 4;

/// Maps a SemVer 2 version (no leading `v`) to a Chocolatey version.
///
/// | SemVer                    | Chocolatey                   | why                                   |
/// |---------------------------|------------------------------|---------------------------------------|
/// | `1.2.3`                   | `1.2.3`                      | unchanged                             |
/// | `1.2.3+build.5`           | `1.2.3`                      | build metadata dropped                |
/// | `0.0.2-rc.1`              | `0.0.2-rc-0001`              | `.` -> `-`, number padded to 4        |
/// | `0.0.2-rc.10`             | `0.0.2-rc-0010`              | so `rc-0002 < rc-0010`, like SemVer   |
/// | `1.0.0-alpha.beta`        | `1.0.0-alpha-beta`           | `-` sorts below letters and digits    |
/// | `0.0.1-SNAPSHOT-abc1234`  | `0.0.1-SNAPSHOT-abc1234`     | already a v1 special                  |
/// | `1.0.0-nightly.20260101`  | `1.0.0-nightly-20260101`     | wider than 4 digits: kept as is       |
/// | `1.0.0-1`                 | error                        | v1 needs a letter first               |
/// | `1.0.0-SNAPSHOT-abcdef123456` | error                    | special longer than 20 characters     |
///
/// Why order holds: SemVer compares dot-separated identifiers left to
/// right, a shorter list first when one is a prefix of the other, numbers
/// below words. With `-` as the separator (it sorts below every digit and
/// letter) a list that ends sorts first, and padded numbers (digits) sort
/// below words (letters). Two limits, both documented rather than hidden:
/// numbers wider than 4 digits only order right against numbers of the
/// same width, and an identifier that itself contains `-` can collide with
/// a dotted one (`a-b` and `a.b` both map to `a-b`).
pub fn choco_version(semver: &str) -> Result<String, PublishError> {
    map_version(CHANNEL_DEFAULT, semver)
}

/// [`choco_version`] with the channel name errors should carry.
pub(super) fn map_version(channel: &str, semver: &str) -> Result<String, PublishError> {
    let invalid = |message: String, help: &str| PublishError::Invalid {
        channel: channel.to_string(),
        message,
        help: Some(help.to_string()),
    };
    let parsed = semver::Version::parse(semver).map_err(|e| {
        invalid(
            format!("version `{semver}` is not SemVer: {e}"),
            "the release version comes from the git tag; tag it like v1.2.3 or v1.2.3-rc.1",
        )
    })?;
    let core = format!("{}.{}.{}", parsed.major, parsed.minor, parsed.patch);
    if parsed.pre.is_empty() {
        return Ok(core);
    }
    let special = parsed
        .pre
        .as_str()
        .split('.')
        .map(|ident| {
            if ident.bytes().all(|b| b.is_ascii_digit()) && ident.len() < NUMERIC_WIDTH {
                format!("{ident:0>NUMERIC_WIDTH$}")
            } else {
                ident.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("-");
    if !special.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(invalid(
            format!(
                "version `{semver}`: Chocolatey CLI v1 needs the pre-release part to start \
                 with a letter, `{}` does not",
                parsed.pre
            ),
            "name the pre-release with a word first, e.g. v1.0.0-rc.1 or v1.0.0-beta.2",
        ));
    }
    if special.len() > MAX_SPECIAL {
        return Err(invalid(
            format!(
                "version `{semver}`: the pre-release part becomes `{special}` ({} characters); \
                 Chocolatey CLI v1 allows at most {MAX_SPECIAL}",
                special.len()
            ),
            "use a shorter pre-release (e.g. rc.1), or a shorter snapshot suffix",
        ));
    }
    Ok(format!("{core}-{special}"))
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use super::*;

    #[test]
    fn mapping_table() {
        let table: &[(&str, Option<&str>)] = &[
            ("1.2.3", Some("1.2.3")),
            ("0.0.0", Some("0.0.0")),
            ("1.2.3+build.5", Some("1.2.3")),
            ("0.0.2-rc.1", Some("0.0.2-rc-0001")),
            ("0.0.2-rc.10", Some("0.0.2-rc-0010")),
            ("0.0.2-rc.1+sha.abc", Some("0.0.2-rc-0001")),
            ("1.0.0-alpha", Some("1.0.0-alpha")),
            ("1.0.0-alpha.beta", Some("1.0.0-alpha-beta")),
            ("1.0.0-beta.2.3", Some("1.0.0-beta-0002-0003")),
            ("1.0.0-rc.9999", Some("1.0.0-rc-9999")),
            ("0.0.1-SNAPSHOT-abc1234", Some("0.0.1-SNAPSHOT-abc1234")),
            ("1.0.0-nightly.20260101", Some("1.0.0-nightly-20260101")),
            // 20 characters exactly is allowed, 21 is not.
            (
                "1.0.0-abcdefghijklmnopqrst",
                Some("1.0.0-abcdefghijklmnopqrst"),
            ),
            ("1.0.0-abcdefghijklmnopqrstu", None),
            ("0.0.1-SNAPSHOT-abcdef123456", None),
            ("1.0.0-1", None),
            ("1.0.0-0.3.7", None),
            ("1.0.0-1a", None),
            ("v1.0.0", None),
            ("1.0", None),
            ("01.0.0", None),
            ("", None),
        ];
        for (semver, want) in table {
            let got = choco_version(semver).ok();
            assert_eq!(got.as_deref(), *want, "{semver}");
        }
    }

    #[test]
    fn errors_name_the_version_and_help() {
        let err = choco_version("1.0.0-1").unwrap_err();
        let PublishError::Invalid {
            channel,
            message,
            help,
        } = err
        else {
            panic!("not Invalid: {err:?}");
        };
        assert_eq!(channel, "chocolatey");
        assert!(message.contains("1.0.0-1"), "{message}");
        assert!(help.is_some_and(|h| h.contains("rc.1")));
        let err = map_version("choco-beta", "0.0.1-SNAPSHOT-abcdef123456").unwrap_err();
        assert!(err.to_string().starts_with("choco-beta: "), "{err}");
        assert!(err.to_string().contains("21 characters"), "{err}");
    }

    /// Every mapped version matches NuGet.Core 2's pattern
    /// `^\d+(\.\d+){0,3}(-[a-z][0-9a-z-]*)?$` (case-insensitive).
    #[test]
    fn mapped_versions_parse_as_nuget2() {
        let nuget2 = regex::Regex::new(r"(?i)^\d+(\.\d+){0,3}(-[a-z][0-9a-z-]*)?$").unwrap();
        for v in [
            "1.2.3",
            "0.0.2-rc.1",
            "1.0.0-alpha.beta.1",
            "0.0.1-SNAPSHOT-abc1234",
            "2.0.0-x-y-z.1",
        ] {
            let mapped = choco_version(v).unwrap();
            assert!(nuget2.is_match(&mapped), "{v} -> {mapped}");
            // And SemVer 2 (Chocolatey CLI v2) reads it too.
            assert!(semver::Version::parse(&mapped).is_ok(), "{v} -> {mapped}");
        }
    }

    /// NuGet.Core 2's comparison: numeric version parts, then a release
    /// above any pre-release, then the specials as whole strings, ordinal
    /// and case-insensitive. NuGet.Client (v2) compares a single
    /// non-numeric label the same way, and every mapped special starts with
    /// a letter, so this one comparator stands for both.
    fn nuget_cmp(a: &str, b: &str) -> Ordering {
        let split = |v: &str| -> (Vec<u64>, Option<String>) {
            let (nums, special) = match v.split_once('-') {
                Some((n, s)) => (n, Some(s.to_ascii_uppercase())),
                None => (v, None),
            };
            (
                nums.split('.').map(|n| n.parse().unwrap()).collect(),
                special,
            )
        };
        let (an, asp) = split(a);
        let (bn, bsp) = split(b);
        an.cmp(&bn).then_with(|| match (asp, bsp) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => x.cmp(&y),
        })
    }

    /// The SemVer 2 precedence examples (semver.org, item 11) plus the
    /// rc.2 / rc.10 case: mapped, they sort the same way under NuGet's
    /// comparison. Without the padding `rc.10` would sort below `rc.2`.
    #[test]
    fn mapping_keeps_semver_order_under_nuget_comparison() {
        let ascending = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.2",
            "1.0.0-alpha.10",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0-rc.2",
            "1.0.0-rc.10",
            "1.0.0-rc.999",
            "1.0.0",
            "1.0.1-alpha",
            "1.10.0",
        ];
        for pair in ascending.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            // The list itself is in SemVer order (guards the test data).
            assert!(
                semver::Version::parse(a).unwrap() < semver::Version::parse(b).unwrap(),
                "{a} < {b}"
            );
            let (ma, mb) = (choco_version(a).unwrap(), choco_version(b).unwrap());
            assert_eq!(
                nuget_cmp(&ma, &mb),
                Ordering::Less,
                "{a}->{ma} vs {b}->{mb}"
            );
        }
        // The naive mapping the padding avoids really is out of order.
        assert_eq!(nuget_cmp("1.0.0-rc2", "1.0.0-rc10"), Ordering::Greater);
    }
}
