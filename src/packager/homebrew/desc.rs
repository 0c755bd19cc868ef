//! Homebrew's rules for a formula's `desc`, the ones its `FormulaAudit/Desc`
//! cop enforces (Library/Homebrew/rubocops/shared/desc_helper.rb in
//! Homebrew/brew), and the text its autocorrect would make of a `desc` that
//! breaks them.
//!
//! Part of `packager::homebrew`, and pure: `plan` calls [`review`] so a bad
//! description stops the release before anything is built, pointing at the
//! line of matrix.toml it came from, and the renderer calls it again for
//! callers that skip the plan. matrix never rewrites the user's text
//! silently; [`suggest`] only feeds the error's help.

use std::sync::LazyLock;

use regex::Regex;

/// Homebrew's `MAX_DESC_LENGTH`, in characters.
pub const MAX_DESC_CHARS: usize = 80;

/// First words the cop lets start in lower case.
const VALID_LOWERCASE_WORDS: [&str; 3] = ["iOS", "iPhone", "macOS"];

// The patterns are literals: a failure to compile is a bug caught by the
// tests, never a user's input.
static COMMAND_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)command ?line").expect("literal regex"));
static ARTICLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(the|an?)\s").expect("literal regex"));
static SYMBOL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\p{So}").expect("literal regex"));
static SYMBOL_FIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\s?\p{So}").expect("literal regex"));
static ARTICLE_FIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(the|an?)\s+").expect("literal regex"));

/// Every rule `desc` breaks for a formula called `name`, in Homebrew's own
/// words and in the order the cop checks them; empty when it passes.
/// `desc` is taken as written: leading and trailing spaces are problems.
pub fn review(desc: &str, name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if desc.is_empty() {
        problems.push("The desc (description) should not be an empty string.".to_string());
        return problems;
    }
    // Not a cop rule: `desc` is one line of a Ruby string, and a control
    // character would only come from a mistake in matrix.toml.
    if desc.chars().any(char::is_control) {
        problems.push("Description must be one line, without control characters.".to_string());
    }
    if desc.starts_with(char::is_whitespace) {
        problems.push("Description shouldn't have leading spaces.".to_string());
    }
    if desc.ends_with(char::is_whitespace) {
        problems.push("Description shouldn't have trailing spaces.".to_string());
    }
    if let Some(m) = COMMAND_LINE.find(desc) {
        let c = &m.as_str()[..1];
        problems.push(format!(
            "Description should use \"{c}ommand-line\" instead of \"{}\".",
            m.as_str()
        ));
    }
    if ARTICLE.is_match(desc) {
        problems.push("Description shouldn't start with an article.".to_string());
    }
    let first_word = desc.split_whitespace().next().unwrap_or_default();
    if !VALID_LOWERCASE_WORDS.contains(&first_word)
        && desc.starts_with(|c: char| c.is_ascii_lowercase())
    {
        problems.push("Description should start with a capital letter.".to_string());
    }
    if starts_with_name(desc, name) {
        problems.push("Description shouldn't start with the formula name.".to_string());
    }
    if desc.ends_with('.') && !desc.ends_with("etc.") {
        problems.push("Description shouldn't end with a full stop.".to_string());
    }
    if SYMBOL.is_match(desc) {
        problems.push("Description shouldn't contain Unicode emojis or symbols.".to_string());
    }
    let length = desc.chars().count();
    if length > MAX_DESC_CHARS {
        problems.push(format!(
            "Description is too long. It should be less than {MAX_DESC_CHARS} characters. \
             The current length is {length}."
        ));
    }
    problems
}

/// The cop's name check: the formula name without its dashes, each letter
/// optionally followed by a space or dash, as a whole word at the start,
/// in any case (`hello-go` matches `Hello go`, `HelloGo`, `hello-Go`).
fn starts_with_name(desc: &str, name: &str) -> bool {
    name_at_start(name, "").is_some_and(|re| re.is_match(desc))
}

/// The cop's name pattern, anchored at the start, followed by `tail`.
fn name_at_start(name: &str, tail: &str) -> Option<Regex> {
    let letters: Vec<String> = name
        .chars()
        .filter(|c| *c != '-')
        .map(|c| regex::escape(&c.to_string()))
        .collect();
    if letters.is_empty() {
        return None;
    }
    Regex::new(&format!(r"(?i)^{}\b{tail}", letters.join(r"[\s\-]?"))).ok()
}

/// What Homebrew's autocorrect makes of `desc`, applied until it settles
/// (removing the name can leave a lower-case start for the next round).
/// `None` when the result still breaks a rule (a description too long,
/// or nothing left), since then only a person can fix it.
pub fn suggest(desc: &str, name: &str) -> Option<String> {
    let mut text = desc.to_string();
    for _ in 0..4 {
        if review(&text, name).is_empty() {
            return Some(text);
        }
        let next = correct(&text, name);
        if next == text {
            break;
        }
        text = next;
    }
    review(&text, name).is_empty().then_some(text)
}

/// One pass of the cop's autocorrect, step by step as desc_helper.rb does
/// it, with two differences: lines are joined (the cop never sees more
/// than one), and the formula name goes only where the rule forbids it, at
/// the start; the cop's autocorrect deletes it everywhere, which turns
/// "Greeter that says hello" for `hello` into "Greeter that says".
fn correct(desc: &str, name: &str) -> String {
    let mut text = desc.split_whitespace().collect::<Vec<_>>().join(" ");
    text = ARTICLE_FIX.replace(&text, "").into_owned();
    let first_word = text.split_whitespace().next().unwrap_or_default();
    if !VALID_LOWERCASE_WORDS.contains(&first_word) {
        let mut chars = text.chars();
        if let Some(first) = chars.next() {
            text = first.to_uppercase().chain(chars).collect();
        }
    }
    text = COMMAND_LINE
        .replace_all(&text, |c: &regex::Captures| {
            format!("{}ommand-line", &c[0][..1])
        })
        .into_owned();
    if let Some(re) = name_at_start(name, r"[\s,:;\-]*") {
        text = re.replace(&text, "").into_owned();
    }
    text = SYMBOL_FIX.replace_all(&text, "").into_owned();
    let mut text = text.trim().to_string();
    if text.ends_with('.') {
        text.pop();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases of Homebrew's own spec for the cop
    /// (test/rubocops/desc_spec.rb and the cask one), against a formula
    /// called `foo`.
    #[test]
    fn homebrews_cases() {
        let cases: [(&str, &[&str]); 12] = [
            (
                "",
                &["The desc (description) should not be an empty string."],
            ),
            ("Bar program", &[]),
            (
                "A bar program",
                &["Description shouldn't start with an article."],
            ),
            (
                "An bar program",
                &["Description shouldn't start with an article."],
            ),
            (
                "The bar program",
                &["Description shouldn't start with an article."],
            ),
            ("bar", &["Description should start with a capital letter."]),
            ("macOS bar", &[]),
            ("iOS bar", &[]),
            (
                "Foo is a program",
                &["Description shouldn't start with the formula name."],
            ),
            ("Bar.", &["Description shouldn't end with a full stop."]),
            ("Bar, baz, etc.", &[]),
            (
                "Bar 🍺",
                &["Description shouldn't contain Unicode emojis or symbols."],
            ),
        ];
        for (desc, want) in cases {
            assert_eq!(review(desc, "foo"), want.to_vec(), "{desc:?}");
        }
        // Articles only as words: "Another" and "Theme" are fine.
        assert!(review("Another bar", "foo").is_empty());
        assert!(review("Theme manager", "foo").is_empty());
        assert_eq!(
            review(" Bar ", "foo"),
            [
                "Description shouldn't have leading spaces.",
                "Description shouldn't have trailing spaces."
            ]
        );
        assert_eq!(
            review("Bar command line tool", "foo"),
            ["Description should use \"command-line\" instead of \"command line\"."]
        );
        assert_eq!(
            review("Commandline tool", "foo"),
            ["Description should use \"Command-line\" instead of \"Commandline\"."]
        );
    }

    #[test]
    fn length_counts_characters_up_to_80() {
        assert!(review(&"X".repeat(MAX_DESC_CHARS), "foo").is_empty());
        assert!(review(&"é".repeat(MAX_DESC_CHARS), "foo").is_empty());
        assert_eq!(
            review(&"X".repeat(81), "foo"),
            [
                "Description is too long. It should be less than 80 characters. The current length is 81."
            ]
        );
    }

    #[test]
    fn the_name_check_allows_spaces_and_dashes_between_letters() {
        for desc in [
            "Hello go tool",
            "HelloGo tool",
            "Hello-Go tool",
            "hellogo tool",
        ] {
            assert!(starts_with_name(desc, "hello-go"), "{desc}");
        }
        assert!(!starts_with_name("Hellogoodbye tool", "hello-go"));
        assert!(!starts_with_name("Says hello", "hello"));
        // Regex characters in a name are plain characters.
        assert!(starts_with_name("Foo.bar tool", "foo.bar"));
        assert!(!starts_with_name("Fooxbar tool", "foo.bar"));
    }

    #[test]
    fn control_characters_are_refused() {
        assert_eq!(
            review("Two\nlines", "foo"),
            ["Description must be one line, without control characters."]
        );
    }

    #[test]
    fn suggestions_are_what_the_autocorrect_makes() {
        for (desc, want) in [
            ("A tiny greeter.", Some("Tiny greeter")),
            ("  the bar program  ", Some("Bar program")),
            ("an iOS app", Some("iOS app")),
            ("Bar command line tool 🍺", Some("Bar command-line tool")),
            ("Foo prints greetings", Some("Prints greetings")),
            ("Bar program", Some("Bar program")),
            ("Two\nlines.", Some("Two lines")),
            ("🍺", None),
        ] {
            assert_eq!(suggest(desc, "foo").as_deref(), want, "{desc:?}");
        }
        // Too long is for a person to fix.
        assert_eq!(suggest(&format!("A {}", "x".repeat(90)), "foo"), None);
        // Every suggestion passes the review.
        let fixed = suggest("The foo command line 🍺 tool.", "foo").unwrap();
        assert!(review(&fixed, "foo").is_empty(), "{fixed}");
    }
}
