//! Plan tests for names that must be plain: the binary, archive names
//! (rendered per target), and `dst` folders of archive files.

use super::*;

const BASE: &str = r#"
[project]
name = "hello"

[matrix]
os = ["linux", "windows"]
arch = ["amd64"]

[build]
command = "make"
binary = "hello"

[archive]
files = [{ src = "docs/*.md", dst = "doc" }]
"#;

/// The error of `BASE` with `find` replaced, and the line it points at.
fn error_of(find: &str, replace: &str) -> (ConfigError, String) {
    assert!(BASE.contains(find), "{find}");
    let text = BASE.replacen(find, replace, 1);
    let e = config_error(&text);
    let line = text.lines().nth(e.line - 1).unwrap_or("").to_string();
    (e, line)
}

#[test]
fn the_binary_is_a_plain_file_name() {
    for (binary, problem) in [
        ("..", "names a folder"),
        (".", "names a folder"),
        ("\\u0007bell", "contains a control character"),
        ("--config=x", "starts with '-'"),
    ] {
        let (e, line) = error_of("binary = \"hello\"", &format!("binary = \"{binary}\""));
        assert!(
            e.message.starts_with("the binary name") && e.message.contains(problem),
            "{binary}: {}",
            e.message
        );
        assert!(line.starts_with("binary"), "{binary}: {line}");
        assert!(e.help.as_deref().unwrap_or("").contains("not `.` or `..`"));
    }
    // An override's binary is checked too, naming the target it is for.
    let (e, line) = error_of(
        "binary = \"hello\"\n",
        "binary = \"hello\"\noverrides = [ { when = { os = \"windows\" }, binary = \"../x\" } ]\n",
    );
    assert_eq!(
        e.message,
        "the binary name \"../x\" of windows/amd64 is a path, not a file name"
    );
    assert!(line.starts_with("overrides"), "{line}");
    // A name with a dot inside is fine.
    let plan = plan_of(&BASE.replace("\"hello\"", "\"hello.v2\""), &[]).unwrap();
    assert_eq!(plan.targets[1].build.binary, "hello.v2.exe");
}

#[test]
fn an_archive_name_that_renders_to_dots_for_one_target_is_refused() {
    let (e, line) = error_of(
        "[archive]\n",
        "[archive]\nname = \"{% if os == 'windows' %}..{% else %}{{ project }}_{{ os }}{% endif %}\"\n",
    );
    assert_eq!(
        e.message,
        "archive.name renders to \"..\" for windows/amd64, which is not a usable file name"
    );
    assert!(line.starts_with("name"), "{line}");
    let (e, _) = error_of(
        "[archive]\n",
        "[archive]\nwrap-in-directory = \"{{ os }}/x\"\n",
    );
    assert!(
        e.message
            .starts_with("archive.wrap-in-directory renders to \"linux/x\" for linux/amd64"),
        "{}",
        e.message
    );
}

#[test]
fn a_dst_outside_the_archive_is_refused() {
    for (dst, reason) in [
        ("../up", "it contains `..`"),
        ("/abs", "it is absolute"),
        ("a\\\\b", "it contains `\\`"),
    ] {
        let (e, line) = error_of("dst = \"doc\"", &format!("dst = \"{dst}\""));
        assert!(e.message.ends_with(reason), "{dst}: {}", e.message);
        assert!(line.starts_with("files"), "{dst}: {line}");
    }
    // `.` and an empty dst are the archive's top level.
    for top in [".", ""] {
        plan_of(
            &BASE.replace("dst = \"doc\"", &format!("dst = \"{top}\"")),
            &[],
        )
        .unwrap();
    }
}
