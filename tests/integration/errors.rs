//! Every bad input gets a clear error: file, line, column, what is allowed,
//! and exit code 2. Each message is snapshotted whole.

use crate::support::{Project, WRITE_BINARY, redact, run, script_config};

const AXES: &str = "os = [\"linux\", \"windows\"]\narch = [\"amd64\", \"arm64\"]";

/// Runs `matrix <args>` on a project with `config`; expects exit 2.
fn error_of(config: &str, args: &[&str]) -> String {
    let p = Project::with_config(config);
    let (code, out, err) = run(&mut p.matrix(args));
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    assert!(
        !p.dist().exists(),
        "nothing may be written on a config error"
    );
    redact(&err, &p)
}

fn config_with(find: &str, replace: &str) -> String {
    let c = script_config(AXES, WRITE_BINARY);
    assert!(c.contains(find), "{find} not in config");
    c.replacen(find, replace, 1)
}

#[test]
fn unknown_key() {
    let err = error_of(
        &config_with("binary = \"hello\"", "binary = \"hello\"\nbinnary = 1"),
        &["build"],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn unknown_os_suggests_a_name() {
    let err = error_of(&config_with("\"windows\"", "\"win64\""), &["plan"]);
    insta::assert_snapshot!(err);
}

#[test]
fn unknown_arch() {
    let err = error_of(&config_with("\"arm64\"]", "\"sparc\"]"), &["plan"]);
    insta::assert_snapshot!(err);
}

#[test]
fn unknown_template_variable() {
    let err = error_of(
        &config_with(
            "{{ project }}_{{ version }}_{{ os }}",
            "{{ project }}_{{ vresion }}_{{ os }}",
        ),
        &["plan"],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn template_syntax_error() {
    let err = error_of(
        &config_with("{{ os }}_{{ arch }}\"", "{{ os }}_{{ arch \""),
        &["plan"],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn duplicate_artifact_names() {
    let err = error_of(
        &config_with("_{{ os }}_{{ arch }}\"", "_{{ os }}\""),
        &["build"],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn empty_matrix() {
    let err = error_of(
        &config_with(AXES, "os = [\"linux\"]\nexclude = [ { os = \"linux\" } ]"),
        &["plan"],
    );
    insta::assert_snapshot!(err);
}

#[test]
fn invalid_toml() {
    let err = error_of(&config_with("[build]", "[build"), &["plan"]);
    insta::assert_snapshot!(err);
}

#[test]
fn missing_config() {
    let p = Project::new();
    let (code, _, err) = run(&mut p.matrix(&["plan"]));
    assert_eq!(code, 2);
    insta::assert_snapshot!(redact(&err, &p));
}

#[test]
fn no_tag_at_head() {
    let p = Project::with_config(&script_config(AXES, WRITE_BINARY));
    p.file("more.txt", "x\n");
    p.commit();
    let (code, _, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 2);
    insta::assert_snapshot!(redact(&err, &p));
}

#[test]
fn dirty_tree() {
    let p = Project::with_config(&script_config(AXES, WRITE_BINARY));
    p.file("README.md", "# changed\n");
    let (code, _, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 2);
    insta::assert_snapshot!(redact(&err, &p));
    // --snapshot accepts the dirty tree.
    let (code, _, err) = run(&mut p.matrix(&["plan", "--snapshot"]));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn non_empty_dist() {
    let p = Project::with_config(&script_config(AXES, WRITE_BINARY));
    p.file("dist/old.tar.gz", "stale");
    let (code, _, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 2);
    insta::assert_snapshot!(redact(&err, &p));
    assert!(
        p.dist().join("old.tar.gz").exists(),
        "nothing removed without --clean"
    );
    let (code, _, err) = run(&mut p.matrix(&["build", "--clean"]));
    assert_eq!(code, 0, "{err}");
    assert!(!p.dist().join("old.tar.gz").exists());
}

#[test]
fn unknown_target_filter() {
    let p = Project::with_config(&script_config(AXES, WRITE_BINARY));
    let (code, _, err) = run(&mut p.matrix(&["plan", "--target", "darwin/*"]));
    assert_eq!(code, 2);
    insta::assert_snapshot!(redact(&err, &p));
}

#[test]
fn usage_errors_exit_2() {
    let p = Project::new();
    let (code, _, err) = run(&mut p.matrix(&["build", "--jobs", "0"]));
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = run(&mut p.matrix(&["frobnicate"]));
    assert_eq!(code, 2);
}
