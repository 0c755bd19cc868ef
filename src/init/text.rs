//! What `matrix init` reads out of a project's prose files: the SPDX id of
//! a license text, and a one-line description from a README.
//!
//! Pure functions over text, used by `detect`. A guess is only made when
//! the text is clearly one license; anything else is left to the user.

/// The SPDX id of a license text, when it clearly is one of the common
/// licenses. The GNU licenses do not say in their text whether later
/// versions apply; see [`needs_version_choice`].
pub fn spdx_of(text: &str) -> Option<&'static str> {
    let t = normalise(text);
    let has = |s: &str| t.contains(s);
    if has("permission is hereby granted, free of charge")
        && has("the above copyright notice and this permission notice shall be included")
    {
        return Some("MIT");
    }
    if has("apache license") && has("version 2.0") && has("terms and conditions for use") {
        return Some("Apache-2.0");
    }
    if has("mozilla public license version 2.0") || has("mozilla public license, version 2.0") {
        return Some("MPL-2.0");
    }
    if has("gnu affero general public license") && has("version 3") {
        return Some("AGPL-3.0-only");
    }
    if has("gnu lesser general public license") {
        if has("version 3, 29 june 2007") {
            return Some("LGPL-3.0-only");
        }
        if has("version 2.1, february 1999") {
            return Some("LGPL-2.1-only");
        }
        return None;
    }
    if has("gnu general public license") {
        if has("version 3, 29 june 2007") {
            return Some("GPL-3.0-only");
        }
        if has("version 2, june 1991") {
            return Some("GPL-2.0-only");
        }
        return None;
    }
    if has("redistribution and use in source and binary forms") {
        // The BSD family differs in its clauses: advertising (4), endorsement (3).
        if has("all advertising materials mentioning features") {
            return Some("BSD-4-Clause");
        }
        if has("endorse or promote products derived from this software") {
            return Some("BSD-3-Clause");
        }
        if has("redistributions of source code must retain") {
            return Some("BSD-2-Clause");
        }
        return None;
    }
    if has("permission to use, copy, modify, and/or distribute this software for any purpose")
        || has("permission to use, copy, modify, and distribute this software for any purpose")
    {
        return Some("ISC");
    }
    if has("this is free and unencumbered software released into the public domain") {
        return Some("Unlicense");
    }
    None
}

/// Whether an id is a GNU license whose `-only` the text cannot confirm:
/// the text is the same for "version N only" and "N or any later version".
pub fn needs_version_choice(spdx: &str) -> bool {
    spdx.ends_with("GPL-3.0-only") || spdx.ends_with("GPL-2.0-only") || spdx == "LGPL-2.1-only"
}

/// Lowercase, with every run of whitespace (line breaks included) one space,
/// so phrases match whatever the line wrapping.
fn normalise(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Longest description taken from a README; longer first paragraphs are cut
/// to their first sentence, then at a word.
const MAX_DESCRIPTION: usize = 160;

/// The README's first paragraph of prose, as one plain line: headings,
/// badges, HTML, code and tables are skipped, Markdown links keep their text.
pub fn description_of(readme: &str) -> Option<String> {
    let mut paragraph: Vec<&str> = Vec::new();
    let mut in_code = false;
    let lines: Vec<&str> = readme.lines().collect();
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        if line.starts_with("```") || line.starts_with("~~~") {
            in_code = !in_code;
            if !paragraph.is_empty() {
                break;
            }
            continue;
        }
        if in_code {
            continue;
        }
        // A setext heading: the line above was its text.
        let underline = !line.is_empty() && line.chars().all(|c| c == '=' || c == '-');
        let next_is_underline = lines.get(i + 1).is_some_and(|n| {
            let n = n.trim();
            !n.is_empty() && n.chars().all(|c| c == '=' || c == '-')
        });
        let skip = line.is_empty()
            || underline
            || next_is_underline
            || line.starts_with('#')
            || line.starts_with('<')
            || line.starts_with("[![")
            || line.starts_with("![")
            || line.starts_with('|')
            || line.starts_with('>')
            || line.starts_with(".. ")
            || raw.starts_with("    ")
            || raw.starts_with('\t');
        if skip {
            if !paragraph.is_empty() {
                break;
            }
            continue;
        }
        paragraph.push(line);
    }
    if paragraph.is_empty() {
        return None;
    }
    let text = plain(&paragraph.join(" "));
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return None;
    }
    Some(shorten(&text))
}

/// Markdown inline syntax removed: `[text](url)` keeps its text; `*` and
/// backtick marks go (`_` stays: it is more often part of a name than
/// emphasis); control characters become spaces.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '['
            && let Some(close) = rest.find("](")
            && let Some(end) = rest[close..].find(')')
        {
            out.push_str(&rest[1..close]);
            rest = &rest[close + end + 1..];
            continue;
        }
        match c {
            '*' | '`' => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_DESCRIPTION {
        return text.to_string();
    }
    if let Some(end) = text.find(". ")
        && text[..end].chars().count() < MAX_DESCRIPTION
    {
        return text[..=end].to_string();
    }
    let mut out = String::new();
    for word in text.split(' ') {
        if out.chars().count() + word.chars().count() + 1 > MAX_DESCRIPTION - 3 {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out.push_str("...");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIT: &str = "MIT License\n\nCopyright (c) 2026 X\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software ...\n\nThe above copyright notice and this permission notice shall be included in all\ncopies or substantial portions of the Software.\n";

    #[test]
    fn licenses_are_recognised_whatever_the_wrapping() {
        let bsd3 = "Redistribution and use in source and binary forms, with or without\nmodification, are permitted provided that ...\n* Redistributions of source code must retain the above copyright notice\n* My name, Ulrich Kunitz, may not be used to endorse or promote products\n  derived from this software without specific prior written permission.";
        let bsd2 = "Redistribution and use in source and binary forms, with or without modification, are permitted provided that the following conditions are met:\n1. Redistributions of source code must retain the above copyright notice";
        let apache = "                                 Apache License\n                           Version 2.0, January 2004\n\n   TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION";
        let gpl3 = "                    GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007\n";
        let lgpl = "GNU LESSER GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n... GNU General Public License";
        let isc = "Permission to use, copy, modify, and/or distribute this software for any\npurpose with or without fee is hereby granted";
        let cases = [
            (MIT, Some("MIT")),
            (bsd3, Some("BSD-3-Clause")),
            (bsd2, Some("BSD-2-Clause")),
            (apache, Some("Apache-2.0")),
            (gpl3, Some("GPL-3.0-only")),
            (lgpl, Some("LGPL-3.0-only")),
            (isc, Some("ISC")),
            ("All rights reserved. Ask before use.", None),
            ("GNU GENERAL PUBLIC LICENSE, some version", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(spdx_of(text), want, "{text}");
        }
        assert!(needs_version_choice("GPL-3.0-only"));
        assert!(needs_version_choice("AGPL-3.0-only"));
        assert!(!needs_version_choice("MIT"));
    }

    #[test]
    fn description_is_the_first_prose_paragraph() {
        let readme = "# hello: a Go program\n\n[![CI](https://x/badge.svg)](https://x)\n<img src=\"logo.png\">\n\n`hello` is a *tiny* greeter written in [Go](https://go.dev) with\nonly the standard library.\n\nMore text.\n";
        assert_eq!(
            description_of(readme).as_deref(),
            Some("hello is a tiny greeter written in Go with only the standard library.")
        );
        let setext = "Title\n=====\n\nSecond line\n-----------\n```\ncode\n```\nThe real one.\n";
        assert_eq!(description_of(setext).as_deref(), Some("The real one."));
        assert_eq!(description_of("# only a title\n"), None);
        let escape = description_of("\u{1b}[31mred\u{7}\n").unwrap();
        assert!(!escape.contains(char::is_control), "{escape:?}");
        let snake = "Use `my_tool` and __init__ here.";
        assert_eq!(
            description_of(snake).as_deref(),
            Some("Use my_tool and __init__ here.")
        );
    }

    #[test]
    fn a_long_paragraph_is_cut_to_a_sentence_or_a_word() {
        let long = format!("First sentence is short. {}", "word ".repeat(60));
        assert_eq!(
            description_of(&long).as_deref(),
            Some("First sentence is short.")
        );
        let one = "word ".repeat(60);
        let cut = description_of(&one).unwrap();
        assert!(cut.ends_with("word..."), "{cut}");
        assert!(cut.chars().count() <= MAX_DESCRIPTION, "{cut}");
    }
}
