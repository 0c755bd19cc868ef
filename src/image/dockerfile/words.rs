//! Word-level Dockerfile syntax: splitting an instruction's arguments into
//! words, and substituting variables in a word while removing its quotes,
//! the way Docker's shell lexer does for FROM/COPY/ENV/LABEL/...

/// Splits on unquoted whitespace, keeping quotes and escapes in each word
/// (they are removed later by [`expand`]).
pub(super) fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => {
                word.push(c);
                word.extend(chars.next());
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                word.push(c);
            }
            (Some(q), _) if c == q => {
                quote = None;
                word.push(c);
            }
            (None, _) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            _ => word.push(c),
        }
    }
    if let Some(q) = quote {
        return Err(format!("unterminated {q} quote"));
    }
    if !word.is_empty() {
        words.push(word);
    }
    Ok(words)
}

/// Byte index of the first `=` outside quotes.
pub(super) fn unquoted_eq(word: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in word.char_indices() {
        match (quote, c) {
            _ if escaped => escaped = false,
            (q, '\\') if q != Some('\'') => escaped = true,
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '=') => return Some(i),
            _ => {}
        }
    }
    None
}

/// Substitutes variables in one word and removes its quotes: single quotes
/// keep text literal, double quotes and bare text expand `$VAR`, `${VAR}`,
/// `${VAR:-default}`, `${VAR:+alt}` (and `-`/`+` without the colon); an
/// unset variable is empty, as in Docker.
pub fn expand(word: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut ex = Expander {
        chars: word.chars().collect(),
        pos: 0,
        lookup,
    };
    ex.word(false)
}

struct Expander<'a> {
    chars: Vec<char>,
    pos: usize,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Expander<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// Reads up to the end, or up to (not past) the `}` closing a `${...}`.
    fn word(&mut self, in_braces: bool) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            match c {
                '}' if in_braces => return Ok(out),
                '\\' => {
                    self.pos += 1;
                    out.push(self.peek().unwrap_or('\\'));
                    self.pos += 1;
                }
                '\'' => {
                    self.pos += 1;
                    loop {
                        match self.peek() {
                            None => return Err("unterminated ' quote".to_string()),
                            Some('\'') => break,
                            Some(n) => out.push(n),
                        }
                        self.pos += 1;
                    }
                    self.pos += 1;
                }
                '"' => {
                    self.pos += 1;
                    loop {
                        match self.peek() {
                            None => return Err("unterminated \" quote".to_string()),
                            Some('"') => break,
                            Some('$') => {
                                out.push_str(&self.dollar()?);
                                continue;
                            }
                            Some('\\') => {
                                let next = self.chars.get(self.pos + 1).copied();
                                match next {
                                    Some(n @ ('"' | '\\' | '$')) => {
                                        out.push(n);
                                        self.pos += 1;
                                    }
                                    _ => out.push('\\'),
                                }
                            }
                            Some(n) => out.push(n),
                        }
                        self.pos += 1;
                    }
                    self.pos += 1;
                }
                '$' => out.push_str(&self.dollar()?),
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        if in_braces {
            Err("missing `}` in a ${...} substitution".to_string())
        } else {
            Ok(out)
        }
    }

    fn name(&mut self) -> String {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// At a `$`: returns what it stands for.
    fn dollar(&mut self) -> Result<String, String> {
        self.pos += 1;
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                let name = self.name();
                if name.is_empty() {
                    return Err("`${` must be followed by a variable name".to_string());
                }
                let value = (self.lookup)(&name);
                let colon = self.peek() == Some(':');
                if colon {
                    self.pos += 1;
                }
                match self.peek() {
                    Some('}') if !colon => {
                        self.pos += 1;
                        Ok(value.unwrap_or_default())
                    }
                    Some(op @ ('-' | '+')) => {
                        self.pos += 1;
                        let alt = self.word(true)?;
                        self.pos += 1;
                        // With the colon an empty value counts as unset.
                        let set = value.as_deref().is_some_and(|v| !colon || !v.is_empty());
                        Ok(match (op, set) {
                            ('-', true) => value.unwrap_or_default(),
                            ('-', false) => alt,
                            (_, true) => alt,
                            (_, false) => String::new(),
                        })
                    }
                    None => Err("missing `}` in a ${...} substitution".to_string()),
                    Some(other) => Err(format!(
                        "unsupported substitution `${{{name}{}{other}...}}`",
                        if colon { ":" } else { "" }
                    )),
                }
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let name = self.name();
                Ok((self.lookup)(&name).unwrap_or_default())
            }
            _ => Ok("$".to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_table() {
        let vars = |n: &str| match n {
            "SET" => Some("v".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let table = [
            ("$SET", "v"),
            ("${SET}x", "vx"),
            ("a$SET/b", "av/b"),
            ("$UNSET-", "-"),
            ("${UNSET:-d}", "d"),
            ("${EMPTY:-d}", "d"),
            ("${EMPTY-d}", ""),
            ("${SET:-d}", "v"),
            ("${SET:+alt}", "alt"),
            ("${EMPTY:+alt}", ""),
            ("${EMPTY+alt}", "alt"),
            ("${UNSET:+alt}", ""),
            ("${UNSET:-${SET}2}", "v2"),
            ("'$SET'", "$SET"),
            ("\"$SET a\"", "v a"),
            ("\\$SET", "$SET"),
            ("\"\\$SET\"", "$SET"),
            ("cost$", "cost$"),
            ("$1", "$1"),
        ];
        for (input, want) in table {
            assert_eq!(expand(input, &vars).unwrap(), want, "{input}");
        }
        for bad in ["${SET", "${SET%x}", "${}", "'open", "\"open"] {
            assert!(expand(bad, &vars).is_err(), "{bad}");
        }
    }

    #[test]
    fn words_keep_quotes_until_expanded() {
        assert_eq!(
            split_words("a  \"b c\" 'd e'=f g\\ h").unwrap(),
            ["a", "\"b c\"", "'d e'=f", "g\\ h"]
        );
        assert!(split_words("\"open").is_err());
        assert_eq!(unquoted_eq("\"a=b\"=c"), Some(5));
        assert_eq!(unquoted_eq("'x=y'"), None);
        assert_eq!(unquoted_eq("k\\=v=w"), Some(4));
    }
}
