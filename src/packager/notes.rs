//! Release notes: renders dist/RELEASE_NOTES.md from the release, its
//! archives and images, and the project's changelog.
//!
//! Part of `packager`, after the build: the caller gathers a [`NotesInput`]
//! (the release, the checksums file's name, every archive, every image
//! variant, the CHANGELOG text) and writes what [`render`] returns. The
//! outline is the one release processes like kruntimes' ask for: Summary,
//! Breaking Changes, Upgrade Notes, Images, Verification, Known
//! Limitations, Changelog. [`changelog`] finds the version's section; this
//! file decides what each part says and renders the embedded (or the
//! user's) minijinja template. Pure: no I/O, no clock.

mod changelog;
mod verify;

pub use changelog::{Section, changelog_section};
pub use verify::{
    Check, GITHUB_OIDC_ISSUER, Signature, SignatureKind, Verification, workflow_identity,
};

use serde::Serialize;

use super::error::PublishError;
use super::input::{Package, Release};

const CHANNEL: &str = "release-notes";
const TEMPLATE_NAME: &str = "release_notes.md.j2";
const TEMPLATE: &str = include_str!("templates/release_notes.md.j2");

/// One container image variant as the notes list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageNote {
    /// The variant's id, e.g. `hello-debian`.
    pub id: String,
    /// Tags in the order the config gives them (`1.2.3-debian`, `latest`).
    pub tags: Vec<String>,
    /// Repositories it was pushed to (`ghcr.io/o/hello`); empty when not
    /// pushed.
    pub repositories: Vec<String>,
    /// Digest of the image index, `sha256:...`.
    pub digest: String,
    /// Platforms in the index, e.g. `linux/amd64`.
    pub platforms: Vec<String>,
}

/// Everything the notes are written from.
#[derive(Debug, Clone)]
pub struct NotesInput<'a> {
    pub release: &'a Release,
    /// File name of the checksums file in dist/.
    pub checksums_file: &'a str,
    /// The algorithm of the checksums file (names the commands).
    pub algorithm: crate::package::checksum::Algorithm,
    /// All archives, in plan order, for the downloads table.
    pub packages: &'a [Package],
    pub images: &'a [ImageNote],
    /// The changelog's text; `None` when the file does not exist.
    pub changelog: Option<&'a str>,
    /// The changelog's path as the user knows it (`CHANGELOG.md`).
    pub changelog_path: &'a str,
    /// `[release-notes] known-limitations` text, if configured.
    pub known_limitations: Option<&'a str>,
    /// Signatures, provenance and attestations to check, as planned.
    pub verification: &'a Verification,
}

/// The rendered notes and what the user should know about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub warnings: Vec<String>,
}

/// Renders the release notes with the embedded template, or with
/// `template` (the text of the user's own) when given.
///
/// A release needs the changelog section of its version: a missing file or
/// section is [`PublishError::Invalid`]. A snapshot only warns, and shows
/// the Unreleased entries instead when there are any.
pub fn render(input: &NotesInput, template: Option<&str>) -> Result<Rendered, PublishError> {
    let release = input.release;
    let date = release_date(release)?;
    let mut warnings = Vec::new();
    let (section, note) = find_section(input, &date, &mut warnings)?;

    let (breaking, upgrade_notes) = match &section {
        Some(s) => (
            s.breaking.iter().map(|e| list_item(e)).collect(),
            s.upgrade_notes.clone(),
        ),
        None => (Vec::new(), None),
    };
    let context = Context {
        release,
        date,
        experimental: is_v0(&release.version),
        summary: summary(release),
        breaking,
        upgrade_notes,
        images: input.images.iter().map(ImageContext::new).collect(),
        image_commands: image_commands(input.images),
        packages: input.packages.iter().map(Download::new).collect(),
        checksums_file: input.checksums_file,
        example_target: example(input.packages).map(|p| p.target.as_str()),
        checksum_commands: checksum_commands(input),
        other_checks: other_checks(input),
        checksum_tool: input.algorithm.check_command(),
        checksum_digest: format!("SHA-{}", bits(input)),
        checks: verify::checks(input),
        known_limitations: input
            .known_limitations
            .map(str::trim)
            .filter(|t| !t.is_empty()),
        changelog: ChangelogContext::new(input, section.as_ref(), note),
    };

    let (source, name) = match template {
        Some(text) => (text, "custom release notes template"),
        None => (TEMPLATE, TEMPLATE_NAME),
    };
    // Exactly one newline at the end, whatever the template's last lines.
    let mut text = render_template(source, name, &context)?
        .trim_end()
        .to_string();
    text.push('\n');
    Ok(Rendered { text, warnings })
}

/// Picks the changelog section the notes show, and the sentence that says
/// where it came from when it is not the version's own.
fn find_section(
    input: &NotesInput,
    date: &str,
    warnings: &mut Vec<String>,
) -> Result<(Option<Section>, Option<String>), PublishError> {
    let release = input.release;
    let (path, version) = (input.changelog_path, release.version.as_str());
    let heading = format!("## [{version}] - {date}");
    let Some(text) = input.changelog else {
        if !release.is_snapshot {
            return Err(invalid(
                format!(
                    "{path} not found; the release notes of {version} are written from its `## [{version}]` section"
                ),
                format!("create {path} in the Keep a Changelog format with a `{heading}` section"),
            ));
        }
        warnings.push(format!(
            "{path} not found: the notes of snapshot {version} have no changelog entry"
        ));
        return Ok((
            None,
            Some(format!(
                "`{path}` does not exist, so this snapshot has no changelog entry."
            )),
        ));
    };
    let unreleased = changelog_section(text, "Unreleased").filter(|s| !s.groups.is_empty());
    if let Some(section) = changelog_section(text, version) {
        if section.groups.is_empty() {
            warnings.push(format!(
                "{path}: the section of {version} (line {}) has no entries",
                section.heading_line
            ));
        }
        if let Some(u) = unreleased.filter(|_| !release.is_snapshot) {
            warnings.push(format!(
                "{path}: the Unreleased section (line {}) still has entries, and they are not in the notes of {version}; move them under `## [{version}]` if they belong to this release",
                u.heading_line
            ));
        }
        return Ok((Some(section), None));
    }
    if !release.is_snapshot {
        return Err(invalid(
            format!("{path} has no section for version {version}"),
            format!(
                "add a `{heading}` heading to {path}, or rename `## [Unreleased]` to it and start a new empty Unreleased section above"
            ),
        ));
    }
    match unreleased {
        Some(u) => {
            warnings.push(format!(
                "{path} has no section for {version}; the snapshot notes show its Unreleased section (line {})",
                u.heading_line
            ));
            let note = format!(
                "`{path}` has no section for {version}: the entries below are its Unreleased section, which may still change before the next release."
            );
            Ok((Some(u), Some(note)))
        }
        None => {
            warnings.push(format!(
                "{path} has no section for {version} and no Unreleased entries; the snapshot notes have no changelog entry"
            ));
            Ok((
                None,
                Some(format!(
                    "`{path}` has no entry for this snapshot: no section for {version} and no Unreleased entries."
                )),
            ))
        }
    }
}

fn invalid(message: String, help: String) -> PublishError {
    PublishError::Invalid {
        channel: CHANNEL.to_string(),
        message,
        help: Some(help),
    }
}

/// `YYYY-MM-DD` of the release timestamp (UTC), so the notes and the help
/// text never depend on the wall clock.
fn release_date(release: &Release) -> Result<String, PublishError> {
    let t = time::OffsetDateTime::from_unix_timestamp(release.timestamp).map_err(|e| {
        invalid(
            format!(
                "release timestamp {} is out of range: {e}",
                release.timestamp
            ),
            "set SOURCE_DATE_EPOCH to a time in seconds since 1970".to_string(),
        )
    })?;
    Ok(format!(
        "{:04}-{:02}-{:02}",
        t.year(),
        u8::from(t.month()),
        t.day()
    ))
}

fn is_v0(version: &str) -> bool {
    match semver::Version::parse(version) {
        Ok(v) => v.major == 0,
        Err(_) => version.starts_with("0."),
    }
}

/// The Summary paragraphs: description, release type, where the project
/// lives, support level.
fn summary(release: &Release) -> Vec<String> {
    let mut out = Vec::new();
    if !release.description.trim().is_empty() {
        out.push(release.description.trim().to_string());
    }
    let parsed = semver::Version::parse(&release.version).ok();
    let base = parsed.as_ref().map_or_else(
        || release.version.clone(),
        |v| format!("{}.{}.{}", v.major, v.minor, v.patch),
    );
    out.push(if release.is_snapshot {
        let short: String = release.commit.chars().take(7).collect();
        let of = if short.is_empty() { String::new() } else { format!(" of commit `{short}`") };
        format!("This is a snapshot build{of}, not a release: it is for testing only and may differ from the next release.")
    } else if !release.prerelease.is_empty() {
        format!(
            "This is a pre-release (`{}`) of {base}, for testing: it may still change before {base} is released.",
            release.prerelease
        )
    } else {
        let kind = match parsed {
            Some(v) if v.major > 0 && v.minor == 0 && v.patch == 0 => "major",
            Some(v) if v.patch == 0 => "minor",
            _ => "patch",
        };
        format!("This is a {kind} release.")
    });
    if !release.homepage.trim().is_empty() {
        out.push(format!("Project page: <{}>", release.homepage.trim()));
    }
    if is_v0(&release.version) {
        out.push(format!(
            "{} is still v0.x: it is experimental and may change in later minor releases, including in ways that break compatibility; such changes are listed under Breaking Changes.",
            release.name
        ));
    }
    out
}

/// A changelog entry as a Markdown list item; lines that were lazy
/// continuations get indented so they stay inside the item.
fn list_item(entry: &str) -> String {
    let mut lines = entry.lines();
    let mut out = format!("- {}", lines.next().unwrap_or_default());
    for line in lines {
        out.push('\n');
        if !line.is_empty() && !line.starts_with([' ', '\t']) {
            out.push_str("  ");
        }
        out.push_str(line);
    }
    out
}

/// The archive the example commands download: the first with a URL.
fn example(packages: &[Package]) -> Option<&Package> {
    packages.iter().find(|p| !p.url.is_empty())
}

/// Where the checksums file can be downloaded: next to the archives, when
/// every archive's URL is one common base plus its file name (as on a
/// GitHub release). Otherwise the URL scheme is unknown and no URL is made
/// up.
fn checksums_url(input: &NotesInput) -> Option<String> {
    let mut base = None;
    for p in input.packages {
        let b = p
            .url
            .strip_suffix(p.file_name.as_str())?
            .strip_suffix('/')?;
        if *base.get_or_insert(b) != b {
            return None;
        }
    }
    base.map(|b| format!("{b}/{}", input.checksums_file))
}

fn checksum_commands(input: &NotesInput) -> Vec<String> {
    let q = |s: &str| shell_words::quote(s).into_owned();
    let mut out = Vec::new();
    if let Some(p) = example(input.packages) {
        out.push(format!("curl -fLO {}", q(&p.url)));
        if let Some(url) = checksums_url(input) {
            out.push(format!("curl -fLO {}", q(&url)));
        }
    }
    out.push(format!(
        "{}sum --check --ignore-missing {}",
        input.algorithm.name(),
        q(input.checksums_file)
    ));
    out
}

/// `256` or `512`: the digest size the commands name.
fn bits(input: &NotesInput) -> &'static str {
    match input.algorithm {
        crate::package::checksum::Algorithm::Sha512 => "512",
        _ => "256",
    }
}

/// How to check without GNU coreutils, for the systems the archives are for.
fn other_checks(input: &NotesInput) -> Vec<String> {
    let first = |os: &str| input.packages.iter().find(|p| p.os == os);
    let mut out = Vec::new();
    if let Some(p) = first("darwin") {
        out.push(format!(
            "On macOS without GNU coreutils, run `shasum -a {} {}` and compare the hash with that file's line in `{}`.",
            bits(input),
            shell_words::quote(&p.file_name),
            input.checksums_file
        ));
    }
    if let Some(p) = first("windows") {
        out.push(format!(
            "On Windows, run `Get-FileHash {} -Algorithm SHA{}` in PowerShell and compare the hash (printed in upper case) with that file's line in `{}`.",
            p.file_name,
            bits(input),
            input.checksums_file
        ));
    }
    out
}

fn image_commands(images: &[ImageNote]) -> Vec<String> {
    let mut out = Vec::new();
    for image in images {
        let refs = references(image);
        let Some(first) = refs.first() else { continue };
        let q = |s: &str| shell_words::quote(s).into_owned();
        out.push(format!("# {}: expect {}", image.id, image.digest));
        out.push(format!("docker buildx imagetools inspect {}", q(first)));
        out.extend(refs.iter().map(|r| format!("crane digest {}", q(r))));
    }
    out
}

/// `repository:tag` for every repository and tag, repositories first.
fn references(image: &ImageNote) -> Vec<String> {
    image
        .repositories
        .iter()
        .flat_map(|repo| image.tags.iter().map(move |tag| format!("{repo}:{tag}")))
        .collect()
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}

/// What a release notes template sees (the README lists it).
#[derive(Serialize)]
struct Context<'a> {
    release: &'a Release,
    /// `YYYY-MM-DD` of the release timestamp.
    date: String,
    experimental: bool,
    summary: Vec<String>,
    /// Markdown list items.
    breaking: Vec<String>,
    upgrade_notes: Option<String>,
    images: Vec<ImageContext<'a>>,
    image_commands: Vec<String>,
    packages: Vec<Download<'a>>,
    checksums_file: &'a str,
    example_target: Option<&'a str>,
    checksum_commands: Vec<String>,
    other_checks: Vec<String>,
    /// What `checksum_commands` run (`sha256sum`) and check (`SHA-256`).
    checksum_tool: &'static str,
    checksum_digest: String,
    /// Signatures, provenance, attestations: only what the release has.
    checks: Vec<Check>,
    known_limitations: Option<&'a str>,
    changelog: ChangelogContext<'a>,
}

#[derive(Serialize)]
struct ImageContext<'a> {
    id: &'a str,
    tags: &'a [String],
    repositories: &'a [String],
    platforms: &'a [String],
    digest: &'a str,
    /// `repository:tag` for each pair.
    references: Vec<String>,
    /// `repository@digest` for each repository.
    pinned: Vec<String>,
}

impl<'a> ImageContext<'a> {
    fn new(image: &'a ImageNote) -> Self {
        ImageContext {
            id: &image.id,
            tags: &image.tags,
            repositories: &image.repositories,
            platforms: &image.platforms,
            digest: &image.digest,
            references: references(image),
            pinned: image
                .repositories
                .iter()
                .map(|r| format!("{r}@{}", image.digest))
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct Download<'a> {
    target: &'a str,
    file_name: &'a str,
    url: &'a str,
    size: u64,
    size_human: String,
    sha256: &'a str,
}

impl<'a> Download<'a> {
    fn new(p: &'a Package) -> Self {
        Download {
            target: &p.target,
            file_name: &p.file_name,
            url: &p.url,
            size: p.size,
            size_human: human_size(p.size),
            sha256: &p.sha256,
        }
    }
}

#[derive(Serialize)]
struct ChangelogContext<'a> {
    path: &'a str,
    /// Whether a section (the version's, or Unreleased for a snapshot) is
    /// shown.
    found: bool,
    note: Option<String>,
    /// The regular lists: every group but the breaking and upgrade ones,
    /// which have their own parts of the notes.
    groups: Vec<Group>,
    compare_url: Option<String>,
    /// Link reference definitions the shown entries use, so that
    /// `[#123]`-style links keep working in the notes.
    links: Vec<String>,
}

#[derive(Serialize)]
struct Group {
    name: String,
    body: String,
}

impl<'a> ChangelogContext<'a> {
    fn new(input: &NotesInput<'a>, section: Option<&Section>, note: Option<String>) -> Self {
        let path = input.changelog_path;
        let (Some(section), Some(text)) = (section, input.changelog) else {
            return ChangelogContext {
                path,
                found: false,
                note,
                groups: Vec::new(),
                compare_url: None,
                links: Vec::new(),
            };
        };
        let definitions = link_definitions(text);
        let heading = text
            .lines()
            .nth(section.heading_line - 1)
            .and_then(changelog::heading_level)
            .and_then(|(_, rest)| changelog::parse_release_heading(rest));
        let compare_url = heading.and_then(|h| {
            h.url.map(str::to_string).or_else(|| {
                let label = h.label.to_lowercase();
                definitions
                    .iter()
                    .find(|(l, _, _)| *l == label)
                    .map(|(_, _, url)| url.clone())
            })
        });
        let used = |label: &str| {
            let needle = format!("[{label}]");
            section
                .groups
                .iter()
                .any(|(_, body)| body.to_lowercase().contains(&needle))
        };
        ChangelogContext {
            path,
            found: true,
            note,
            groups: section
                .groups
                .iter()
                .filter(|(name, _)| {
                    !changelog::is_breaking_group(name) && !changelog::is_upgrade_group(name)
                })
                .map(|(name, body)| Group {
                    name: name.clone(),
                    body: body.clone(),
                })
                .collect(),
            compare_url,
            links: definitions
                .into_iter()
                .filter(|(label, _, _)| used(label))
                .map(|(_, line, _)| line)
                .collect(),
        }
    }
}

/// Every link reference definition in the file, first one per label wins
/// (as in CommonMark): (lowercase label, the line, the URL).
fn link_definitions(text: &str) -> Vec<(String, String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let outside = changelog::outside_fences(&lines);
    let mut out: Vec<(String, String, String)> = Vec::new();
    for (line, _) in lines.iter().zip(outside).filter(|(_, o)| *o) {
        let Some(label) = changelog::link_definition(line) else {
            continue;
        };
        let label = label.to_lowercase();
        let url = line
            .split_once("]:")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .unwrap_or_default()
            .trim_matches(['<', '>'])
            .to_string();
        if !out.iter().any(|(l, _, _)| *l == label) {
            out.push((label, line.trim().to_string(), url));
        }
    }
    out
}

fn render_template(source: &str, name: &str, context: &Context) -> Result<String, PublishError> {
    let err = |e: minijinja::Error| PublishError::template(CHANNEL, name, &e);
    // Markdown, not HTML: `<` and `&` in entries stay as written.
    let env = super::render::environment().map_err(err)?;
    super::render::render(&env, CHANNEL, name, source, context)
}

#[cfg(test)]
mod tests;
