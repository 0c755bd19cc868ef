//! The one template engine for names, commands and environment values.
//!
//! Used by `plan` while it decides every string a job will use, so a bad
//! template fails before anything runs. minijinja runs in strict mode: an
//! unknown variable is an error, never an empty string that would silently
//! produce `hello__linux.tar.gz`. Errors carry the byte range inside the
//! template, which `config::Source` maps to a line and column in matrix.toml.

mod budget;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr, Value};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};

use crate::config::{Limit, Limits};

/// Renders templates with matrix's settings, within [`Limits`]: all renders
/// of one engine share one budget of minijinja fuel (so a plan's template
/// work is bounded whatever the number of targets), and each rendered text
/// is capped in size while it is written.
pub struct Engine {
    /// In a cell because the fuel of the next render is what the earlier
    /// ones left, and minijinja reads it from the environment.
    env: RefCell<Environment<'static>>,
    fuel: u64,
    used: Cell<u64>,
    max_output: u64,
    /// Templates compiled so far, kept in `env` under their own text (with
    /// [`NAME_PREFIX`]) as the name: a plan renders the same few templates
    /// for every target, and each is parsed once.
    compiled: Cell<usize>,
}

/// Starts the name of every compiled template. An `include`, `import` or
/// `extends` name is turned into one that starts otherwise, so a template
/// can never load another by its text: it fails as it would if nothing had
/// been compiled before it, whatever the order of renders.
const NAME_PREFIX: &str = "t:";

/// Most templates an engine keeps compiled; past it, a template is parsed
/// for each render (a plan has a few dozen).
const MAX_COMPILED: usize = 4096;

/// A template that could not be parsed or rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    /// Byte range inside the template text, when the engine knows it.
    pub range: Option<Range<usize>>,
    /// What to do about it (for unknown variables: the closest name and the list).
    pub help: Option<String>,
    /// Set when a `[limits]` limit stopped the render.
    pub limit: Option<Limit>,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    /// An engine with the default [`Limits`].
    pub fn new() -> Self {
        Self::with_limits(&Limits::default())
    }

    pub fn with_limits(limits: &Limits) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Debug info is what gives errors their byte range.
        env.set_debug(true);
        env.set_fuel(Some(limits.template_fuel));
        // Templates are named by their text, which may end in `.html`: no
        // name may turn on escaping.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_path_join_callback(|name, _| format!("include:{name}").into());
        Engine {
            env: RefCell::new(env),
            fuel: limits.template_fuel,
            used: Cell::new(0),
            max_output: limits.max_template_output,
            compiled: Cell::new(0),
        }
    }

    /// Renders `template` with `vars`. Plain strings are returned as they are.
    pub fn render(&self, template: &str, vars: &Vars) -> Result<String, TemplateError> {
        if !template.contains("{{") && !template.contains("{%") && !template.contains("{#") {
            return Ok(template.to_string());
        }
        let left = self.fuel.saturating_sub(self.used.get());
        if left == 0 {
            return Err(budget::out_of_fuel(self.fuel));
        }
        let name = format!("{NAME_PREFIX}{template}");
        let cached = {
            let mut env = self.env.borrow_mut();
            env.set_fuel(Some(left));
            let known = env.get_template(&name).is_ok();
            let room = self.compiled.get() < MAX_COMPILED;
            if !known && room {
                env.add_template_owned(name.clone(), template.to_string())
                    .map_err(|e| convert(e, template))?;
                self.compiled.set(self.compiled.get() + 1);
            }
            known || room
        };
        let env = self.env.borrow();
        let compiled = if cached {
            env.get_template(&name)
        } else {
            env.template_from_str(template)
        }
        .map_err(|e| convert(e, template))?;
        let mut out = budget::Capped {
            text: Vec::new(),
            max: self.max_output,
            over: false,
        };
        let rendered = compiled.render_captured_to(vars.to_value(), &mut out);
        let failed = match rendered {
            Ok(captured) => {
                let spent = captured.state().fuel_levels().map_or(0, |(used, _)| used);
                self.used.set(self.used.get().saturating_add(spent));
                None
            }
            Err(e) => Some(e),
        };
        if out.over {
            return Err(budget::too_long(self.max_output));
        }
        let Some(e) = failed else {
            if out.text.contains(&0) {
                // No argument, environment value or file name can hold one.
                return Err(TemplateError {
                    message: "the template rendered a NUL byte (\\u0000)".into(),
                    range: None,
                    help: Some("a command's words, its environment and file names end at a NUL byte: leave it out".into()),
                    limit: None,
                });
            }
            // Rendered from a &str into bytes we only appended to.
            return String::from_utf8(out.text).map_err(|_| TemplateError {
                message: "the template rendered text that is not UTF-8".into(),
                range: None,
                help: None,
                limit: None,
            });
        };
        if e.kind() == ErrorKind::OutOfFuel {
            self.used.set(self.fuel);
            return Err(budget::out_of_fuel(self.fuel));
        }
        Err({
            let mut err = convert(e, template);
            if err.message.starts_with("unknown variable") {
                let used = err
                    .range
                    .clone()
                    .map(|r| template[r].trim().to_string())
                    .unwrap_or_default();
                let root = used.split(['.', '[', ' ', '|']).next().unwrap_or_default();
                let names = vars.names();
                let near = names
                    .iter()
                    .filter(|n| **n != root && strsim::damerau_levenshtein(n, root) <= 2)
                    .min_by_key(|n| strsim::damerau_levenshtein(n, root));
                let list = names.join(", ");
                err.help = Some(match near {
                    Some(n) => format!("did you mean `{n}`? variables: {list}"),
                    None => format!("variables: {list}"),
                });
            }
            err
        })
    }
}

fn convert(e: minijinja::Error, template: &str) -> TemplateError {
    let range = e.range().filter(|r| r.end <= template.len());
    let message = match e.kind() {
        ErrorKind::UndefinedError => {
            let what = range.clone().map(|r| template[r].trim().to_string());
            match what {
                Some(what) if !what.is_empty() => format!("unknown variable `{what}` in template"),
                _ => "unknown variable in template".to_string(),
            }
        }
        ErrorKind::SyntaxError => {
            format!(
                "template syntax error: {}",
                e.detail().unwrap_or("invalid syntax")
            )
        }
        _ => match e.detail() {
            Some(detail) => format!("template error: {detail}"),
            None => format!("template error: {}", e.kind()),
        },
    };
    TemplateError {
        message,
        range,
        help: None,
        limit: None,
    }
}

pub use crate::config::command::split_command;

/// The variables a template can use, sorted by name.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, Value>,
    /// `values` as the one map value minijinja renders with, made at the
    /// first render after a change: a target's templates share it.
    value: std::cell::OnceCell<Value>,
}

impl Vars {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(&mut self, name: &str, value: impl Into<Value>) -> &mut Self {
        self.values.insert(name.to_string(), value.into());
        self.value = std::cell::OnceCell::new();
        self
    }

    pub fn names(&self) -> Vec<&str> {
        self.values.keys().map(String::as_str).collect()
    }

    fn to_value(&self) -> Value {
        // A clone of a map value shares it (reference counted).
        self.value
            .get_or_init(|| {
                Value::from_pairs(self.values.iter().map(|(k, v)| (k.as_str(), v.clone())))
            })
            .clone()
    }
}

/// `{{ project }}` renders as the name; `{{ project.homepage }}` etc. also work.
#[derive(Debug, Clone)]
pub struct ProjectVar {
    pub name: String,
    pub description: String,
    pub homepage: String,
    pub license: String,
}

impl Object for ProjectVar {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let v = match key.as_str()? {
            "name" => &self.name,
            "description" => &self.description,
            "homepage" => &self.homepage,
            "license" => &self.license,
            _ => return None,
        };
        Some(Value::from(v.as_str()))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// `{{ target }}` renders as the target id (`linux/arm64`); its attributes
/// spell the target for each ecosystem: `{{ target.rust }}`,
/// `{{ target.gnu_prefix }}`, `{{ target.debian_arch }}`, ... An attribute
/// the platform does not have (no Debian name for darwin) is undefined, so
/// using it is an error rather than an empty string.
#[derive(Debug, Clone)]
pub struct TargetVar {
    pub id: String,
    pub slug: String,
    pub platform: Option<&'static crate::target::Platform>,
}

impl TargetVar {
    /// Every attribute name, for `matrix targets` and the README.
    pub const ATTRIBUTES: &'static [&'static str] = &[
        "id",
        "slug",
        "os",
        "arch",
        "variant",
        "goos",
        "goarch",
        "goarm",
        "rust",
        "rust_musl",
        "gnu_prefix",
        "cc",
        "zig",
        "debian_arch",
        "docker_platform",
        "snap_arch",
        "homebrew_cpu",
        "choco_bitness",
        "format",
        "machine",
        "bits",
        "qemu",
        "exe_suffix",
    ];
}

impl Object for TargetVar {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        match key {
            "id" => return Some(Value::from(self.id.as_str())),
            "slug" => return Some(Value::from(self.slug.as_str())),
            _ => {}
        }
        let p = self.platform?;
        let text = |v: Option<&'static str>| v.map(Value::from);
        match key {
            "os" => text(Some(p.os)),
            "arch" => text(Some(p.arch)),
            "variant" => text(p.variant),
            "goos" => text(Some(p.goos)),
            "goarch" => text(Some(p.goarch)),
            "goarm" => text(p.goarm),
            "rust" => text(p.rust_gnu()),
            "rust_musl" => text(p.rust_musl()),
            "gnu_prefix" => text(p.gnu_prefix),
            "cc" => p.gnu_prefix.map(|g| Value::from(format!("{g}gcc"))),
            "zig" => text(p.zig),
            "zig_musl" => p.zig_musl().map(Value::from),
            "debian_arch" => text(p.debian_arch),
            "docker_platform" => text(p.docker_platform),
            "snap_arch" => text(p.snap_arch),
            "homebrew_cpu" => text(p.homebrew_cpu),
            "choco_bitness" => p.choco_bitness.map(Value::from),
            "format" => Some(Value::from(p.format.name())),
            "machine" => Some(Value::from(p.machine.name())),
            "bits" => Some(Value::from(p.bits)),
            "qemu" => text(p.qemu),
            "exe_suffix" => text(Some(p.exe_suffix)),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut v = Vars::new();
        v.set("os", "linux")
            .set("arch", "arm64")
            .set("version", "1.2.3");
        v.set(
            "project",
            Value::from_object(ProjectVar {
                name: "hello".into(),
                description: "d".into(),
                homepage: "https://example.org".into(),
                license: "MIT".into(),
            }),
        );
        let env: BTreeMap<String, String> = [("HOME".to_string(), "/root".to_string())].into();
        v.set(
            "env",
            Value::from_pairs(env.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        );
        v
    }

    /// A compiled template is never reachable by name: an include of
    /// another template's text fails as it does when that one was never
    /// rendered.
    #[test]
    fn an_include_never_finds_a_compiled_template() {
        let engine = Engine::new();
        let v = vars();
        assert_eq!(engine.render("{{ os }}", &v).unwrap(), "linux");
        for include in [
            "{% include '{{ os }}' %}",
            "{% include 't:{{ os }}' %}",
            "{% extends 't:{{ os }}' %}",
            "{% import 't:{{ os }}' as x %}",
        ] {
            let err = engine.render(include, &v).unwrap_err();
            let m = &err.message;
            assert!(
                m.contains("non-existing template") || m.contains("does not exist"),
                "{include}: {m}"
            );
        }
    }

    /// `"\u0000"` in a template (a config check sees only the braces)
    /// would reach a job's argv or environment, which end at it.
    #[test]
    fn a_nul_byte_is_never_rendered() {
        let engine = Engine::new();
        let err = engine.render("x{{ \"\\u0000\" }}y", &vars()).unwrap_err();
        assert_eq!(err.message, "the template rendered a NUL byte (\\u0000)");
        assert_eq!(
            engine.render("x{{ \"\\u0041\" }}y", &vars()).unwrap(),
            "xAy"
        );
    }

    #[test]
    fn renders() {
        let engine = Engine::new();
        let cases = [
            ("plain", "plain"),
            (
                "{{ project }}_{{ version }}_{{ os }}_{{ arch }}",
                "hello_1.2.3_linux_arm64",
            ),
            ("{{ project.homepage }}", "https://example.org"),
            ("{{ env.HOME }}/cache", "/root/cache"),
            ("{{ os | upper }}", "LINUX"),
            ("{% if os == 'linux' %}elf{% else %}other{% endif %}", "elf"),
            ("{{ 'x' if arch == '386' else 'y' }}", "y"),
        ];
        let v = vars();
        for (template, want) in cases {
            assert_eq!(engine.render(template, &v).unwrap(), want, "{template}");
        }
    }

    #[test]
    fn target_attributes() {
        let engine = Engine::new();
        let mut v = Vars::new();
        v.set(
            "target",
            Value::from_object(TargetVar {
                id: "linux/arm64".into(),
                slug: "linux-arm64".into(),
                platform: crate::target::platform("linux", "arm64", None),
            }),
        );
        let cases = [
            ("{{ target }}", "linux/arm64"),
            ("{{ target.rust }}", "aarch64-unknown-linux-gnu"),
            ("{{ target.rust_musl }}", "aarch64-unknown-linux-musl"),
            ("{{ target.gnu_prefix }}gcc", "aarch64-linux-gnu-gcc"),
            ("{{ target.cc }}", "aarch64-linux-gnu-gcc"),
            (
                "{{ target.debian_arch }} {{ target.docker_platform }}",
                "arm64 linux/arm64/v8",
            ),
            (
                "{{ target.format }} {{ target.machine }} {{ target.bits }}",
                "elf aarch64 64",
            ),
            ("{{ target.qemu }}", "aarch64"),
        ];
        for (template, want) in cases {
            assert_eq!(engine.render(template, &v).unwrap(), want, "{template}");
        }
        // No Chocolatey bitness on Linux: an error, not an empty string.
        let err = engine.render("{{ target.choco_bitness }}", &v).unwrap_err();
        assert!(
            err.message.contains("target.choco_bitness"),
            "{}",
            err.message
        );
        for attr in TargetVar::ATTRIBUTES {
            let t = format!("{{{{ target.{attr} is defined }}}}");
            let _ = engine.render(&t, &v).unwrap();
        }
    }

    #[test]
    fn splits_around_templates() {
        let cases: [(&str, &[&str]); 6] = [
            (
                "go build -o {{ out }}/{{ bin }} .",
                &["go", "build", "-o", "{{ out }}/{{ bin }}", "."],
            ),
            (
                "a '-X main.v={{ version }}' b",
                &["a", "-X main.v={{ version }}", "b"],
            ),
            (
                "x {{ 'a b' if os == 'linux' else \"c d\" }}",
                &["x", "{{ 'a b' if os == 'linux' else \"c d\" }}"],
            ),
            (
                "{% if os == 'windows' %}cl{% else %}cc{% endif %} -c x.c",
                &[
                    "{% if os == 'windows' %}cl{% else %}cc{% endif %}",
                    "-c",
                    "x.c",
                ],
            ),
            ("echo \"{{ a }} {{ b }}\"", &["echo", "{{ a }} {{ b }}"]),
            ("plain words  here", &["plain", "words", "here"]),
        ];
        for (line, want) in cases {
            assert_eq!(split_command(line).unwrap(), want, "{line}");
        }
        assert!(split_command("a 'b").unwrap_err().contains("quote"));
        assert!(split_command("a {{ b").unwrap_err().contains("not closed"));
    }

    #[test]
    fn errors_have_ranges() {
        let engine = Engine::new();
        let v = vars();
        let cases = [
            ("a {{ nope }} b", "unknown variable `nope`", Some("nope")),
            (
                "{{ env.NOPE_NOT_SET }}",
                "unknown variable",
                Some("env.NOPE_NOT_SET"),
            ),
            (
                "{{ project.owner }}",
                "unknown variable",
                Some("project.owner"),
            ),
            ("x {{ os ", "syntax error", None),
            ("{% if %}", "syntax error", None),
        ];
        for (template, want, text) in cases {
            let err = engine.render(template, &v).unwrap_err();
            assert!(err.message.contains(want), "{template}: {}", err.message);
            if let Some(text) = text {
                let range = err.range.clone().expect("range");
                assert_eq!(&template[range], text, "{template}");
            } else {
                assert!(err.range.is_some(), "{template} has no range");
            }
        }
        let err = engine.render("{{ nope }}", &v).unwrap_err();
        assert_eq!(
            err.help.as_deref(),
            Some("variables: arch, env, os, project, version")
        );
        let err = engine.render("{{ verison }}", &v).unwrap_err();
        assert_eq!(
            err.help.as_deref(),
            Some("did you mean `version`? variables: arch, env, os, project, version")
        );
        // A missing attribute of a known variable is not a misspelt variable.
        let err = engine.render("{{ env.NOPE }}", &v).unwrap_err();
        assert_eq!(
            err.help.as_deref(),
            Some("variables: arch, env, os, project, version")
        );
    }
}
