//! Planning the release channels and the release notes: which targets feed
//! each channel, the download URL of each of their archives, and the files
//! each channel writes.
//!
//! Part of `plan`, so pure: templates are rendered here (an unknown variable
//! in a URL is a plan error at its line), files are only read by the jobs.
//! A target a channel's kind cannot ship ([`slots`]) is found here too, so
//! it stops the release before any build, not after every one.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;

use super::names::check_file_name;
use super::steps::{Renderer, matches};
use super::{Target, join_clean};
use crate::config::{Channel, ChannelKind, ConfigError, KeyPath, OneOrMany, When};
use crate::package::checksum::Algorithm;

mod slots;

/// A `when` that selects only what the kind ships, for help texts.
fn when_example(kind: ChannelKind) -> String {
    let list = |values: &[&str]| match values {
        [one] => format!("\"{one}\""),
        many => format!("[\"{}\"]", many.join("\", \"")),
    };
    format!(
        "{{ os = {}, arch = {} }}",
        list(kind.oses()),
        list(&slots::arches(kind))
    )
}

/// The notes' file name in dist/.
pub const NOTES: &str = "RELEASE_NOTES.md";

/// One channel, planned.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelStep {
    /// Its name in `[channels.<name>]`.
    pub name: String,
    pub kind: ChannelKind,
    /// (index into `Plan::targets`, download URL) of every target it ships.
    pub targets: Vec<(usize, String)>,
    /// The user's template files, if any (main, then Chocolatey's install
    /// and uninstall scripts).
    pub template: Option<PathBuf>,
    pub install_template: Option<PathBuf>,
    pub uninstall_template: Option<PathBuf>,
    /// The channel's settings as written.
    pub config: Channel,
}

/// The release notes, planned.
#[derive(Debug, Clone, Serialize)]
pub struct NotesStep {
    /// Set explicitly: a missing changelog is then an error, not a reason
    /// to skip the notes.
    pub required: bool,
    pub changelog: PathBuf,
    /// The changelog path as written, for messages.
    pub changelog_name: String,
    pub known_limitations: Option<String>,
    pub template: Option<PathBuf>,
    /// Download URL per target (from `[release] url`), `""` without one.
    pub urls: Vec<String>,
}

impl<'a> Renderer<'a> {
    /// The planned channels. A channel without `when` leaves out, with a
    /// warning, the targets of its systems its kind has no place for.
    pub(super) fn channels(
        &self,
        targets: &[Target],
        warnings: &mut Vec<String>,
    ) -> Result<Vec<ChannelStep>, ConfigError> {
        let config = &self.loaded.config;
        let source = self.source();
        let keys: BTreeSet<&str> = targets
            .iter()
            .flat_map(|t| t.values.keys().map(String::as_str))
            .collect();
        let mut out = Vec::new();
        for (name, channel) in &config.channels {
            let at = KeyPath::parse("channels").key(name);
            if !crate::config::containers::is_name(name) {
                return Err(source.error_at(
                    &at,
                    format!("invalid channel name {name:?}"),
                    Some("use lowercase letters, digits, '.', '_' and '-'".into()),
                ));
            }
            if let Some(other) = out.iter().find(|c: &&ChannelStep| c.kind == channel.kind) {
                return Err(source.error_at(
                    &at.clone().key("kind"),
                    format!(
                        "channels {} and {name} are both {}: they would write the same files in dist/{}",
                        other.name,
                        channel.kind.name(),
                        channel.kind.dir()
                    ),
                    Some("keep one channel per kind".into()),
                ));
            }
            if let Some(package) = &channel.name {
                // It names the files in dist/<kind>/ (`<name>.rb`, `<name>.json`, ...).
                check_file_name(package, source, &at.clone().key("name"), None)?;
            }
            if let Some(key) = channel.foreign_keys().first() {
                return Err(source.error_at(
                    &at.clone().key(key),
                    format!(
                        "`{key}` is not a {} setting",
                        channel.kind.name()
                    ),
                    Some("remove it, or check the channel's `kind`; the README lists each kind's keys".into()),
                ));
            }
            if channel.kind == ChannelKind::Homebrew {
                self.check_homebrew_desc(name, channel)?;
            }
            // Scoop's schema requires a license; the manifest would fail
            // the bucket's checks after every build had run.
            if channel.kind == ChannelKind::Scoop && config.project.license.trim().is_empty() {
                return Err(source.error_at(
                    &KeyPath::parse("project"),
                    format!(
                        "channel {name}: a Scoop manifest needs a license, and [project] has none"
                    ),
                    Some(
                        "set [project] license to an SPDX expression, e.g. license = \"MIT\""
                            .into(),
                    ),
                ));
            }
            if config.checksum.algorithm != Algorithm::Sha256 {
                return Err(source.error_at(
                    &KeyPath::parse("checksum.algorithm"),
                    "release channels need sha256 digests of the archives",
                    Some("use algorithm = \"sha256\" (the default) when [channels] are set".into()),
                ));
            }
            let default_when: When = [(
                "os".to_string(),
                OneOrMany::Many(channel.kind.oses().iter().map(|s| s.to_string()).collect()),
            )]
            .into_iter()
            .collect();
            let when = channel.when.as_ref().unwrap_or(&default_when);
            for key in when.keys() {
                if !keys.contains(key.as_str()) {
                    return Err(source.error_at(
                        &at.clone().key("when").key(key),
                        format!("`when` names `{key}`, which is not a key of the matrix"),
                        Some(format!(
                            "matrix keys: {}",
                            keys.iter().copied().collect::<Vec<_>>().join(", ")
                        )),
                    ));
                }
            }
            let (url, url_at) = match (&channel.url, &config.release.url) {
                (Some(u), _) => (u, at.clone().key("url")),
                (None, Some(u)) => (u, KeyPath::parse("release.url")),
                (None, None) => {
                    return Err(source.error_at(
                        &at,
                        format!("channel {name} needs a download URL for the archives"),
                        Some("set [release] url = \"https://github.com/<owner>/<repo>/releases/download/{{ tag }}/{{ artifact }}\", or `url` on the channel".into()),
                    ));
                }
            };
            let shipped = self.shipped(name, channel, when, targets, warnings)?;
            let mut selected = Vec::with_capacity(shipped.len());
            for i in shipped {
                let t = &targets[i];
                selected.push((i, self.render(url, &self.url_vars(t), &url_at)?));
            }
            if channel.kind == ChannelKind::Scoop && channel.checkver.is_none() {
                let urls: Vec<&str> = selected.iter().map(|(_, u)| u.as_str()).collect();
                if crate::packager::scoop::lacks_checkver(
                    &config.project.homepage,
                    &self.req.version.version,
                    &urls,
                ) {
                    return Err(source.error_at(
                        &at,
                        format!(
                            "channel {name}: the Scoop manifest would have autoupdate URLs but no way to find a new version (no checkver, no homepage, not GitHub release downloads)"
                        ),
                        Some("set [project] homepage to a page that links the archives, or `checkver` on the channel (a regex with the version as its first group)".into()),
                    ));
                }
            }
            if selected.is_empty() && self.req.filters.is_empty() {
                return Err(source.error_at(
                    &at,
                    format!("channel {name} selects no target"),
                    Some(format!(
                        "{} ships {}; check `when` against [matrix]",
                        channel.kind.name(),
                        slots::shippable(channel.kind).join(", ")
                    )),
                ));
            }
            if selected.is_empty() {
                continue;
            }
            let path = |p: &Option<String>| p.as_deref().map(|p| join_clean(&self.req.root, p));
            out.push(ChannelStep {
                name: name.clone(),
                kind: channel.kind,
                targets: selected,
                template: path(&channel.template),
                install_template: path(&channel.install_template),
                uninstall_template: path(&channel.uninstall_template),
                config: channel.clone(),
            });
        }
        Ok(out)
    }

    /// The targets `when` selects that the channel ships (indexes into
    /// `targets`): each one a platform the kind has a place for, no two in
    /// the same place, in a format the kind can install. An explicit `when`
    /// that selects a target the kind cannot ship is an error; the default
    /// `when` (the kind's systems) leaves such targets out with a warning.
    fn shipped(
        &self,
        name: &str,
        channel: &Channel,
        when: &When,
        targets: &[Target],
        warnings: &mut Vec<String>,
    ) -> Result<Vec<usize>, ConfigError> {
        let kind = channel.kind;
        let source = self.source();
        // Errors point at `when` if it is set, else at the channel's table.
        let at = match &channel.when {
            Some(_) => KeyPath::parse("channels").key(name).key("when"),
            None => KeyPath::parse("channels").key(name),
        };
        let mut shipped = Vec::new();
        let mut left_out = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            if !matches(when, &t.values) {
                continue;
            }
            match t.platform.and_then(|p| slots::slot(kind, p)) {
                Some(_) => shipped.push(i),
                None => left_out.push(t.id.as_str()),
            }
        }
        if !left_out.is_empty() {
            let ships = slots::shippable(kind).join(", ");
            if channel.when.is_some() {
                return Err(source.error_at(
                    &at,
                    format!(
                        "channel {name} cannot ship {}: {} ships {ships} only",
                        left_out.join(", "),
                        kind.name()
                    ),
                    Some(format!(
                        "leave {} out with `when`, e.g. when = {}",
                        if left_out.len() == 1 { "it" } else { "them" },
                        when_example(kind)
                    )),
                ));
            }
            warnings.push(format!(
                "channel {name} leaves out {}: {} ships {ships} only (set the channel's `when` to choose its targets)",
                left_out.join(", "),
                kind.name()
            ));
        }
        let mut filled: Vec<(&str, &Target)> = Vec::new();
        for &i in &shipped {
            let t = &targets[i];
            let Some(slot) = t.platform.and_then(|p| slots::slot(kind, p)) else {
                continue;
            };
            if let Some((_, first)) = filled.iter().find(|(s, _)| *s == slot) {
                return Err(source.error_at(
                    &at,
                    format!(
                        "channel {name}: {} and {} would both fill {slot} of the {} package",
                        first.id,
                        t.id,
                        kind.name()
                    ),
                    Some("narrow `when` so one target is left per place, e.g. with the matrix key that tells them apart".into()),
                ));
            }
            if let Some(problem) = slots::format_problem(kind, t.archive.format) {
                return Err(source.error_at(
                    &at,
                    format!(
                        "channel {name} cannot install {} ({}, a {} archive): {problem}",
                        t.archive.file_name,
                        t.id,
                        t.archive.format.name()
                    ),
                    Some(format!(
                        "give its targets another format: [archive] format-overrides = [ {{ when = {{ os = \"{}\" }}, format = \"{}\" }} ]",
                        kind.oses().join("\", \""),
                        if kind == ChannelKind::Chocolatey { "zip" } else { "tar.gz" }
                    )),
                ));
            }
            if kind == ChannelKind::Chocolatey
                && let Some((_, other)) = filled.first()
                && other.archive.format != t.archive.format
            {
                return Err(source.error_at(
                    &at,
                    format!(
                        "channel {name}: {} is a {} archive and {} a {} one; one Chocolatey package installs both the same way",
                        other.id,
                        other.archive.format.name(),
                        t.id,
                        t.archive.format.name()
                    ),
                    Some("package both windows targets in the same format (zip)".into()),
                ));
            }
            filled.push((slot, t));
        }
        Ok(shipped)
    }

    pub(super) fn notes(&self, targets: &[Target]) -> Result<Option<NotesStep>, ConfigError> {
        let r = &self.loaded.config.release;
        if !r.notes.unwrap_or(self.req.has_changelog) {
            return Ok(None);
        }
        let mut urls = Vec::with_capacity(targets.len());
        for t in targets {
            urls.push(match &r.url {
                Some(url) => self.render(url, &self.url_vars(t), &KeyPath::parse("release.url"))?,
                None => String::new(),
            });
        }
        Ok(Some(NotesStep {
            urls,
            required: r.notes == Some(true),
            changelog: join_clean(&self.req.root, &r.changelog),
            changelog_name: r.changelog.clone(),
            known_limitations: r.known_limitations.clone(),
            template: r
                .notes_template
                .as_deref()
                .map(|p| join_clean(&self.req.root, p)),
        }))
    }

    /// Homebrew refuses a formula whose `desc` breaks its rules; find out
    /// now, at the line the text came from, rather than after the builds.
    fn check_homebrew_desc(&self, name: &str, channel: &Channel) -> Result<(), ConfigError> {
        use crate::packager::homebrew::desc;
        let project = &self.loaded.config.project;
        let (text, at) = match &channel.desc {
            Some(d) => (d.as_str(), KeyPath::parse("channels").key(name).key("desc")),
            None => (
                project.description.as_str(),
                KeyPath::parse("project.description"),
            ),
        };
        let formula = channel.name.as_deref().unwrap_or(&project.name);
        if let Some(class) =
            crate::packager::homebrew::bad_class_name(channel.class.as_deref(), formula)
        {
            let key = if channel.class.is_some() {
                "class"
            } else {
                "name"
            };
            return Err(self.source().error_at(
                &KeyPath::parse("channels").key(name).key(key),
                format!("channel {name}: `{class}` is not a Ruby class name, which the formula needs"),
                Some("set `class` in the channel to a name starting with a capital letter, made of letters, digits and `_`".into()),
            ));
        }
        let problems = desc::review(text, formula);
        if problems.is_empty() {
            return Ok(());
        }
        let fix = match desc::suggest(text, formula) {
            Some(fixed) => format!("desc = {}", toml_string(&fixed)),
            None => format!(
                "desc = \"<one line of at most {} characters>\"",
                desc::MAX_DESC_CHARS
            ),
        };
        Err(self.source().error_at(
            &at,
            format!(
                "channel {name}: Homebrew refuses this formula desc: {}",
                problems.join(" ")
            ),
            Some(format!(
                "set `{fix}` under [channels.{name}] (the channel's own desc wins over \
                 [project] description)"
            )),
        ))
    }

    /// What a download URL template sees for a target.
    fn url_vars(&self, t: &Target) -> crate::template::Vars {
        let mut vars = self.vars_for(&t.values, &t.id, &t.slug, t.platform);
        vars.set("artifact", t.archive.file_name.as_str());
        vars
    }
}

/// `text` as a TOML basic string, for a line to paste into matrix.toml.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}
