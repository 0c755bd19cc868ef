//! The Homebrew channel: renders a formula (`<name>.rb`) that installs the
//! release's prebuilt macOS and Linux archives.
//!
//! Part of `packager`; a pure function of [`ChannelInput`]: the caller writes
//! the text wherever the tap lives. This file owns what Homebrew expects of a
//! formula (class name, `desc` rules, `on_macos`/`on_linux` x
//! `on_arm`/`on_intel` blocks, what `def install` must name given how
//! Homebrew unpacks an archive) and the template context; the layout itself
//! is `templates/homebrew.rb.j2`, which a user may replace.
//!
//! Variables a template sees: `release` (the [`Release`] fields), `packages`
//! (the input packages), `class_name`, `desc` (as written, checked against
//! Homebrew's rules in [`desc`]), `license` (the Ruby arguments of
//! `license`, empty when unset), `binary`, `systems` (a list
//! of `{name: "macos"|"linux", universal, cpus: [{name: "arm"|"intel",
//! target, url, sha256, install}]}`, where `universal` is a block like a
//! cpu's for a universal macOS binary, which then fills `on_macos` alone),
//! `install` (Ruby lines of the shared `def install`; empty when each cpu
//! block has its own `install`), `test` (Ruby lines of
//! `test do`), `caveats` (text or none). Filters: `ruby` (a double-quoted Ruby
//! string literal) and `ruby_heredoc(indent)` (a `<<~EOS` heredoc).

use minijinja::Environment;
use minijinja::value::Value;
use serde::Serialize;

use super::error::PublishError;
use super::input::{ChannelInput, Package, Release};
use crate::package::archive::Format;

mod config;
pub mod desc;
mod plan;
mod ruby;
#[cfg(test)]
mod tests;
mod write;

use ruby::{ruby_heredoc, ruby_license, ruby_string};

pub(super) use super::registry::{
    no_package as write_package, no_package_file as package_file, no_packages as per_target,
    no_url_check as check_urls,
};
pub use config::HomebrewConfig;
pub use plan::HomebrewStep;
pub(super) use plan::{PACKAGER, check, plan};
pub(super) use write::write;

/// The embedded formula template.
pub const TEMPLATE: &str = include_str!("templates/homebrew.rb.j2");
const TEMPLATE_NAME: &str = "homebrew.rb.j2";
const USER_TEMPLATE_NAME: &str = "user template";

/// Settings of one Homebrew channel.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HomebrewOptions {
    /// The channel's name in matrix.toml, for errors.
    pub channel: String,
    /// Ruby class of the formula; by default derived from `release.name` the
    /// way Homebrew derives it from the file name (`hello-c` -> `HelloC`).
    pub class_name: Option<String>,
    /// The formula's file name without `.rb`, which Homebrew's desc rules
    /// check against; by default `release.name`.
    pub formula: Option<String>,
    /// The formula's `desc`; by default the release's description. Either
    /// must pass Homebrew's rules ([`desc::review`]) as written.
    pub desc: Option<String>,
    /// Arguments `test do` runs the binary with; `["--version"]` also
    /// checks that the output contains the version.
    pub test_args: Vec<String>,
    pub caveats: Option<String>,
}

/// Renders the formula, with the embedded template or `template` (the text
/// of a user's template).
pub fn render(
    input: &ChannelInput,
    opts: &HomebrewOptions,
    template: Option<&str>,
) -> Result<String, PublishError> {
    let context = context(input, opts)?;
    let (name, source) = match template {
        Some(text) => (USER_TEMPLATE_NAME, text),
        None => (TEMPLATE_NAME, TEMPLATE),
    };
    let env = environment().map_err(|e| PublishError::template(&opts.channel, name, &e))?;
    super::render::render(&env, &opts.channel, name, source, &context)
}

/// What the template renders from.
#[derive(Debug, Serialize)]
struct Context<'a> {
    release: &'a Release,
    packages: &'a [Package],
    class_name: String,
    desc: String,
    license: String,
    binary: String,
    systems: Vec<OsBlock>,
    install: Vec<String>,
    test: Vec<String>,
    caveats: Option<String>,
}

#[derive(Debug, Serialize)]
struct OsBlock {
    /// `macos` or `linux`, as in `on_macos`.
    name: &'static str,
    /// A universal binary's url and sha256, straight in the OS block
    /// (`[universal] darwin`); `cpus` is then empty.
    universal: Option<CpuBlock>,
    cpus: Vec<CpuBlock>,
}

#[derive(Debug, Serialize)]
struct CpuBlock {
    /// `arm` or `intel`, as in `on_arm`.
    name: &'static str,
    target: String,
    url: String,
    sha256: String,
    /// This block's own `def install` lines; empty when the shared one fits.
    install: Vec<String>,
}

/// Homebrew's two OS blocks, in the order the formula lists them.
const SYSTEMS: [(&str, &str); 2] = [("darwin", "macos"), ("linux", "linux")];
const CPUS: [&str; 2] = ["arm", "intel"];
/// The slot of a universal binary: the whole `on_macos` block, no
/// `on_arm`/`on_intel` inside.
const UNIVERSAL: &str = "universal";

fn context<'a>(
    input: &'a ChannelInput,
    opts: &HomebrewOptions,
) -> Result<Context<'a>, PublishError> {
    let invalid = |message: String, help: Option<String>| PublishError::Invalid {
        channel: opts.channel.clone(),
        message,
        help,
    };
    let release = &input.release;
    let class_name = class_name(opts, release, &invalid)?;
    let desc = formula_desc(opts, release, &invalid)?;
    if release.homepage.trim().is_empty() {
        return Err(invalid(
            "a formula needs a homepage, and the release has none".into(),
            Some("set `homepage` in matrix.toml".into()),
        ));
    }
    let license = license(release, &invalid)?;

    let packages = check_packages(input, &invalid)?;
    let binary = packages[0].1.binary.clone();
    let installs: Vec<Vec<String>> = packages.iter().map(|(_, p)| install_lines(p)).collect();
    // One shared `def install` reads best; bare binaries are named after
    // their target, so then each block carries its own.
    let shared = installs.windows(2).all(|w| w[0] == w[1]);
    let systems = systems(&packages, &installs, shared);
    let install = if shared {
        installs[0].clone()
    } else {
        Vec::new()
    };
    let caveats = opts
        .caveats
        .as_deref()
        .map(|c| c.trim_end().to_string())
        .filter(|c| !c.trim().is_empty());
    Ok(Context {
        release,
        packages: &input.packages,
        class_name,
        desc,
        license,
        test: test_lines(&binary, &opts.test_args),
        binary,
        systems,
        install,
        caveats,
    })
}

/// The formula's class name, checked.
fn class_name(
    opts: &HomebrewOptions,
    release: &Release,
    invalid: &dyn Fn(String, Option<String>) -> PublishError,
) -> Result<String, PublishError> {
    // Homebrew loads `<formula>.rb` and expects the class its name makes
    // (`hello-cli.rb` holds `HelloCli`), so the default comes from the
    // formula's name, not the project's.
    let class_name = match &opts.class_name {
        Some(name) => name.clone(),
        None => class_s(opts.formula.as_deref().unwrap_or(&release.name)),
    };
    if !is_class_name(&class_name) {
        return Err(invalid(
            format!("`{class_name}` is not a Ruby class name"),
            Some(
                "set `class_name` in the channel to a name starting with a capital letter, \
                 made of letters, digits and `_`"
                    .into(),
            ),
        ));
    }
    Ok(class_name)
}

/// The formula's `desc`, checked against Homebrew's rules.
fn formula_desc(
    opts: &HomebrewOptions,
    release: &Release,
    invalid: &dyn Fn(String, Option<String>) -> PublishError,
) -> Result<String, PublishError> {
    let desc = opts.desc.as_deref().unwrap_or(&release.description);
    let formula = opts.formula.as_deref().unwrap_or(&release.name);
    let problems = desc::review(desc, formula);
    if !problems.is_empty() {
        let help = match desc::suggest(desc, formula) {
            Some(fixed) => format!("set the channel's `desc` to {fixed:?}"),
            None => format!(
                "set the channel's `desc` to a one-line description of at most {} characters",
                desc::MAX_DESC_CHARS
            ),
        };
        return Err(invalid(
            format!(
                "the formula's desc {desc:?} breaks Homebrew's rules: {}",
                problems.join(" ")
            ),
            Some(help),
        ));
    }
    Ok(desc.to_string())
}

/// The Ruby arguments of `license`, empty when the release has none.
fn license(
    release: &Release,
    invalid: &dyn Fn(String, Option<String>) -> PublishError,
) -> Result<String, PublishError> {
    if release.license.trim().is_empty() {
        return Ok(String::new());
    }
    ruby_license(&release.license).ok_or_else(|| {
        invalid(
            format!(
                "cannot read the license `{}` as an SPDX expression",
                release.license
            ),
            Some("write it like `MIT`, `MIT OR Apache-2.0` or `(A AND B) OR C`".into()),
        )
    })
}

/// The `on_<os>` blocks, each with its `on_<cpu>` blocks, in Homebrew's
/// order.
fn systems(packages: &[(Slot, &Package)], installs: &[Vec<String>], shared: bool) -> Vec<OsBlock> {
    let mut systems = Vec::new();
    for (os, block) in SYSTEMS {
        let cpu_block = |cpu: &'static str| {
            let found = packages
                .iter()
                .zip(installs)
                .find(|((key, _), _)| *key == (os, cpu));
            found.map(|((_, p), lines)| CpuBlock {
                name: cpu,
                target: p.target.clone(),
                url: p.url.clone(),
                sha256: p.sha256.clone(),
                install: if shared { Vec::new() } else { lines.clone() },
            })
        };
        let universal = cpu_block(UNIVERSAL);
        let cpus: Vec<CpuBlock> = if universal.is_some() {
            Vec::new()
        } else {
            CPUS.into_iter().filter_map(cpu_block).collect()
        };
        if universal.is_some() || !cpus.is_empty() {
            systems.push(OsBlock {
                name: block,
                universal,
                cpus,
            });
        }
    }
    systems
}

/// Where a package goes: (matrix os, Homebrew cpu).
type Slot = (&'static str, &'static str);

/// Checks every package can go in a formula and keys it by (os, cpu).
fn check_packages<'a>(
    input: &'a ChannelInput,
    invalid: &dyn Fn(String, Option<String>) -> PublishError,
) -> Result<Vec<(Slot, &'a Package)>, PublishError> {
    let narrow = || Some("narrow the channel's `when` to the darwin and linux targets".to_string());
    let mut keyed: Vec<(Slot, &Package)> = Vec::new();
    for p in &input.packages {
        let os = SYSTEMS
            .iter()
            .map(|(os, _)| *os)
            .find(|os| *os == p.platform.os)
            .ok_or_else(|| {
                invalid(
                    format!(
                        "{}: Homebrew installs only macOS and Linux packages",
                        p.target
                    ),
                    narrow(),
                )
            })?;
        // A universal macOS binary fills the whole on_macos block.
        let cpu = if p.is_universal() {
            Some(UNIVERSAL)
        } else {
            p.platform.homebrew_cpu
        };
        let cpu = cpu.ok_or_else(|| {
            invalid(
                format!(
                    "{}: Homebrew has no on_arm/on_intel block for this architecture",
                    p.target
                ),
                narrow(),
            )
        })?;
        if let Some((_, other)) = keyed.iter().find(|(key, _)| *key == (os, cpu)) {
            return Err(invalid(
                format!(
                    "{} ({}) and {} ({}) both fill the on_{} / on_{cpu} block",
                    other.target,
                    other.file_name,
                    p.target,
                    p.file_name,
                    if os == "darwin" { "macos" } else { "linux" },
                ),
                Some("narrow the channel's `when` so one package is left per OS and CPU".into()),
            ));
        }
        if !is_plain_name(&p.binary) {
            return Err(invalid(
                format!(
                    "{}: the executable name `{}` needs quoting in a shell",
                    p.target, p.binary
                ),
                None,
            ));
        }
        if p.sha256.len() != 64 || !p.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                format!("{}: `{}` is not a sha256", p.target, p.sha256),
                None,
            ));
        }
        keyed.push(((os, cpu), p));
    }
    let Some((_, first)) = keyed.first() else {
        return Err(invalid("the channel selects no packages".into(), narrow()));
    };
    if let Some((_, odd)) = keyed.iter().find(|(_, p)| p.binary != first.binary) {
        return Err(invalid(
            format!(
                "{} ships `{}` but {} ships `{}`; a formula installs one command",
                first.target, first.binary, odd.target, odd.binary
            ),
            None,
        ));
    }
    Ok(keyed)
}

/// Homebrew's `Formulary.class_s`: capitalize, drop each `-`, `_`, `.` or
/// space before a letter or digit and upcase that character, `+` -> `x`,
/// and the first `<c>@<digit>` -> `<c>AT<digit>`.
pub fn class_s(name: &str) -> String {
    let mut chars = name.chars();
    let capitalized: Vec<char> = match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => Vec::new(),
    };
    let mut out = String::new();
    let mut i = 0;
    while i < capitalized.len() {
        let c = capitalized[i];
        let next = capitalized.get(i + 1).copied();
        match next {
            Some(n) if matches!(c, '-' | '_' | '.') || c.is_whitespace() => {
                if n.is_ascii_alphanumeric() {
                    out.push(n.to_ascii_uppercase());
                    i += 2;
                    continue;
                }
                out.push(c);
            }
            _ => out.push(if c == '+' { 'x' } else { c }),
        }
        i += 1;
    }
    // `(.)@(\d)` -> `\1AT\2`, first match only, like Ruby's `sub`.
    let bytes = out.as_bytes();
    if let Some(at) = (1..bytes.len().saturating_sub(1))
        .find(|&i| bytes[i] == b'@' && bytes[i + 1].is_ascii_digit())
    {
        out.replace_range(at..at + 1, "AT");
    }
    out
}

/// For the plan: the class the formula would get (`class`, else the one
/// the formula's name makes) when it is not a Ruby class name.
pub fn bad_class_name(class: Option<&str>, formula: &str) -> Option<String> {
    let name = class.map_or_else(|| class_s(formula), str::to_string);
    (!is_class_name(&name)).then_some(name)
}

fn is_class_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_uppercase())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Safe unquoted in a shell command line and in a Ruby string.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
}

/// The folder every entry of the archive sits in, if there is exactly one
/// at the top. Homebrew then `chdir`s into it before `install` runs
/// (`AbstractDownloadStrategy#chdir`, which lists entries with `Dir["*"]`,
/// so top-level dotfiles do not count).
fn wrap_dir(p: &Package) -> Option<&str> {
    let (dir, _) = p.binary_in_archive.split_once('/')?;
    let inside = |path: &str| {
        path.strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
    };
    p.files
        .iter()
        .filter(|f| !f.starts_with('.'))
        .all(|f| inside(f))
        .then_some(dir)
}

/// Ruby lines of `def install` for one package.
fn install_lines(p: &Package) -> Vec<String> {
    if p.format == Format::Binary {
        // Homebrew stages a plain download under its URL's file name.
        let staged = url_file_name(&p.url).unwrap_or(&p.file_name);
        return vec![format!(
            "bin.install {} => {}",
            ruby_string(staged),
            ruby_string(&p.binary)
        )];
    }
    let wrap = wrap_dir(p);
    let relative = |path: &'_ str| -> String {
        match wrap {
            Some(dir) => path[dir.len() + 1..].to_string(),
            None => path.to_string(),
        }
    };
    let bin = relative(&p.binary_in_archive);
    let installed_as = bin.rsplit('/').next().unwrap_or(&bin);
    let mut lines = vec![if installed_as == p.binary {
        format!("bin.install {}", ruby_string(&bin))
    } else {
        format!(
            "bin.install {} => {}",
            ruby_string(&bin),
            ruby_string(&p.binary)
        )
    }];
    let mut files: Vec<String> = p.files.iter().map(|f| relative(f)).collect();
    files.sort();
    let mut completions = Vec::new();
    let mut man = Vec::new();
    for file in &files {
        if let Some(rest) = file.strip_prefix("completions/") {
            if let Some((shell, name)) = completion(rest) {
                completions.push((shell, file, name));
            }
        } else if file.starts_with("man/")
            && let Some(section) = man_section(file)
        {
            man.push(format!("man{section}.install {}", ruby_string(file)));
        }
    }
    // bash, then zsh, then fish; by path within each.
    completions
        .sort_by_key(|(shell, _, _)| ["bash", "zsh", "fish"].iter().position(|s| s == shell));
    for (shell, file, name) in completions {
        let base = file.rsplit('/').next().unwrap_or(file);
        lines.push(if base == name {
            format!("{shell}_completion.install {}", ruby_string(file))
        } else {
            format!(
                "{shell}_completion.install {} => {}",
                ruby_string(file),
                ruby_string(&name)
            )
        });
    }
    lines.extend(man);
    lines
}

/// The shell a completion file is for (by extension or by a `bash/`,
/// `zsh/`, `fish/` folder) and the name it must be installed under: bash
/// completion loads `<command>`, zsh `_<command>`, fish `<command>.fish`.
fn completion(path: &str) -> Option<(&'static str, String)> {
    let name = path.rsplit('/').next()?;
    let in_dir = |d: &str| path.split('/').rev().skip(1).any(|c| c == d);
    if let Some(stem) = name.strip_suffix(".fish") {
        return Some(("fish", format!("{stem}.fish")));
    }
    if in_dir("fish") {
        return Some(("fish", format!("{name}.fish")));
    }
    if let Some(stem) = name.strip_suffix(".zsh") {
        return Some(("zsh", format!("_{}", stem.trim_start_matches('_'))));
    }
    if in_dir("zsh") || name.starts_with('_') {
        return Some(("zsh", format!("_{}", name.trim_start_matches('_'))));
    }
    if let Some(stem) = name.strip_suffix(".bash") {
        return Some(("bash", stem.to_string()));
    }
    if in_dir("bash") {
        return Some(("bash", name.to_string()));
    }
    None
}

/// `1`..`8` for `name.1` or `name.1.gz`.
fn man_section(path: &str) -> Option<char> {
    let name = path.rsplit('/').next()?;
    let name = name.strip_suffix(".gz").unwrap_or(name);
    let (stem, section) = name.rsplit_once('.')?;
    let mut chars = section.chars();
    let digit = chars.next().filter(|c| ('1'..='8').contains(c))?;
    (chars.next().is_none() && !stem.is_empty()).then_some(digit)
}

fn url_file_name(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?;
    let name = path.rsplit('/').next()?;
    (!name.is_empty() && !name.contains('%')).then_some(name)
}

/// Ruby lines of `test do`.
fn test_lines(binary: &str, args: &[String]) -> Vec<String> {
    if args.len() == 1 && args[0] == "--version" {
        // `binary` is a plain name (checked), so it needs no shell quoting.
        return vec![format!(
            "assert_match version.to_s, shell_output(\"#{{bin}}/{binary} --version\")"
        )];
    }
    if args.is_empty() {
        // With no arguments the program might wait for input; check that it
        // was installed instead of running it.
        return vec![format!(
            "assert_predicate bin/{}, :executable?",
            ruby_string(binary)
        )];
    }
    let mut call = format!("system bin/{}", ruby_string(binary));
    for arg in args {
        call.push_str(", ");
        call.push_str(&ruby_string(arg));
    }
    vec![call]
}

fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = super::render::environment()?;
    env.add_filter("ruby", |s: &str| Value::from_safe_string(ruby_string(s)));
    env.add_filter("ruby_heredoc", |s: &str, indent: Option<usize>| {
        Value::from_safe_string(ruby_heredoc(s, indent))
    });
    Ok(env)
}
