//! Rendering one target's build and archive steps from the config.
//!
//! Every template is rendered here, at plan time, for every target, so an
//! unknown variable or a bad override is reported before any job starts, at
//! the line and column of the template in matrix.toml.

mod checks;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use indexmap::IndexMap;
use minijinja::value::Value;

use super::containers::ContainerImage;
use super::names::{check_binary_name, check_file_name};
use super::{ArchiveStep, BUILD_DIR, BuildStep, ChecksumStep, Target};
use crate::config::{Command, Config, ConfigError, FileEntry, KeyPath, Loaded, Source, When, Wrap};
use crate::package::archive::Format;
use crate::package::files::FileSpec;
use crate::plan::Request;
use crate::preset::{Defaults, Preset};
use crate::target::{self, Platform};
use crate::template::{Engine, ProjectVar, TargetVar, Vars};
use checks::{check_archive_files, check_matrix_keys, check_override_keys};

/// The reproducible-builds.org variable every build job gets.
const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// One target's build settings after its overrides.
struct Chosen<'a> {
    preset: Option<(Preset, KeyPath)>,
    command: Option<(&'a Command, KeyPath)>,
    shell: bool,
    flags: (&'a Vec<String>, KeyPath),
    binary: (&'a String, KeyPath),
    artifact: Option<(&'a str, KeyPath)>,
    timeout: Option<Duration>,
    cache: bool,
    /// The image template or builder name, with where it was set.
    container: Option<(ChosenImage<'a>, KeyPath)>,
    env: IndexMap<&'a str, (&'a str, KeyPath)>,
}

enum ChosenImage<'a> {
    Image(&'a str),
    Builder(&'a str),
}

pub struct Renderer<'a> {
    pub(super) loaded: &'a Loaded,
    pub(super) req: &'a Request,
    engine: Engine,
    pub(super) base: Vars,
    /// The folder of the targets' `{{ cache }}`s (each is its slug below).
    targets_cache: std::path::PathBuf,
}

impl<'a> Renderer<'a> {
    pub fn new(
        loaded: &'a Loaded,
        req: &'a Request,
        expanded: &super::axes::Expanded,
    ) -> Result<Self, ConfigError> {
        let source = &loaded.source;
        let config = &loaded.config;
        let keys: BTreeSet<&str> = expanded
            .combinations
            .iter()
            .flat_map(|c| c.keys().map(String::as_str))
            .collect();
        check_matrix_keys(&keys, source)?;
        check_override_keys(config, &keys, source)?;
        check_archive_files(config, source)?;
        let base = base_vars(config, req);
        Ok(Renderer {
            loaded,
            req,
            engine: Engine::with_limits(&config.limits),
            base,
            targets_cache: super::cache::targets_dir(&req.env, &config.project.name, &req.root),
        })
    }

    /// The variables every per-target template sees: matrix's own, the
    /// combination's values, and `target`.
    pub(super) fn vars_for(
        &self,
        values: &IndexMap<String, String>,
        id: &str,
        slug: &str,
        platform: Option<&'static Platform>,
    ) -> Vars {
        let mut vars = self.base.clone();
        for (k, v) in values {
            vars.set(k, v.as_str());
        }
        vars.set(
            "target",
            Value::from_object(TargetVar {
                id: id.to_string(),
                slug: slug.to_string(),
                platform,
            }),
        );
        vars
    }

    pub(super) fn source(&self) -> &Source {
        &self.loaded.source
    }

    pub(super) fn render(
        &self,
        template: &str,
        vars: &Vars,
        at: &KeyPath,
    ) -> Result<String, ConfigError> {
        self.engine.render(template, vars).map_err(|e| {
            self.source()
                .error_in_string(at, e.range, e.message, e.help)
                .with_limit(e.limit)
        })
    }

    /// Renders one word of a split command line, pointing errors at the
    /// word's place inside the whole line.
    fn render_word(
        &self,
        word: &str,
        line: &str,
        vars: &Vars,
        at: &KeyPath,
    ) -> Result<String, ConfigError> {
        self.engine.render(word, vars).map_err(|e| {
            let range = e.range.and_then(|r| {
                let snippet = &word[r];
                line.find(snippet).map(|start| start..start + snippet.len())
            });
            self.source()
                .error_in_string(at, range, e.message, e.help)
                .with_limit(e.limit)
        })
    }

    pub fn target(
        &self,
        id: String,
        slug: String,
        values: IndexMap<String, String>,
    ) -> Result<Target, ConfigError> {
        let os = values.get("os").map(String::as_str);
        let ext = target::exe_suffix(os);
        let out_dir = self.req.dist.join(BUILD_DIR).join(&slug);
        let platform = match (values.get("os"), values.get("arch")) {
            (Some(os), Some(arch)) => {
                target::platform(os, arch, values.get("variant").map(String::as_str))
            }
            _ => None,
        };
        let chosen = self.choose(&values);
        check_binary_name(&id, chosen.binary.0, self.source(), &chosen.binary.1)?;
        let bin = format!("{}{ext}", chosen.binary.0);

        let cache_dir = self.targets_cache.join(&slug);
        let mut vars = self.vars_for(&values, &id, &slug, platform);
        vars.set("target_id", id.as_str())
            .set("target_slug", slug.as_str())
            .set("out", out_dir.display().to_string())
            .set("cache", cache_dir.display().to_string())
            .set("bin", bin.as_str())
            .set("ext", ext);

        let mut build = self.build_step(&id, chosen, platform, &vars, out_dir, bin)?;
        build.cache_dir = uses_dir(&build, &cache_dir).then_some(cache_dir);
        let archive = self.archive_step(&id, &values, &vars, ext)?;
        Ok(Target {
            id,
            slug,
            values,
            platform,
            build,
            archive,
            joins: None,
        })
    }

    /// The build settings that apply to a target after its overrides, each
    /// with the key path it came from (for errors).
    fn choose(&self, values: &IndexMap<String, String>) -> Chosen<'a> {
        let build = &self.loaded.config.build;
        let mut c = Chosen {
            preset: build.preset.map(|p| (p, KeyPath::parse("build.preset"))),
            command: build
                .command
                .as_ref()
                .map(|cmd| (cmd, KeyPath::parse("build.command"))),
            shell: build.shell,
            flags: (&build.flags, KeyPath::parse("build.flags")),
            binary: (&build.binary, KeyPath::parse("build.binary")),
            artifact: build
                .artifact
                .as_ref()
                .map(|a| (a.as_str(), KeyPath::parse("build.artifact"))),
            timeout: build.timeout.map(|t| t.0),
            cache: build.cache,
            container: match (&build.container, &build.builder) {
                (Some(image), _) => {
                    Some((ChosenImage::Image(image), KeyPath::parse("build.container")))
                }
                (None, Some(name)) => {
                    Some((ChosenImage::Builder(name), KeyPath::parse("build.builder")))
                }
                (None, None) => None,
            },
            env: build
                .env
                .iter()
                .map(|(k, v)| (k.as_str(), (v.as_str(), KeyPath::parse("build.env").key(k))))
                .collect(),
        };
        // Overrides apply in order; later ones win.
        for (i, o) in build.overrides.iter().enumerate() {
            if !matches(&o.when, values) {
                continue;
            }
            let at = KeyPath::parse("build.overrides").index(i);
            if let Some(p) = o.preset {
                c.preset = Some((p, at.clone().key("preset")));
            }
            if let Some(cmd) = &o.command {
                c.command = Some((cmd, at.clone().key("command")));
            }
            if let Some(s) = o.shell {
                c.shell = s;
            }
            if let Some(f) = &o.flags {
                c.flags = (f, at.clone().key("flags"));
            }
            if let Some(b) = &o.binary {
                c.binary = (b, at.clone().key("binary"));
            }
            if let Some(a) = &o.artifact {
                c.artifact = Some((a, at.clone().key("artifact")));
            }
            if let Some(t) = o.timeout {
                c.timeout = Some(t.0);
            }
            if let Some(cache) = o.cache {
                c.cache = cache;
            }
            // An empty `container` runs the target on the host.
            if let Some(image) = &o.container {
                c.container = (!image.is_empty())
                    .then(|| (ChosenImage::Image(image), at.clone().key("container")));
            }
            if let Some(name) = &o.builder {
                c.container = Some((ChosenImage::Builder(name), at.clone().key("builder")));
            }
            for (k, v) in &o.env {
                c.env.insert(k, (v, at.clone().key("env").key(k)));
            }
        }
        c
    }

    fn build_step(
        &self,
        id: &str,
        chosen: Chosen<'_>,
        platform: Option<&'static Platform>,
        vars: &Vars,
        out_dir: std::path::PathBuf,
        bin: String,
    ) -> Result<BuildStep, ConfigError> {
        let build = &self.loaded.config.build;
        let defaults = self.preset_defaults(id, &chosen, platform)?;
        let preset_at = chosen
            .preset
            .as_ref()
            .map(|(_, at)| at.clone())
            .unwrap_or_default();
        let argv = self.build_argv(id, &chosen, &defaults, &preset_at, vars)?;
        let env = self.build_env(&chosen, &defaults, &preset_at, vars)?;
        let artifact = match (&chosen.artifact, &defaults.artifact) {
            (Some((a, at)), _) => self.render(a, vars, at)?,
            (None, Some(a)) => self.render(a, vars, &preset_at)?,
            (None, None) => out_dir.join(&bin).display().to_string(),
        };
        let container = self.build_container(id, &chosen, vars)?;
        let dir = match &build.dir {
            Some(d) => self.req.root.join(d),
            None => self.req.root.clone(),
        };
        Ok(BuildStep {
            argv,
            shell: chosen.shell,
            env,
            dir: dir.clone(),
            out_dir,
            binary: bin,
            artifact: dir.join(artifact),
            preset: chosen.preset.map(|(p, _)| p),
            verify: build.verify,
            smoke: build.smoke.clone(),
            timeout: chosen.timeout,
            container,
            no_cache: !chosen.cache,
            cache_dir: None,
        })
    }

    /// The preset's defaults for this target (none without a preset).
    fn preset_defaults(
        &self,
        id: &str,
        chosen: &Chosen<'_>,
        platform: Option<&'static Platform>,
    ) -> Result<Defaults, ConfigError> {
        // The preset's defaults sit under the user's own settings.
        Ok(match &chosen.preset {
            None => Defaults::default(),
            Some((preset, at)) => {
                let Some(p) = platform else {
                    return Err(self.source().error_at(
                        at,
                        format!("preset \"{}\" needs to know {id}'s os and arch, and matrix does not", preset.name()),
                        Some("presets work for targets with `os` and `arch` values from `matrix targets`".into()),
                    ));
                };
                preset.defaults(p).map_err(|why| {
                    self.source().error_at(
                        at,
                        format!("preset \"{}\" cannot build {id}: {why}", preset.name()),
                        Some("choose another preset for this target with an override: { when = {...}, preset = \"...\" }".into()),
                    )
                })?
            }
        })
    }

    /// The build command: the target's own, else the preset's.
    fn build_argv(
        &self,
        id: &str,
        chosen: &Chosen<'_>,
        defaults: &Defaults,
        preset_at: &KeyPath,
        vars: &Vars,
    ) -> Result<Vec<String>, ConfigError> {
        Ok(match (&chosen.command, &defaults.command) {
            (Some((command, at)), _) => self.command(
                command,
                at,
                chosen.shell,
                chosen.flags.0,
                &chosen.flags.1,
                vars,
            )?,
            (None, Some(words)) => {
                let mut argv = Vec::with_capacity(words.len());
                for w in words {
                    argv.push(self.render(w, vars, preset_at)?);
                }
                for (i, f) in chosen.flags.0.iter().enumerate() {
                    argv.push(self.render(f, vars, &chosen.flags.1.clone().index(i))?);
                }
                argv
            }
            (None, None) => {
                let name = chosen.preset.as_ref().map_or("", |(p, _)| p.name());
                return Err(self.source().error_at(
                    preset_at,
                    format!("preset \"{name}\" sets the compiler but not the command, and {id} has no `command`"),
                    Some("add a command, e.g. command = \"make OUT={{ out }}/{{ bin }}\"".into()),
                ));
            }
        })
    }

    /// The build's environment: the preset's, the target's, and
    /// SOURCE_DATE_EPOCH unless set.
    fn build_env(
        &self,
        chosen: &Chosen<'_>,
        defaults: &Defaults,
        preset_at: &KeyPath,
        vars: &Vars,
    ) -> Result<BTreeMap<String, String>, ConfigError> {
        let mut env = BTreeMap::new();
        for (k, v) in &defaults.env {
            env.insert(k.clone(), self.render(v, vars, preset_at)?);
        }
        for (k, (v, at)) in &chosen.env {
            env.insert(k.to_string(), self.render(v, vars, at)?);
        }
        // Reproducible by default: compilers and linkers that honour it
        // (GCC's __DATE__, GNU ld and mingw's PE timestamp, ...) stamp the
        // release's time, not the wall clock. The config's own value wins.
        env.entry(SOURCE_DATE_EPOCH.to_string())
            .or_insert_with(|| self.req.version.timestamp.to_string());
        Ok(env)
    }

    /// The image the build runs in, if any.
    fn build_container(
        &self,
        id: &str,
        chosen: &Chosen<'_>,
        vars: &Vars,
    ) -> Result<Option<ContainerImage>, ConfigError> {
        Ok(match &chosen.container {
            None => None,
            Some((ChosenImage::Builder(name), _)) => Some(ContainerImage::Builder {
                name: name.to_string(),
            }),
            Some((ChosenImage::Image(image), at)) => {
                let reference = self.render(image, vars, at)?;
                // A leading '-' would be read by `docker run` as an option.
                if reference.is_empty()
                    || reference.starts_with('-')
                    || reference.contains(|c: char| c.is_whitespace() || c.is_control())
                {
                    return Err(self.source().error_at(
                        at,
                        format!("{id}: the image renders to {reference:?}, which is not an image reference"),
                        Some("give an image like \"golang:1.22\" or \"registry.example/builder:1\"".into()),
                    ));
                }
                Some(ContainerImage::Image { reference })
            }
        })
    }

    pub(super) fn archive_step(
        &self,
        id: &str,
        values: &IndexMap<String, String>,
        vars: &Vars,
        ext: &str,
    ) -> Result<ArchiveStep, ConfigError> {
        let archive = &self.loaded.config.archive;
        let format = archive
            .format_overrides
            .iter()
            .rfind(|o| matches(&o.when, values))
            .map_or(archive.format, |o| o.format);
        let name = self.render(&archive.name, vars, &KeyPath::parse("archive.name"))?;
        check_file_name(
            &name,
            self.source(),
            &KeyPath::parse("archive.name"),
            Some(id),
        )?;
        let file_name = match format {
            Format::Binary => format!("{name}{ext}"),
            other => format!("{name}{}", other.extension()),
        };
        let wrap = match &archive.wrap_in_directory {
            Wrap::Enabled(false) => None,
            Wrap::Enabled(true) => Some(name.clone()),
            Wrap::Named(t) => {
                let at = KeyPath::parse("archive.wrap-in-directory");
                let dir = self.render(t, vars, &at)?;
                check_file_name(&dir, self.source(), &at, Some(id))?;
                Some(dir)
            }
        };
        let files = archive
            .files
            .iter()
            .map(|f| match f {
                FileEntry::Glob(src) => FileSpec {
                    src: src.clone(),
                    dst: None,
                },
                FileEntry::Mapped { src, dst } => FileSpec {
                    src: src.clone(),
                    dst: Some(dst.clone()),
                },
            })
            .collect();
        Ok(ArchiveStep {
            file_name,
            format,
            files,
            wrap,
            zstd_level: (format == Format::TarZst).then(|| archive.zstd_level()),
        })
    }

    /// Splits then renders, so a value with spaces stays one argument and is
    /// never re-parsed; `shell = true` renders the line for `sh -c` instead.
    fn command(
        &self,
        command: &Command,
        at: &KeyPath,
        shell: bool,
        flags: &[String],
        flags_at: &KeyPath,
        vars: &Vars,
    ) -> Result<Vec<String>, ConfigError> {
        let mut rendered_flags = Vec::with_capacity(flags.len());
        for (i, f) in flags.iter().enumerate() {
            rendered_flags.push(self.render(f, vars, &flags_at.clone().index(i))?);
        }
        let mut argv = match command {
            Command::Line(line) if shell => {
                let mut line = self.render(line, vars, at)?;
                for f in &rendered_flags {
                    line.push(' ');
                    line.push_str(&shell_words::quote(f));
                }
                return Ok(vec!["sh".into(), "-c".into(), line]);
            }
            Command::Line(line) => {
                // Checked at load time, so splitting cannot fail here.
                let words = crate::template::split_command(line).unwrap_or_default();
                let mut argv = Vec::with_capacity(words.len());
                for w in &words {
                    argv.push(self.render_word(w, line, vars, at)?);
                }
                argv
            }
            Command::Argv(words) => {
                let mut argv = Vec::with_capacity(words.len());
                for (i, w) in words.iter().enumerate() {
                    argv.push(self.render(w, vars, &at.clone().index(i))?);
                }
                if shell {
                    let line = shell_words::join(argv.iter().chain(&rendered_flags));
                    return Ok(vec!["sh".into(), "-c".into(), line]);
                }
                argv
            }
        };
        argv.extend(rendered_flags);
        if argv.first().is_none_or(|p| p.is_empty()) {
            return Err(self
                .source()
                .error_at(at, "the command renders to nothing", None));
        }
        Ok(argv)
    }

    pub fn checksum(&self) -> Result<ChecksumStep, ConfigError> {
        let c = &self.loaded.config.checksum;
        let at = KeyPath::parse("checksum.name");
        let file_name = self.render(&c.name, &self.base, &at)?;
        check_file_name(&file_name, self.source(), &at, None)?;
        Ok(ChecksumStep {
            algorithm: c.algorithm,
            file_name,
        })
    }
}

/// The variables every template sees: the project, the version and the
/// environment.
fn base_vars(config: &Config, req: &Request) -> Vars {
    let v = &req.version;
    let mut base = Vars::new();
    base.set(
        "project",
        Value::from_object(ProjectVar {
            name: config.project.name.clone(),
            description: config.project.description.clone(),
            homepage: config.project.homepage.clone(),
            license: config.project.license.clone(),
        }),
    )
    .set("version", v.version.as_str())
    .set("tag", v.tag.as_str())
    .set("major", v.major)
    .set("minor", v.minor)
    .set("patch", v.patch)
    .set("prerelease", v.prerelease.as_str())
    .set("commit", v.commit.as_str())
    .set("short_commit", v.short_commit.as_str())
    .set("commit_date", v.commit_date.as_str())
    .set("commit_timestamp", v.commit_timestamp)
    .set("is_snapshot", v.is_snapshot)
    .set(
        "env",
        Value::from_pairs(req.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    );
    base
}

pub(super) fn matches(when: &When, values: &IndexMap<String, String>) -> bool {
    when.iter()
        .all(|(k, allowed)| values.get(k).is_some_and(|v| allowed.matches(v)))
}

/// Whether the rendered step names `dir` (its command, environment or
/// binary's place): then the build is given that folder.
fn uses_dir(step: &BuildStep, dir: &std::path::Path) -> bool {
    let dir = dir.display().to_string();
    step.argv.iter().any(|a| a.contains(&dir))
        || step.env.values().any(|v| v.contains(&dir))
        || step.artifact.starts_with(&dir)
}
