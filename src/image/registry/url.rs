//! URL plumbing for the registry client: resolving upload `Location`
//! headers and adding query parameters. Kept apart so the rules (absolute,
//! origin-relative and path-relative locations, existing query strings)
//! are tested on their own.

/// Resolves an upload `Location` against the request it answered:
/// absolute URLs are kept, `/path` is joined to the registry origin, and a
/// bare relative path to the request's directory.
pub(super) fn join_location(base: &str, request_url: &str, location: &str) -> String {
    if location.contains("://") {
        location.to_owned()
    } else if let Some(rest) = location.strip_prefix("//") {
        let scheme = base.split("://").next().unwrap_or("https");
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        let path = request_url.split('?').next().unwrap_or(request_url);
        let dir = path.rfind('/').map_or(path, |i| &path[..=i]);
        format!("{dir}{location}")
    }
}

/// Adds `key=value` to a URL that may already carry a query string.
pub(super) fn append_query(url: &str, key: &str, value: &str) -> String {
    let sep = match url.find('?') {
        None => "?",
        Some(_) if url.ends_with(['?', '&']) => "",
        Some(_) => "&",
    };
    format!("{url}{sep}{key}={}", query_escape(value))
}

/// Percent-encodes everything outside RFC 3986's unreserved set.
pub(crate) fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_joining() {
        let base = "http://localhost:5000";
        let req = "http://localhost:5000/v2/app/blobs/uploads/";
        // (location, expected upload URL once the digest is added)
        let cases = [
            (
                "/v2/app/blobs/uploads/u1?_state=abc",
                "http://localhost:5000/v2/app/blobs/uploads/u1?_state=abc&digest=sha256%3Aab",
            ),
            (
                "/v2/app/blobs/uploads/u1",
                "http://localhost:5000/v2/app/blobs/uploads/u1?digest=sha256%3Aab",
            ),
            (
                "https://cdn.example/up/u2?sig=x%2By",
                "https://cdn.example/up/u2?sig=x%2By&digest=sha256%3Aab",
            ),
            ("//other:5000/u3", "http://other:5000/u3?digest=sha256%3Aab"),
            (
                "u4?",
                "http://localhost:5000/v2/app/blobs/uploads/u4?digest=sha256%3Aab",
            ),
        ];
        for (location, want) in cases {
            assert_eq!(
                append_query(&join_location(base, req, location), "digest", "sha256:ab"),
                want,
                "{location}"
            );
        }
    }
}
