//! Command lines in `matrix.toml`: how a `command = "..."` string becomes
//! words.
//!
//! Part of the first stage of the flow (config): config checks at load time
//! that every command line splits, and `plan` splits it the same way before
//! rendering each word as a template (`template` re-exports the function).

/// Splits a command line into words like a POSIX shell would, treating each
/// `{{ ... }}` / `{% ... %}` / `{# ... #}` as part of the word around it:
/// `-o {{ out }}/{{ bin }}` is two words, whatever spaces the braces hold.
/// Splitting happens before rendering, so rendered values never become
/// extra words and are never re-parsed.
pub fn split_command(line: &str) -> Result<Vec<String>, String> {
    // Private-use characters stand in for each template region while the
    // shell rules run; they cannot appear in a sensible command line.
    const OPEN: char = '\u{E000}';
    const CLOSE: char = '\u{E001}';
    if line.contains(OPEN) || line.contains(CLOSE) {
        return Err("the command contains reserved characters U+E000/U+E001".into());
    }
    let mut shielded = String::with_capacity(line.len());
    let mut regions = Vec::new();
    let mut rest = line;
    while let Some(start) = ["{{", "{%", "{#"].iter().filter_map(|m| rest.find(m)).min() {
        let close = match &rest[start..start + 2] {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let Some(len) = rest[start + 2..].find(close) else {
            return Err(format!(
                "`{}` is not closed with `{close}`",
                &rest[start..start + 2]
            ));
        };
        let end = start + 2 + len + 2;
        shielded.push_str(&rest[..start]);
        shielded.push(OPEN);
        shielded.push_str(&regions.len().to_string());
        shielded.push(CLOSE);
        regions.push(&rest[start..end]);
        rest = &rest[end..];
    }
    shielded.push_str(rest);
    let words = shell_words::split(&shielded).map_err(|e| e.to_string())?;
    Ok(words
        .into_iter()
        .map(|w| {
            let mut out = String::with_capacity(w.len());
            let mut chars = w.split(OPEN);
            out.push_str(chars.next().unwrap_or_default());
            for part in chars {
                let (index, tail) = part.split_once(CLOSE).unwrap_or((part, ""));
                out.push_str(
                    index
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| regions.get(i))
                        .copied()
                        .unwrap_or_default(),
                );
                out.push_str(tail);
            }
            out
        })
        .collect())
}
