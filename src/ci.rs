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

use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, syntax::SyntaxConfig};
use serde::Serialize;

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
    /// Shell command(s) that install matrix on a runner, e.g.
    /// `cargo install --locked --git <repository url> matrix`.
    pub install: String,
    /// GitHub runner label (`runs-on`); GitLab ignores it.
    pub runs_on: String,
    /// GitLab job image: it needs what `install` uses (cargo for the
    /// default); GitHub ignores it.
    pub image: String,
    /// Folder the merged release is written to.
    pub dist: String,
}

impl CiOptions {
    /// The defaults (matrix.toml, ubuntu-latest, rust:1, dist) with the
    /// caller's install command, which only the caller can know (where its
    /// matrix comes from).
    pub fn new(shards: usize, install: impl Into<String>) -> CiOptions {
        CiOptions {
            shards,
            config: "matrix.toml".into(),
            install: install.into(),
            runs_on: "ubuntu-latest".into(),
            image: "rust:1".into(),
            dist: "dist".into(),
        }
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
    let file = "GitHub workflow";
    check(file, opts, GITHUB_MAX_SHARDS)?;
    render(file, GITHUB, &Context::new(opts))
}

/// `.gitlab-ci.yml`: plan, a `parallel: matrix` of N build jobs, merge.
pub fn gitlab_ci(opts: &CiOptions) -> Result<String, CiError> {
    let file = "GitLab pipeline";
    check(file, opts, GITLAB_MAX_SHARDS)?;
    render(file, GITLAB, &Context::new(opts))
}

#[derive(Serialize)]
struct Context<'a> {
    shards: usize,
    /// `1/N` ... `N/N`.
    labels: Vec<String>,
    config: &'a str,
    install: &'a str,
    runs_on: &'a str,
    image: &'a str,
    dist: &'a str,
    /// Where a GitHub build job writes its shard (a GitHub expression).
    shard_dist: String,
}

impl<'a> Context<'a> {
    fn new(opts: &'a CiOptions) -> Context<'a> {
        // "dist/" and "dist" are the same folder; one spelling keeps
        // "dist//shard-1" out of the file.
        let dist = match opts.dist.trim_end_matches('/') {
            "" => opts.dist.as_str(),
            d => d,
        };
        Context {
            shards: opts.shards,
            labels: (1..=opts.shards)
                .map(|i| format!("{i}/{}", opts.shards))
                .collect(),
            config: &opts.config,
            install: opts.install.trim(),
            runs_on: &opts.runs_on,
            image: &opts.image,
            dist,
            shard_dist: format!("{dist}/shard-${{{{ matrix.index }}}}"),
        }
    }
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
    if opts.install.trim().is_empty() {
        return Err(bad(
            "install",
            &opts.install,
            "is empty, so the runners would have no matrix",
            Some("pass a command, e.g. `cargo install --locked --git <repository url> matrix`"),
        ));
    }
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

fn render(file: &'static str, source: &'static str, ctx: &Context<'_>) -> Result<String, CiError> {
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
