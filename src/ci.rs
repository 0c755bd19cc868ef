//! CI files for sharded releases: a GitHub Actions workflow and a GitLab CI
//! pipeline that run `matrix plan --shards N`, N × `matrix build --shard
//! i/N` and one `matrix merge`.
//!
//! Beside the flow rather than in it: nothing here runs a build. It renders
//! the embedded templates under `ci/templates/` from [`CiOptions`]; the
//! split itself is [`crate::shard`]'s. The templates use `[[ ]]`, `[% %]`
//! and `[# #]` as delimiters so the `${{ }}` expressions GitHub evaluates
//! pass through as written, and every option reaches the YAML through a
//! filter that quotes it for where it lands (`yaml` for a scalar, `sh` for
//! a shell word), so a path with a space or a quote cannot break the file.
//!
//! Every job first installs matrix ([`Install`]: by default this very
//! version, from its git tag or its release archive); each build job then
//! runs `matrix doctor --install --yes`, so the runner gets the toolchains
//! the project's targets need from matrix itself, whatever the image had.

mod install;

pub use install::{
    Install, PACKAGE, REPOSITORY, VERSION, archive_name, checksums_name, pin_warning,
};

use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, syntax::SyntaxConfig};
use serde::Serialize;

pub use crate::shard::Provider;

const GITHUB: &str = include_str!("ci/templates/github-release.yml.j2");
const GITLAB: &str = include_str!("ci/templates/gitlab-ci.yml.j2");

/// A GitHub Actions matrix holds at most 256 jobs.
pub const GITHUB_MAX_SHARDS: usize = 256;
/// A GitLab `parallel: matrix` makes at most 200 jobs.
pub const GITLAB_MAX_SHARDS: usize = 200;

/// What the generated CI files say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiOptions {
    /// Number of build runners (N in `--shard i/N`).
    pub shards: usize,
    /// Path to matrix.toml from the repository root.
    pub config: String,
    /// How every job gets matrix.
    pub install: Install,
    /// What each build job does about the targets' toolchains.
    pub toolchains: Toolchains,
    /// GitHub runner label (`runs-on`); GitLab ignores it.
    pub runs_on: String,
    /// GitLab job image: it needs what `install` uses (cargo for the
    /// default, curl and tar for the archive) and, for `matrix doctor
    /// --install`, apt as root or through `sudo -n`; GitHub ignores it.
    pub image: String,
    /// Folder the merged release is written to.
    pub dist: String,
    /// `[ci] attestations`: on a tag, the GitHub merge job attests every
    /// file of the checksums file and signs the pushed images keylessly.
    /// GitLab ignores it.
    pub attestations: bool,
    /// The release has `[images]`: on a tag, the GitHub merge job pushes
    /// them (and, with `attestations`, signs each by digest).
    pub images: bool,
    /// `[cache]` names a registry (`from` or `to`): each GitHub build job
    /// gets the registry credentials and may write packages, so shards
    /// share the action cache.
    pub registry_cache: bool,
    /// `[sign]`'s `key-env` and `passphrase-env`: the merge step (which
    /// signs) gets each from the repository secret of the same name.
    pub sign_secrets: Vec<String>,
}

/// The toolchain step of each build job. The plan and merge jobs build
/// nothing and have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Toolchains {
    /// `matrix doctor --install --yes`: install what the targets need.
    #[default]
    Install,
    /// `matrix doctor`: the runner already has them; stop before the
    /// build, saying what is missing, if it does not.
    Check,
    /// No step: the build's own check is the only one.
    None,
}

impl CiOptions {
    /// The defaults (matrix.toml, toolchains installed by matrix doctor,
    /// ubuntu-latest, rust:1, dist) with the given install.
    pub fn new(shards: usize, install: Install) -> CiOptions {
        CiOptions {
            shards,
            config: "matrix.toml".into(),
            install,
            toolchains: Toolchains::default(),
            runs_on: "ubuntu-latest".into(),
            image: "rust:1".into(),
            dist: "dist".into(),
            attestations: false,
            images: false,
            registry_cache: false,
            sign_secrets: Vec::new(),
        }
    }
}

/// What the file for a CI system is called in errors. (The install lines
/// differ per system too, in how they put matrix on PATH.)
fn file(ci: Provider) -> &'static str {
    match ci {
        Provider::Github => "GitHub workflow",
        Provider::Gitlab => "GitLab pipeline",
    }
}

/// The files for `ci`: [`github_workflow`] or [`gitlab_ci`].
pub fn render_files(ci: Provider, opts: &CiOptions) -> Result<String, CiError> {
    match ci {
        Provider::Github => github_workflow(opts),
        Provider::Gitlab => gitlab_ci(opts),
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CiError {
    #[error("{file}: option `{option}` = {value:?}: {problem}")]
    #[diagnostic(code(matrix::ci::option))]
    Option {
        file: &'static str,
        option: &'static str,
        value: String,
        problem: String,
        #[help]
        help: Option<String>,
    },
    #[error("{file}: rendering the embedded template failed: {message}")]
    #[diagnostic(
        code(matrix::ci::template),
        help("this is a bug in matrix; please report it with the options used")
    )]
    Template { file: &'static str, message: String },
}

/// `.github/workflows/release.yml`: plan, N build jobs from the plan's
/// matrix, merge, verify, and on a tag a GitHub release.
pub fn github_workflow(opts: &CiOptions) -> Result<String, CiError> {
    let ci = Provider::Github;
    check(file(ci), opts, GITHUB_MAX_SHARDS)?;
    render(file(ci), GITHUB, &Context::new(opts, ci)?)
}

/// `.gitlab-ci.yml`: plan, a `parallel: matrix` of N build jobs, merge.
pub fn gitlab_ci(opts: &CiOptions) -> Result<String, CiError> {
    let ci = Provider::Gitlab;
    check(file(ci), opts, GITLAB_MAX_SHARDS)?;
    render(file(ci), GITLAB, &Context::new(opts, ci)?)
}

#[derive(Serialize)]
struct Context<'a> {
    shards: usize,
    /// `1/N` ... `N/N`.
    labels: Vec<String>,
    config: &'a str,
    /// The install step's shell lines.
    install: String,
    /// The GitHub cache key of a cargo-installed matrix, if cached.
    install_cache: Option<String>,
    /// "install", "check" or none: the build jobs' doctor step.
    toolchains: Option<&'static str>,
    /// Comment lines for the header on what the jobs install.
    install_note: String,
    runs_on: &'a str,
    image: &'a str,
    dist: &'a str,
    /// Where a GitHub build job writes its shard (a GitHub expression).
    shard_dist: String,
    attestations: bool,
    images: bool,
    registry_cache: bool,
    sign_secrets: &'a [String],
    /// The jq program that lists every pushed image as `repository@digest`.
    pushed_images: &'static str,
}

impl<'a> Context<'a> {
    fn new(opts: &'a CiOptions, ci: Provider) -> Result<Context<'a>, CiError> {
        // "dist/" and "dist" are the same folder; one spelling keeps
        // "dist//shard-1" out of the file.
        let dist = match opts.dist.trim_end_matches('/') {
            "" => opts.dist.as_str(),
            d => d,
        };
        Ok(Context {
            shards: opts.shards,
            labels: (1..=opts.shards)
                .map(|i| format!("{i}/{}", opts.shards))
                .collect(),
            config: &opts.config,
            install: opts.install.script(ci)?,
            install_cache: opts.install.cache_key(),
            toolchains: match opts.toolchains {
                Toolchains::Install => Some("install"),
                Toolchains::Check => Some("check"),
                Toolchains::None => None,
            },
            install_note: install_note(opts, ci),
            runs_on: &opts.runs_on,
            image: &opts.image,
            dist,
            shard_dist: format!("{dist}/shard-${{{{ matrix.index }}}}"),
            attestations: opts.attestations,
            images: opts.images,
            registry_cache: opts.registry_cache,
            sign_secrets: &opts.sign_secrets,
            pushed_images: PUSHED_IMAGES,
        })
    }
}

/// jq over the release's manifest.json: each image pushed, by digest
/// (`repository@sha256:...`), once. The manifest records every push as
/// `repository:tag@digest`; a tag has no `:`, `/` or `@`, so dropping the
/// last `:tag` before the `@` leaves the repository, registry port included.
pub const PUSHED_IMAGES: &str = r#"[.images[]?.pushed[]? | sub(":[^:/@]+@"; "@")] | unique[]"#;

/// The header's comment lines on what the jobs install (and, on GitHub,
/// attest, push and sign), each line ending in a newline. The version is a checked semver, so it cannot end the
/// comment early.
fn install_note(opts: &CiOptions, ci: Provider) -> String {
    let mut note = String::from("#\n");
    match opts.install.pinned_version() {
        Some(v) => note.push_str(&format!(
            "# Every job installs matrix {v}, the version that wrote this file.\n"
        )),
        None => {
            note.push_str("# Every job installs matrix with the command given to `matrix ci`.\n")
        }
    }
    match opts.toolchains {
        Toolchains::Install => note.push_str(
            "# Each build job installs what its targets need with `matrix doctor --install`.\n",
        ),
        Toolchains::Check => note.push_str(
            "# Each build job first checks its targets' toolchains with `matrix doctor`.\n",
        ),
        Toolchains::None => {}
    }
    let github = ci == Provider::Github;
    if github && opts.attestations {
        note.push_str(
            "# On a tag, the merge job attests every file of the checksums file with GitHub's\n\
             # attestations (`[ci] attestations = true` in matrix.toml;\n\
             # `[ci] repository = \"owner/repo\"` shows how to check them in the release notes).\n",
        );
    }
    if github && !opts.sign_secrets.is_empty() {
        note.push_str(&format!(
            "# The merge job signs the release with the [sign] key: add the repository\n\
             # secret{} {}.\n",
            if opts.sign_secrets.len() == 1 {
                ""
            } else {
                "s"
            },
            opts.sign_secrets.join(" and ")
        ));
    }
    if github && opts.registry_cache {
        note.push_str(
            "# The build jobs share the action cache through the registry of [cache] from/to\n\
             # (credentials: the secrets MATRIX_REGISTRY_USER and MATRIX_REGISTRY_PASSWORD,\n\
             # else this workflow's token, which ghcr.io takes).\n",
        );
    }
    if github && opts.images {
        note.push_str(
            "# On a tag, the merge job pushes the [images] (credentials: the secrets\n\
             # MATRIX_REGISTRY_USER and MATRIX_REGISTRY_PASSWORD, else this workflow's token,\n\
             # which ghcr.io takes)",
        );
        note.push_str(if opts.attestations {
            " and signs each keylessly with cosign.\n"
        } else {
            ".\n"
        });
    }
    note
}

/// Rejects options that would make a file CI refuses or misreads.
fn check(file: &'static str, opts: &CiOptions, max_shards: usize) -> Result<(), CiError> {
    let bad = |option, value: &str, problem: &str, help: Option<&str>| CiError::Option {
        file,
        option,
        value: value.to_string(),
        problem: problem.to_string(),
        help: help.map(str::to_string),
    };
    if opts.shards == 0 || opts.shards > max_shards {
        return Err(bad(
            "shards",
            &opts.shards.to_string(),
            &format!("must be between 1 and {max_shards}"),
            Some("one shard is a plain build; the CI system caps how many jobs a matrix makes"),
        ));
    }
    opts.install.check(file)?;
    // One-line values: they are written into YAML block scalars and shell
    // lines, where a newline would end the value early.
    let one_line = [
        ("config", &opts.config),
        ("runs_on", &opts.runs_on),
        ("image", &opts.image),
        ("dist", &opts.dist),
    ];
    for (option, value) in one_line {
        if value.trim().is_empty() {
            return Err(bad(option, value, "is empty", None));
        }
        if value.chars().any(char::is_control) {
            return Err(bad(
                option,
                value,
                "contains a control character (a newline?)",
                Some("give a single-line value"),
            ));
        }
    }
    Ok(())
}

fn render(
    file: &'static str,
    source: &'static str,
    ctx: &impl Serialize,
) -> Result<String, CiError> {
    let fail = |e: minijinja::Error| {
        let mut message = e.to_string();
        if let Some(line) = e.line() {
            message = format!("line {line}: {message}");
        }
        CiError::Template { file, message }
    };
    let env = environment().map_err(fail)?;
    env.template_from_str(source)
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(ctx))))
        .map_err(fail)
}

fn environment() -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Neither format is HTML; each value is quoted by the filter that fits.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_syntax(
        SyntaxConfig::builder()
            .block_delimiters("[%", "%]")
            .variable_delimiters("[[", "]]")
            .comment_delimiters("[#", "#]")
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    env.add_filter("yaml", yaml);
    env.add_filter("sh", |s: &str| shell_words::quote(s).into_owned());
    Ok(env)
}

/// Any value as JSON, which YAML reads as the same scalar or flow
/// collection, with every special character escaped.
fn yaml(value: minijinja::Value) -> Result<String, minijinja::Error> {
    serde_json::to_string(&value)
        .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, e.to_string()))
}

#[cfg(test)]
mod tests;
