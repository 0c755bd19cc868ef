//! The Scoop channel: renders an app manifest (`<name>.json`) for a Scoop
//! bucket from the release's Windows archives.
//!
//! Part of `packager`; a pure function of [`ChannelInput`]: the caller writes
//! the text into the bucket. This file owns what Scoop expects (architecture
//! keys, `extract_dir` for archives wrapped in a folder, the `#/name` URL
//! suffix that names a bare executable, `checkver`, `autoupdate` URLs with
//! `$version`) and the template context; the layout is
//! `templates/scoop.json.j2`, which a user may replace. Whatever template
//! renders, the result must parse as JSON.
//!
//! Only Windows packages go in a manifest; the others the channel selected
//! are left out, so a Scoop channel needs no `when`.
//!
//! Variables a template sees: `release`, `packages` (the Windows ones),
//! `version`, `description`, `homepage`, `license` (Scoop's spelling: `|`
//! for OR, `,` for AND; empty when unset), `architectures` (a list of
//! `{name: "64bit"|"32bit"|"arm64", target, url, hash, extract_dir,
//! autoupdate: {url, extract_dir}}`), `bin`, `checkver` (a string or an
//! object, or none; always set when there is an autoupdate), `autoupdate`
//! (whether every URL carries the version). Filter: `tojson`
//! (a JSON literal of any value; `tojson(4)` indents).

use minijinja::value::{Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};
use serde::Serialize;

mod config;
mod plan;
mod write;

use super::error::PublishError;
use super::input::{ChannelInput, Package, Release};
use crate::package::archive::Format;

pub(super) use super::registry::{
    no_package as write_package, no_package_file as package_file, no_packages as per_target,
};
pub use config::ScoopConfig;
pub use plan::ScoopStep;
pub(super) use plan::{PACKAGER, check, check_urls, plan};
pub(super) use write::write;

#[cfg(test)]
mod tests;

/// The embedded manifest template.
pub const TEMPLATE: &str = include_str!("templates/scoop.json.j2");
const TEMPLATE_NAME: &str = "scoop.json.j2";
const USER_TEMPLATE_NAME: &str = "user template";

/// Settings of one Scoop channel.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScoopOptions {
    /// The channel's name in matrix.toml, for errors.
    pub channel: String,
    /// The executable Scoop puts on PATH, relative to the extracted
    /// archive; by default the package's binary.
    pub bin: Option<String>,
    /// `github`, or a regex Scoop matches against the homepage; by default
    /// see [`default_checkver`].
    pub checkver: Option<String>,
}

/// Renders the manifest, with the embedded template or `template` (the
/// text of a user's template).
pub fn render(
    input: &ChannelInput,
    opts: &ScoopOptions,
    template: Option<&str>,
) -> Result<String, PublishError> {
    let context = context(input, opts)?;
    let (name, source) = match template {
        Some(text) => (USER_TEMPLATE_NAME, text),
        None => (TEMPLATE_NAME, TEMPLATE),
    };
    let env = environment().map_err(|e| PublishError::template(&opts.channel, name, &e))?;
    let text = super::render::render(&env, &opts.channel, name, source, &context)?;
    // Scoop reads nothing else; a broken manifest should stop the release,
    // not the users' `scoop install`.
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&text) {
        return Err(PublishError::Template {
            channel: opts.channel.clone(),
            template: name.to_string(),
            message: format!("the result is not JSON: {e}"),
        });
    }
    Ok(text)
}

#[derive(Debug, Serialize)]
struct Context<'a> {
    release: &'a Release,
    packages: Vec<&'a Package>,
    version: &'a str,
    description: &'a str,
    homepage: &'a str,
    license: String,
    architectures: Vec<Arch>,
    bin: String,
    checkver: Option<serde_json::Value>,
    autoupdate: bool,
}

#[derive(Debug, Serialize)]
struct Arch {
    /// `64bit`, `32bit` or `arm64`.
    name: &'static str,
    target: String,
    url: String,
    hash: String,
    extract_dir: Option<String>,
    autoupdate: AutoArch,
}

/// The same entry with the version replaced by Scoop's `$version`.
#[derive(Debug, Serialize)]
struct AutoArch {
    url: String,
    extract_dir: Option<String>,
}

/// matrix arch -> Scoop architecture key, in the order manifests list them.
const ARCHES: [(&str, &str); 3] = [("amd64", "64bit"), ("386", "32bit"), ("arm64", "arm64")];

fn context<'a>(input: &'a ChannelInput, opts: &ScoopOptions) -> Result<Context<'a>, PublishError> {
    let invalid = |message: String, help: Option<&str>| PublishError::Invalid {
        channel: opts.channel.clone(),
        message,
        help: help.map(str::to_string),
    };
    let release = &input.release;
    let windows: Vec<&Package> = input
        .packages
        .iter()
        .filter(|p| p.platform.os == "windows")
        .collect();
    if windows.is_empty() {
        return Err(invalid(
            "the channel selects no Windows packages".into(),
            Some("Scoop installs Windows archives: build a windows target"),
        ));
    }
    let keyed = keyed(&windows, &invalid)?;

    // Scoop's schema requires a license; its bucket checks refuse a
    // manifest without one.
    if release.license.trim().is_empty() {
        return Err(invalid(
            "a Scoop manifest needs a license, and the release has none".into(),
            Some("set [project] license to an SPDX expression, e.g. license = \"MIT\""),
        ));
    }
    let version = release.version.as_str();
    let (architectures, bins) = architectures(&keyed, version);
    let bin = bin(opts, &bins, &invalid)?;
    // Without the version in every URL, `$version` would change nothing and
    // Scoop's autoupdate would keep installing this release.
    let autoupdate = architectures
        .iter()
        .all(|a| a.autoupdate.url.contains("$version"));
    let checkver = match &opts.checkver {
        Some(c) => Some(serde_json::Value::String(c.clone())),
        None => default_checkver(&release.homepage, &architectures, autoupdate),
    };
    // Scoop's `checkver` finds the new version that `autoupdate` puts in
    // the URLs; one without the other does nothing.
    if autoupdate && checkver.is_none() {
        return Err(invalid(
            "the manifest has autoupdate URLs but no way to find a new version".into(),
            Some(
                "set `checkver` in the channel: a regex with the version as its first group, matched against the homepage",
            ),
        ));
    }
    Ok(Context {
        release,
        packages: windows,
        version,
        description: release.description.trim(),
        homepage: release.homepage.trim(),
        license: scoop_license(&release.license),
        architectures,
        bin,
        checkver,
        autoupdate,
    })
}

/// The packages keyed by their Scoop architecture, in Scoop's order.
fn keyed<'a>(
    windows: &[&'a Package],
    invalid: &dyn Fn(String, Option<&str>) -> PublishError,
) -> Result<Vec<(&'static str, &'a Package)>, PublishError> {
    let mut keyed: Vec<(&'static str, &Package)> = Vec::new();
    for p in windows {
        let Some((_, key)) = ARCHES.iter().find(|(arch, _)| *arch == p.platform.arch) else {
            return Err(invalid(
                format!(
                    "{}: Scoop has no architecture for {}",
                    p.target, p.platform.arch
                ),
                Some("narrow the channel's `when` to windows amd64, 386 and arm64"),
            ));
        };
        if let Some((_, other)) = keyed.iter().find(|(k, _)| k == key) {
            return Err(invalid(
                format!(
                    "{} ({}) and {} ({}) both fill the {key} architecture",
                    other.target, other.file_name, p.target, p.file_name
                ),
                Some("narrow the channel's `when` so one package is left per architecture"),
            ));
        }
        keyed.push((key, *p));
    }
    keyed.sort_by_key(|(key, _)| ARCHES.iter().position(|(_, k)| k == key));
    Ok(keyed)
}

/// Each architecture's entry, and the executable each package installs.
fn architectures<'a>(
    keyed: &[(&'static str, &'a Package)],
    version: &str,
) -> (Vec<Arch>, Vec<(String, &'a Package)>) {
    let mut architectures = Vec::new();
    let mut bins: Vec<(String, &Package)> = Vec::new();
    for (name, p) in keyed {
        let (url, extract_dir, bin) = match (p.format, wrap_dir(p)) {
            // Scoop saves a download under the name after `#/`.
            (Format::Binary, _) => (format!("{}#/{}", p.url, p.binary), None, p.binary.clone()),
            (_, Some(dir)) => (
                p.url.clone(),
                Some(dir.to_string()),
                p.binary_in_archive[dir.len() + 1..].to_string(),
            ),
            (_, None) => (p.url.clone(), None, p.binary_in_archive.clone()),
        };
        bins.push((bin, p));
        architectures.push(Arch {
            name,
            target: p.target.clone(),
            autoupdate: AutoArch {
                url: url.replace(version, "$version"),
                extract_dir: extract_dir.as_ref().map(|d| d.replace(version, "$version")),
            },
            url,
            hash: p.sha256.clone(),
            extract_dir,
        });
    }
    (architectures, bins)
}

/// The executable to shim: `bin`, else the one every package installs.
fn bin(
    opts: &ScoopOptions,
    bins: &[(String, &Package)],
    invalid: &dyn Fn(String, Option<&str>) -> PublishError,
) -> Result<String, PublishError> {
    Ok(match &opts.bin {
        Some(bin) => bin.clone(),
        None => {
            let (first, first_p) = &bins[0];
            if let Some((odd, odd_p)) = bins.iter().find(|(b, _)| b != first) {
                return Err(invalid(
                    format!(
                        "{} installs `{first}` but {} installs `{odd}`",
                        first_p.target, odd_p.target
                    ),
                    Some("set `bin` in the channel"),
                ));
            }
            first.clone()
        }
    })
}

/// The folder everything in the archive sits in, if there is exactly one;
/// `extract_dir` then makes Scoop install its content.
fn wrap_dir(p: &Package) -> Option<&str> {
    let (dir, _) = p.binary_in_archive.split_once('/')?;
    p.files
        .iter()
        .all(|f| {
            f.strip_prefix(dir)
                .is_some_and(|rest| rest.starts_with('/'))
        })
        .then_some(dir)
}

/// How Scoop finds a newer version, when the channel does not say:
/// - downloads that are all GitHub release assets of one repository:
///   `{"github": "https://github.com/<owner>/<repo>"}` (Scoop reads the
///   repository's latest release);
/// - a homepage that is a GitHub repository: `"github"` (the same, for the
///   homepage);
/// - otherwise, when there is an autoupdate: `{"url": homepage, "regex":
///   ...}`, the regex being the first autoupdate URL's file name with
///   `$version` as the captured group, so the page must link the archive.
fn default_checkver(
    homepage: &str,
    architectures: &[Arch],
    autoupdate: bool,
) -> Option<serde_json::Value> {
    use serde_json::json;
    let repos: Vec<Option<&str>> = architectures
        .iter()
        .map(|a| github_release_repo(&a.url))
        .collect();
    if let Some(Some(first)) = repos.first()
        && repos.iter().all(|r| r == &Some(*first))
    {
        return Some(json!({ "github": first }));
    }
    if is_github_repo(homepage) {
        return Some(json!("github"));
    }
    if !autoupdate || homepage.trim().is_empty() {
        return None;
    }
    let url = &architectures.first()?.autoupdate.url;
    let url = url.split_once("#/").map_or(url.as_str(), |(u, _)| u);
    let file = url.rsplit('/').next().unwrap_or(url);
    let regex = regex::escape(file).replace(r"\$version", VERSION_GROUP);
    Some(json!({ "url": homepage.trim(), "regex": regex }))
}

/// For the plan: whether a manifest with these download URLs and no
/// `checkver` of its own would have autoupdate URLs (each carries the
/// version) and no way to find a new version, the error [`render`] would
/// otherwise give only after every build has run.
pub fn lacks_checkver(homepage: &str, version: &str, urls: &[&str]) -> bool {
    if version.is_empty() || urls.is_empty() || !urls.iter().all(|u| u.contains(version)) {
        return false;
    }
    let repos: Vec<Option<&str>> = urls.iter().map(|u| github_release_repo(u)).collect();
    let one_repo = repos[0].is_some() && repos.iter().all(|r| *r == repos[0]);
    !one_repo && !is_github_repo(homepage) && homepage.trim().is_empty()
}

/// A release version as `checkver` captures it: digits and dots, then an
/// optional pre-release part (`1.2.3`, `2026.01.5`, `1.2.3-rc.1`).
const VERSION_GROUP: &str = r"([\d.]+(?:-[0-9A-Za-z.]+)?)";

/// `https://github.com/<owner>/<repo>` for a release asset URL
/// (`.../<owner>/<repo>/releases/download/<tag>/<file>`).
fn github_release_repo(url: &str) -> Option<&str> {
    let path = url.strip_prefix("https://github.com/")?;
    let mut parts = path.splitn(5, '/');
    let (owner, repo) = (parts.next()?, parts.next()?);
    let ok = !owner.is_empty()
        && !repo.is_empty()
        && parts.next() == Some("releases")
        && parts.next() == Some("download")
        && parts.next().is_some_and(|rest| rest.contains('/'));
    ok.then(|| &url[.."https://github.com/".len() + owner.len() + 1 + repo.len()])
}

/// Scoop's `checkver: "github"` reads `<homepage>/releases/latest`, so the
/// homepage must be the repository itself.
fn is_github_repo(homepage: &str) -> bool {
    homepage
        .trim()
        .strip_prefix("https://github.com/")
        .map(|path| path.trim_end_matches('/'))
        .is_some_and(|path| {
            let parts: Vec<&str> = path.split('/').collect();
            parts.len() == 2 && parts.iter().all(|p| !p.is_empty())
        })
}

/// Scoop writes dual licenses `A|B` and combined ones `A,B`; anything more
/// involved (parentheses, mixed operators, WITH) stays as SPDX text.
fn scoop_license(expression: &str) -> String {
    let tokens: Vec<&str> = expression.split_whitespace().collect();
    let ids: Vec<&str> = tokens.iter().step_by(2).copied().collect();
    let operators: Vec<String> = tokens
        .iter()
        .skip(1)
        .step_by(2)
        .map(|t| t.to_ascii_uppercase())
        .collect();
    let plain = ids.iter().all(|id| {
        !id.contains(['(', ')'])
            && !["AND", "OR", "WITH"].contains(&id.to_ascii_uppercase().as_str())
    });
    let single = |op: &str| !operators.is_empty() && operators.iter().all(|o| o == op);
    if plain && tokens.len() % 2 == 1 && single("OR") {
        ids.join("|")
    } else if plain && tokens.len() % 2 == 1 && single("AND") {
        ids.join(",")
    } else {
        tokens.join(" ")
    }
}

fn environment() -> Result<Environment<'static>, Error> {
    let mut env = super::render::environment()?;
    env.add_filter("tojson", tojson);
    Ok(env)
}

/// `{{ x | tojson }}`: `x` as a JSON literal, compact, or pretty-printed
/// with `indent` spaces.
fn tojson(value: &Value, indent: Option<usize>) -> Result<Value, Error> {
    let json = value_to_json(value)?;
    let text = match indent {
        None => serde_json::to_string(&json),
        Some(n) => {
            let indent = vec![b' '; n];
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(&indent);
            let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
            json.serialize(&mut ser)
                .map(|()| String::from_utf8_lossy(&out).into_owned())
        }
    }
    .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
    Ok(Value::from_safe_string(text))
}

fn value_to_json(value: &Value) -> Result<serde_json::Value, Error> {
    use serde_json::Value as J;
    Ok(match value.kind() {
        ValueKind::None => J::Null,
        ValueKind::Bool => J::Bool(value.is_true()),
        ValueKind::Number => match value.as_i64() {
            Some(i) => J::from(i),
            None => f64::try_from(value.clone())
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(J::Number)
                .unwrap_or(J::Null),
        },
        ValueKind::String => J::String(value.as_str().unwrap_or_default().to_string()),
        ValueKind::Seq | ValueKind::Iterable => J::Array(
            value
                .try_iter()?
                .map(|v| value_to_json(&v))
                .collect::<Result<_, _>>()?,
        ),
        ValueKind::Map => {
            let mut map = serde_json::Map::new();
            for key in value.try_iter()? {
                let item = value.get_item(&key)?;
                map.insert(key.to_string(), value_to_json(&item)?);
            }
            J::Object(map)
        }
        kind => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("a value of kind {kind} cannot be written as JSON"),
            ));
        }
    })
}
