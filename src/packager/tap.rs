//! A git repository a channel's file is committed to by `matrix publish`:
//! a Homebrew tap (`tap = { ... }` of a homebrew channel) or a Scoop
//! bucket (`bucket = { ... }` of a scoop channel).
//!
//! Part of `packager`: the keys ([`TapConfig`], each value checked as it
//! is read, so a bad one is an error at its line and column) and the
//! planned commit ([`CommitStep`]) a kind's step carries as `commit`.
//! The commit itself is made by `repo::tap` from the verified file in
//! dist/; nothing here runs git.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::registry::Step;

/// `tap = { url = "...", branch = "main", path = "...", author = "...",
/// message = "..." }`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TapConfig {
    /// The repository: an https or ssh URL, `file://` or a local path.
    /// Credentials come from git (a credential helper, an ssh agent),
    /// never from the URL.
    pub url: TapUrl,
    /// The branch committed to (default `main`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<Branch>,
    /// The file's path in the repository (template; default
    /// `Formula/{{ name }}.rb` for a tap, `bucket/{{ name }}.json` for a
    /// bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<RepoPath>,
    /// `Name <mail>` (default: git's user.name and user.email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Author>,
    /// The commit message (template; default `{{ name }} {{ version }}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
}

/// The commit a channel's step asks `matrix publish` for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct CommitStep {
    pub url: String,
    pub branch: String,
    /// Template: `name`, `version`, `tag`, `project`, `channel`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Template, with the same variables as `path`.
    pub message: String,
}

pub const DEFAULT_BRANCH: &str = "main";
pub const DEFAULT_MESSAGE: &str = "{{ name }} {{ version }}";

impl TapConfig {
    /// The planned commit, `default_path` filling an unset `path`.
    pub fn step(&self, default_path: &str) -> CommitStep {
        CommitStep {
            url: self.url.0.clone(),
            branch: self
                .branch
                .as_ref()
                .map_or(DEFAULT_BRANCH, |b| b.0.as_str())
                .to_string(),
            path: self
                .path
                .as_ref()
                .map_or(default_path, |p| p.0.as_str())
                .to_string(),
            author: self.author.as_ref().map(|a| a.0.clone()),
            message: self
                .message
                .as_ref()
                .map_or(DEFAULT_MESSAGE, |m| m.0.as_str())
                .to_string(),
        }
    }
}

/// A planned channel's commit and the file under dist/ it commits, for
/// any kind whose step carries `commit` beside its `file` (Homebrew's
/// formula, Scoop's manifest): read from the step as the plan shows it,
/// so no kind is named here.
pub fn planned(step: &Step) -> Option<(String, CommitStep)> {
    let value = serde_json::to_value(step).ok()?;
    let file = value.get("file")?.as_str()?.to_string();
    let commit = serde_json::from_value(value.get("commit")?.clone()).ok()?;
    Some((file, commit))
}

/// `url` with any user name or password taken out, for messages.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
                None => url.to_string(),
            }
        }
        None => url.to_string(),
    }
}

/// `text` with the password of every `scheme://user:password@host` in it
/// replaced by `*`, byte for byte (so spans into it still hold): what a
/// config error shows of matrix.toml, which may hold one we refuse.
pub fn mask_passwords(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let start = from + found + 3;
        let end = text[start..]
            .find(|c: char| c == '/' || c == '"' || c == '\'' || c.is_whitespace())
            .map_or(text.len(), |e| start + e);
        let authority = &text[start..end];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            for b in &mut bytes[start + colon + 1..start + at] {
                *b = b'*';
            }
        }
        from = end.max(start);
    }
    // Only ASCII bytes were written, over whole characters' bytes.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $check:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(pub String);

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                $check(&s)?;
                Ok($name(s))
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

checked_string!(
    /// A repository URL without credentials in it.
    TapUrl,
    check_url
);
checked_string!(
    /// A branch name git accepts (and that is no option).
    Branch,
    check_branch
);
checked_string!(
    /// A relative path inside the repository (template).
    RepoPath,
    check_path
);
checked_string!(
    /// `Name <mail>`.
    Author,
    check_author
);
checked_string!(
    /// A non-empty commit message (template).
    Message,
    check_message
);

fn check_url(url: &str) -> Result<(), String> {
    if url.trim().is_empty() {
        return Err("the tap url is empty".into());
    }
    if url.starts_with('-') {
        return Err(format!("the tap url {url:?} starts with '-'"));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("the tap url contains a space or a control character".into());
    }
    if let Some(why) = transport_problem(url) {
        return Err(format!("the tap url {} {why}", redact(url)));
    }
    if let Some((_, rest)) = url.split_once("://") {
        let host = &rest[..rest.find('/').unwrap_or(rest.len())];
        if let Some((user, _)) = host.rsplit_once('@')
            && user.contains(':')
        {
            return Err(format!(
                "the tap url {} holds a password; matrix.toml is no place for credentials: \
                 let git find them (a credential helper, an ssh agent, GIT_ASKPASS)",
                redact(url)
            ));
        }
    }
    Ok(())
}

/// Why git would not reach `url` over https, ssh or a file (`ext::` runs
/// a program, `fd::` talks over a descriptor, `http://` is unencrypted),
/// or `None`: `https://`, `ssh://`, `file://`, scp-like `user@host:path`
/// and plain local paths are allowed.
fn transport_problem(url: &str) -> Option<&'static str> {
    const ALLOWED: &str = "uses a transport matrix does not push over: use https://, ssh://, file://, user@host:path or a local path";
    if let Some((scheme, _)) = url.split_once("://") {
        return (!matches!(scheme, "https" | "ssh" | "file")).then_some(ALLOWED);
    }
    // git reads `<transport>::<address>` as a remote helper.
    if url.contains("::") {
        return Some(ALLOWED);
    }
    // scp-like needs a host before its colon (`git@host:owner/tap.git`).
    url.starts_with(':').then_some(ALLOWED)
}

fn check_branch(branch: &str) -> Result<(), String> {
    let bad = branch.is_empty()
        || branch.len() > 200
        || branch.starts_with(['-', '/', '.', '+'])
        || branch.ends_with(['/', '.'])
        || branch.ends_with(".lock")
        || branch.contains("..")
        || branch.contains("//")
        || branch.contains("@{")
        || branch.contains("/.")
        || !branch
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '+'));
    if bad {
        return Err(format!(
            "{branch:?} is not a branch name matrix commits to: use letters, digits, '.', '_', '-', '+' and '/' (not at the start or end, no '..')"
        ));
    }
    Ok(())
}

fn check_path(path: &str) -> Result<(), String> {
    match inner_path_problem(path) {
        Some(why) => Err(format!("the path {path:?} {why}")),
        None => Ok(()),
    }
}

/// Why `path` is no file path inside a repository, if it is not: it must
/// be relative, without `.`, `..`, empty parts or `\`, and not in `.git`.
pub fn inner_path_problem(path: &str) -> Option<&'static str> {
    if path.trim().is_empty() {
        return Some("is empty");
    }
    if path.starts_with('/') {
        return Some("is absolute; give it relative to the repository's root");
    }
    if path.contains('\\') || path.chars().any(char::is_control) {
        return Some("contains '\\' or a control character");
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Some("has an empty, '.' or '..' part");
    }
    if parts.iter().any(|p| p.eq_ignore_ascii_case(".git")) {
        return Some("is inside .git");
    }
    None
}

fn check_author(author: &str) -> Result<(), String> {
    match parse_author(author) {
        Some(_) => Ok(()),
        None => Err(format!(
            "the author {author:?} is not `Name <mail>` (e.g. \"Jane Doe <jane@example.org>\")"
        )),
    }
}

/// `Name <mail>` as its two parts, trimmed.
pub fn parse_author(author: &str) -> Option<(&str, &str)> {
    let (name, rest) = author.split_once('<')?;
    let mail = rest.strip_suffix('>')?;
    let name = name.trim();
    let fine = |s: &str| !s.is_empty() && !s.contains(['<', '>', '\n', '\r', '\0']);
    (fine(name) && fine(mail) && !mail.contains(char::is_whitespace)).then_some((name, mail))
}

fn check_message(message: &str) -> Result<(), String> {
    if message.trim().is_empty() {
        return Err("the commit message is empty".into());
    }
    if message.contains('\0') {
        return Err("the commit message contains a NUL character".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(check_url("https://github.com/acme/homebrew-tap.git").is_ok());
        assert!(check_url("git@github.com:acme/homebrew-tap.git").is_ok());
        assert!(check_url("/srv/git/tap.git").is_ok());
        assert!(check_url("file:///srv/git/tap.git").is_ok());
        assert!(check_url("https://bot@github.com/acme/tap").is_ok());
        let err = check_url("https://bot:s3cret@github.com/acme/tap").unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(check_url("--upload-pack=touch /tmp/x").is_err());
        assert!(check_url("").is_err());
    }

    /// git's command transports (`ext::` runs a program, `fd::` talks over
    /// a descriptor) would run a command at publish time if the user's git
    /// config allowed them (issue 14's finding 8): the URL check refuses
    /// every transport but https, ssh and file.
    #[test]
    fn only_https_ssh_and_file_transports_pass() {
        assert!(check_url("ext::/tmp/evil").is_err());
        assert!(check_url("fd::3").is_err());
        assert!(check_url("http://example.com/tap.git").is_err());
        assert!(check_url("git://example.com/tap.git").is_err());
        assert!(check_url(":nohost").is_err());
        for ok in [
            "https://github.com/o/homebrew-tap.git",
            "ssh://git@github.com/o/tap.git",
            "git@github.com:o/tap.git",
            "file:///srv/tap.git",
            "/srv/tap.git",
            "../tap",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn redacts() {
        assert_eq!(
            redact("https://bot:s3cret@github.com/acme/tap"),
            "https://***@github.com/acme/tap"
        );
        assert_eq!(redact("/srv/tap.git"), "/srv/tap.git");
        assert_eq!(redact("ssh://git@host/a@b"), "ssh://***@host/a@b");
    }

    #[test]
    fn masks_passwords_keeping_offsets() {
        let text = "a = \"https://bot:s3crét@example.org/x\"\nb = \"ssh://git@h/y\"\n";
        let masked = mask_passwords(text);
        assert_eq!(masked.len(), text.len());
        assert!(!masked.contains("s3cr"), "{masked}");
        assert!(
            masked.contains("https://bot:*******@example.org/x"),
            "{masked}"
        );
        assert!(masked.contains("ssh://git@h/y"), "{masked}");
    }

    #[test]
    fn branches() {
        for ok in ["main", "release/1.x", "gh-pages"] {
            assert!(check_branch(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-f", "a..b", "x.lock", "a b", "+main", "/x", "a/"] {
            assert!(check_branch(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths() {
        assert!(check_path("Formula/{{ name }}.rb").is_ok());
        for bad in ["", "/etc/x", "../x", "a//b", ".git/hooks/x", "a\\b", "./a"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn authors() {
        assert_eq!(
            parse_author("Jane Doe <jane@example.org>"),
            Some(("Jane Doe", "jane@example.org"))
        );
        assert!(parse_author("Jane Doe").is_none());
        assert!(parse_author("<jane@example.org>").is_none());
        assert!(parse_author("Jane <a b>").is_none());
    }
}
