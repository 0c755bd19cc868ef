//! Bounded inputs for `plan`: matrix.toml's size cap, errors on huge lines,
//! and the `[limits]` a config can raise. Each error is snapshotted whole;
//! each limit is shown to give way when raised. Also `MATRIX_VERSION` under
//! the calendar scheme, with and without git.

use crate::support::{Project, WRITE_BINARY, run, script_config};

const AXES: &str = "os = [\"linux\", \"windows\"]\narch = [\"amd64\", \"arm64\"]";

/// `matrix plan` on `config`: exit code, stdout, stderr with the project
/// folder redacted (not `support::redact`, which would also hide the counts
/// and sizes these messages are about); checks that nothing was written.
fn plan(config: &str) -> (i32, String, String) {
    let p = Project::with_config(config);
    let (code, out, err) = run(&mut p.matrix(&["plan"]));
    assert!(!p.dist().exists(), "plan never writes dist/");
    let err = err.replace(&p.path().display().to_string(), "[PROJECT]");
    (code, out, err)
}

fn expect_error(config: &str) -> String {
    let (code, out, err) = plan(config);
    assert_eq!(code, 2, "stdout: {out}\nstderr: {err}");
    err
}

fn expect_plan(config: &str) -> String {
    let (code, out, err) = plan(config);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    out
}

fn config(axes: &str) -> String {
    script_config(axes, WRITE_BINARY)
}

fn with_limits(config: &str, limits: &str) -> String {
    format!("{config}\n[limits]\n{limits}\n")
}

/// A flag on the build command; `{{ os }}_{{ arch }}` archive names stay
/// unique.
fn with_flag(flag: &str) -> String {
    config(AXES).replace(
        "binary = \"hello\"",
        &format!("binary = \"hello\"\nflags = [\"{flag}\"]"),
    )
}

#[test]
fn three_axes_of_200_values_are_refused_with_their_count() {
    let values: Vec<String> = (0..200).map(|i| format!("\"v{i}\"")).collect();
    let extra: String = ["x", "y", "z"]
        .iter()
        .map(|a| format!("\n{a} = [{}]", values.join(", ")))
        .collect();
    let err = expect_error(&config(&format!("{AXES}{extra}")));
    insta::assert_snapshot!(err);
}

#[test]
fn raising_max_targets_lets_the_plan_pass() {
    let err = expect_error(&with_limits(&config(AXES), "max-targets = 3"));
    assert!(err.contains("expands to 4 combinations"), "{err}");
    assert!(err.contains("max-targets"), "{err}");
    let out = expect_plan(&with_limits(&config(AXES), "max-targets = 4"));
    assert!(out.contains("windows/arm64"), "{out}");
}

#[test]
fn nested_loops_run_out_of_template_fuel() {
    let err = expect_error(&with_flag(
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    ));
    insta::assert_snapshot!(err);
}

#[test]
fn raising_template_fuel_lets_the_plan_pass() {
    let looping = with_flag("{% for i in range(2000) %}{% endfor %}ok");
    let err = expect_error(&with_limits(&looping, "template-fuel = 5000"));
    assert!(err.contains("[limits] template-fuel"), "{err}");
    expect_plan(&with_limits(&looping, "template-fuel = 100000"));
}

#[test]
fn a_huge_rendered_value_is_refused() {
    let err = expect_error(&with_flag("{{ 'x' * 100000 }}"));
    insta::assert_snapshot!(err);
    expect_plan(&with_limits(
        &with_flag("{{ 'x' * 100000 }}"),
        "max-template-output = 100000",
    ));
}

#[test]
fn a_config_over_4_mib_is_refused_before_it_is_read() {
    let big = format!("{}\n# {}\n", config(AXES), "x".repeat(5 * 1024 * 1024));
    let err = expect_error(&big);
    insta::assert_snapshot!(err);
}

#[test]
fn a_toml_error_on_a_huge_line_shows_an_excerpt() {
    // 3 MB on one line, then a missing closing quote at its end.
    let big = format!("{}\nhuge = \"{}\n", config(AXES), "y".repeat(3_000_000));
    let err = expect_error(&big);
    assert!(err.len() < 4096, "{} bytes of error", err.len());
    insta::assert_snapshot!(err);
}

#[test]
fn matrix_version_gives_a_calendar_version_with_git() {
    let calendar = format!("{}\n[version]\nscheme = \"calendar\"\n", config(AXES));
    let p = Project::with_config(&calendar);
    let (code, out, err) = run(p.matrix(&["plan"]).env("MATRIX_VERSION", "1443.0"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("version  1443.0 (tag 1443.0"), "{out}");
    assert!(out.contains("hello_1443.0_linux_amd64.tar.gz"), "{out}");
    // A semver MATRIX_VERSION is refused under the calendar scheme.
    let (code, _, err) = run(p.matrix(&["plan"]).env("MATRIX_VERSION", "1.2.3"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not a calendar version"), "{err}");
}

#[test]
fn matrix_version_gives_a_calendar_version_without_git() {
    let dir = tempfile::tempdir().unwrap();
    let calendar = format!("{}\n[version]\nscheme = \"calendar\"\n", config(AXES));
    std::fs::write(dir.path().join("matrix.toml"), calendar).unwrap();
    let matrix = || {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("matrix"));
        cmd.arg("plan")
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env("MATRIX_VERSION", "v1500.2")
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("MATRIX_LOG");
        cmd
    };
    let (code, out, err) = run(matrix().env("SOURCE_DATE_EPOCH", "1700000000"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("version  1500.2 (tag v1500.2"), "{out}");
    let (code, _, err) = run(&mut matrix());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("SOURCE_DATE_EPOCH"), "{err}");
    assert!(!dir.path().join("dist").exists());
}
