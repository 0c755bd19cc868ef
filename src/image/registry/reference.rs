//! Image references (`registry/repository[:tag][@digest]`), parsed with
//! docker's rules so that a name written for `docker push` means the same
//! registry and repository here.
//!
//! Sits at the front of the push flow: `matrix` turns the user's image name
//! into a [`Reference`], and the registry client only ever sees the parsed,
//! validated parts. Nothing here touches the network.

use std::fmt;
use std::str::FromStr;

use super::RegistryError;

/// The registry name docker uses for Docker Hub.
pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's distribution API actually lives.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// Docker's limit on the length of a full name (registry plus repository).
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

const REPO_ALLOWED: &str = "repository path components are lowercase letters and digits, \
     separated inside a component by `.`, `_`, `__` or runs of `-`, and joined by `/` \
     (for example `acme/tool`)";
const TAG_ALLOWED: &str = "a tag is 1 to 128 characters of letters, digits, `_`, `.` and `-`, \
     not starting with `.` or `-` (for example `v1.2.0`)";
const DIGEST_ALLOWED: &str =
    "a digest is `sha256:` followed by 64 lowercase hex digits (or `sha512:` and 128)";
const HOST_ALLOWED: &str = "a registry is a host name or IP address with an optional `:port` \
     (for example `ghcr.io` or `localhost:5000`)";

/// A parsed image reference. The registry is always filled in (docker.io
/// when the name has none); tag and digest are kept optional so the caller
/// decides what "no tag" means (push by digest, fetch `latest`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses `name[:tag][@digest]`. The first path component is the
    /// registry when it contains `.` or `:` or is `localhost`; otherwise the
    /// image is on docker.io, and a one-component name gets `library/`.
    pub fn parse(input: &str) -> Result<Self, RegistryError> {
        let bad = |problem: String, allowed: &str| RegistryError::InvalidReference {
            input: input.to_owned(),
            problem,
            allowed: allowed.to_owned(),
        };
        if input.is_empty() {
            return Err(bad("the reference is empty".into(), REPO_ALLOWED));
        }
        let (name_tag, digest) = match input.split_once('@') {
            Some((n, d)) => {
                check_digest(d).map_err(|p| bad(p, DIGEST_ALLOWED))?;
                (n, Some(d.to_owned()))
            }
            None => (input, None),
        };
        // A `:` after the last `/` separates the tag; one before it belongs
        // to a registry port (`localhost:5000/app`).
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                let tag = &name_tag[at + 1..];
                check_tag(tag).map_err(|p| bad(p, TAG_ALLOWED))?;
                (&name_tag[..at], Some(tag.to_owned()))
            }
            None => (name_tag, None),
        };
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                check_host(first).map_err(|p| bad(p, HOST_ALLOWED))?;
                (first, rest)
            }
            _ => (DOCKER_HUB, name),
        };
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        check_repository(&repository).map_err(|p| bad(p, REPO_ALLOWED))?;
        if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
            return Err(bad(
                format!("the full name is longer than {MAX_NAME_LEN} characters"),
                REPO_ALLOWED,
            ));
        }
        Ok(Reference {
            registry: registry.to_owned(),
            repository,
            tag,
            digest,
        })
    }

    /// The registry as written (`docker.io`, `ghcr.io`, `localhost:5000`);
    /// this is also the key for credentials.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry (`library/alpine`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The same repository with another tag (and no digest), for pushing one
    /// image under several tags.
    pub fn with_tag(&self, tag: &str) -> Result<Self, RegistryError> {
        check_tag(tag).map_err(|problem| RegistryError::InvalidReference {
            input: format!("{}:{tag}", self.name()),
            problem,
            allowed: TAG_ALLOWED.to_owned(),
        })?;
        Ok(Reference {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        })
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The host:port the distribution API is served from.
    pub(crate) fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = RegistryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn check_repository(repo: &str) -> Result<(), String> {
    for component in repo.split('/') {
        check_component(component)
            .map_err(|p| format!("repository component `{component}` {p}"))?;
    }
    Ok(())
}

/// One path component: alphanumeric runs joined by `.`, `_`, `__` or `-+`.
fn check_component(c: &str) -> Result<(), String> {
    if c.is_empty() {
        return Err("is empty (doubled or trailing `/`?)".into());
    }
    if c.chars().any(|ch| ch.is_ascii_uppercase()) {
        return Err("contains uppercase letters; repository names must be lowercase".into());
    }
    if let Some(ch) = c
        .chars()
        .find(|&ch| !is_lower_alnum(ch) && !"._-".contains(ch))
    {
        return Err(format!("contains `{ch}`"));
    }
    let bytes = c.as_bytes();
    if !is_lower_alnum(bytes[0] as char) || !is_lower_alnum(bytes[bytes.len() - 1] as char) {
        return Err("must start and end with a letter or digit".into());
    }
    // Walk the separator runs between alphanumeric runs.
    let mut run = String::new();
    for ch in c.chars() {
        if is_lower_alnum(ch) {
            let ok = run.is_empty()
                || run == "."
                || run == "_"
                || run == "__"
                || run.chars().all(|s| s == '-');
            if !ok {
                return Err(format!("has the separator `{run}`"));
            }
            run.clear();
        } else {
            run.push(ch);
        }
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("the tag after `:` is empty".into());
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(format!(
            "the tag `{tag}` is longer than {MAX_TAG_LEN} characters"
        ));
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
    if let Some(c) = tag.chars().find(|&c| !ok_char(c)) {
        return Err(format!("the tag `{tag}` contains `{c}`"));
    }
    if tag.starts_with(['.', '-']) {
        return Err(format!("the tag `{tag}` starts with `{}`", &tag[..1]));
    }
    Ok(())
}

/// Checks `algorithm:hex`; only the algorithms OCI registers are accepted,
/// since a layout stores blobs under `blobs/<algorithm>/<hex>`.
pub(crate) fn check_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!("the digest `{digest}` has no `algorithm:` prefix"));
    };
    let want = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        other => return Err(format!("the digest algorithm `{other}` is not supported")),
    };
    if hex.len() != want
        || !hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        return Err(format!(
            "the digest `{digest}` does not have {want} lowercase hex digits"
        ));
    }
    Ok(())
}

fn check_host(host: &str) -> Result<(), String> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        // IPv6 literal: `[::1]:5000`.
        let Some((addr, after)) = rest.split_once(']') else {
            return Err(format!("the registry `{host}` has an unclosed `[`"));
        };
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("the registry `{host}` is not a valid IPv6 address"));
        }
        match after {
            "" => return Ok(()),
            p => match p.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return Err(format!("the registry `{host}` has text after `]`")),
            },
        }
    } else {
        match host.split_once(':') {
            Some((n, p)) => (Some(n), Some(p)),
            None => (Some(host), None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || port.parse::<u16>().is_err())
    {
        return Err(format!(
            "the registry `{host}` has an invalid port `{port}`"
        ));
    }
    if let Some(name) = name {
        for label in name.split('.') {
            let ok = !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(format!(
                    "the registry host `{name}` has an invalid label `{label}`"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// (input, registry, repository, tag, digest)
    type Case<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

    #[test]
    fn parses_like_docker() {
        let d = Some(D);
        let cases: &[Case] = &[
            ("alpine", "docker.io", "library/alpine", None, None),
            (
                "alpine:3.20",
                "docker.io",
                "library/alpine",
                Some("3.20"),
                None,
            ),
            ("acme/tool:v1", "docker.io", "acme/tool", Some("v1"), None),
            (
                "docker.io/alpine",
                "docker.io",
                "library/alpine",
                None,
                None,
            ),
            ("index.docker.io/acme/x", "docker.io", "acme/x", None, None),
            (
                "ghcr.io/acme/tool:1.0",
                "ghcr.io",
                "acme/tool",
                Some("1.0"),
                None,
            ),
            ("localhost/app", "localhost", "app", None, None),
            (
                "localhost:5000/a/b/c:t",
                "localhost:5000",
                "a/b/c",
                Some("t"),
                None,
            ),
            ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", None, None),
            ("[::1]:5000/app:x", "[::1]:5000", "app", Some("x"), None),
            // `host:port` alone is a name with a tag, as in docker.
            (
                "localhost:5000",
                "docker.io",
                "library/localhost",
                Some("5000"),
                None,
            ),
            (
                "my.reg/a__b.c-d---e_f",
                "my.reg",
                "a__b.c-d---e_f",
                None,
                None,
            ),
            (
                &*format!("alpine@{D}"),
                "docker.io",
                "library/alpine",
                None,
                d,
            ),
            (&*format!("r.io/x:t@{D}"), "r.io", "x", Some("t"), d),
        ];
        for (input, registry, repository, tag, digest) in cases {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e:?}"));
            assert_eq!(r.registry(), *registry, "{input}");
            assert_eq!(r.repository(), *repository, "{input}");
            assert_eq!(r.tag(), *tag, "{input}");
            assert_eq!(r.digest(), *digest, "{input}");
        }
    }

    #[test]
    fn display_is_canonical() {
        let cases = [
            ("alpine", "docker.io/library/alpine"),
            ("acme/tool:v1", "docker.io/acme/tool:v1"),
            ("localhost:5000/app:t", "localhost:5000/app:t"),
        ];
        for (input, want) in cases {
            assert_eq!(
                Reference::parse(input)
                    .map(|r| r.to_string())
                    .ok()
                    .as_deref(),
                Some(want)
            );
        }
        let with_digest = format!("r.io/x:t@{D}");
        assert_eq!(
            Reference::parse(&with_digest).map(|r| r.to_string()).ok(),
            Some(with_digest)
        );
    }

    #[test]
    fn rejects_with_reason() {
        // (input, fragment the problem must contain)
        let cases = [
            ("", "empty"),
            ("Alpine", "lowercase"),
            ("acme//tool", "empty"),
            ("acme/tool:", "tag after `:` is empty"),
            ("acme/tool:-x", "starts with `-`"),
            ("acme/tool:a/b", "contains `:`"),
            ("acme/-tool", "start and end"),
            ("acme/to..ol", "separator `..`"),
            ("acme/to_.ol", "separator `_.`"),
            ("acme/to ol", "contains ` `"),
            ("acme/tool@sha256:abc", "64 lowercase hex"),
            ("acme/tool@md5:abc", "`md5` is not supported"),
            ("acme/tool@abc", "no `algorithm:`"),
            ("reg.io:99999/app", "invalid port"),
            ("bad_host.io/app", "invalid label"),
            ("[::1/app", "unclosed"),
        ];
        for (input, fragment) in cases {
            match Reference::parse(input) {
                Err(RegistryError::InvalidReference {
                    input: i, problem, ..
                }) => {
                    assert_eq!(i, input);
                    assert!(problem.contains(fragment), "{input}: {problem}");
                }
                other => panic!("{input}: expected an error, got {other:?}"),
            }
        }
        let long = format!("r.io/{}", "a".repeat(260));
        assert!(Reference::parse(&long).is_err());
        assert!(Reference::parse(&format!("a:{}", "t".repeat(129))).is_err());
    }

    #[test]
    fn api_host_and_with_tag() {
        let hub = Reference::parse("alpine").ok();
        assert_eq!(
            hub.as_ref().map(|r| r.api_host()),
            Some("registry-1.docker.io")
        );
        let local = Reference::parse(&format!("localhost:5000/app@{D}")).ok();
        assert_eq!(local.as_ref().map(|r| r.api_host()), Some("localhost:5000"));
        let tagged = local
            .as_ref()
            .map(|r| r.with_tag("v2").map(|t| t.to_string()));
        assert_eq!(
            tagged.and_then(Result::ok).as_deref(),
            Some("localhost:5000/app:v2")
        );
        assert!(local.map(|r| r.with_tag("v 2").is_err()).unwrap_or(false));
    }
}
