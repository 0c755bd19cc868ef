//! `matrix publish` and `matrix channel` against links and releases that
//! `matrix verify` refuses, through the real binary: each attack exits 2,
//! names the path, and publishes (or writes) nothing.

use std::os::unix::fs::symlink;
use std::path::Path;

use crate::support::{Project, run};
use crate::workflows::{project, tools};

fn built() -> Option<Project> {
    if !tools() {
        return None;
    }
    let p = project();
    let (code, _, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 0, "{err}");
    Some(p)
}

/// Every file under `dir`, relative, links included but not followed.
fn files(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return vec![];
    }
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            e.path().strip_prefix(dir).unwrap().display().to_string()
        })
        .collect();
    out.sort();
    out
}

fn sha256(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn words(err: &str) -> String {
    err.split_whitespace()
        .filter(|w| *w != "|")
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_release_file_linked_to_etc_passwd_is_not_published() {
    let Some(p) = built() else { return };
    let dist = p.dist();
    let name = "hello_1.2.3_linux_amd64.tar.gz";
    // The attacker rewrites every record to match /etc/passwd's bytes.
    std::fs::remove_file(dist.join(name)).unwrap();
    symlink("/etc/passwd", dist.join(name)).unwrap();
    let digest = sha256(Path::new("/etc/passwd"));
    let size = std::fs::metadata("/etc/passwd").unwrap().len();
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dist.join("manifest.json")).unwrap()).unwrap();
    for a in m["artifacts"].as_array_mut().unwrap() {
        if a["name"] == name {
            a["digest"] = format!("sha256:{digest}").into();
            a["size"] = size.into();
        }
    }
    std::fs::write(dist.join("manifest.json"), m.to_string()).unwrap();

    let (code, _, err) = run(&mut p.matrix(&["publish", "dist", "--to", "repo"]));
    assert_eq!(code, 2, "{err}");
    assert!(words(&err).contains(name), "{err}");
    assert_eq!(files(&p.path().join("repo")), Vec::<String>::new());
}

#[test]
fn a_linked_repository_folder_is_not_written_through() {
    let Some(p) = built() else { return };
    let outside = tempfile::tempdir().unwrap();
    let repo = p.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    symlink(outside.path(), repo.join("1.2.3")).unwrap();
    let (code, _, err) = run(&mut p.matrix(&["publish", "dist", "--to", "repo"]));
    assert_eq!(code, 2, "{err}");
    let err = words(&err);
    assert!(err.contains("repo/1.2.3 is a symbolic link"), "{err}");
    assert_eq!(files(outside.path()), Vec::<String>::new());
    assert!(!repo.join(".matrix/releases/1.2.3.json").exists());
}

#[test]
fn a_release_verify_refuses_is_not_published() {
    let Some(p) = built() else { return };
    let dist = p.dist();
    // A file smuggled into the checksums file, its record made to match:
    // sizes and digests agree, only `verify` sees the extra line.
    let sums = dist.join("hello_1.2.3_checksums.txt");
    let mut text = std::fs::read_to_string(&sums).unwrap();
    text.push_str(&format!("{}  install.sh\n", "0".repeat(64)));
    std::fs::write(&sums, &text).unwrap();
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dist.join("manifest.json")).unwrap()).unwrap();
    for a in m["artifacts"].as_array_mut().unwrap() {
        if a["kind"] == "checksums" {
            a["digest"] = format!("sha256:{}", sha256(&sums)).into();
            a["size"] = text.len().into();
        }
    }
    std::fs::write(dist.join("manifest.json"), m.to_string()).unwrap();

    let (code, _, err) = run(&mut p.matrix(&["publish", "dist", "--to", "repo"]));
    assert_eq!(code, 2, "{err}");
    let err = words(&err);
    assert!(err.contains("`matrix verify` refuses the release"), "{err}");
    assert!(err.contains("lists install.sh"), "{err}");
    assert!(!p.path().join("repo").exists());
}

#[test]
fn a_channel_never_points_at_a_linked_file() {
    let Some(p) = built() else { return };
    let (code, _, err) = run(&mut p.matrix(&["publish", "dist", "--to", "repo"]));
    assert_eq!(code, 0, "{err}");
    // Swapped for a link to identical bytes elsewhere.
    let outside = tempfile::tempdir().unwrap();
    let file = p.path().join("repo/1.2.3/hello_1.2.3_linux_arm64.tar.gz");
    let copy = outside.path().join("copy.tar.gz");
    std::fs::rename(&file, &copy).unwrap();
    symlink(&copy, &file).unwrap();
    let (code, _, err) =
        run(&mut p.matrix(&["channel", "set", "stable", "1.2.3", "--repo", "repo"]));
    assert_eq!(code, 2, "{err}");
    let err = words(&err);
    assert!(
        err.contains("hello_1.2.3_linux_arm64.tar.gz is a symbolic link"),
        "{err}"
    );
    assert!(!p.path().join("repo/channels/stable").exists());
    let (code, out, err) = run(&mut p.matrix(&["channel", "list", "--repo", "repo"]));
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
}
