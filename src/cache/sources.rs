//! The digest of a project's sources, one input of every job's key.
//!
//! Part of `cache`. By default the sources are the git tree of HEAD plus
//! the content of every tracked file that differs from it (staged or not):
//! a commit names its whole tree, so nothing else needs reading. With
//! `[cache] inputs` the sources are the files those globs match instead
//! (for a project outside git, or to narrow what a build depends on).
//! Untracked files do not count unless a glob names them. Computed once
//! per run; links are hashed as links (their target text), never followed.
//! The project's `matrix.toml` is left out either way: what it says reaches
//! a job through its plan step, which is in the job's key, so a change to
//! `[project] description` does not rebuild every binary.

use std::io;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSetBuilder};

use crate::package::checksum::{Algorithm, Hasher, hash_file};

/// Most files `[cache] inputs` may match.
const MAX_FILES: usize = 200_000;

/// The config in the project's folder, left out of the sources.
const CONFIG: &str = "matrix.toml";

/// The sources' digest, or why there is none (then jobs are not cached).
pub fn digest(root: &Path, globs: &[String], skip: &[PathBuf]) -> Result<String, String> {
    if globs.is_empty() {
        git_digest(root)
    } else {
        let mut skip = skip.to_vec();
        skip.push(root.join(CONFIG));
        glob_digest(root, globs, &skip)
    }
}

/// `git:<tree>` plus each dirty tracked file's path and content digest.
fn git_digest(root: &Path) -> Result<String, String> {
    let not_git = |e: String| {
        format!(
            "{} is not in a git checkout ({e}); name the sources with [cache] inputs = [\"<glob>\", ...]",
            root.display()
        )
    };
    let top = git(root, &["rev-parse", "--show-toplevel"]).map_err(not_git)?;
    let top = PathBuf::from(top.trim());
    // The config's path in the checkout, `/`-separated.
    let real_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let config = real_root
        .join(CONFIG)
        .strip_prefix(&top)
        .ok()
        .and_then(|p| p.to_str())
        .map(str::to_string);
    let tree = match &config {
        Some(config) => tree_without(&top, config)?,
        None => git(root, &["rev-parse", "HEAD^{tree}"]).map_err(not_git)?,
    };
    // `status` rather than `diff HEAD`: with no optional locks it leaves
    // the index alone, where `diff` rewrites it to refresh stat data
    // (taking index.lock under the user's own git). Entries are `XY name`.
    let changed = git(
        root,
        &[
            "status",
            "--porcelain=v1",
            "-z",
            "--no-renames",
            "--untracked-files=no",
            "--ignore-submodules=none",
        ],
    )?;
    let mut names: Vec<&str> = changed
        .split('\0')
        .filter_map(|e| e.get(3..))
        .filter(|n| !n.is_empty() && Some(*n) != config.as_deref())
        .collect();
    names.sort_unstable();
    let mut hasher = Hasher::new(Algorithm::Sha256);
    hasher.update(format!("git-tree {}\n", tree.trim()).as_bytes());
    for name in names {
        let state = file_state(&top.join(name)).map_err(|e| format!("{name}: {e}"))?;
        hasher.update(format!("dirty {}:{name} {state}\n", name.len()).as_bytes());
    }
    Ok(hasher.finalize_hex())
}

/// HEAD's tree with the file `skip` (its `/`-separated path in the
/// checkout) left out: the folders on its way listed entry by entry (one
/// `git ls-tree` each), every other entry by its object id.
fn tree_without(top: &Path, skip: &str) -> Result<String, String> {
    let parts: Vec<&str> = skip.split('/').collect();
    let mut hasher = Hasher::new(Algorithm::Sha256);
    hasher.update(b"tree without the config\n");
    for (depth, part) in parts.iter().enumerate() {
        let dir = parts[..depth].join("/");
        let listing = git(top, &["ls-tree", "-z", &format!("HEAD:{dir}")])?;
        let mut on_the_way = false;
        for entry in listing.split('\0').filter(|e| !e.is_empty()) {
            // `<mode> <type> <id>\t<name>`
            if entry.split_once('\t').map(|(_, name)| name) == Some(*part) {
                on_the_way = true;
                continue;
            }
            // Length-prefixed: a name holding a newline spells no other entry.
            let line = format!("{dir}/{entry}");
            hasher.update(format!("{}:{line}\n", line.len()).as_bytes());
        }
        if !on_the_way {
            // The config is not in HEAD: every entry is listed already.
            break;
        }
    }
    Ok(hasher.finalize_hex())
}

/// Each file under `root` that a glob matches (folders in `skip`, `.git`
/// and links to folders left out), by path and content.
fn glob_digest(root: &Path, globs: &[String], skip: &[PathBuf]) -> Result<String, String> {
    let mut set = GlobSetBuilder::new();
    for g in globs {
        set.add(Glob::new(g).map_err(|e| format!("[cache] inputs: `{g}`: {e}"))?);
    }
    let set = set.build().map_err(|e| e.to_string())?;
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git" && !skip.iter().any(|s| e.path() == s));
    for entry in walk {
        let entry = entry.map_err(|e| e.to_string())?;
        if entry.file_type().is_dir() {
            continue;
        }
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        if set.is_match(rel) {
            if files.len() == MAX_FILES {
                return Err(format!("[cache] inputs match more than {MAX_FILES} files"));
            }
            files.push(rel.to_path_buf());
        }
    }
    let mut hasher = Hasher::new(Algorithm::Sha256);
    for rel in files {
        let state = file_state(&root.join(&rel)).map_err(|e| format!("{}: {e}", rel.display()))?;
        // Length-prefixed and lossless: no name (one holding a newline, or
        // bytes that are not UTF-8) can pass for another file's line.
        let name = super::key::path_text(&rel);
        hasher.update(format!("file {}:{name} {state}\n", name.len()).as_bytes());
    }
    Ok(hasher.finalize_hex())
}

/// A file's content digest, a link's target, or `deleted`: what a path
/// holds, for a key, without following a link.
pub fn file_state(path: &Path) -> io::Result<String> {
    match path.symlink_metadata() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok("deleted".into()),
        Err(e) => Err(e),
        Ok(m) if m.file_type().is_symlink() => {
            let target = super::key::path_text(&std::fs::read_link(path)?);
            Ok(format!("link {}:{target}", target.len()))
        }
        Ok(m) if m.is_file() => {
            let (hex, size) = hash_file(path, Algorithm::Sha256)?;
            Ok(format!("{size} {hex} {:o}", mode(&m)))
        }
        // A submodule's folder: its commit is in the tree already.
        Ok(_) => Ok("other".into()),
    }
}

fn mode(m: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111
}

/// `git -C <dir> <args>`: its stdout, or why not. A name that is not
/// UTF-8 is an error (it could not be read back to hash its file).
fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = crate::version::git_stdout(dir, args).map_err(|e| e.to_string())?;
    if out.contains(char::REPLACEMENT_CHARACTER) {
        return Err(format!(
            "git {} printed a name that is not UTF-8",
            args.join(" ")
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn run(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    }

    /// A checkout with one commit of `main.c`.
    fn committed_main_c() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        run(root, &["init", "-q"]);
        std::fs::write(root.join("main.c"), "int main(){}\n").unwrap();
        run(root, &["add", "main.c"]);
        let who = ["-c", "user.name=t", "-c", "user.email=t@t"];
        run(root, &[&who[..], &["commit", "-qm", "x"]].concat());
        dir
    }

    #[test]
    fn a_dirty_tracked_file_changes_the_digest_and_an_untracked_one_does_not() {
        let dir = committed_main_c();
        let root = dir.path();
        let clean = digest(root, &[], &[]).unwrap();
        std::fs::write(root.join("notes.txt"), "untracked").unwrap();
        assert_eq!(digest(root, &[], &[]).unwrap(), clean);
        std::fs::write(root.join("main.c"), "int main(){return 1;}\n").unwrap();
        let dirty = digest(root, &[], &[]).unwrap();
        assert_ne!(dirty, clean);
        std::fs::write(root.join("main.c"), "int main(){}\n").unwrap();
        assert_eq!(digest(root, &[], &[]).unwrap(), clean);
    }

    #[test]
    fn the_digest_does_not_write_the_users_index() {
        // A build runs beside the user's own git: refreshing the index
        // would take index.lock under them.
        let dir = committed_main_c();
        let root = dir.path();
        let index = std::fs::read(root.join(".git/index")).unwrap();
        // Same content, new stat data: a refresh would rewrite the index.
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(root.join("main.c"))
            .unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        drop(f);
        digest(root, &[], &[]).unwrap();
        assert_eq!(std::fs::read(root.join(".git/index")).unwrap(), index);
    }

    #[test]
    fn globs_digest_the_files_they_match_outside_git() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::create_dir_all(root.join("dist")).unwrap();
        std::fs::write(root.join("src/a.c"), "a").unwrap();
        std::fs::write(root.join("dist/out"), "1").unwrap();
        let globs = ["src/**".to_string(), "dist/**".to_string()];
        let skip = [root.join("dist")];
        let first = digest(root, &globs, &skip).unwrap();
        std::fs::write(root.join("dist/out"), "2").unwrap();
        assert_eq!(digest(root, &globs, &skip).unwrap(), first);
        std::fs::write(root.join("src/a.c"), "b").unwrap();
        assert_ne!(digest(root, &globs, &skip).unwrap(), first);
        let err = digest(root, &[], &[]);
        assert!(err.is_err_and(|e| e.contains("[cache] inputs")));
    }

    #[test]
    fn a_renamed_file_changes_the_digest_even_when_its_name_is_not_utf8() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src")).unwrap();
        let first = root.join(OsStr::from_bytes(b"src/\xff.c"));
        std::fs::write(&first, "a").unwrap();
        let globs = ["src/**".to_string()];
        let before = digest(root, &globs, &[]).unwrap();
        std::fs::rename(&first, root.join(OsStr::from_bytes(b"src/\xfe.c"))).unwrap();
        assert_ne!(digest(root, &globs, &[]).unwrap(), before);
        // A name with a newline cannot pass for two files' lines.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/a"), "x").unwrap();
        std::fs::write(root.join("src/b"), "y").unwrap();
        let two = digest(root, &globs, &[]).unwrap();
        // One file whose path spells src/a's line and the start of src/b's,
        // holding src/b's bytes: the same text as the two files' lines were
        // when names were written as they are.
        let a_state = file_state(&root.join("src/a")).unwrap();
        std::fs::remove_file(root.join("src/a")).unwrap();
        std::fs::remove_file(root.join("src/b")).unwrap();
        let folder = root.join("src").join(format!("a {a_state}\nfile src"));
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("b"), "y").unwrap();
        assert_ne!(digest(root, &globs, &[]).unwrap(), two);
    }

    #[test]
    fn the_config_is_no_source() {
        let dir = committed_main_c();
        let root = dir.path();
        std::fs::write(root.join(CONFIG), "[project]\nname = \"a\"\n").unwrap();
        run(root, &["add", CONFIG]);
        let who = ["-c", "user.name=t", "-c", "user.email=t@t"];
        run(root, &[&who[..], &["commit", "-qm", "config"]].concat());
        let first = digest(root, &[], &[]).unwrap();
        // Dirty, then committed: the same sources.
        std::fs::write(root.join(CONFIG), "[project]\nname = \"b\"\n").unwrap();
        assert_eq!(digest(root, &[], &[]).unwrap(), first);
        run(root, &[&who[..], &["commit", "-qam", "b"]].concat());
        assert_eq!(digest(root, &[], &[]).unwrap(), first);
        // Any other file still counts, in the root or in a folder.
        std::fs::write(root.join("main.c"), "int main(){return 2;}\n").unwrap();
        assert_ne!(digest(root, &[], &[]).unwrap(), first);
        run(root, &[&who[..], &["commit", "-qam", "c"]].concat());
        let committed = digest(root, &[], &[]).unwrap();
        std::fs::create_dir(root.join("src")).unwrap();
        std::fs::write(root.join("src/x.c"), "x").unwrap();
        run(root, &["add", "src/x.c"]);
        run(root, &[&who[..], &["commit", "-qm", "d"]].concat());
        assert_ne!(digest(root, &[], &[]).unwrap(), committed);
        // In a sub-folder project, only its own config is left out.
        let sub = digest(&root.join("src"), &[], &[]).unwrap();
        std::fs::write(root.join(CONFIG), "changed").unwrap();
        assert_ne!(digest(&root.join("src"), &[], &[]).unwrap(), sub);
    }
}
