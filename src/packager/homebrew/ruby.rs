//! Ruby spelling for the Homebrew formula: string literals, heredocs and
//! the `license` DSL's arguments for an SPDX expression.
//!
//! Part of `packager::homebrew`; every value the formula template prints
//! goes through here, so text from matrix.toml (a description with `"` or
//! `#{`, caveats) can never become Ruby code.

/// A double-quoted Ruby string literal. `#` is escaped because `#{`, `#@`
/// and `#$` interpolate.
pub(super) fn ruby_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A squiggly heredoc of `text`, its body indented by `indent + 2` and its
/// terminator by `indent`; the first line goes where the filter is used.
pub(super) fn ruby_heredoc(text: &str, indent: Option<usize>) -> String {
    let indent = indent.unwrap_or(0);
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| {
            let mut escaped = String::new();
            for c in line.trim_end().chars() {
                match c {
                    '\\' | '#' => {
                        escaped.push('\\');
                        escaped.push(c);
                    }
                    '\t' => escaped.push_str("\\t"),
                    c if c.is_control() => escaped.push_str(&format!("\\u{{{:x}}}", c as u32)),
                    c => escaped.push(c),
                }
            }
            escaped
        })
        .collect();
    // `<<~` strips the indentation all lines share; when every line has
    // some, it is the author's, so each line's first space is written `\s`,
    // which Ruby does not count as indentation.
    if lines
        .iter()
        .filter(|l| !l.is_empty())
        .all(|l| l.starts_with(' '))
    {
        for line in lines.iter_mut().filter(|l| !l.is_empty()) {
            line.replace_range(..1, "\\s");
        }
    }
    // A body line equal to the terminator would end the heredoc early.
    let mut terminator = "EOS".to_string();
    while lines.iter().any(|l| l.trim() == terminator) {
        terminator.push('_');
    }
    let mut out = format!("<<~{terminator}\n");
    for line in &lines {
        if !line.is_empty() {
            out.push_str(&" ".repeat(indent + 2));
            out.push_str(line);
        }
        out.push('\n');
    }
    out.push_str(&" ".repeat(indent));
    out.push_str(&terminator);
    out
}

/// The arguments of Homebrew's `license` for an SPDX expression: `"MIT"`,
/// `any_of: ["MIT", "Apache-2.0"]`, `all_of: [...]`,
/// `"Apache-2.0" => { with: "LLVM-exception" }`. A plain string with `OR` in
/// it would fail `brew audit`'s SPDX check. `None` if it does not parse.
pub(super) fn ruby_license(expression: &str) -> Option<String> {
    let spaced = expression.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut pos = 0;
    let tree = spdx_or(&tokens, &mut pos)?;
    if pos != tokens.len() {
        return None;
    }
    Some(match tree {
        Spdx::Any(items) => format!("any_of: {}", ruby_license_list(&items)),
        Spdx::All(items) => format!("all_of: {}", ruby_license_list(&items)),
        leaf => ruby_license_item(&leaf),
    })
}

enum Spdx {
    Id(String),
    With(String, String),
    Any(Vec<Spdx>),
    All(Vec<Spdx>),
}

/// `or := and (OR and)*`; AND binds tighter, as in the SPDX spec.
fn spdx_or(tokens: &[&str], pos: &mut usize) -> Option<Spdx> {
    let mut items = vec![spdx_and(tokens, pos)?];
    while tokens
        .get(*pos)
        .is_some_and(|t| t.eq_ignore_ascii_case("OR"))
    {
        *pos += 1;
        items.push(spdx_and(tokens, pos)?);
    }
    Some(if items.len() == 1 {
        items.remove(0)
    } else {
        Spdx::Any(items)
    })
}

fn spdx_and(tokens: &[&str], pos: &mut usize) -> Option<Spdx> {
    let mut items = vec![spdx_atom(tokens, pos)?];
    while tokens
        .get(*pos)
        .is_some_and(|t| t.eq_ignore_ascii_case("AND"))
    {
        *pos += 1;
        items.push(spdx_atom(tokens, pos)?);
    }
    Some(if items.len() == 1 {
        items.remove(0)
    } else {
        Spdx::All(items)
    })
}

fn spdx_atom(tokens: &[&str], pos: &mut usize) -> Option<Spdx> {
    let token = *tokens.get(*pos)?;
    *pos += 1;
    if token == "(" {
        let inner = spdx_or(tokens, pos)?;
        if tokens.get(*pos) != Some(&")") {
            return None;
        }
        *pos += 1;
        return Some(inner);
    }
    let is_id = |t: &str| {
        !["AND", "OR", "WITH"]
            .iter()
            .any(|k| t.eq_ignore_ascii_case(k))
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b':'))
    };
    if !is_id(token) {
        return None;
    }
    if tokens
        .get(*pos)
        .is_some_and(|t| t.eq_ignore_ascii_case("WITH"))
    {
        let exception = *tokens.get(*pos + 1)?;
        if !is_id(exception) {
            return None;
        }
        *pos += 2;
        return Some(Spdx::With(token.into(), exception.into()));
    }
    Some(Spdx::Id(token.into()))
}

fn ruby_license_list(items: &[Spdx]) -> String {
    let inner: Vec<String> = items.iter().map(ruby_license_item).collect();
    format!("[{}]", inner.join(", "))
}

fn ruby_license_item(item: &Spdx) -> String {
    match item {
        Spdx::Id(id) => ruby_string(id),
        Spdx::With(id, exception) => {
            format!(
                "{} => {{ with: {} }}",
                ruby_string(id),
                ruby_string(exception)
            )
        }
        Spdx::Any(items) => format!("{{ any_of: {} }}", ruby_license_list(items)),
        Spdx::All(items) => format!("{{ all_of: {} }}", ruby_license_list(items)),
    }
}
