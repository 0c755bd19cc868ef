//! Tests of the changelog parser, with the changelog shapes seen in real
//! projects.

use super::*;

/// The canonical keepachangelog.com shape: Unreleased on top, bracketed
/// versions, link reference definitions at the bottom.
const KEEP: &str = "\
# Changelog
All notable changes to this project will be documented in this file.

## [Unreleased]

### Added
- v1.1 Brazilian Portuguese translation.

## [1.1.1] - 2023-03-05

### Added

- Arabic translation (#444).

### Fixed

- Improve French translation (#377).

### Changed

- Upgrade dependencies: Ruby 3.2.1, Middleman, etc.

## [1.0.0] - 2017-06-20

### Added
- New visual identity by [@tylerfortune8](https://github.com/tylerfortune8).

### Removed
- Section about \"changelog\" vs \"CHANGELOG\".

[unreleased]: https://github.com/olivierlacan/keep-a-changelog/compare/v1.1.1...HEAD
[1.1.1]: https://github.com/olivierlacan/keep-a-changelog/compare/v1.0.0...v1.1.1
[1.0.0]: https://github.com/olivierlacan/keep-a-changelog/releases/tag/v1.0.0
";

/// The kruntimes / matrix shape: no brackets, plain `## Unreleased`,
/// breaking changes called out before the regular lists.
const PLAIN: &str = "\
# Changelog

## Unreleased

## 0.3.0 - 2026-01-02

### Breaking Changes

- `spec.runtime` is now required on every Workflow.
- The `krt run --watch` flag was removed; use `krt logs -f`.

### Upgrade Notes

Set `spec.runtime` on existing Workflows before upgrading:

```sh
## this comment is not a heading
kubectl get workflows -A -o name
```

### Added

- Python 3.13 runtime.

## 0.2.1 - 2025-12-01

### Fixed

- Scheduler leak.
";

/// conventional-changelog (standard-version, release-please): level-1
/// headings for minor/major releases, inline compare links, `*` bullets.
const CONVENTIONAL: &str = "\
# Changelog

## [2.0.1](https://github.com/o/r/compare/v2.0.0...v2.0.1) (2026-02-10)

### Bug Fixes

* **cli:** exit 2 on usage errors ([#91](https://github.com/o/r/issues/91)) ([abc1234](https://github.com/o/r/commit/abc1234))

# [2.0.0](https://github.com/o/r/compare/v1.4.0...v2.0.0) (2026-02-03)

### ⚠ BREAKING CHANGES

* **config:** `targets` is now a table, not a list
* drop Node 18

### Features

* **config:** per-target overrides ([d00d123](https://github.com/o/r/commit/d00d123))
";

/// Breaking entries marked inline, v-prefixed headings, a migration
/// group, prose before the first group and an empty group.
const MARKED: &str = "\
# Release history

## v3.0.0 (2026-04-01) [YANKED]

This release reworks the plugin API.

### Changed

- **Breaking:** plugins get a `Context`, not a `Config`.
  Old plugins fail to load with a clear error.
- BREAKING: `--verbose` is now `-v`.
- Made the build non-breaking for old compilers.
- Breaking the build on warnings is now opt-in.
- Faster startup [breaking]
  - nested detail, part of the entry above

### Deprecated

### Migration Guide

Replace `fn plugin(c: Config)` by `fn plugin(c: Context)`.

## v2.9.0

- Unreleased-looking entry without a date.
";

fn names(s: &Section) -> Vec<&str> {
    s.groups.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn finds_sections_in_real_world_shapes() {
    struct Case {
        text: &'static str,
        version: &'static str,
        found: &'static str,
        date: Option<&'static str>,
        line: usize,
        groups: &'static [&'static str],
        breaking: usize,
        upgrade: bool,
    }
    let cases = [
        Case {
            text: KEEP,
            version: "1.1.1",
            found: "1.1.1",
            date: Some("2023-03-05"),
            line: 9,
            groups: &["Added", "Fixed", "Changed"],
            breaking: 0,
            upgrade: false,
        },
        Case {
            text: KEEP,
            version: "v1.1.1",
            found: "1.1.1",
            date: Some("2023-03-05"),
            line: 9,
            groups: &["Added", "Fixed", "Changed"],
            breaking: 0,
            upgrade: false,
        },
        Case {
            text: KEEP,
            version: "1.0.0",
            found: "1.0.0",
            date: Some("2017-06-20"),
            line: 23,
            groups: &["Added", "Removed"],
            breaking: 0,
            upgrade: false,
        },
        Case {
            text: KEEP,
            version: "unreleased",
            found: "Unreleased",
            date: None,
            line: 4,
            groups: &["Added"],
            breaking: 0,
            upgrade: false,
        },
        Case {
            text: PLAIN,
            version: "0.3.0",
            found: "0.3.0",
            date: Some("2026-01-02"),
            line: 5,
            groups: &["Breaking Changes", "Upgrade Notes", "Added"],
            breaking: 2,
            upgrade: true,
        },
        Case {
            text: PLAIN,
            version: "0.2.1",
            found: "0.2.1",
            date: Some("2025-12-01"),
            line: 25,
            groups: &["Fixed"],
            breaking: 0,
            upgrade: false,
        },
        Case {
            text: CONVENTIONAL,
            version: "2.0.1",
            found: "2.0.1",
            date: Some("2026-02-10"),
            line: 3,
            groups: &["Bug Fixes"],
            breaking: 0,
            upgrade: false,
        },
        Case {
            text: CONVENTIONAL,
            version: "2.0.0",
            found: "2.0.0",
            date: Some("2026-02-03"),
            line: 9,
            groups: &["⚠ BREAKING CHANGES", "Features"],
            breaking: 2,
            upgrade: false,
        },
        Case {
            text: MARKED,
            version: "3.0.0",
            found: "3.0.0",
            date: Some("2026-04-01"),
            line: 3,
            groups: &["", "Changed", "Migration Guide"],
            breaking: 3,
            upgrade: true,
        },
        Case {
            text: MARKED,
            version: "v2.9.0",
            found: "2.9.0",
            date: None,
            line: 23,
            groups: &[""],
            breaking: 0,
            upgrade: false,
        },
    ];
    for c in cases {
        let s = changelog_section(c.text, c.version)
            .unwrap_or_else(|| panic!("{}: not found", c.version));
        assert_eq!(s.version, c.found, "{}", c.version);
        assert_eq!(s.date.as_deref(), c.date, "{}", c.version);
        assert_eq!(s.heading_line, c.line, "{}", c.version);
        assert!(
            c.text
                .lines()
                .nth(c.line - 1)
                .is_some_and(|l| l.contains(c.found))
        );
        assert_eq!(names(&s), c.groups, "{}", c.version);
        assert_eq!(
            s.breaking.len(),
            c.breaking,
            "{}: {:?}",
            c.version,
            s.breaking
        );
        assert_eq!(s.upgrade_notes.is_some(), c.upgrade, "{}", c.version);
    }
}

#[test]
fn missing_versions_are_none() {
    for (text, version) in [
        (KEEP, "1.1.0"),
        (KEEP, "1.1"),
        (KEEP, "1.0.00"),
        (PLAIN, "0.3"),
        (CONVENTIONAL, "1.4.0"),
        (MARKED, "Changed"),
        ("", "1.0.0"),
        ("# Changelog\n\nNothing yet.\n", "Unreleased"),
    ] {
        assert_eq!(changelog_section(text, version), None, "{version}");
    }
}

#[test]
fn bodies_are_verbatim_without_link_definitions() {
    let s = changelog_section(KEEP, "1.0.0").unwrap();
    assert_eq!(
        s.groups,
        vec![
            (
                "Added".to_string(),
                "- New visual identity by [@tylerfortune8](https://github.com/tylerfortune8)."
                    .to_string()
            ),
            (
                "Removed".to_string(),
                "- Section about \"changelog\" vs \"CHANGELOG\".".to_string()
            ),
        ]
    );
}

#[test]
fn fenced_code_does_not_end_the_section() {
    let s = changelog_section(PLAIN, "0.3.0").unwrap();
    assert_eq!(
        s.upgrade_notes.as_deref(),
        Some(
            "Set `spec.runtime` on existing Workflows before upgrading:\n\n```sh\n\
                 ## this comment is not a heading\nkubectl get workflows -A -o name\n```"
        )
    );
    assert_eq!(
        s.breaking,
        [
            "`spec.runtime` is now required on every Workflow.",
            "The `krt run --watch` flag was removed; use `krt logs -f`."
        ]
    );
}

#[test]
fn only_deliberate_markers_count_as_breaking() {
    let s = changelog_section(MARKED, "3.0.0").unwrap();
    assert_eq!(
        s.breaking,
        [
            "**Breaking:** plugins get a `Context`, not a `Config`.\n  Old plugins fail to load with a clear error.",
            "BREAKING: `--verbose` is now `-v`.",
            "Faster startup [breaking]\n  - nested detail, part of the entry above",
        ]
    );
    assert_eq!(s.groups[0].1, "This release reworks the plugin API.");
    assert_eq!(
        s.upgrade_notes.as_deref(),
        Some("Replace `fn plugin(c: Config)` by `fn plugin(c: Context)`.")
    );
}

#[test]
fn conventional_breaking_entries_lose_their_bullets() {
    let s = changelog_section(CONVENTIONAL, "2.0.0").unwrap();
    assert_eq!(
        s.breaking,
        [
            "**config:** `targets` is now a table, not a list",
            "drop Node 18"
        ]
    );
}

#[test]
fn crlf_files_parse_like_lf_files() {
    let crlf = PLAIN.replace('\n', "\r\n");
    assert_eq!(
        changelog_section(&crlf, "0.3.0"),
        changelog_section(PLAIN, "0.3.0")
    );
}

/// (label, version, date, inline URL) of a heading.
type Parsed = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

#[test]
fn headings_parse() {
    let cases: &[(&str, Option<Parsed>)] = &[
        (
            "[1.2.3] - 2026-01-02",
            Some(("1.2.3", "1.2.3", Some("2026-01-02"), None)),
        ),
        (
            "1.2.3 - 2026-01-02",
            Some(("1.2.3", "1.2.3", Some("2026-01-02"), None)),
        ),
        (
            "[v1.2.3] – 2026-01-02",
            Some(("v1.2.3", "1.2.3", Some("2026-01-02"), None)),
        ),
        (
            "Version 0.0.2-rc.1 (2026-01-02)",
            Some(("0.0.2-rc.1", "0.0.2-rc.1", Some("2026-01-02"), None)),
        ),
        (
            "[1.0.0](https://x/compare/v0.9.0...v1.0.0) (2026-01-02)",
            Some((
                "1.0.0",
                "1.0.0",
                Some("2026-01-02"),
                Some("https://x/compare/v0.9.0...v1.0.0"),
            )),
        ),
        (
            "[Unreleased]",
            Some(("Unreleased", "Unreleased", None, None)),
        ),
        ("1.2.3 - 20260-01-02", Some(("1.2.3", "1.2.3", None, None))),
        ("Changelog", None),
        ("Legend", None),
        ("[Unreleased-ish]", None),
    ];
    for (text, want) in cases {
        let got = parse_release_heading(text)
            .map(|h| (h.label, h.version.clone(), h.date.clone(), h.url));
        let want = want.map(|(l, v, d, u)| (l, v.to_string(), d.map(str::to_string), u));
        assert_eq!(got, want, "{text}");
    }
    assert_eq!(heading_level("## [1.0.0] ##"), Some((2, "[1.0.0]")));
    assert_eq!(heading_level("### C#"), Some((3, "C#")));
    assert_eq!(heading_level("#hashtag"), None);
    assert_eq!(heading_level("    ## indented code"), None);
    assert_eq!(link_definition("[1.0.0]: https://x"), Some("1.0.0"));
    assert_eq!(link_definition("[^1]: a footnote"), None);
    assert_eq!(link_definition("[text](https://x)"), None);
}
