//! The Chocolatey channel: a nuspec, the install (and optional uninstall)
//! script, and the `.nupkg` itself, written natively (no `choco pack`).
//!
//! Part of `packager`. `exec` builds a [`ChannelInput`] from the finished
//! windows archives, calls [`render`] (pure: text out) and then
//! [`write_nupkg`] (the one function here that touches the disk).
//!
//! Decisions, with Chocolatey's reasons:
//! - Architectures: Chocolatey's helpers know a 32-bit URL (`-Url`) and a
//!   64-bit one (`-Url64bit`), nothing else. `windows/386` fills the first,
//!   `windows/amd64` the second. `windows/arm64` is an error: on an ARM64
//!   machine Chocolatey picks the 32-bit URL (x86 emulation), so an arm64
//!   build in the 64-bit slot would only ever be installed on x64 machines,
//!   where it cannot run (native ARM support, choco#1803, is not released).
//! - Formats: zip archives install with `Install-ChocolateyZipPackage`, a
//!   bare binary (`Format::Binary`) with `Get-ChocolateyWebFile`; Windows'
//!   PowerShell helpers cannot unpack tar, so tar.* is an error.
//! - Uninstall: none by default. Both installs put the files inside the
//!   package's own folder (`lib\<id>\tools`), which Chocolatey deletes on
//!   uninstall, together with the shims it generated for the `.exe` files
//!   there. An uninstall script could only repeat that. The embedded
//!   uninstall template therefore renders to nothing; a user template that
//!   renders to text yields `chocolateyuninstall.ps1`.
//! - Versions: see [`choco_version`].
//! - License: `[project] license` becomes `<license
//!   type="expression">`, with NuGet's placeholder
//!   `https://aka.ms/deprecateLicenseUrl` as `<licenseUrl>` for clients
//!   older than that element (what `nuget pack` writes). NuGet allows no
//!   other `licenseUrl` beside `<license>`, so a channel `license-url`
//!   is then an error; without a project license it stands alone.

mod config;
mod nupkg;
mod plan;
mod validate;
mod version;
mod write;

#[cfg(test)]
mod tests;

use minijinja::{AutoEscape, Environment, Value, escape_formatter};
use serde::Serialize;

use super::PublishError;
use super::input::{ChannelInput, Package, Release};
use crate::package::archive::Format;

pub(super) use super::registry::{
    no_check as check, no_package as write_package, no_package_file as package_file,
    no_packages as per_target, no_url_check as check_urls,
};
pub use config::ChocolateyConfig;
pub use nupkg::{nupkg_file_name, write_nupkg};
pub use plan::ChocolateyStep;
pub(super) use plan::{PACKAGER, plan};
pub use validate::default_id;
pub use version::choco_version;
pub(super) use write::write;

/// The formats Chocolatey's install helpers take: a zip
/// (`Install-ChocolateyZipPackage`) or a bare binary
/// (`Get-ChocolateyWebFile`). An allow-list, so a format added to
/// [`Format`] is refused here (and by the plan) until the install script
/// learns it.
pub fn installs(format: Format) -> bool {
    matches!(format, Format::Zip | Format::Binary)
}

/// The channel name errors carry when no channel is known.
const CHANNEL_DEFAULT: &str = "chocolatey";

const NUSPEC_TEMPLATE: &str = include_str!("templates/chocolatey.nuspec.j2");
const INSTALL_TEMPLATE: &str = include_str!("templates/chocolateyinstall.ps1.j2");
const UNINSTALL_TEMPLATE: &str = include_str!("templates/chocolateyuninstall.ps1.j2");

/// The channel's settings (from `matrix.toml`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ChocoOptions {
    /// The channel's name in matrix.toml, used in errors.
    pub channel: String,
    /// Package id; [`default_id`] of the project name when not configured.
    pub id: String,
    /// Defaults to the project name.
    pub title: Option<String>,
    pub authors: String,
    pub owners: Option<String>,
    pub tags: Vec<String>,
    /// Defaults to the release's homepage.
    pub project_url: Option<String>,
    pub license_url: Option<String>,
    pub package_source_url: Option<String>,
    pub project_source_url: Option<String>,
    pub docs_url: Option<String>,
    pub bug_tracker_url: Option<String>,
    pub summary: Option<String>,
    pub release_notes: Option<String>,
    pub icon_url: Option<String>,
}

/// User templates replacing the embedded ones (their text, not a path).
#[derive(Debug, Clone, Copy, Default)]
pub struct ChocoTemplates<'a> {
    pub nuspec: Option<&'a str>,
    pub install: Option<&'a str>,
    pub uninstall: Option<&'a str>,
}

/// The rendered package sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChocoFiles {
    /// `<id>.nuspec`
    pub nuspec: String,
    /// `tools/chocolateyinstall.ps1`
    pub install: String,
    /// `tools/chocolateyuninstall.ps1`; `None` when the uninstall template
    /// renders to whitespace only (the default, see the module docs).
    pub uninstall: Option<String>,
}

/// What the templates see.
#[derive(Debug, Serialize)]
struct Context<'a> {
    id: &'a str,
    /// The Chocolatey version ([`choco_version`]), not the SemVer one.
    version: String,
    title: &'a str,
    authors: &'a str,
    owners: Option<&'a str>,
    /// Space separated, as the nuspec wants them.
    tags: String,
    tag_list: &'a [String],
    project_url: Option<&'a str>,
    /// `[project] license`, for `<license type="expression">`.
    license: Option<&'a str>,
    license_url: Option<&'a str>,
    package_source_url: Option<&'a str>,
    project_source_url: Option<&'a str>,
    docs_url: Option<&'a str>,
    bug_tracker_url: Option<&'a str>,
    summary: Option<&'a str>,
    description: &'a str,
    release_notes: Option<&'a str>,
    icon_url: Option<&'a str>,
    release: &'a Release,
    install: Install,
}

/// How the install script fetches the program.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
struct Install {
    /// `zip` (Install-ChocolateyZipPackage) or `file` (Get-ChocolateyWebFile).
    kind: &'static str,
    /// For `file`: the name the executable is saved under in `tools\`.
    file_name: Option<String>,
    /// The `-Url` download (windows/386).
    x86: Option<Download>,
    /// The `-Url64bit` download (windows/amd64).
    x64: Option<Download>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
struct Download {
    target: String,
    url: String,
    sha256: String,
    file_name: String,
}

/// Renders the nuspec and the scripts for the windows packages of `input`.
pub fn render(
    input: &ChannelInput,
    opts: &ChocoOptions,
    templates: ChocoTemplates<'_>,
) -> Result<ChocoFiles, PublishError> {
    let channel = channel_name(opts);
    let ctx = context(channel, input, opts)?;
    let value = Value::from(minijinja::value::Serde(&ctx));
    let nuspec = render_one(
        channel,
        "chocolatey.nuspec.j2",
        templates.nuspec,
        NUSPEC_TEMPLATE,
        true,
        &value,
    )?;
    let install = render_one(
        channel,
        "chocolateyinstall.ps1.j2",
        templates.install,
        INSTALL_TEMPLATE,
        false,
        &value,
    )?;
    if install.trim().is_empty() {
        return Err(PublishError::Invalid {
            channel: channel.to_string(),
            message: "the install script template rendered to nothing".to_string(),
            help: Some("a Chocolatey package needs tools/chocolateyinstall.ps1".to_string()),
        });
    }
    let uninstall = render_one(
        channel,
        "chocolateyuninstall.ps1.j2",
        templates.uninstall,
        UNINSTALL_TEMPLATE,
        false,
        &value,
    )?;
    let uninstall = (!uninstall.trim().is_empty()).then_some(uninstall);
    Ok(ChocoFiles {
        nuspec,
        install,
        uninstall,
    })
}

fn channel_name(opts: &ChocoOptions) -> &str {
    if opts.channel.is_empty() {
        CHANNEL_DEFAULT
    } else {
        &opts.channel
    }
}

/// Validates every value and assembles the template context.
fn context<'a>(
    channel: &str,
    input: &'a ChannelInput,
    opts: &'a ChocoOptions,
) -> Result<Context<'a>, PublishError> {
    let release = &input.release;
    validate::check_id(channel, &opts.id)?;
    let version = version::map_version(channel, &release.version)?;
    validate::check_required(channel, "authors", &opts.authors)?;
    validate::check_required(channel, "description", &release.description)?;
    let title = opts.title.as_deref().unwrap_or(&release.name);
    validate::check_required(channel, "title", title)?;
    for (field, text) in [
        ("owners", &opts.owners),
        ("summary", &opts.summary),
        ("release_notes", &opts.release_notes),
    ] {
        if let Some(text) = text {
            validate::check_text(channel, field, text)?;
        }
    }
    validate::check_tags(channel, &opts.tags)?;
    let project_url = opts
        .project_url
        .as_deref()
        .or((!release.homepage.is_empty()).then_some(release.homepage.as_str()));
    for (field, url) in [
        ("project_url", project_url),
        ("license_url", opts.license_url.as_deref()),
        ("package_source_url", opts.package_source_url.as_deref()),
        ("project_source_url", opts.project_source_url.as_deref()),
        ("docs_url", opts.docs_url.as_deref()),
        ("bug_tracker_url", opts.bug_tracker_url.as_deref()),
        ("icon_url", opts.icon_url.as_deref()),
    ] {
        if let Some(url) = url {
            validate::check_url(channel, field, url)?;
        }
    }
    let (license, license_url) =
        validate::license(channel, &release.license, opts.license_url.as_deref())?;
    Ok(Context {
        id: &opts.id,
        version,
        title,
        authors: &opts.authors,
        owners: opts.owners.as_deref(),
        tags: opts.tags.join(" "),
        tag_list: &opts.tags,
        project_url,
        license,
        license_url,
        package_source_url: opts.package_source_url.as_deref(),
        project_source_url: opts.project_source_url.as_deref(),
        docs_url: opts.docs_url.as_deref(),
        bug_tracker_url: opts.bug_tracker_url.as_deref(),
        summary: opts.summary.as_deref(),
        description: &release.description,
        release_notes: opts.release_notes.as_deref(),
        icon_url: opts.icon_url.as_deref(),
        release,
        install: install_plan(channel, &input.packages)?,
    })
}

/// Picks the 32-bit and 64-bit downloads out of the selected packages.
fn install_plan(channel: &str, packages: &[Package]) -> Result<Install, PublishError> {
    let invalid = |message: String, help: &str| PublishError::Invalid {
        channel: channel.to_string(),
        message,
        help: Some(help.to_string()),
    };
    let mut x86: Option<&Package> = None;
    let mut x64: Option<&Package> = None;
    // Chocolatey is Windows-only: other systems' packages are simply not
    // this channel's (the same input may carry them for other channels).
    for p in packages.iter().filter(|p| p.os == "windows") {
        let slot = match p.arch.as_str() {
            "386" => &mut x86,
            "amd64" => &mut x64,
            other => {
                return Err(invalid(
                    format!(
                        "{}: Chocolatey has no install slot for windows/{other}; it knows \
                         only 32-bit (386) and 64-bit x64 (amd64) downloads, and picks the \
                         32-bit one on ARM64 machines",
                        p.target
                    ),
                    "limit the channel's `when` to windows/amd64 and windows/386; Windows \
                     on ARM runs those under emulation",
                ));
            }
        };
        if let Some(first) = slot {
            return Err(invalid(
                format!(
                    "two packages for {}: {} and {}",
                    p.target, first.file_name, p.file_name
                ),
                "narrow the channel's `when` so one archive per architecture remains",
            ));
        }
        if !installs(p.format) {
            return Err(invalid(
                format!(
                    "{} is a {} archive; Chocolatey's install helpers unpack zip only",
                    p.file_name,
                    p.format.extension().trim_start_matches('.')
                ),
                "add a format override so windows targets are packaged as zip \
                 (format-overrides: os = \"windows\", format = \"zip\")",
            ));
        }
        validate::check_url(channel, &format!("{} url", p.file_name), &p.url)?;
        validate::check_sha256(channel, &p.file_name, &p.sha256)?;
        *slot = Some(p);
    }
    let present: Vec<&Package> = [x86, x64].into_iter().flatten().collect();
    if present.is_empty() {
        return Err(invalid(
            "no windows/amd64 or windows/386 package was selected".to_string(),
            "build a windows target and include it in the channel's `when`",
        ));
    }
    let file_name = bare_binary(&present, &invalid)?;
    let download = |p: &Package| Download {
        target: p.target.clone(),
        url: p.url.clone(),
        sha256: p.sha256.clone(),
        file_name: p.file_name.clone(),
    };
    Ok(Install {
        kind: if file_name.is_some() { "file" } else { "zip" },
        file_name,
        x86: x86.map(download),
        x64: x64.map(download),
    })
}

/// The downloads' file name when they are bare binaries (one format and
/// one binary name for both), `None` for zip archives.
fn bare_binary(
    present: &[&Package],
    invalid: &dyn Fn(String, &str) -> PublishError,
) -> Result<Option<String>, PublishError> {
    let first = present[0];
    if present.iter().any(|p| p.format != first.format) {
        return Err(invalid(
            "the 32-bit and 64-bit windows packages have different formats".to_string(),
            "package both windows targets in the same format (zip)",
        ));
    }
    Ok(if first.format == Format::Binary {
        if present.iter().any(|p| p.binary != first.binary) {
            return Err(invalid(
                "the 32-bit and 64-bit windows binaries have different names".to_string(),
                "give both the same binary name so one shim serves both",
            ));
        }
        Some(first.binary.clone())
    } else {
        None
    })
}

fn render_one(
    channel: &str,
    name: &'static str,
    user: Option<&str>,
    embedded: &'static str,
    xml: bool,
    ctx: &Value,
) -> Result<String, PublishError> {
    let shown = if user.is_some() {
        format!("{name} (user template)")
    } else {
        name.to_string()
    };
    let fail = |e: minijinja::Error| PublishError::template(channel, &shown, &e);
    let env = environment(xml).map_err(fail)?;
    let tmpl = env
        .template_from_named_str(name, user.unwrap_or(embedded))
        .map_err(fail)?;
    tmpl.render(ctx).map_err(fail)
}

/// The shared template environment. XML templates escape every printed
/// value (a user template cannot forget to); PowerShell has no escaping
/// that fits every position, so the scripts quote with `psq` explicitly.
fn environment(xml: bool) -> Result<Environment<'static>, minijinja::Error> {
    let mut env = super::render::environment()?;
    if xml {
        env.set_auto_escape_callback(|_| AutoEscape::Custom("xml".into()));
        env.set_formatter(|out, state, value| match state.auto_escape() {
            AutoEscape::Custom(name) if name == "xml" && !value.is_safe() => {
                out.write_str(&xml_escape(&value.to_string()))?;
                Ok(())
            }
            AutoEscape::Custom(name) if name == "xml" => {
                out.write_str(&value.to_string())?;
                Ok(())
            }
            _ => escape_formatter(out, state, value),
        });
    }
    env.add_filter("psq", |s: &str| Value::from_safe_string(ps_quote(s)));
    Ok(env)
}

/// Escapes text for XML content and attribute values alike.
pub(super) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A PowerShell single-quoted (verbatim) string: nothing inside expands, a
/// quote is written twice. PowerShell also treats the typographic single
/// quotes U+2018..U+201B as quote characters, so those are doubled too.
fn ps_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}
