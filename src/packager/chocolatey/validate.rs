//! Checks on what goes into a Chocolatey package, done before rendering so
//! an error names the option or record at fault instead of surfacing as a
//! broken nuspec or a `choco push` rejection.
//!
//! Part of `packager::chocolatey`; `render` and `write_nupkg` call these.
//! Owns the package id rules and the text/URL/checksum rules the XML
//! parts and the PowerShell scripts rely on.

use crate::packager::PublishError;

/// NuGet's limit on a package id.
const MAX_ID: usize = 100;

fn invalid(channel: &str, message: String, help: Option<&str>) -> PublishError {
    PublishError::Invalid {
        channel: channel.to_string(),
        message,
        help: help.map(str::to_string),
    }
}

/// The id a project gets when `id` is not set: its name lowercased, `_`
/// turned into `-` (the Chocolatey community repository rejects both
/// capitals and underscores in new ids).
pub fn default_id(project_name: &str) -> String {
    project_name.to_ascii_lowercase().replace('_', "-")
}

/// Chocolatey package id rules.
///
/// NuGet's restricted id set (ASCII letters, digits, `.` and `-`; starts and
/// ends with a letter or digit; no two separators in a row; at most 100
/// characters) narrowed by Chocolatey's: lowercase only, no `_`, and no
/// `.config` suffix (`choco install x.config` reads a packages.config file
/// instead of installing a package).
pub(super) fn check_id(channel: &str, id: &str) -> Result<(), PublishError> {
    let help = Some(
        "Chocolatey ids are lowercase letters, digits, `.` and `-`, e.g. `my-tool`; \
         set `id` in the channel",
    );
    let fail = |why: &str| invalid(channel, format!("package id `{id}` {why}"), help);
    if id.is_empty() {
        return Err(fail("is empty"));
    }
    if id.len() > MAX_ID {
        return Err(fail(&format!("is longer than {MAX_ID} characters")));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(fail(&format!("contains `{c}`")));
    }
    let is_sep = |c: char| c == '.' || c == '-';
    if id.starts_with(is_sep) || id.ends_with(is_sep) {
        return Err(fail("must start and end with a letter or digit"));
    }
    if id.contains("..") || id.contains("--") || id.contains(".-") || id.contains("-.") {
        return Err(fail("has two separators in a row"));
    }
    if id.ends_with(".config") {
        return Err(fail(
            "ends with `.config`, which choco reads as a packages.config file",
        ));
    }
    Ok(())
}

/// Text that goes into an XML part: XML 1.0 forbids most control
/// characters even as character references, so they cannot be escaped.
pub(super) fn check_text(channel: &str, field: &str, text: &str) -> Result<(), PublishError> {
    let bad = text.chars().find(|&c| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'
    });
    match bad {
        Some(c) => Err(invalid(
            channel,
            format!(
                "{field} contains the control character U+{:04X}, which XML cannot carry",
                c as u32
            ),
            Some("remove it from the text"),
        )),
        None => Ok(()),
    }
}

/// A required text value: non-empty after trimming, and XML-safe.
pub(super) fn check_required(channel: &str, field: &str, text: &str) -> Result<(), PublishError> {
    if text.trim().is_empty() {
        return Err(invalid(
            channel,
            format!("{field} is empty; a Chocolatey package must have one"),
            Some(match field {
                "description" => "set `description` in matrix.toml",
                _ => "set it in the channel",
            }),
        ));
    }
    check_text(channel, field, text)
}

/// An absolute http(s) URL without whitespace or control characters: the
/// nuspec's URL fields must parse as URIs, and the install script passes
/// download URLs to PowerShell as single literals.
pub(super) fn check_url(channel: &str, field: &str, url: &str) -> Result<(), PublishError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            channel,
            format!("{field} `{url}` is not an absolute http(s) URL"),
            Some("give a full URL such as https://example.com/..., without spaces"),
        ))
    }
}

/// Tags are space-separated in the nuspec, so one tag cannot hold a space;
/// commas are refused by the community repository (rule CPMR0014).
pub(super) fn check_tags(channel: &str, tags: &[String]) -> Result<(), PublishError> {
    for tag in tags {
        if tag.is_empty() || tag.chars().any(|c| c.is_whitespace() || c == ',') {
            return Err(invalid(
                channel,
                format!("tag `{tag}` is empty or contains a space or comma"),
                Some("give each tag as one word, e.g. tags = [\"cli\", \"dev-tools\"]"),
            ));
        }
        check_text(channel, "tags", tag)?;
    }
    Ok(())
}

/// A lowercase hex sha256, as the manifest records it.
pub(super) fn check_sha256(channel: &str, file: &str, sha: &str) -> Result<(), PublishError> {
    if sha.len() == 64
        && sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(invalid(
            channel,
            format!("{file}: sha256 `{sha}` is not 64 lowercase hex digits"),
            None,
        ))
    }
}

/// What NuGet wants in `<licenseUrl>` beside a `<license>` element: this
/// placeholder or nothing (`nuget pack` writes it itself for old clients).
pub const DEPRECATE_LICENSE_URL: &str = "https://aka.ms/deprecateLicenseUrl";

/// The release's license as the nuspec's `<license type="expression">`,
/// and the `<licenseUrl>` that may go with it. Without a license the
/// channel's `license_url` stands alone, as before NuGet 4.9.
pub(super) fn license<'a>(
    channel: &str,
    expression: &'a str,
    license_url: Option<&'a str>,
) -> Result<(Option<&'a str>, Option<&'a str>), PublishError> {
    let expression = expression.trim();
    if expression.is_empty() {
        return Ok((None, license_url));
    }
    if !is_spdx_expression(expression) {
        return Err(invalid(
            channel,
            format!("license `{expression}` is not an SPDX license expression"),
            Some("write [project] license like `MIT`, `MIT OR Apache-2.0` or `(A AND B) OR C`"),
        ));
    }
    match license_url {
        None => Ok((Some(expression), Some(DEPRECATE_LICENSE_URL))),
        Some(url) if url == DEPRECATE_LICENSE_URL => Ok((Some(expression), Some(url))),
        Some(url) => Err(invalid(
            channel,
            format!(
                "license_url `{url}` cannot stand beside the license `{expression}`: NuGet \
                 allows only {DEPRECATE_LICENSE_URL} in <licenseUrl> once <license> is set"
            ),
            Some(
                "remove `license-url` from the channel: the nuspec names the license by \
                 [project] license",
            ),
        )),
    }
}

/// SPDX expression syntax (license ids, `+`, `AND`, `OR`, `WITH`,
/// parentheses); whether an id is on the SPDX list is NuGet's to say.
fn is_spdx_expression(text: &str) -> bool {
    let spaced = text.replace('(', " ( ").replace(')', " ) ");
    let mut depth = 0usize;
    // true: the next token must be an id or `(`.
    let mut want_operand = true;
    let mut after_with = false;
    for token in spaced.split_whitespace() {
        match token {
            "(" if want_operand && !after_with => depth += 1,
            ")" if !want_operand && depth > 0 => depth -= 1,
            "AND" | "OR" | "WITH" if !want_operand => {
                want_operand = true;
                after_with = token == "WITH";
                continue;
            }
            id if want_operand && is_license_id(id) => want_operand = false,
            _ => return false,
        }
        after_with = false;
    }
    !want_operand && depth == 0
}

fn is_license_id(id: &str) -> bool {
    let id = id.strip_suffix('+').unwrap_or(id);
    !id.is_empty()
        && !matches!(id, "AND" | "OR" | "WITH")
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_table() {
        let long_ok = "a".repeat(100);
        let long_bad = "a".repeat(101);
        let table: &[(&str, bool)] = &[
            ("hello", true),
            ("my-tool", true),
            ("my.tool.portable", true),
            ("tool2", true),
            ("7zip", true),
            (&long_ok, true),
            ("", false),
            (&long_bad, false),
            ("Hello", false),
            ("my_tool", false),
            ("my tool", false),
            ("-tool", false),
            ("tool.", false),
            ("a..b", false),
            ("a--b", false),
            ("a.-b", false),
            ("tool.config", false),
            ("tööl", false),
        ];
        for (id, ok) in table {
            assert_eq!(check_id("chocolatey", id).is_ok(), *ok, "{id:?}");
        }
    }

    #[test]
    fn default_id_passes_the_id_rules_for_plain_names() {
        let table = [
            ("Hello", "hello"),
            ("my_tool", "my-tool"),
            ("A.B-c", "a.b-c"),
        ];
        for (name, want) in table {
            assert_eq!(default_id(name), want);
            assert!(check_id("c", want).is_ok());
        }
    }

    #[test]
    fn url_table() {
        let table = [
            ("https://example.com/a.zip", true),
            ("http://example.com", true),
            ("https://example.com/a%20b?x=1&y='2'", true),
            ("ftp://example.com/a.zip", false),
            ("example.com/a.zip", false),
            ("https://", false),
            ("https:///path", false),
            ("https://example.com/a b", false),
            ("https://example.com/a\nb", false),
        ];
        for (url, ok) in table {
            assert_eq!(check_url("c", "projectUrl", url).is_ok(), ok, "{url:?}");
        }
    }

    #[test]
    fn text_tags_and_sha() {
        assert!(check_text("c", "summary", "tabs\tand\nnew lines\r ok ü").is_ok());
        let err = check_text("c", "summary", "bell\u{7}").unwrap_err();
        assert!(err.to_string().contains("U+0007"), "{err}");
        assert!(check_required("c", "description", " \n").is_err());
        assert!(check_required("c", "authors", "Ann").is_ok());

        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_tags("c", &tags(&["cli", "dev-tools"])).is_ok());
        assert!(check_tags("c", &tags(&["a b"])).is_err());
        assert!(check_tags("c", &tags(&["a,b"])).is_err());
        assert!(check_tags("c", &tags(&[""])).is_err());

        assert!(check_sha256("c", "f", &"ab".repeat(32)).is_ok());
        assert!(check_sha256("c", "f", &"AB".repeat(32)).is_err());
        assert!(check_sha256("c", "f", "abc").is_err());
    }
}
