//! A review of the merged defences, as an attacker and an unlucky user: each
//! test is a hole found with the release binary, kept so it stays closed.
//!
//! Every test asserts the exit code, the message (naming the path and what
//! is allowed) and that nothing was lost or written.

use std::os::unix::fs::symlink;

use crate::support::{Project, WRITE_BINARY, run, script_config};

fn project() -> Project {
    Project::with_config(&script_config(
        r#"os = ["linux"]
arch = ["amd64", "arm64"]"#,
        WRITE_BINARY,
    ))
}

/// stderr with miette's wrapping undone, so sentences can be searched.
fn squash(text: &str) -> String {
    text.split_whitespace().filter(|w| *w != "|").collect()
}

/// The project's own files are all still there.
fn assert_project_intact(p: &Project) {
    for f in ["matrix.toml", "LICENSE", "README.md", ".git/HEAD"] {
        assert!(p.path().join(f).exists(), "{f} was deleted");
    }
}

/// `--dist` names a symlink to the project: `--clean` must see through the
/// name before deleting anything, or it empties the checkout (.git too).
#[test]
fn clean_refuses_a_dist_that_links_to_the_project() {
    let p = project();
    symlink(".", p.path().join("out")).unwrap();
    let (code, out, err) = run(&mut p.matrix(&["build", "--dist", "out", "--clean"]));
    assert_eq!(code, 2, "{out}\n{err}");
    let err = squash(&err);
    assert!(err.contains(&squash("refusing to clean")), "{err}");
    assert!(err.contains("holdstheproject"), "{err}");
    assert_project_intact(&p);
}

/// The same through a link to a folder above the project (a snapshot, as
/// the link leads out of the work tree and would count as a change).
#[test]
fn clean_refuses_a_dist_that_links_above_the_project() {
    let p = project();
    symlink("..", p.path().join("up")).unwrap();
    let (code, out, err) = run(&mut p.matrix(&["build", "--snapshot", "--dist", "up", "--clean"]));
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(squash(&err).contains("holdstheproject"), "{err}");
    assert_project_intact(&p);
}

/// `--dist $HOME --clean` (or a folder above it) would empty the user's
/// home folder: refused by name, whatever the project.
#[test]
fn clean_refuses_the_home_folder() {
    let p = project();
    let home = tempfile::tempdir().unwrap();
    let precious = home.path().join("notes.txt");
    std::fs::write(&precious, "keep me\n").unwrap();
    let dist = home.path().to_str().unwrap();
    let (code, out, err) = run(p
        .matrix(&["build", "--dist", dist, "--clean"])
        .env("HOME", home.path()));
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(squash(&err).contains("homefolder"), "{err}");
    assert!(precious.is_file(), "the home folder was emptied");
}

/// `matrix merge shards/a --dist shards/a --clean`: the shard being merged
/// must not be deleted under the merge; the same when dist holds it.
#[test]
fn merge_clean_refuses_a_dist_that_holds_a_shard() {
    let p = project();
    p.file(".gitignore", "dist/\nshards/\n");
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    let (code, out, err) = run(&mut p.matrix(&["build", "--shard", "1/1", "--dist", "shards/a"]));
    assert_eq!(code, 0, "{out}\n{err}");
    for dist in ["shards/a", "shards"] {
        let (code, out, err) =
            run(&mut p.matrix(&["merge", "shards/a", "--dist", dist, "--clean"]));
        assert_eq!(code, 2, "--dist {dist}: {out}\n{err}");
        let err = squash(&err);
        let says = if dist == "shards" {
            "refusing to clean"
        } else {
            "is the shard folder shards/a"
        };
        assert!(err.contains(&squash(says)), "{err}");
        assert!(err.contains("shards/a"), "{err}");
        assert!(
            p.path().join("shards/a/manifest.json").is_file(),
            "--dist {dist} --clean deleted the shard"
        );
    }
}

/// `matrix merge shards/a --dist shards/a/out`: the output would become part
/// of the shard, which then never merges again; refused before anything is
/// written, the same through a link to the shard.
#[test]
fn merge_refuses_a_dist_inside_a_shard() {
    let p = project();
    p.file(".gitignore", "dist/\nshards/\nalias\n");
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    let (code, out, err) = run(&mut p.matrix(&["build", "--shard", "1/1", "--dist", "shards/a"]));
    assert_eq!(code, 0, "{out}\n{err}");
    symlink("shards/a", p.path().join("alias")).unwrap();
    for dist in ["shards/a/out", "alias/out"] {
        let (code, out, err) = run(&mut p.matrix(&["merge", "shards/a", "--dist", dist]));
        assert_eq!(code, 2, "--dist {dist}: {out}\n{err}");
        let err = squash(&err);
        assert!(
            err.contains(&squash("is inside the shard folder shards/a")),
            "{err}"
        );
        assert!(
            !p.path().join("shards/a/out").exists(),
            "--dist {dist} was written"
        );
    }
    // The shard still merges.
    let (code, out, err) = run(&mut p.matrix(&["merge", "shards/a", "--dist", "dist"]));
    assert_eq!(code, 0, "{out}\n{err}");
}
