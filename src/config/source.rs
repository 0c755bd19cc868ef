//! The text of a `matrix.toml` and how to point into it.
//!
//! Serde types in [`super`] stay plain (so the JSON Schema comes from the same
//! types); when a later stage (matrix expansion, template rendering, plan
//! checks) finds a problem it names a *key path* such as
//! `matrix.exclude[2].arch`, and this module turns that path into the span of
//! the value in the file, so every error shows file, line and column.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{Diagnostic, SourceSpan};
use toml::de::{DeTable, DeValue};

use super::excerpt::{Excerpt, clip_message};
use super::limits::Limit;

/// One step of a key path into the TOML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path to a value in the document, e.g. `build.env.GOOS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    /// Parses a dotted path with `[n]` indexes: `matrix.exclude[2].arch`.
    pub fn parse(path: &str) -> Self {
        let mut segs = Vec::new();
        for part in path.split('.') {
            let (key, rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !key.is_empty() {
                segs.push(Seg::Key(key.to_string()));
            }
            for index in rest.split('[').filter(|s| !s.is_empty()) {
                if let Ok(n) = index.trim_end_matches(']').parse() {
                    segs.push(Seg::Index(n));
                }
            }
        }
        KeyPath(segs)
    }

    pub fn key(mut self, key: &str) -> Self {
        self.0.push(Seg::Key(key.to_string()));
        self
    }

    pub fn index(mut self, index: usize) -> Self {
        self.0.push(Seg::Index(index));
        self
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The configuration file's name and text, shared by every error about it.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: Arc<str>,
}

impl Source {
    pub fn new(path: &Path, text: String) -> Self {
        Source {
            path: path.to_path_buf(),
            text: Arc::from(text),
        }
    }

    /// The span of the value at `path`, or of the closest existing parent
    /// (a missing key is best shown at the table that should hold it).
    pub fn span_of(&self, path: &KeyPath) -> Option<Range<usize>> {
        let doc = DeTable::parse(&self.text).ok()?;
        let mut best = None;
        let mut table: Option<&DeTable> = Some(doc.get_ref());
        let mut value: Option<&DeValue> = None;
        for seg in &path.0 {
            let next = match (seg, table, value) {
                (Seg::Key(k), Some(t), _) => t.iter().find(|(key, _)| key.get_ref() == k),
                _ => None,
            }
            .map(|(_, v)| v);
            let next = match (seg, next, value) {
                (_, Some(v), _) => Some(v),
                (Seg::Index(i), None, Some(DeValue::Array(a))) => a.get(*i),
                _ => None,
            };
            let Some(next) = next else { break };
            best = Some(next.span());
            value = Some(next.get_ref());
            table = next.get_ref().as_table();
        }
        best
    }

    /// The key path of the value that spans exactly `span`: the inverse of
    /// [`Source::span_of`], for errors serde reports by span only.
    pub fn path_at(&self, span: Range<usize>) -> Option<KeyPath> {
        fn find(value: &DeValue, at: &Range<usize>, path: &KeyPath) -> Option<KeyPath> {
            // A table's span is its header, not its keys, so every branch is
            // searched; this runs once, for an error.
            let hit = |v: &toml::Spanned<DeValue>, path: KeyPath| {
                if v.span() == *at {
                    Some(path)
                } else {
                    find(v.get_ref(), at, &path)
                }
            };
            match value {
                DeValue::Table(t) => t
                    .iter()
                    .find_map(|(k, v)| hit(v, path.clone().key(k.get_ref()))),
                DeValue::Array(a) => a
                    .iter()
                    .enumerate()
                    .find_map(|(i, v)| hit(v, path.clone().index(i))),
                _ => None,
            }
        }
        let doc = DeTable::parse(&self.text).ok()?;
        find(
            &DeValue::Table(doc.into_inner()),
            &span,
            &KeyPath::default(),
        )
    }

    /// An error pointing at the value found at `path`.
    pub fn error_at(
        &self,
        path: &KeyPath,
        message: impl Into<String>,
        help: Option<String>,
    ) -> ConfigError {
        let span = self.span_of(path);
        self.error_span(span, message, help, path.to_string())
    }

    /// An error at a byte range inside the string value at `path` (for
    /// template errors: `inner` is a range within the template text).
    pub fn error_in_string(
        &self,
        path: &KeyPath,
        inner: Option<Range<usize>>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> ConfigError {
        let span = self.span_of(path).map(|outer| match inner {
            Some(inner) => {
                // Skip the opening quote(s); escapes inside basic strings can
                // shift the column slightly, which is acceptable for a pointer.
                let open = self.quote_len(outer.start);
                let start = (outer.start + open + inner.start).min(outer.end);
                let end = (outer.start + open + inner.end).clamp(start, outer.end);
                start..end.max(start + 1).min(outer.end)
            }
            None => outer,
        });
        self.error_span(span, message, help, path.to_string())
    }

    fn quote_len(&self, at: usize) -> usize {
        let rest = &self.text[at.min(self.text.len())..];
        if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
            3
        } else if rest.starts_with('"') || rest.starts_with('\'') {
            1
        } else {
            0
        }
    }

    pub fn error_span(
        &self,
        span: Option<Range<usize>>,
        message: impl Into<String>,
        help: Option<String>,
        label: String,
    ) -> ConfigError {
        let span = span.unwrap_or(0..0);
        let (line, column) = self.line_col(span.start);
        let file = self.path.display().to_string();
        // Only the lines around the span travel with the error: showing a
        // whole 10 MB line took miette 21 s.
        let (src, span) = Excerpt::new(file.clone(), &self.text, span, line, column);
        ConfigError(Box::new(ConfigErrorDetail {
            message: clip_message(message.into()),
            file,
            line,
            column,
            src,
            span,
            label: clip_message(label),
            help: help.map(clip_message),
            limit: None,
        }))
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        // Template ranges shifted by escapes can land inside a character.
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }
}

/// A problem in matrix.toml, shown with the offending line. Boxed so that
/// `Result<_, ConfigError>` stays small on the happy path.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error(transparent)]
#[diagnostic(transparent)]
pub struct ConfigError(Box<ConfigErrorDetail>);

impl ConfigError {
    /// Marks the error as coming from a `[limits]` limit.
    pub fn with_limit(mut self, limit: Option<Limit>) -> Self {
        self.0.limit = limit;
        self
    }
}

impl std::ops::Deref for ConfigError {
    type Target = ConfigErrorDetail;
    fn deref(&self) -> &ConfigErrorDetail {
        &self.0
    }
}

#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{file}:{line}:{column}: {message}")]
#[diagnostic(code(matrix::config))]
pub struct ConfigErrorDetail {
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    #[source_code]
    src: Excerpt,
    #[label("{label}")]
    span: SourceSpan,
    label: String,
    #[help]
    pub help: Option<String>,
    /// Set when a `[limits]` limit stopped the plan.
    pub limit: Option<Limit>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "[project]\nname = \"x\"\n\n[matrix]\nos = [\"linux\", \"darwn\"]\nexclude = [ { os = \"linux\" } ]\n\n[build]\ncommand = \"go build {{ nope }}\"\n";

    fn source() -> Source {
        Source::new(Path::new("matrix.toml"), DOC.to_string())
    }

    #[test]
    fn key_paths_parse_and_print() {
        let p = KeyPath::parse("matrix.exclude[2].arch");
        assert_eq!(
            p.0,
            vec![
                Seg::Key("matrix".into()),
                Seg::Key("exclude".into()),
                Seg::Index(2),
                Seg::Key("arch".into())
            ]
        );
        assert_eq!(p.to_string(), "matrix.exclude[2].arch");
    }

    #[test]
    fn spans_resolve_to_values() {
        let src = source();
        let cases = [
            ("project.name", "\"x\""),
            ("matrix.os[1]", "\"darwn\""),
            ("matrix.exclude[0].os", "\"linux\""),
            ("build.command", "\"go build {{ nope }}\""),
        ];
        for (path, expected) in cases {
            let span = src.span_of(&KeyPath::parse(path)).unwrap();
            assert_eq!(&DOC[span], expected, "{path}");
        }
    }

    #[test]
    fn paths_resolve_from_spans() {
        let src = source();
        for path in ["project.name", "matrix.os[1]", "matrix.exclude[0].os"] {
            let span = src.span_of(&KeyPath::parse(path)).unwrap();
            assert_eq!(src.path_at(span).unwrap().to_string(), path);
        }
        assert_eq!(src.path_at(0..1), None);
    }

    #[test]
    fn missing_key_falls_back_to_parent() {
        let src = source();
        let span = src.span_of(&KeyPath::parse("build.binary")).unwrap();
        assert!(DOC[span.clone()].contains("build"), "{:?}", &DOC[span]);
    }

    #[test]
    fn errors_carry_line_and_column() {
        let src = source();
        let err = src.error_at(&KeyPath::parse("matrix.os[1]"), "unknown os", None);
        assert_eq!((err.line, err.column), (5, 16));
        let err = src.error_in_string(&KeyPath::parse("build.command"), Some(9..17), "x", None);
        assert_eq!((err.line, err.column), (9, 21));
    }
}
