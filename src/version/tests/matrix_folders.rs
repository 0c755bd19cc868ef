//! The dirty-tree rule against real repositories: folders matrix wrote are
//! not changes, real source changes beside them still are, and a fake
//! marker cannot hide a tracked change.

use std::path::{Path, PathBuf};

use super::{Repo, release};
use crate::version::{VersionError, git_facts, resolve};

/// A manifest.json as matrix writes it (the fields the marker check reads).
const MANIFEST: &str = r#"{"format":"matrix-manifest","format_version":1,"version":"1.2.3","artifacts":[
    {"path":"hello-linux-amd64.tar.gz"},{"path":"SHA256SUMS"}]}"#;

fn dirty(repo: &Repo, ignore: &[&str]) -> Vec<String> {
    let ignore: Vec<PathBuf> = ignore.iter().map(PathBuf::from).collect();
    git_facts(repo.path(), &ignore).unwrap().dirty_files
}

/// A folder like `build --dist <dir>` or a downloaded shard leaves.
fn dist(repo: &Repo, dir: &str) {
    repo.write(&format!("{dir}/manifest.json"), MANIFEST);
    repo.write(&format!("{dir}/hello-linux-amd64.tar.gz"), "archive\n");
    repo.write(
        &format!("{dir}/SHA256SUMS"),
        "00  hello-linux-amd64.tar.gz\n",
    );
    repo.write(&format!("{dir}/logs/build-linux-amd64.log"), "ok\n");
}

#[test]
fn folders_matrix_wrote_are_not_changes() {
    let repo = Repo::new();
    repo.commit("src/main.c");
    repo.git(&["tag", "v1.2.3"]);
    // The local shard flow: four dists, then the merge output; the GitHub
    // flow: shards downloaded into shards/<name>/.
    for i in 1..=4 {
        dist(&repo, &format!("shard-{i}"));
        repo.write(&format!("shard-{i}/.matrix.lock"), "");
    }
    // A failed build: its lock and logs, no manifest.
    repo.write("failed/.matrix.lock", "");
    repo.write("failed/logs/build-linux-amd64.log", "error\n");
    dist(&repo, "shards/shard-1");
    dist(&repo, "shards/shard-2");
    dist(&repo, "out/release");
    // The run's own dist counts as its own even before its manifest exists.
    repo.write("dist/logs/build.log", "half done\n");
    assert_eq!(dirty(&repo, &["dist"]), Vec::<String>::new());
    let facts = git_facts(repo.path(), &[PathBuf::from("dist")]).unwrap();
    assert_eq!(resolve(Some(&facts), &release()).unwrap().version, "1.2.3");

    // A folder with neither a manifest nor a lock is not known to be
    // matrix's: it counts, file by file.
    assert_eq!(
        dirty(&repo, &[]),
        ["dist/logs/build.log"],
        "only the manifest-less folder"
    );
}

#[test]
fn real_changes_next_to_matrix_folders_still_count() {
    let repo = Repo::new();
    repo.commit("src/main.c");
    repo.git(&["tag", "v1.2.3"]);
    dist(&repo, "shards/shard-1");
    // Untracked sources beside the shard, above it, and a lock in a
    // source folder (which has tracked files).
    repo.write("src/extra.c", "int x;\n");
    repo.write("shards/README", "not in a shard\n");
    repo.write("src/.matrix.lock", "");
    // A tracked source edited.
    repo.write("src/main.c", "changed\n");
    assert_eq!(
        dirty(&repo, &["dist"]),
        [
            "shards/README",
            "src/.matrix.lock",
            "src/extra.c",
            "src/main.c"
        ]
    );
    let facts = git_facts(repo.path(), &[PathBuf::from("dist")]).unwrap();
    let err = resolve(Some(&facts), &release()).unwrap_err();
    assert!(
        matches!(&err, VersionError::Dirty { total: 4, .. }),
        "{err:?}"
    );
}

#[test]
fn a_fake_marker_cannot_hide_source_changes() {
    let repo = Repo::new();
    repo.commit("src/main.c");
    repo.commit("vendor/lib/tracked.c");
    repo.git(&["tag", "v1.2.3"]);

    // A marker in a source folder (it has tracked files): counts for
    // nothing, and is itself listed.
    repo.write("src/manifest.json", MANIFEST);
    repo.write("src/new.c", "int y;\n");
    // Even a marker the repository tracks does not hide an edit under it.
    repo.write("vendor/lib/manifest.json", MANIFEST);
    repo.git(&["add", "vendor/lib/manifest.json"]);
    repo.git(&["commit", "-q", "-m", "marker"]);
    repo.git(&["tag", "-f", "v1.2.3"]);
    repo.write("vendor/lib/tracked.c", "edited\n");
    repo.write("vendor/lib/untracked.c", "new\n");
    // A marker that is a link, or not matrix's, is no marker.
    repo.write("elsewhere/manifest.json", MANIFEST);
    repo.write("linked/a.c", "int z;\n");
    std::os::unix::fs::symlink(
        repo.path().join("elsewhere/manifest.json"),
        repo.path().join("linked/manifest.json"),
    )
    .unwrap();
    repo.write("linked-lock/c.c", "int v;\n");
    std::os::unix::fs::symlink(
        repo.path().join("elsewhere/manifest.json"),
        repo.path().join("linked-lock/.matrix.lock"),
    )
    .unwrap();
    repo.write(
        "other/manifest.json",
        r#"{"format":"something-else","format_version":1,"version":"1","artifacts":[]}"#,
    );
    repo.write("other/b.c", "int w;\n");
    // At the top of the work tree a marker hides nothing either.
    repo.write("manifest.json", MANIFEST);
    repo.write("top.c", "int t;\n");

    let got = dirty(&repo, &[]);
    for want in [
        "src/manifest.json",
        "src/new.c",
        "vendor/lib/tracked.c",
        "vendor/lib/untracked.c",
        "linked/a.c",
        "linked/manifest.json",
        "linked-lock/c.c",
        "other/b.c",
        "manifest.json",
        "top.c",
    ] {
        assert!(got.iter().any(|f| f == want), "{want} hidden: {got:?}");
    }
    // The genuine marker folder alone is skipped.
    assert!(!got.iter().any(|f| f.starts_with("elsewhere/")), "{got:?}");
    assert!(Path::new(&repo.path().join("elsewhere/manifest.json")).is_file());
}

/// A copied manifest (or lock) does not make a new source file beside it
/// matrix's: in a matrix folder only the files matrix writes there (the
/// manifest, the lock, what the manifest records, the work folders) are
/// skipped.
#[test]
fn a_copied_marker_does_not_hide_a_new_file_beside_it() {
    let repo = Repo::new();
    repo.commit("src/main.c");
    repo.git(&["tag", "v1.2.3"]);
    dist(&repo, "tools/fixture");
    repo.write("tools/fixture/gen.c", "int g;\n");
    repo.write("tools/fixture/sub/deep.c", "int d;\n");
    repo.write("crashed/.matrix.lock", "");
    repo.write("crashed/logs/build.log", "killed\n");
    repo.write("crashed/main.go", "package main\n");
    // A file named like a work folder is not in one.
    repo.write("crashed/build", "not a folder\n");
    assert_eq!(
        dirty(&repo, &[]),
        [
            "crashed/build",
            "crashed/main.go",
            "tools/fixture/gen.c",
            "tools/fixture/sub/deep.c"
        ]
    );
}
