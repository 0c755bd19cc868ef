//! Plan tests for `[limits]`: each limit stops a plan with an error that
//! names the limit (by kind, not by timing), points at the config, and
//! gives way when the config raises it.

use super::*;
use crate::config::Limit;

/// GLIDE with three extra axes of 200 values: 16 * 200^3 targets.
fn huge_matrix() -> String {
    let values: Vec<String> = (0..200).map(|i| format!("\"v{i}\"")).collect();
    let axes: String = ["x", "y", "z"]
        .iter()
        .map(|a| format!("{a} = [{}]\n", values.join(", ")))
        .collect();
    GLIDE.replace("exclude = [", &format!("{axes}exclude = ["))
}

fn with_limits(text: &str, limits: &str) -> String {
    format!("{text}\n[limits]\n{limits}\n")
}

fn with_flag(flag: &str) -> String {
    GLIDE.replace(
        "binary = \"hello\"",
        &format!("binary = \"hello\"\nflags = [\"{flag}\"]"),
    )
}

#[test]
fn too_many_targets_is_counted_not_built() {
    let err = config_error(&huge_matrix());
    assert_eq!(err.limit, Some(Limit::Targets));
    assert!(
        err.message.contains("128000000 combinations"),
        "{}",
        err.message
    );
    assert!(err.message.contains("4096"), "{}", err.message);
    assert_eq!((err.line, err.column), (6, 1), "points at [matrix]");
    // Excludes count: 16 * 200^2 * 199 once one z value is excluded.
    let text = huge_matrix().replace("exclude = [", "exclude = [\n  { z = \"v0\" },");
    let err = config_error(&text);
    assert!(err.message.contains("127360000 "), "{}", err.message);
}

#[test]
fn raising_max_targets_lets_the_plan_pass() {
    // 16 * 3 * 100 = 4800 targets: over the default, under a raised limit.
    let values: Vec<String> = (0..100).map(|i| format!("\"v{i}\"")).collect();
    let text = GLIDE.replace(
        "exclude = [",
        &format!(
            "x = [\"a\", \"b\", \"c\"]\ny = [{}]\nexclude = [",
            values.join(", ")
        ),
    );
    let text = text.replace(
        "name = \"{{ project }}_{{ version }}_{{ os }}_{{ arch }}\"",
        "name = \"{{ project }}_{{ version }}_{{ target_slug }}\"",
    );
    assert_eq!(config_error(&text).limit, Some(Limit::Targets));
    let plan = plan_of(&with_limits(&text, "max-targets = 5000"), &[]).unwrap();
    assert_eq!(plan.targets.len(), 4800);
    let err = config_error(&with_limits(&text, "max-targets = 4799"));
    assert!(err.message.contains("4800 combinations"), "{}", err.message);
}

#[test]
fn a_runaway_loop_runs_out_of_fuel() {
    let looping = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}";
    let err = config_error(&with_flag(looping));
    assert_eq!(err.limit, Some(Limit::TemplateFuel));
    assert!(err.message.contains("template-fuel"), "{}", err.message);
    assert_eq!(err.line, 20, "points at build.flags");
}

#[test]
fn raising_template_fuel_lets_the_plan_pass() {
    // About 16 targets * 2000 iterations of work.
    let text = with_flag("{% for i in range(2000) %}{% endfor %}x");
    let err = config_error(&with_limits(&text, "template-fuel = 10000"));
    assert_eq!(err.limit, Some(Limit::TemplateFuel));
    let plan = plan_of(&with_limits(&text, "template-fuel = 1000000"), &[]).unwrap();
    assert_eq!(
        plan.targets[0].build.argv.last().map(String::as_str),
        Some("x")
    );
}

#[test]
fn a_huge_value_is_refused_and_a_raised_cap_allows_it() {
    let text = with_flag("{{ 'x' * 100000 }}");
    let err = config_error(&text);
    assert_eq!(err.limit, Some(Limit::TemplateOutput));
    assert!(err.message.contains("65536 bytes"), "{}", err.message);
    let plan = plan_of(&with_limits(&text, "max-template-output = 100000"), &[]).unwrap();
    assert_eq!(
        plan.targets[0].build.argv.last().map(String::len),
        Some(100_000)
    );
}

#[test]
fn limits_must_be_positive() {
    let err = config_error(&with_limits(GLIDE, "template-fuel = 0"));
    assert!(err.message.contains("at least 1"), "{}", err.message);
    assert_eq!(err.limit, None);
}

/// GLIDE (16 targets) with `n` build overrides that each match one target.
fn many_overrides(n: usize) -> String {
    let list: String = (0..n)
        .map(|i| {
            format!(
                "  {{ when = {{ os = \"linux\", arch = \"amd64\" }}, env = {{ N = \"{i}\" }} }},\n"
            )
        })
        .collect();
    GLIDE.replace(
        "timeout = \"10m\"",
        &format!("timeout = \"10m\"\noverrides = [\n{list}]"),
    )
}

#[test]
fn override_checks_are_bounded_before_matching() {
    // 16 targets x (20 + 1 format override) = 336 checks.
    let text = with_limits(&many_overrides(20), "max-override-checks = 300");
    let err = config_error(&text);
    assert_eq!(err.limit, Some(Limit::OverrideChecks));
    assert!(err.message.contains("336 `when` checks"), "{}", err.message);
    assert!(
        err.message.contains("max-override-checks"),
        "{}",
        err.message
    );
    // Points at the overrides in [build].
    assert!(
        text.lines()
            .nth(err.line - 1)
            .unwrap()
            .contains("overrides")
    );
    // At the limit it passes, and the last override wins.
    let text = with_limits(&many_overrides(20), "max-override-checks = 336");
    let plan = plan_of(&text, &[]).unwrap();
    let t = plan.targets.iter().find(|t| t.id == "linux/amd64").unwrap();
    assert_eq!(t.build.env["N"], "19");
    // `--target` filters count: one target is 21 checks.
    let text = with_limits(&many_overrides(20), "max-override-checks = 21");
    plan_of(&text, &["linux/amd64"]).unwrap();
}

#[test]
fn a_zero_override_check_limit_is_refused() {
    let err = config_error(&with_limits(GLIDE, "max-override-checks = 0"));
    assert!(err.message.contains("at least 1"), "{}", err.message);
}
