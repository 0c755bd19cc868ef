//! Reading one version's section out of a Keep a Changelog file.
//!
//! Part of `packager::notes`: the release notes are written from the
//! changelog, so this module finds the `## [1.2.3] - 2026-01-02` (or
//! `## 1.2.3`, `## [v1.2.3]`, `## [Unreleased]`, conventional-changelog's
//! `# [1.3.0](compare-url) (2026-01-02)`) section, splits it into its `###`
//! groups, and picks out what the notes call out before the regular lists:
//! breaking changes and upgrade notes. It owns no I/O; the caller reads the
//! file.
//!
//! The parser is line based, not a full Markdown parser: headings inside
//! fenced code blocks are ignored (changelogs quote shell snippets whose `#`
//! comments would otherwise look like headings), and link reference
//! definitions are taken out of the group bodies because Keep a Changelog
//! keeps them at the bottom of the file, i.e. inside the oldest section.

/// One version's section of a changelog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The version as its heading spells it, without brackets or a `v`
    /// (`1.2.3`, `Unreleased`).
    pub version: String,
    /// The `YYYY-MM-DD` date on the heading line, if any.
    pub date: Option<String>,
    /// 1-based line number of the heading in the file.
    pub heading_line: usize,
    /// Every non-empty `###` group in file order, as (heading text, body).
    /// Text between the version heading and the first `###` comes first
    /// under the name `""`. Bodies are verbatim Markdown without link
    /// reference definitions and without surrounding blank lines.
    pub groups: Vec<(String, String)>,
    /// Entries that say they break compatibility: every entry of a group
    /// whose heading says "breaking", and entries elsewhere marked
    /// `**Breaking**`, `BREAKING:`, `[breaking]` or `(breaking)`. List
    /// items have their bullet removed; continuation lines are kept.
    pub breaking: Vec<String>,
    /// Bodies of the groups about upgrading (`### Upgrade Notes`,
    /// `### Upgrading`, `### Migration`, `### Migration Guide`, ...), joined
    /// by a blank line.
    pub upgrade_notes: Option<String>,
}

/// Finds the section of `version` (`1.2.3`, `v1.2.3` or `Unreleased`,
/// compared without case) in the changelog `text`; `None` when there is no
/// such heading. The first matching heading wins.
pub fn changelog_section(text: &str, version: &str) -> Option<Section> {
    let wanted = strip_v(version.trim());
    let lines: Vec<&str> = text.lines().collect();
    let outside = outside_fences(&lines);

    let (start, heading) = lines.iter().enumerate().find_map(|(i, line)| {
        if !outside[i] {
            return None;
        }
        let (level, rest) = heading_level(line)?;
        let heading = parse_release_heading(rest).filter(|_| level <= 2)?;
        heading
            .version
            .eq_ignore_ascii_case(wanted)
            .then_some((i, heading))
    })?;
    // The section runs to the next level-1 or level-2 heading, whatever it
    // names: a `## Legend` after the last release is not part of it either.
    let end = (start + 1..lines.len())
        .find(|&i| outside[i] && heading_level(lines[i]).is_some_and(|(level, _)| level <= 2))
        .unwrap_or(lines.len());

    let mut groups: Vec<(String, Vec<&str>)> = vec![(String::new(), Vec::new())];
    for i in start + 1..end {
        let line = lines[i];
        if outside[i] {
            if let Some((3, name)) = heading_level(line) {
                groups.push((name.to_string(), Vec::new()));
                continue;
            }
            if link_definition(line).is_some() {
                continue;
            }
        }
        if let Some((_, body)) = groups.last_mut() {
            body.push(line);
        }
    }

    let groups: Vec<(String, String)> = groups
        .into_iter()
        .map(|(name, body)| (name, trim_blank_lines(&body)))
        .filter(|(_, body)| !body.is_empty())
        .collect();

    let mut breaking = Vec::new();
    let mut upgrade: Vec<&str> = Vec::new();
    for (name, body) in &groups {
        if is_breaking_group(name) {
            breaking.extend(entries(body));
        } else if is_upgrade_group(name) {
            upgrade.push(body.as_str());
        } else {
            breaking.extend(entries(body).into_iter().filter(|e| is_marked_breaking(e)));
        }
    }

    let upgrade_notes = (!upgrade.is_empty()).then(|| upgrade.join("\n\n"));
    Some(Section {
        version: heading.version,
        date: heading.date,
        heading_line: start + 1,
        groups,
        breaking,
        upgrade_notes,
    })
}

/// A group whose entries all break compatibility (`### Breaking Changes`,
/// conventional-changelog's `### ⚠ BREAKING CHANGES`).
pub(super) fn is_breaking_group(name: &str) -> bool {
    name.to_lowercase().contains("breaking")
}

/// A group that tells users how to upgrade.
pub(super) fn is_upgrade_group(name: &str) -> bool {
    let name = name.to_lowercase();
    name.contains("upgrad") || name.contains("migrat")
}

/// What a release heading says: its label as written (for finding its link
/// reference definition), the version, the date and an inline link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Heading<'a> {
    pub label: &'a str,
    pub version: String,
    pub date: Option<String>,
    pub url: Option<&'a str>,
}

/// Parses the text after the `#`s of a heading as a release heading; `None`
/// when it names neither a version (starting with a digit, after an
/// optional `v`) nor `Unreleased`.
pub(super) fn parse_release_heading(rest: &str) -> Option<Heading<'_>> {
    let mut s = rest.trim();
    for word in ["version ", "release "] {
        if s.get(..word.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
        {
            s = s[word.len()..].trim_start();
        }
    }
    let (label, url, after) = if let Some(inner) = s.strip_prefix('[') {
        let close = inner.find(']')?;
        let after = &inner[close + 1..];
        match after
            .strip_prefix('(')
            .and_then(|a| a.find(')').map(|j| (a, j)))
        {
            Some((a, j)) => (&inner[..close], Some(&a[..j]), &a[j + 1..]),
            None => (&inner[..close], None, after),
        }
    } else {
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        (s[..end].trim_end_matches(':'), None, &s[end..])
    };
    let label = label.trim();
    let version = strip_v(label);
    let is_version = version.starts_with(|c: char| c.is_ascii_digit());
    if !is_version && !version.eq_ignore_ascii_case("unreleased") {
        return None;
    }
    Some(Heading {
        label,
        version: version.to_string(),
        date: find_date(after),
        url,
    })
}

/// The ATX heading level and text of a line (`## Foo ##` -> (2, "Foo")).
pub(super) fn heading_level(line: &str) -> Option<(usize, &str)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let level = trimmed.chars().take_while(|&c| c == '#').count();
    let rest = &trimmed[level..];
    if !(1..=6).contains(&level) || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let rest = rest.trim();
    // A closing sequence of #s is decoration, not text.
    let without_closing = rest.trim_end_matches('#');
    let rest = if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
        without_closing.trim_end()
    } else {
        rest
    };
    Some((level, rest))
}

/// The label of a link reference definition line `[label]: url`.
/// Footnotes (`[^1]: ...`) are text, not definitions.
pub(super) fn link_definition(line: &str) -> Option<&str> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let inner = trimmed.strip_prefix('[')?;
    let close = inner.find(']')?;
    let label = &inner[..close];
    let rest = inner[close + 1..].strip_prefix(':')?;
    if label.trim().is_empty() || label.starts_with('^') || rest.trim().is_empty() {
        return None;
    }
    Some(label)
}

/// For each line, whether it is outside a fenced code block (fence lines
/// themselves count as inside).
pub(super) fn outside_fences(lines: &[&str]) -> Vec<bool> {
    let mut open: Option<(char, usize)> = None;
    lines
        .iter()
        .map(|line| {
            let trimmed = line.trim_start_matches(' ');
            let fence = ['`', '~'].into_iter().find_map(|c| {
                let n = trimmed.chars().take_while(|&x| x == c).count();
                (n >= 3 && line.len() - trimmed.len() <= 3).then_some((c, n))
            });
            match (open, fence) {
                (None, Some(f)) => {
                    open = Some(f);
                    false
                }
                (Some((c, n)), Some((fc, fnum)))
                    if c == fc && fnum >= n && trimmed[fnum..].trim().is_empty() =>
                {
                    open = None;
                    false
                }
                (Some(_), _) => false,
                (None, None) => true,
            }
        })
        .collect()
}

/// Splits a group body into entries: top-level list items (with their
/// continuation lines and nested lists) and paragraphs of other text.
fn entries(body: &str) -> Vec<String> {
    let lines: Vec<&str> = body.lines().collect();
    let outside = outside_fences(&lines);
    let mut out = Vec::new();
    let mut current: Option<(bool, Vec<&str>)> = None;
    let mut blank_before = false;
    for (i, line) in lines.iter().enumerate() {
        if outside[i] && line.trim().is_empty() {
            blank_before = current.is_some();
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let item = outside[i].then(|| strip_bullet(line)).flatten();
        let continues = match &current {
            Some((is_item, _)) if item.is_none() || indent >= 2 => {
                !outside[i] || !blank_before || (*is_item && indent >= 2)
            }
            _ => false,
        };
        if continues {
            if let Some((_, body)) = current.as_mut() {
                if blank_before {
                    body.push("");
                }
                body.push(line);
            }
        } else {
            out.extend(current.take().map(|(_, body)| body.join("\n")));
            current = Some(match item.filter(|_| indent < 2) {
                Some(text) => (true, vec![text]),
                None => (false, vec![*line]),
            });
        }
        blank_before = false;
    }
    out.extend(current.map(|(_, body)| body.join("\n")));
    out
}

/// The text of a list item line without its bullet (`- `, `* `, `+ `,
/// `1. `, `1) `).
fn strip_bullet(line: &str) -> Option<&str> {
    let s = line.trim_start();
    if let Some(rest) = s.strip_prefix(['-', '*', '+']) {
        return rest.strip_prefix([' ', '\t']).map(str::trim_start);
    }
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    s[digits..]
        .strip_prefix(['.', ')'])?
        .strip_prefix([' ', '\t'])
        .map(str::trim_start)
}

/// Whether an entry marks itself as breaking. Only deliberate markers count:
/// bold "Breaking", an upper-case BREAKING word, or `[breaking]` /
/// `(breaking)`; a plain "non-breaking" or "breaking the build" does not.
fn is_marked_breaking(entry: &str) -> bool {
    let lower = entry.to_lowercase();
    if ["**breaking", "[breaking]", "(breaking)"]
        .iter()
        .any(|m| lower.contains(m))
    {
        return true;
    }
    entry.match_indices("BREAKING").any(|(i, m)| {
        let before = entry[..i].chars().next_back();
        let after = entry[i + m.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// The first `YYYY-MM-DD` in `s` that is not part of a longer number.
fn find_date(s: &str) -> Option<String> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(9)).find_map(|i| {
        let w = &b[i..i + 10];
        let shape = w.iter().enumerate().all(|(j, c)| match j {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
        let bounded = (i == 0 || !b[i - 1].is_ascii_digit())
            && b.get(i + 10).is_none_or(|c| !c.is_ascii_digit());
        (shape && bounded).then(|| s[i..i + 10].to_string())
    })
}

fn strip_v(s: &str) -> &str {
    match s.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => s,
    }
}

fn trim_blank_lines(lines: &[&str]) -> String {
    let first = lines.iter().position(|l| !l.trim().is_empty());
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    match (first, last) {
        (Some(first), Some(last)) => lines[first..=last].join("\n"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests;
