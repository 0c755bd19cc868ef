//! Registry authentication: where credentials come from, how a 401
//! challenge is read, and how a bearer token is fetched.
//!
//! Sits under the registry client: the client tries every request
//! anonymously (or with the header it already has), and on a 401 asks this
//! module for a new `Authorization` value. This module owns the rule that
//! secrets are never shown: passwords, tokens and headers live in types
//! whose `Debug` is redacted, and no error carries them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

use super::{RegistryError, detail_from_body, query_escape, transport_error};

/// Env var names, in one place so errors and docs agree.
pub const ENV_USER: &str = "MATRIX_REGISTRY_USER";
pub const ENV_PASSWORD: &str = "MATRIX_REGISTRY_PASSWORD";
pub const ENV_INSECURE: &str = "MATRIX_INSECURE_REGISTRIES";

/// Where docker keeps Docker Hub credentials in config.json.
const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

/// A string that must never be printed (password, token, header value).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A user name and password (or access token). `Debug` shows the user only.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: Secret,
    /// Where they came from, for error messages ("MATRIX_REGISTRY_USER/...",
    /// "docker config /home/x/.docker/config.json").
    source: String,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: Secret(password.into()),
            source: "explicit credentials".into(),
        }
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    pub(crate) fn basic_header(&self) -> Secret {
        let raw = format!("{}:{}", self.username, self.password.0);
        Secret(format!("Basic {}", BASE64.encode(raw)))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .field("source", &self.source)
            .finish()
    }
}

/// What the client needs from the environment, gathered once so tests can
/// build it without touching the process environment.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// `host:port` entries spoken to over plain http (besides loopback).
    pub insecure_registries: Vec<String>,
    /// From MATRIX_REGISTRY_USER / MATRIX_REGISTRY_PASSWORD; used for every
    /// registry and preferred over the docker config.
    pub env_credentials: Option<Credentials>,
    /// The directory holding docker's config.json, if one is known.
    pub docker_config_dir: Option<PathBuf>,
}

impl ClientOptions {
    /// Reads MATRIX_INSECURE_REGISTRIES, MATRIX_REGISTRY_USER/PASSWORD,
    /// DOCKER_CONFIG and HOME.
    pub fn from_env() -> Result<Self, RegistryError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Like [`from_env`](Self::from_env) with a custom variable lookup.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, RegistryError> {
        let insecure_registries = get(ENV_INSECURE)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let non_empty = |key: &str| get(key).filter(|v| !v.is_empty());
        let env_credentials = match (non_empty(ENV_USER), non_empty(ENV_PASSWORD)) {
            (Some(user), Some(password)) => Some(Credentials {
                username: user,
                password: Secret(password),
                source: format!("{ENV_USER}/{ENV_PASSWORD}"),
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(RegistryError::PartialEnvCredentials {
                    set: ENV_USER,
                    missing: ENV_PASSWORD,
                });
            }
            (None, Some(_)) => {
                return Err(RegistryError::PartialEnvCredentials {
                    set: ENV_PASSWORD,
                    missing: ENV_USER,
                });
            }
        };
        let docker_config_dir = get("DOCKER_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                get("HOME")
                    .filter(|h| !h.is_empty())
                    .map(|h| Path::new(&h).join(".docker"))
            });
        Ok(ClientOptions {
            insecure_registries,
            env_credentials,
            docker_config_dir,
        })
    }

    /// Plain http for loopback hosts and the configured insecure list;
    /// https for everything else.
    pub(crate) fn scheme_for(&self, host: &str) -> &'static str {
        if is_loopback(host) || self.insecure_registries.iter().any(|h| h == host) {
            "http"
        } else {
            "https"
        }
    }

    /// Credentials for `registry` (as written in the reference): the env
    /// pair first, then docker's config.json.
    pub(crate) fn credentials_for(
        &self,
        registry: &str,
    ) -> Result<Option<Credentials>, RegistryError> {
        if let Some(creds) = &self.env_credentials {
            return Ok(Some(creds.clone()));
        }
        match &self.docker_config_dir {
            Some(dir) => docker_config_credentials(&dir.join("config.json"), registry),
            None => Ok(None),
        }
    }
}

/// True for `localhost`, 127.0.0.0/8 and ::1, with or without a port.
pub(crate) fn is_loopback(host: &str) -> bool {
    if let Ok(v6) = host.parse::<Ipv6Addr>() {
        return v6.is_loopback();
    }
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.split(':').next().unwrap_or(host),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
        || name.parse::<Ipv6Addr>().is_ok_and(|a| a.is_loopback())
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuthEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct DockerAuthEntry {
    #[serde(default)]
    auth: Option<String>,
}

/// Reduces a config.json key (`https://index.docker.io/v1/`, `ghcr.io`,
/// `http://localhost:5000`) to the registry name used in references.
fn normalize_config_key(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = rest.split('/').next().unwrap_or(rest);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        other => other,
    }
}

/// Looks `registry` up in a docker config.json; a missing file means no
/// credentials, a malformed one is an error (docker would refuse it too).
pub(crate) fn docker_config_credentials(
    path: &Path,
    registry: &str,
) -> Result<Option<Credentials>, RegistryError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RegistryError::DockerConfig {
                path: path.to_owned(),
                problem: e.to_string(),
            });
        }
    };
    let config: DockerConfig =
        serde_json::from_str(&text).map_err(|e| RegistryError::DockerConfig {
            path: path.to_owned(),
            problem: format!("not valid JSON ({e})"),
        })?;
    // Prefer the key docker itself writes; then any key naming the same host.
    let preferred = if registry == "docker.io" {
        DOCKER_HUB_CONFIG_KEY
    } else {
        registry
    };
    let entry = config.auths.get_key_value(preferred).or_else(|| {
        config
            .auths
            .iter()
            .find(|(k, _)| normalize_config_key(k) == registry)
    });
    let Some((key, entry)) = entry else {
        if config.creds_store.is_some() || config.cred_helpers.contains_key(registry) {
            // Credential helpers are external programs; matrix does not run
            // them, so the user has to use the env variables instead.
            tracing::debug!(%registry, "docker config uses a credential helper; not consulted");
        }
        return Ok(None);
    };
    let Some(encoded) = entry.auth.as_deref().filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let bad = |problem: &str| RegistryError::DockerConfig {
        path: path.to_owned(),
        problem: format!("auths.\"{key}\".auth {problem}"),
    };
    let decoded = BASE64
        .decode(encoded.trim())
        .map_err(|_| bad("is not valid base64"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad("is not UTF-8 once decoded"))?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or_else(|| bad("is not `user:password` once decoded"))?;
    Ok(Some(Credentials {
        username: user.to_owned(),
        password: Secret(password.to_owned()),
        source: format!("docker config {}", path.display()),
    }))
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses `Scheme k=v, k="quoted, value"`. Only the first challenge is
/// read; registries send one.
pub(crate) fn parse_challenge(header: &str) -> Result<Challenge, String> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    match scheme.to_ascii_lowercase().as_str() {
        // Basic's realm is only a label for people; nothing to read.
        "basic" => Ok(Challenge::Basic),
        "bearer" => {
            let params = parse_params(rest)?;
            let realm = params
                .get("realm")
                .cloned()
                .ok_or("the Bearer challenge has no realm")?;
            if !(realm.starts_with("https://") || realm.starts_with("http://")) {
                return Err(format!("the realm `{realm}` is not an http(s) URL"));
            }
            Ok(Challenge::Bearer {
                realm,
                service: params.get("service").cloned(),
                scope: params.get("scope").cloned(),
            })
        }
        "" => Err("the header is empty".into()),
        other => Err(format!(
            "the scheme `{other}` is not supported (only Basic and Bearer)"
        )),
    }
}

fn parse_params(mut s: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    loop {
        s = s.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if s.is_empty() {
            return Ok(out);
        }
        let Some((key, after)) = s.split_once('=') else {
            return Err(format!("expected `key=value` at `{s}`"));
        };
        let key = key.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, rest) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end.ok_or_else(|| format!("unterminated quote in the value of `{key}`"))?;
            (value, &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        out.insert(key, value);
        s = rest;
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// Fetches a bearer token from `realm` for `scopes`, sending basic
/// credentials when there are any (anonymous tokens allow public pulls).
pub(crate) fn fetch_token(
    agent: &ureq::Agent,
    registry: &str,
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    creds: Option<&Credentials>,
) -> Result<Secret, RegistryError> {
    let mut url = realm.to_owned();
    let mut params: Vec<(&str, &str)> = Vec::new();
    if let Some(service) = service {
        params.push(("service", service));
    }
    params.extend(scopes.iter().map(|s| ("scope", s.as_str())));
    for (k, v) in params {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(k);
        url.push('=');
        url.push_str(&query_escape(v));
    }
    let mut request = agent.get(&url);
    if let Some(creds) = creds {
        request = request.header("authorization", &creds.basic_header().0);
    }
    let mut response = request
        .call()
        .map_err(|e| transport_error(registry, &url, e))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .unwrap_or_default();
    let fail = |message: String, hint: String| RegistryError::Token {
        registry: registry.to_owned(),
        realm: realm.to_owned(),
        status,
        message,
        hint,
    };
    if status != 200 {
        let hint = match (status, creds) {
            (401 | 403, Some(c)) => format!(
                "the token service rejected the credentials from {}",
                c.source()
            ),
            (401 | 403, None) => format!(
                "the registry needs credentials: set {ENV_USER} and {ENV_PASSWORD}, or run `docker login {registry}`"
            ),
            _ => format!("check the token service answers: `curl -i '{realm}'`"),
        };
        return Err(fail(detail_from_body(&body), hint));
    }
    let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
        fail(
            format!(" - the answer is not token JSON ({e})"),
            "the token service is misbehaving; check its URL".into(),
        )
    })?;
    parsed
        .token
        .or(parsed.access_token)
        .filter(|t| !t.is_empty())
        .map(|t| Secret(format!("Bearer {t}")))
        .ok_or_else(|| {
            fail(
                " - the answer has no token".into(),
                "the token service is misbehaving; check its URL".into(),
            )
        })
}

#[cfg(test)]
mod tests;
