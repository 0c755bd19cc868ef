//! `matrix init`: writes a commented, working matrix.toml for an existing
//! project, and adds `dist/` to its .gitignore.
//!
//! Sits before the flow (it writes the file `config` reads). [`detect`]
//! looks at the project (go.mod, Cargo.toml, a Makefile / CMakeLists.txt /
//! meson.build, LICENSE, README, CHANGELOG, a Dockerfile) and the machine's
//! toolchains; [`render`] turns what it found into the file's text, with
//! target tables derived from the `target` knowledge base and the presets;
//! this module writes the files atomically and says what comes next.

mod c;
mod cargo;
pub mod detect;
mod go;
pub mod render;
pub mod tables;
mod text;

use std::io::Write;
use std::path::{Path, PathBuf};

pub use detect::{Facts, Probe};

/// What `matrix init` was asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// The file to write (its folder is the project).
    pub config: PathBuf,
    /// Replace an existing file.
    pub force: bool,
    /// Print the file instead of writing anything.
    pub dry_run: bool,
    /// The binary to release when the project has several.
    pub bin: Option<String>,
}

/// What `init` did, for the report.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub facts: Facts,
    pub text: String,
    /// `None` for a dry run.
    pub gitignore: Option<GitIgnore>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitIgnore {
    Created,
    Appended,
    AlreadyIgnored,
    /// Not a regular UTF-8 file (a symlink, say): not read, not replaced;
    /// the reason is given.
    LeftAlone(&'static str),
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum InitError {
    #[error("{} already exists", path.display())]
    #[diagnostic(
        code(matrix::init::exists),
        help(
            "pass --force to replace it, --dry-run to only print the new file, or -c to write another file"
        )
    )]
    Exists { path: PathBuf },
    #[error("{} holds no project matrix init knows: no go.mod, Cargo.toml, Makefile, CMakeLists.txt or meson.build", dir.display())]
    #[diagnostic(
        code(matrix::init::no_project),
        help("run matrix init in the project's top folder, or pass -c <folder>/matrix.toml")
    )]
    NoProject { dir: PathBuf },
    #[error("{}: {what}", path.display())]
    #[diagnostic(
        code(matrix::init::no_binary),
        help(
            "matrix releases programs: add one (Go: a main package at the module root or in cmd/<name>/; Rust: src/main.rs or a [[bin]] target), then run matrix init again"
        )
    )]
    NoBinary { path: PathBuf, what: String },
    #[error("--bin {bin}: the project has no such program")]
    #[diagnostic(
        code(matrix::init::unknown_bin),
        help("the programs found: {candidates}")
    )]
    UnknownBin { bin: String, candidates: String },
    #[error("{} is not a readable UTF-8 text file", path.display())]
    #[diagnostic(
        code(matrix::init::unreadable),
        help("matrix init reads it to learn about the project; it must be a regular UTF-8 file")
    )]
    Unreadable { path: PathBuf },
    #[error("{} is larger than {limit} bytes", path.display())]
    #[diagnostic(
        code(matrix::init::too_large),
        help("a real manifest or README is far smaller; check the file")
    )]
    TooLarge { path: PathBuf, limit: u64 },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Manifest(#[from] crate::config::ConfigError),
    // The OS error is in the message itself, not a `source`, so a
    // diagnostic does not print it twice.
    #[error("{}: {cause}", path.display())]
    #[diagnostic(code(matrix::init::io))]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

impl InitError {
    pub(crate) fn io(path: &Path, cause: std::io::Error) -> InitError {
        InitError::Io {
            path: path.to_path_buf(),
            cause,
        }
    }
}

/// The project folder of a config path: its parent, `.` for a bare name.
pub fn project_dir(config: &Path) -> PathBuf {
    match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Detects, renders and (unless a dry run) writes matrix.toml and the
/// .gitignore entry.
pub fn run(opts: &Options, probe: &Probe) -> Result<Outcome, InitError> {
    let dir = project_dir(&opts.config);
    // Refuse before looking at anything: the answer does not depend on it.
    if !opts.dry_run && !opts.force && exists(&opts.config) {
        return Err(InitError::Exists {
            path: opts.config.clone(),
        });
    }
    let facts = detect::detect(&dir, opts.bin.as_deref(), probe)?;
    let text = render::render(&facts, env!("CARGO_PKG_VERSION"));
    if opts.dry_run {
        return Ok(Outcome {
            facts,
            text,
            gitignore: None,
        });
    }
    write_atomic(&opts.config, text.as_bytes(), opts.force)?;
    let gitignore = ignore_dist(&dir.join(".gitignore"))?;
    Ok(Outcome {
        facts,
        text,
        gitignore: Some(gitignore),
    })
}

/// Whether anything is at `path`, a dangling symlink included.
fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

/// Writes `bytes` to a temporary file beside `path`, then renames it into
/// place: a reader sees the old file or the whole new one, never a part.
/// Without `replace`, the rename refuses to replace a file that appeared
/// in the meantime.
fn write_atomic(path: &Path, bytes: &[u8], replace: bool) -> Result<(), InitError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = project_dir(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".matrix-init-")
        .tempfile_in(&dir)
        .map_err(|e| InitError::io(&dir, e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| InitError::io(tmp.path(), e))?;
    // A file for the repository: readable by all, like one an editor writes.
    let mode = std::fs::symlink_metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map_or(0o644, |m| m.permissions().mode() & 0o777);
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
        .map_err(|e| InitError::io(tmp.path(), e))?;
    let persisted = if replace {
        tmp.persist(path).map(|_| ())
    } else {
        tmp.persist_noclobber(path).map(|_| ())
    };
    persisted.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            InitError::Exists {
                path: path.to_path_buf(),
            }
        } else {
            InitError::io(path, e.error)
        }
    })
}

/// Adds `dist/` to .gitignore once: created when missing, appended when no
/// line already ignores the top-level dist folder.
pub fn ignore_dist(path: &Path) -> Result<GitIgnore, InitError> {
    if !exists(path) {
        write_atomic(path, b"dist/\n", false)?;
        return Ok(GitIgnore::Created);
    }
    // A link matrix did not make is never followed: reading through it
    // would copy another file into the repository, replacing it would
    // break the user's link.
    let meta = path
        .symlink_metadata()
        .map_err(|e| InitError::io(path, e))?;
    if meta.file_type().is_symlink() {
        return Ok(GitIgnore::LeftAlone("it is a symlink"));
    }
    if !meta.is_file() {
        return Ok(GitIgnore::LeftAlone("it is not a regular file"));
    }
    let Some(text) = detect::read_text(path)? else {
        return Ok(GitIgnore::LeftAlone("it is not UTF-8"));
    };
    if ignores_dist(&text) {
        return Ok(GitIgnore::AlreadyIgnored);
    }
    let mut new = text;
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str("dist/\n");
    write_atomic(path, new.as_bytes(), true)?;
    Ok(GitIgnore::Appended)
}

/// Whether a .gitignore already ignores `dist` at the top (a later `!dist`
/// un-ignores it again).
fn ignores_dist(text: &str) -> bool {
    let mut ignored = false;
    for line in text.lines() {
        let line = line.trim_end();
        match line {
            "dist" | "dist/" | "/dist" | "/dist/" | "dist/*" | "/dist/*" => ignored = true,
            "!dist" | "!dist/" | "!/dist" | "!/dist/" => ignored = false,
            _ => {}
        }
    }
    ignored
}

/// The report printed after writing: what was found, what to do next.
pub fn report(outcome: &Outcome, opts: &Options) -> String {
    let facts = &outcome.facts;
    let mut out = String::new();
    out.push_str("matrix init found:\n");
    for f in &facts.found {
        out.push_str(&format!("  {f}\n"));
    }
    if !facts.other_binaries.is_empty() {
        out.push_str(&format!(
            "  other programs, not released by this file: {} (pick one with --bin NAME)\n",
            facts.other_binaries.join(", ")
        ));
    }
    if let detect::Build::Rust { targets, .. } = &facts.build {
        let on = targets.iter().filter(|t| t.missing.is_empty()).count();
        out.push_str(&format!(
            "  targets: {on} of {} build here; the others are commented out with what they need\n",
            targets.len()
        ));
    }
    let config = opts.config.display().to_string();
    let gitignore = project_dir(&opts.config).join(".gitignore");
    let gitignore = gitignore.strip_prefix(".").unwrap_or(&gitignore);
    match outcome.gitignore {
        None => out.push_str("dry run: nothing was written\n"),
        Some(g) => {
            out.push_str(&format!("wrote {config}\n"));
            out.push_str(&match g {
                GitIgnore::Created => format!("wrote {} (dist/)\n", gitignore.display()),
                GitIgnore::Appended => format!("added dist/ to {}\n", gitignore.display()),
                GitIgnore::AlreadyIgnored => {
                    format!("{} already ignores dist/\n", gitignore.display())
                }
                GitIgnore::LeftAlone(why) => format!(
                    "left {} alone ({why}): add dist/ to it by hand\n",
                    gitignore.display()
                ),
            });
        }
    }
    if !facts.edits.is_empty() {
        out.push_str("\nEDIT before the first build:\n");
        for e in &facts.edits {
            out.push_str(&format!("  - {e}\n"));
        }
    }
    let c = if config == "matrix.toml" {
        String::new()
    } else {
        format!(" -c {config}")
    };
    out.push_str(&format!(
        "\nnext:\n  git add {config} {} && git commit -m \"Release with matrix\"\n  matrix{c} plan\n  matrix{c} doctor --install\n  matrix{c} build --snapshot\n",
        gitignore.display()
    ));
    out
}

#[cfg(test)]
mod tests;
