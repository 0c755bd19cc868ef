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
use crate::packager::notes::Verification;
use crate::packager::registry::{At, PlanInput, Problem, Step};

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
    /// Its kind's own work: settings with their defaults, output names.
    /// (Not in the plan JSON, whose shape stays as it was.)
    #[serde(skip)]
    pub packager: Step,
}

impl ChannelStep {
    /// Whether it builds one package per target, each in a package job
    /// ([`super::JobId::Package`]).
    pub fn per_target(&self) -> bool {
        self.packager.per_target()
    }

    /// The download URL of target `t` (an index into `Plan::targets`), if
    /// the channel ships it.
    pub fn url(&self, t: usize) -> Option<&str> {
        self.targets
            .iter()
            .find(|(i, _)| *i == t)
            .map(|(_, url)| url.as_str())
    }
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
    /// What the Verification section tells users to check beyond the
    /// checksums (signatures, provenance, attestations, image signatures).
    #[serde(skip_serializing_if = "Verification::is_empty")]
    pub verification: Verification,
}

impl<'a> Renderer<'a> {
    /// The planned channels. A channel without `when` leaves out, with a
    /// warning, the targets of its systems its kind has no place for.
    pub(super) fn channels(
        &self,
        targets: &[Target],
        warnings: &mut Vec<String>,
    ) -> Result<Vec<ChannelStep>, ConfigError> {
        let keys: BTreeSet<&str> = targets
            .iter()
            .flat_map(|t| t.values.keys().map(String::as_str))
            .collect();
        let path = |p: &str| join_clean(&self.req.root, p);
        let mut out = Vec::new();
        for (name, channel) in &self.loaded.config.channels {
            let cx = self.plan_input(name, channel, &path);
            self.check_channel(name, channel, &cx, &out)?;
            let when = self.when(name, channel, &keys)?;
            let url = self.channel_url(name, channel)?;
            let shipped = self.shipped(name, channel, &when, targets, warnings)?;
            let mut selected = Vec::with_capacity(shipped.len());
            for i in shipped {
                let rendered = match &url {
                    Some((url, at)) => self.render(url, &self.url_vars(&targets[i]), at)?,
                    None => String::new(),
                };
                selected.push((i, rendered));
            }
            let urls: Vec<&str> = selected.iter().map(|(_, u)| u.as_str()).collect();
            channel
                .settings
                .check_urls(&cx, &urls)
                .map_err(|p| self.problem(name, p))?;
            if selected.is_empty() && self.req.filters.is_empty() {
                return Err(self.source().error_at(
                    &KeyPath::parse("channels").key(name),
                    format!("channel {name} selects no target"),
                    Some(format!(
                        "{} ships {}; check `when` against [matrix]",
                        channel.kind().name(),
                        slots::shippable(channel.kind()).join(", ")
                    )),
                ));
            }
            if selected.is_empty() {
                continue;
            }
            let packager = channel.settings.plan(&cx);
            let (install_template, uninstall_template) = match &packager {
                Step::Chocolatey(step) => (
                    step.install_template.clone(),
                    step.uninstall_template.clone(),
                ),
                _ => (None, None),
            };
            out.push(ChannelStep {
                name: name.clone(),
                kind: channel.kind(),
                targets: selected,
                template: channel.template.as_deref().map(path),
                install_template,
                uninstall_template,
                config: channel.clone(),
                packager,
            });
        }
        Ok(out)
    }

    /// What the channel's packager sees of the release.
    fn plan_input<'b>(
        &'b self,
        name: &'b str,
        channel: &'b Channel,
        path: &'b dyn Fn(&str) -> PathBuf,
    ) -> PlanInput<'b> {
        let project = &self.loaded.config.project;
        let version = &self.req.version;
        PlanInput {
            channel: name,
            project: &project.name,
            description: &project.description,
            homepage: &project.homepage,
            license: &project.license,
            name: channel.name.as_deref(),
            version: &version.version,
            stable: !version.is_snapshot && version.prerelease.is_empty(),
            checksums: self.checksum().map(|c| c.file_name).unwrap_or_default(),
            path,
        }
    }

    /// The checks of a channel's own settings: its name, one channel per
    /// kind, keys of its kind only, its kind's own checks, sha256 digests.
    fn check_channel(
        &self,
        name: &str,
        channel: &Channel,
        cx: &PlanInput,
        planned: &[ChannelStep],
    ) -> Result<(), ConfigError> {
        let source = self.source();
        let at = KeyPath::parse("channels").key(name);
        if !crate::config::containers::is_name(name) {
            return Err(source.error_at(
                &at,
                format!("invalid channel name {name:?}"),
                Some("use lowercase letters, digits, '.', '_' and '-'".into()),
            ));
        }
        let kind = channel.kind();
        if let Some(other) = planned.iter().find(|c| c.kind == kind) {
            return Err(source.error_at(
                &at.clone().key("kind"),
                format!(
                    "channels {} and {name} are both {}: they would write the same files in dist/{}",
                    other.name,
                    kind.name(),
                    kind.dir()
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
                format!("`{key}` is not a {} setting", kind.name()),
                Some(
                    "remove it, or check the channel's `kind`; the README lists each kind's keys"
                        .into(),
                ),
            ));
        }
        channel
            .settings
            .check(cx)
            .map_err(|p| self.problem(name, p))?;
        if self.loaded.config.checksum.algorithm != Algorithm::Sha256 {
            return Err(source.error_at(
                &KeyPath::parse("checksum.algorithm"),
                "release channels need sha256 digests of the archives",
                Some("use algorithm = \"sha256\" (the default) when [channels] are set".into()),
            ));
        }
        Ok(())
    }

    /// A packager's refusal, at its place in matrix.toml.
    fn problem(&self, name: &str, problem: Problem) -> ConfigError {
        let at = match problem.at {
            At::Channel(key) => (KeyPath::parse("channels").key(name), key),
            At::ChannelKey(table, key) => {
                (KeyPath::parse("channels").key(name).key(table), Some(key))
            }
            At::Project(key) => (KeyPath::parse("project"), key),
        };
        let at = match at {
            (path, Some(key)) => path.key(key),
            (path, None) => path,
        };
        self.source().error_at(&at, problem.message, problem.help)
    }

    /// The channel's `when` (by default its kind's systems), each key a
    /// key of the matrix.
    fn when(
        &self,
        name: &str,
        channel: &Channel,
        keys: &BTreeSet<&str>,
    ) -> Result<When, ConfigError> {
        let default_when = || -> When {
            [(
                "os".to_string(),
                OneOrMany::Many(
                    channel
                        .kind()
                        .oses()
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                ),
            )]
            .into_iter()
            .collect()
        };
        let when = channel.when.clone().unwrap_or_else(default_when);
        for key in when.keys() {
            if !keys.contains(key.as_str()) {
                return Err(self.source().error_at(
                    &KeyPath::parse("channels").key(name).key("when").key(key),
                    format!("`when` names `{key}`, which is not a key of the matrix"),
                    Some(format!(
                        "matrix keys: {}",
                        keys.iter().copied().collect::<Vec<_>>().join(", ")
                    )),
                ));
            }
        }
        Ok(when)
    }

    /// The channel's download URL template, and where it was written;
    /// `None` (each target's URL then `""`) for a kind whose files name no
    /// download URL (deb, rpm, msi) when neither URL is set.
    fn channel_url<'b>(
        &'b self,
        name: &str,
        channel: &'b Channel,
    ) -> Result<Option<(&'b String, KeyPath)>, ConfigError> {
        let at = KeyPath::parse("channels").key(name);
        match (&channel.url, &self.loaded.config.release.url) {
            (Some(u), _) => Ok(Some((u, at.key("url")))),
            (None, Some(u)) => Ok(Some((u, KeyPath::parse("release.url")))),
            (None, None) if !channel.kind().needs_url() => Ok(None),
            (None, None) => Err(self.source().error_at(
                &at,
                format!("channel {name} needs a download URL for the archives"),
                Some("set [release] url = \"https://github.com/<owner>/<repo>/releases/download/{{ tag }}/{{ artifact }}\", or `url` on the channel".into()),
            )),
        }
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
        let kind = channel.kind();
        let source = self.source();
        // Errors point at `when` if it is set, else at the channel's table.
        let at = match &channel.when {
            Some(_) => KeyPath::parse("channels").key(name).key("when"),
            None => KeyPath::parse("channels").key(name),
        };
        let mut shipped = Vec::new();
        let mut left_out = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            // Joined targets ship through their thin ones, below.
            if !t.of_matrix() || !matches(when, &t.values) {
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
        self.fill(name, kind, &at, targets, &shipped)?;
        if kind.packager().universal {
            super::universal::ship_joined(targets, &mut shipped);
        }
        Ok(shipped)
    }

    /// Checks that the shipped targets fill the kind's package: no two in
    /// the same place, each in a format it can install (and, for a kind
    /// that needs it, all in one format).
    fn fill(
        &self,
        name: &str,
        kind: ChannelKind,
        at: &KeyPath,
        targets: &[Target],
        shipped: &[usize],
    ) -> Result<(), ConfigError> {
        let source = self.source();
        let mut filled: Vec<(&str, &Target)> = Vec::new();
        for &i in shipped {
            let t = &targets[i];
            let Some(slot) = t.platform.and_then(|p| slots::slot(kind, p)) else {
                continue;
            };
            if let Some((_, first)) = filled
                .iter()
                .find(|(s, f)| *s == slot && !kind.libc_apart(&f.id, &t.id))
            {
                return Err(source.error_at(
                    at,
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
                    at,
                    format!(
                        "channel {name} cannot install {} ({}, a {} archive): {problem}",
                        t.archive.file_name,
                        t.id,
                        t.archive.format.name()
                    ),
                    Some(format!(
                        "give its targets another format: [archive] format-overrides = [ {{ when = {{ os = \"{}\" }}, format = \"{}\" }} ]",
                        kind.oses().join("\", \""),
                        kind.packager().format_hint
                    )),
                ));
            }
            if kind.packager().one_format
                && let Some((_, other)) = filled.first()
                && other.archive.format != t.archive.format
            {
                return Err(source.error_at(
                    at,
                    format!(
                        "channel {name}: {} is a {} archive and {} a {} one; one {} package installs both the same way",
                        other.id,
                        other.archive.format.name(),
                        t.id,
                        t.archive.format.name(),
                        kind.packager().title
                    ),
                    Some(format!(
                        "package both {} targets in the same format ({})",
                        kind.oses().join(" and "),
                        kind.packager().format_hint
                    )),
                ));
            }
            filled.push((slot, t));
        }
        Ok(())
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
            verification: self.verification(),
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

    /// The notes' checks beyond the checksums, from `[sign]`, `[images]`
    /// with `--push` and `[ci]` (its `repository` names the GitHub
    /// repository whose workflow attests). GitHub's attestations and keyless image
    /// signatures are made by the generated workflow on a tag only, so a
    /// snapshot's notes have neither.
    fn verification(&self) -> Verification {
        use crate::packager::notes::{Signature, SignatureKind};
        use crate::packager::sign::Method;
        let config = &self.loaded.config;
        let project = &config.project.name;
        let version = &self.req.version;
        let mut v = Verification::default();
        if let Some(sign) = &config.sign {
            let step = crate::packager::sign::plan(project, sign);
            v.signature = Some(Signature {
                kind: match sign.method {
                    Method::Minisign => SignatureKind::Minisign,
                    Method::Ssh => SignatureKind::Ssh,
                    Method::Gpg => SignatureKind::Gpg,
                },
                public_key: step.public_key,
                // The principal the sign job writes into allowed_signers.
                identity: (sign.method == Method::Ssh).then(|| project.clone()),
                extension: sign.method.extension().into(),
                every_file: sign.artifacts == crate::packager::sign::Signed::All,
            });
            // The sign job writes the release's provenance (and one per
            // archive, which the notes name by pattern) with every key kind.
            v.provenance
                .push(crate::packager::sign::provenance::file_name(
                    project,
                    &version.version,
                ));
        }
        let pushed = config.images.is_some() && self.req.images && self.req.push;
        // The same rule as the sign step's (`SignStep::sign_images`): a gpg
        // key with pushed images is refused there, `images = false` opts out.
        if pushed && config.sign.as_ref().is_some_and(|s| s.images) {
            v.image_key = Some(crate::packager::sign::cosign_key_name(project));
        }
        let repository = config.ci.repository.clone();
        if let Some(repo) = repository.filter(|_| config.ci.attestations && !version.is_snapshot) {
            if pushed {
                v.keyless_identity = Some(crate::packager::notes::workflow_identity(
                    &repo,
                    &version.tag,
                ));
            }
            v.attestations = Some(repo);
        }
        v
    }

    /// What a download URL template sees for a target.
    fn url_vars(&self, t: &Target) -> crate::template::Vars {
        let mut vars = self.vars_for(&t.values, &t.id, &t.slug, t.platform);
        vars.set("artifact", t.archive.file_name.as_str());
        vars
    }
}
