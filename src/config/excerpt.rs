//! The few lines of matrix.toml an error shows, cut to a readable width.
//!
//! Part of `config`: every [`super::ConfigError`] carries an [`Excerpt`]
//! instead of the whole file. miette measures and copies every character of
//! each line it shows, so a TOML error on a 10 MB line took 21 s to print
//! (and the debug build panicked on the width of its underline). An excerpt
//! holds only the lines around the span, each long line cut to a window of
//! [`WIDTH`] characters around the span with `…` where text was left out,
//! and reports the real line and column numbers to miette, so the message
//! still says exactly where the problem is.

use std::ops::Range;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// Characters of a long line that an error shows.
pub const WIDTH: usize = 160;
/// Of those, how many come before the start of the span.
const LEAD: usize = 48;
/// Lines kept around the span (miette shows one on each side).
const CONTEXT: usize = 2;
/// A span longer than this many lines is shown by its first line only.
const MAX_SPAN_LINES: usize = 24;
/// Characters of a value quoted inside a message (see [`clip`]).
const CLIP: usize = 80;
/// Characters of a whole message (see [`clip_message`]).
const MESSAGE: usize = 2000;

/// The source code of one error: a short piece of the file.
#[derive(Debug, Clone)]
pub struct Excerpt {
    name: String,
    text: String,
    /// 0-based number of the file line that `text` starts with.
    first_line: usize,
    /// The label's span within `text`.
    label: Range<usize>,
    /// 0-based line and column (characters) of the label in the whole file,
    /// when its line was cut and miette's own count would be wrong.
    cut_at: Option<(usize, usize)>,
}

/// One file line as the excerpt shows it.
struct Shown {
    /// The part of the file's text kept (byte range in the file).
    kept: Range<usize>,
    /// Where that part starts in the excerpt.
    at: usize,
}

impl Excerpt {
    /// The excerpt of `text` (named `name`) around `span`, and the label's
    /// span inside it. `line` and `column` are the 1-based position of the
    /// span's start, as [`super::Source::line_col`] computed it.
    pub fn new(
        name: String,
        text: &str,
        span: Range<usize>,
        line: usize,
        column: usize,
    ) -> (Excerpt, SourceSpan) {
        let start = floor_char(text, span.start.min(text.len()));
        let mut end = floor_char(text, span.end.clamp(start, text.len()));
        let start_line = line_start(text, start);
        let start_line_end = line_end(text, start);
        if end > start_line_end && text[start_line_end..end].matches('\n').count() > MAX_SPAN_LINES
        {
            end = start_line_end;
        }

        // Whole lines from CONTEXT before the span to CONTEXT after it.
        let mut from = start_line;
        let mut before = 0;
        while before < CONTEXT && from > 0 {
            from = line_start(text, from - 1);
            before += 1;
        }
        let mut to = line_end(text, end);
        for _ in 0..CONTEXT {
            if to >= text.len() {
                break;
            }
            to = line_end(text, to + 1);
        }

        let mut out = String::new();
        let mut shown = Vec::new();
        let mut cut_label_line = false;
        let mut at = from;
        while at <= to {
            let end_of_line = line_end(text, at);
            let line = &text[at..end_of_line];
            let kept = if line.chars().nth(WIDTH).is_none() {
                at..end_of_line
            } else if (at..=end_of_line).contains(&start) {
                cut_label_line = true;
                let lead = text[at..start]
                    .char_indices()
                    .rev()
                    .nth(LEAD.saturating_sub(1))
                    .map_or(at, |(i, _)| at + i);
                lead..char_end(text, lead, WIDTH, end_of_line)
            } else {
                at..char_end(text, at, WIDTH, end_of_line)
            };
            if kept.start > at {
                out.push('…');
            }
            shown.push(Shown {
                kept: kept.clone(),
                at: out.len(),
            });
            out.push_str(&text[kept.clone()]);
            if kept.end < end_of_line {
                out.push('…');
            }
            if end_of_line < text.len() {
                out.push('\n');
            }
            at = end_of_line + 1;
        }

        let map = |offset: usize| {
            shown
                .iter()
                .rev()
                .find(|s| s.kept.start <= offset || s.at == 0)
                .map_or(0, |s| {
                    s.at + offset.clamp(s.kept.start, s.kept.end) - s.kept.start
                })
        };
        let label = map(start)..map(end).max(map(start));
        let first_line = line.saturating_sub(1).saturating_sub(before);
        let excerpt = Excerpt {
            name,
            text: out,
            first_line,
            label: label.clone(),
            cut_at: cut_label_line.then(|| (line.saturating_sub(1), column.saturating_sub(1))),
        };
        (excerpt, SourceSpan::from(label))
    }

    /// The text shown (for tests).
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        let primary = span.offset() == self.label.start && context_lines_before == 0;
        let (line, column) = match self.cut_at {
            Some(at) if primary => at,
            _ => (inner.line() + self.first_line, inner.column()),
        };
        Ok(Box::new(
            MietteSpanContents::new_named(
                self.name.clone(),
                inner.data(),
                *inner.span(),
                line,
                column,
                inner.line_count(),
            )
            .with_language("TOML"),
        ))
    }
}

/// `value` for quoting in a message: whole when short, else its start, an
/// ellipsis and its length, so a 4 MB value does not make a 4 MB message.
pub fn clip(value: &str) -> String {
    match value.char_indices().nth(CLIP) {
        None => value.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes)", &value[..cut], value.len()),
    }
}

/// A message or help text fit to print: values quoted in it are clipped
/// (see [`clip`]) and the whole is at most [`MESSAGE`] characters. miette
/// wraps messages word by word, which took seconds on a 4 MB value.
pub fn clip_message(message: String) -> String {
    let long_word = message
        .split_whitespace()
        .any(|w| w.chars().nth(CLIP).is_some());
    let message = if long_word {
        let mut out = String::with_capacity(MESSAGE);
        for (i, word) in message.split(' ').enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&clip(word));
        }
        out
    } else {
        message
    };
    match message.char_indices().nth(MESSAGE) {
        None => message,
        Some((cut, _)) => format!("{}… ({} bytes)", &message[..cut], message.len()),
    }
}

/// The largest char boundary at or before `at`.
fn floor_char(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The byte `n` characters after `from`, at most `limit`.
fn char_end(text: &str, from: usize, n: usize, limit: usize) -> usize {
    text[from..limit]
        .char_indices()
        .nth(n)
        .map_or(limit, |(i, _)| from + i)
}

/// Start of the line holding byte `at`.
fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// End of the line holding byte `at` (the offset of its `\n`, or the end).
fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excerpt(text: &str, span: Range<usize>) -> (Excerpt, SourceSpan) {
        let source = super::super::Source::new(std::path::Path::new("m.toml"), text.to_string());
        let (line, column) = source.line_col(span.start);
        Excerpt::new("m.toml".into(), text, span, line, column)
    }

    #[test]
    fn short_lines_are_kept_whole() {
        let text = "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\n";
        let (e, label) = excerpt(text, 12..17);
        assert_eq!(e.text(), "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\n");
        assert_eq!(
            &e.text()[label.offset()..label.offset() + label.len()],
            "c = 3"
        );
        assert_eq!(e.first_line, 0);
        assert_eq!(e.cut_at, None);
    }

    #[test]
    fn a_huge_line_is_cut_around_the_span() {
        let long = "x".repeat(1_000_000);
        let text = format!("[a]\nb = \"{long}\"\nc = 1\n");
        let start = 4 + 5 + 500_000;
        let (e, label) = excerpt(&text, start..start + 3);
        assert!(e.text().len() < 3 * WIDTH, "{}", e.text().len());
        assert!(e.text().starts_with("[a]\n…xxx"), "{}", e.text());
        assert!(e.text().contains("x…\nc = 1"), "{}", e.text());
        assert_eq!(
            &e.text()[label.offset()..label.offset() + label.len()],
            "xxx"
        );
        assert_eq!(e.cut_at, Some((1, 500_005)));
        // miette is told the real line and column.
        let primary = e.read_span(&label, 0, 0).unwrap();
        assert_eq!((primary.line(), primary.column()), (1, 500_005));
        let context = e.read_span(&label, 1, 1).unwrap();
        assert_eq!(context.line(), 0);
    }

    #[test]
    fn spans_in_cut_context_lines_and_multibyte_text_stay_on_boundaries() {
        let long = "é".repeat(10_000);
        let text = format!("{long}\nk = \"v\"\n{long}");
        let start = long.len() + 5;
        let (e, label) = excerpt(&text, start..start + 3);
        assert_eq!(
            &e.text()[label.offset()..label.offset() + label.len()],
            "\"v\""
        );
        assert!(e.text().starts_with("éé"));
        assert!(e.text().ends_with("é…"));
        // A span that starts inside a character is moved to its start.
        let (e, _) = excerpt(&text, 1..3);
        assert!(e.text().starts_with('é'));
    }

    #[test]
    fn a_span_over_many_lines_shows_its_first() {
        let text = format!("t = [\n{}]\n", "1,\n".repeat(1000));
        let (e, label) = excerpt(&text, 4..text.len() - 1);
        assert!(e.text().lines().count() <= 1 + CONTEXT + 1, "{}", e.text());
        assert_eq!(label.offset(), 4);
    }

    #[test]
    fn clip_shortens_long_values_only() {
        assert_eq!(clip("hello"), "hello");
        let long = "a".repeat(1000);
        assert_eq!(clip(&long), format!("{}… (1000 bytes)", "a".repeat(CLIP)));
        let message = format!("invalid name {long:?}: use letters");
        assert_eq!(
            clip_message(message),
            format!(
                "invalid name \"{}… (1003 bytes) use letters",
                "a".repeat(CLIP - 1)
            )
        );
        let spaced = "a ".repeat(5000);
        assert_eq!(
            clip_message(spaced).chars().count(),
            MESSAGE + " (10000 bytes)".len() + 1
        );
        assert_eq!(clip_message("short one".into()), "short one");
    }
}
