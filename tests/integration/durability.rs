//! What a crash can leave in dist/: read from the system calls of a real
//! build (strace). Every shipped file is synced under its hidden temporary
//! name before it is renamed to its real one, and the folder they were
//! renamed into is synced once, after the last of them and before the
//! checksums file and the manifest that declare the release complete (not
//! once per file: a release of 1,000 targets paid 1,000 folder syncs).

use std::path::Path;

use crate::support::{Project, WRITE_BINARY, require, run, script_config};

/// One traced call: its line in the trace and what it names.
#[derive(Debug)]
enum Call {
    /// fsync of the file or folder at this path.
    Sync(String),
    /// rename of the first path to the second.
    Rename(String, String),
}

/// The fsync and rename calls of a trace written by `strace -f -y`, in
/// the order they started.
fn calls(trace: &str) -> Vec<Call> {
    let sync = regex::Regex::new(r"\bf(?:data)?sync\(\d+<([^>]+)>").unwrap();
    let rename =
        regex::Regex::new(r#"\brename(?:at2?)?\((?:[^"]*)"([^"]+)"(?:[^"]*)"([^"]+)""#).unwrap();
    trace
        .lines()
        .filter_map(|line| {
            if let Some(c) = sync.captures(line) {
                return Some(Call::Sync(c[1].to_string()));
            }
            rename
                .captures(line)
                .map(|c| Call::Rename(c[1].to_string(), c[2].to_string()))
        })
        .collect()
}

/// Where in `calls` the file `name` of `dist` got its real name, and
/// whether its temporary file was synced before that.
fn renamed_after_sync(calls: &[Call], dist: &Path, name: &str) -> (usize, bool) {
    let dest = dist.join(name).display().to_string();
    let at = calls
        .iter()
        .position(|c| matches!(c, Call::Rename(_, to) if *to == dest))
        .unwrap_or_else(|| panic!("{name} was never renamed into place: {calls:#?}"));
    let Call::Rename(temp, _) = &calls[at] else {
        unreachable!()
    };
    let synced = calls[..at]
        .iter()
        .any(|c| matches!(c, Call::Sync(p) if p == temp));
    (at, synced)
}

#[test]
fn shipped_files_are_synced_before_their_names_and_their_folder_before_the_manifest() {
    if !require("strace", "sudo apt-get install strace") {
        return;
    }
    let p = Project::with_config(&script_config(
        "os = [\"linux\", \"windows\"]\narch = [\"amd64\", \"arm64\", \"386\"]",
        WRITE_BINARY,
    ));
    // Outside the project: a file in it would make the tree dirty.
    let trace = tempfile::NamedTempFile::new().unwrap();
    let trace = trace.path();
    // The build `p.matrix` would run, its environment included, under strace.
    let build = p.matrix(&["build", "-j", "2"]);
    let mut strace = std::process::Command::new("strace");
    strace
        .args(["-f", "-y", "-qq", "-o"])
        .arg(trace)
        .args(["-e", "trace=fsync,fdatasync,rename,renameat,renameat2"])
        .arg(build.get_program())
        .args(build.get_args())
        .current_dir(p.path());
    for (k, v) in build.get_envs() {
        match v {
            Some(v) => strace.env(k, v),
            None => strace.env_remove(k),
        };
    }
    let (code, out, err) = run(&mut strace);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let calls = calls(&std::fs::read_to_string(trace).unwrap());
    let dist = p.dist();

    let archives = crate::support::archive_names(&dist);
    assert_eq!(archives.len(), 6, "{archives:?}");
    let mut last_archive = 0;
    for name in &archives {
        let (at, synced) = renamed_after_sync(&calls, &dist, name);
        assert!(
            synced,
            "{name} was renamed before it was synced: {calls:#?}"
        );
        last_archive = last_archive.max(at);
    }
    for declares in ["hello_1.2.3_checksums.txt", "manifest.json"] {
        let (at, synced) = renamed_after_sync(&calls, &dist, declares);
        assert!(synced, "{declares} was renamed before it was synced");
        let folder = dist.display().to_string();
        let folder_synced = calls[last_archive..at]
            .iter()
            .any(|c| matches!(c, Call::Sync(p) if *p == folder));
        assert!(
            folder_synced,
            "dist/ was not synced between the last archive's rename and {declares}'s: {calls:#?}"
        );
    }
    // Once per file that declares the others (before and after it), not
    // once per archive.
    let folder_syncs = calls
        .iter()
        .filter(|c| matches!(c, Call::Sync(p) if Path::new(p) == dist))
        .count();
    assert!(
        folder_syncs < archives.len(),
        "dist/ was synced {folder_syncs} times for {} archives",
        archives.len()
    );
}
