//! Where a program is: PATH first, then matrix's tool cache
//! (`$MATRIX_TOOLS/bin`, where `matrix doctor --install` puts zig), and,
//! only to tell a person, the folders user-level installers fill without
//! adding them to PATH. Part of `process`: the one program lookup, for the
//! plan-time checks (`toolchain`, `preset`), the engine and the jobs.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The variable that moves the tool cache.
pub const TOOLS_ENV: &str = "MATRIX_TOOLS";

/// Where a program was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "place", content = "path", rename_all = "kebab-case")]
pub enum Location {
    /// On PATH.
    Path(PathBuf),
    /// In matrix's tool cache; build jobs get its folder on their PATH.
    ToolCache(PathBuf),
    /// A name with a `/`: a file relative to the build's folder.
    File(PathBuf),
    /// Installed, but in a folder that is not on PATH: unusable as it is.
    OffPath(PathBuf),
    Missing,
}

impl Location {
    /// Whether a build can run it as things are.
    pub fn is_usable(&self) -> bool {
        matches!(
            self,
            Location::Path(_) | Location::ToolCache(_) | Location::File(_)
        )
    }

    pub fn path(&self) -> Option<&Path> {
        match self {
            Location::Path(p)
            | Location::ToolCache(p)
            | Location::File(p)
            | Location::OffPath(p) => Some(p),
            Location::Missing => None,
        }
    }
}

/// matrix's tool cache: `$MATRIX_TOOLS`, else `~/.cache/matrix-tools` (the
/// folder scripts/install-toolchains.sh has always used, so existing caches
/// keep working). A relative `$MATRIX_TOOLS` is taken from the current
/// folder, because the zig wrapper names its venv by absolute path.
pub fn tools_dir() -> Option<PathBuf> {
    let home = home();
    tools_dir_from(
        std::env::var_os(TOOLS_ENV).as_deref(),
        home.as_deref(),
        std::env::current_dir().ok().as_deref(),
    )
}

fn tools_dir_from(var: Option<&OsStr>, home: Option<&Path>, cwd: Option<&Path>) -> Option<PathBuf> {
    match var.filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = Path::new(dir);
            if dir.is_absolute() {
                Some(dir.to_path_buf())
            } else {
                cwd.map(|c| c.join(dir))
            }
        }
        None => home.map(|h| h.join(".cache").join("matrix-tools")),
    }
}

/// The tool cache's `bin` folder.
pub fn tools_bin() -> Option<PathBuf> {
    tools_dir().map(|d| d.join("bin"))
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// The first executable `name` on PATH, then in the tool cache.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    search(name, &path, None).or_else(|| {
        tools_bin()
            .map(|b| b.join(name))
            .filter(|p| is_executable(p) && trusted_tool(p))
    })
}

/// The file `program` names, looked up like execvp would (PATH from the
/// job's env if it sets one); NotFound when there is none.
pub fn resolve(program: &str, env: &BTreeMap<String, String>, dir: &Path) -> io::Result<PathBuf> {
    let not_found = || io::Error::new(io::ErrorKind::NotFound, format!("`{program}` not found"));
    if program.contains('/') {
        let path = dir.join(program);
        return if path.exists() {
            Ok(path)
        } else {
            Err(not_found())
        };
    }
    let path = match env.get("PATH") {
        Some(p) => std::ffi::OsString::from(p),
        None => std::env::var_os("PATH").unwrap_or_default(),
    };
    search(program, &path, Some(dir)).ok_or_else(not_found)
}

/// Where `name` is for a build that runs in `dir` with `path` as its PATH
/// (the step's own PATH if it sets one, else matrix's).
pub fn locate(name: &str, dir: &Path, path: Option<&OsStr>) -> Location {
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let home = home();
    locate_in(
        name,
        dir,
        path.unwrap_or(&inherited),
        tools_bin().as_deref(),
        home.as_deref(),
    )
}

/// `locate` with every place given, so tests need no process environment.
pub fn locate_in(
    name: &str,
    dir: &Path,
    path: &OsStr,
    tools_bin: Option<&Path>,
    home: Option<&Path>,
) -> Location {
    if name.contains('/') {
        // Like execvp: a name with a slash is never searched for.
        let file = dir.join(name);
        return if is_executable(&file) {
            Location::File(file)
        } else {
            Location::Missing
        };
    }
    if let Some(found) = search(name, path, Some(dir)) {
        return Location::Path(found);
    }
    if let Some(found) = tools_bin
        .map(|b| b.join(name))
        .filter(|p| is_executable(p) && trusted_tool(p))
    {
        return Location::ToolCache(found);
    }
    // Where pip --user, go install and cargo install put programs.
    let off_path = home.into_iter().flat_map(|h| {
        [".local/bin", "go/bin", ".cargo/bin"]
            .into_iter()
            .map(move |d| h.join(d).join(name))
    });
    for candidate in off_path {
        if is_executable(&candidate) {
            return Location::OffPath(candidate);
        }
    }
    Location::Missing
}

/// Whether a program of the tool cache may run: the file, its `bin` folder
/// and the cache folder above it must each be owned by this user (or root)
/// and not writable by others (nor by a group other than this user's own).
/// Build jobs get that `bin` on their PATH, so another user who can write
/// there could put a `zig` or a `gcc` in every build. Warns when it refuses.
fn trusted_tool(file: &Path) -> bool {
    match untrusted(file) {
        None => true,
        Some(why) => {
            // Once per file: every target that needs it asks again.
            static WARNED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
            let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
            if !warned.iter().any(|w| w == file) {
                warned.push(file.to_path_buf());
                tracing::warn!(
                    "not using {} from matrix's tool cache: {why}",
                    file.display()
                );
            }
            false
        }
    }
}

/// Why `file` (or a folder above it, up to the tool cache) cannot be
/// trusted, if it cannot.
pub fn untrusted(file: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let me = nix::unistd::geteuid().as_raw();
    let my_group = nix::unistd::getegid().as_raw();
    for path in file.ancestors().take(3) {
        let Ok(meta) = path.metadata() else {
            continue;
        };
        if meta.uid() != me && meta.uid() != 0 {
            return Some(format!(
                "{} belongs to another user (uid {}); remove the cache or chown it",
                path.display(),
                meta.uid()
            ));
        }
        let others = meta.mode() & 0o002 != 0;
        let group = meta.mode() & 0o020 != 0 && meta.gid() != my_group;
        if others || group {
            return Some(format!(
                "{} is writable by {} (mode {:o}); run chmod go-w {}",
                path.display(),
                if others { "every user" } else { "its group" },
                meta.mode() & 0o7777,
                path.display()
            ));
        }
    }
    None
}

/// A relative PATH entry is taken from `base` (the build's folder), as the
/// job runner takes it; without a base it is skipped.
fn search(name: &str, path: &OsStr, base: Option<&Path>) -> Option<PathBuf> {
    if name.is_empty() {
        return None;
    }
    std::env::split_paths(path)
        .filter_map(|dir| match base {
            _ if dir.is_absolute() => Some(dir),
            Some(base) => Some(base.join(dir)),
            None => None,
        })
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exe(dir: &Path, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir).unwrap();
        let file = dir.join(name);
        std::fs::write(&file, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        file
    }

    #[test]
    fn path_then_tool_cache_then_off_path() {
        let tmp = tempfile::tempdir().unwrap();
        let (on_path, tools, home) = (
            tmp.path().join("usr/bin"),
            tmp.path().join("tools/bin"),
            tmp.path().join("home"),
        );
        let zig = exe(&tools, "zig");
        let go = exe(&home.join("go/bin"), "go");
        let path = std::env::join_paths([&on_path]).unwrap();
        let find = |name: &str| locate_in(name, tmp.path(), &path, Some(&tools), Some(&home));
        assert_eq!(find("zig"), Location::ToolCache(zig.clone()));
        assert_eq!(find("go"), Location::OffPath(go));
        assert!(!find("go").is_usable());
        assert_eq!(find("matrix-nothing"), Location::Missing);
        // PATH wins over the tool cache.
        let first = exe(&on_path, "zig");
        assert_eq!(find("zig"), Location::Path(first));
        // Without a tool cache, nothing is found there.
        std::fs::remove_file(on_path.join("zig")).unwrap();
        assert_eq!(
            locate_in("zig", tmp.path(), &path, None, None),
            Location::Missing
        );
    }

    #[test]
    fn a_tool_cache_others_can_write_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let tools = tmp.path().join("tools/bin");
        exe(&tools, "zig");
        let empty = std::ffi::OsString::new();
        let find = || locate_in("zig", tmp.path(), &empty, Some(&tools), None);
        let mode = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        mode(&tools, 0o755);
        mode(&tmp.path().join("tools"), 0o755);
        assert!(matches!(find(), Location::ToolCache(_)));
        // Any user could drop a program into bin (or swap bin itself).
        for dir in [tools.clone(), tmp.path().join("tools")] {
            mode(&dir, 0o777);
            assert_eq!(find(), Location::Missing, "{}", dir.display());
            let why = untrusted(&tools.join("zig")).unwrap();
            assert!(why.contains("writable by every user"), "{why}");
            mode(&dir, 0o755);
        }
        // The wrapper itself, writable by anyone.
        mode(&tools.join("zig"), 0o757);
        assert_eq!(find(), Location::Missing);
        mode(&tools.join("zig"), 0o755);
        assert!(matches!(find(), Location::ToolCache(_)));
    }

    #[test]
    fn names_with_a_slash_are_files_of_the_build_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let script = exe(&tmp.path().join("ci"), "build.sh");
        let path = std::ffi::OsString::new();
        assert_eq!(
            locate_in("ci/build.sh", tmp.path(), &path, None, None),
            Location::File(script)
        );
        // Not executable: not runnable.
        std::fs::write(tmp.path().join("notes.txt"), "x").unwrap();
        assert_eq!(
            locate_in("./notes.txt", tmp.path(), &path, None, None),
            Location::Missing
        );
    }

    #[test]
    fn relative_path_entries_start_at_the_build_folder() {
        // As the job runner resolves them, so the check says what a job finds.
        let tmp = tempfile::tempdir().unwrap();
        let tool = exe(&tmp.path().join("bin"), "matrix-relative-tool");
        let path = std::ffi::OsString::from("bin");
        assert_eq!(
            locate_in("matrix-relative-tool", tmp.path(), &path, None, None),
            Location::Path(tool)
        );
        assert_eq!(search("matrix-relative-tool", &path, None), None);
    }

    #[test]
    fn the_tool_cache_folder() {
        let home = Path::new("/home/u");
        assert_eq!(
            tools_dir_from(None, Some(home), None),
            Some(PathBuf::from("/home/u/.cache/matrix-tools"))
        );
        assert_eq!(
            tools_dir_from(Some(OsStr::new("")), Some(home), None),
            Some(PathBuf::from("/home/u/.cache/matrix-tools"))
        );
        assert_eq!(
            tools_dir_from(Some(OsStr::new("/opt/t")), Some(home), None),
            Some(PathBuf::from("/opt/t"))
        );
        assert_eq!(
            tools_dir_from(Some(OsStr::new("t")), None, Some(Path::new("/w"))),
            Some(PathBuf::from("/w/t"))
        );
        assert_eq!(tools_dir_from(None, None, None), None);
    }
}
