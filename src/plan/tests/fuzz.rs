//! A property test: mutated example configs always get an answer.
//!
//! Each case takes one of the example matrix.toml files, applies a few
//! mutations (lines deleted, duplicated, swapped or garbled, values swapped,
//! axes blown up to hundreds of values, templates with nested loops and huge
//! strings injected) and runs the library's load-from-text and plan path.
//! It must never panic, must end in a plan or an error, a plan must stay
//! within `[limits]`, and an error must render (miette, as the CLI prints
//! it). `MATRIX_PROPTEST_CASES` sets the number of cases (default 64);
//! `scripts/fuzz-plan.sh` runs many more.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};

use super::*;

const EXAMPLES: &[(&str, &str)] = &[
    (
        "hello-go/matrix.toml",
        include_str!("../../../examples/hello-go/matrix.toml"),
    ),
    (
        "hello-go/matrix.containers.toml",
        include_str!("../../../examples/hello-go/matrix.containers.toml"),
    ),
    (
        "hello-c/matrix.toml",
        include_str!("../../../examples/hello-c/matrix.toml"),
    ),
    (
        "hello-rust/matrix.toml",
        include_str!("../../../examples/hello-rust/matrix.toml"),
    ),
];

/// Templates that do a lot of work or make a lot of text.
const HEAVY: &[&str] = &[
    "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{{ i }}{% endfor %}",
    "{{ 'x' * 100000000 }}",
    "{{ 'abc' * 30000 }}",
    "{% set s = 'x' * 60000 %}{{ s }}{{ s }}",
    "{% for i in range(100) %}{% for j in range(100) %}{% for k in range(100) %}{% endfor %}{% endfor %}{% endfor %}",
    "{{ range(100000) | join(',') }}",
    "{{ ([1] * 1000000) | length }}",
    "{% macro m(n) %}{% if n > 0 %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(30) }}",
    "{{ (((((((((((((((((((((((((((((1)))))))))))))))))))))))))))))) }}",
    "{{ os ~ '{{' }}",
    "{% raw %}{{ os }}{% endraw %}",
    "{{ os | upper | lower | title }}",
    "{{ 1 / 0 }}",
    "{{ nope }}",
    "{% if %}",
];

/// Lines worth inserting anywhere.
const LINES: &[&str] = &[
    "[matrix]",
    "[build]",
    "[limits]",
    "max-targets = 3",
    "template-fuel = 100",
    "max-template-output = 10",
    "exclude = [ { os = \"linux\" } ]",
    "include = [ { os = \"linux\", arch = \"amd64\", extra = \"1\" } ]",
    "include = [ { brand = \"new\" } ]",
    "os = [\"linux\", \"linux\"]",
    "arch = []",
    "name = \"\"",
    "binary = \"a/b\"",
    "command = \"unterminated '\"",
    "command = []",
    "timeout = \"0s\"",
    "[version]\nscheme = \"calendar\"\nepoch = \"2999-01-01\"",
    "[[images.variants]]",
    "[channels.x]\nkind = \"homebrew\"",
    "format = \"rar\"",
    "a.b.c.d.e.f = 1",
    "\"\\u0000\" = \"\\u0000\"",
    "k = \"\u{1F600}\u{0301}\u{200B}\"",
    "x = 1e999",
    "[[",
    "]]]",
    "'''",
    "\"\"\"",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete(Index),
    Duplicate(Index),
    Swap(Index, Index),
    SwapValues(Index, Index),
    Insert(Index, Index),
    /// Insert an axis of this many values after `[matrix]`.
    AddAxis(usize),
    /// Give the list on a line this many values.
    BlowUp(Index, usize),
    /// Put a heavy template where a template was.
    Template(Index, Index),
    /// A long string value on a line of its own.
    Huge(Index, usize),
    Garble(Index, Index, String),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::Delete),
        any::<Index>().prop_map(Mutation::Duplicate),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapValues(a, b)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Insert(a, b)),
        (1usize..300).prop_map(Mutation::AddAxis),
        (any::<Index>(), 0usize..400).prop_map(|(a, n)| Mutation::BlowUp(a, n)),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Template(a, b)),
        (any::<Index>(), 1usize..3_000_000).prop_map(|(a, n)| Mutation::Huge(a, n)),
        (
            any::<Index>(),
            any::<Index>(),
            prop::collection::vec(any::<char>(), 1..6)
        )
            .prop_map(|(a, b, cs)| Mutation::Garble(a, b, cs.into_iter().collect())),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len();
    match m {
        Mutation::Delete(i) => {
            lines.remove(i.index(n));
        }
        Mutation::Duplicate(i) => {
            let i = i.index(n);
            lines.insert(i, lines[i].clone());
        }
        Mutation::Swap(a, b) => lines.swap(a.index(n), b.index(n)),
        Mutation::SwapValues(a, b) => {
            let (a, b) = (a.index(n), b.index(n));
            if let (Some((ka, va)), Some((kb, vb))) = (
                lines[a].clone().split_once('='),
                lines[b].clone().split_once('='),
            ) {
                lines[a] = format!("{ka}={vb}");
                lines[b] = format!("{kb}={va}");
            }
        }
        Mutation::Insert(at, what) => {
            lines.insert(at.index(n + 1), what.get(LINES).to_string());
        }
        Mutation::AddAxis(count) => {
            let values: Vec<String> = (0..*count).map(|i| format!("\"v{i}\"")).collect();
            let at = lines
                .iter()
                .position(|l| l.trim() == "[matrix]")
                .map_or(0, |i| i + 1);
            let name = format!("axis{}", lines.len());
            lines.insert(at, format!("{name} = [{}]", values.join(", ")));
        }
        Mutation::BlowUp(i, count) => {
            let i = i.index(n);
            if let (Some(open), Some(close)) = (lines[i].find('['), lines[i].rfind(']'))
                && open < close
            {
                let values: Vec<String> = (0..*count).map(|k| format!("\"b{k}\"")).collect();
                lines[i] = format!(
                    "{}[{}]{}",
                    &lines[i][..open],
                    values.join(", "),
                    &lines[i][close + 1..]
                );
            }
        }
        Mutation::Template(i, which) => {
            let heavy = which.get(HEAVY).replace('"', "\\\"");
            let with_template: Vec<usize> = (0..n).filter(|&k| lines[k].contains("{{")).collect();
            if !with_template.is_empty() {
                let k = with_template[i.index(with_template.len())];
                if let (Some(s), Some(e)) = (lines[k].find("{{"), lines[k].find("}}"))
                    && s < e
                {
                    lines[k] = format!("{}{heavy}{}", &lines[k][..s], &lines[k][e + 2..]);
                }
            }
        }
        Mutation::Huge(at, len) => {
            let value = "y".repeat(*len);
            lines.insert(at.index(n + 1), format!("huge = \"{value}\""));
        }
        Mutation::Garble(i, at, s) => {
            let i = i.index(n);
            let chars: Vec<char> = lines[i].chars().collect();
            let at = at.index(chars.len() + 1);
            lines[i] = chars[..at]
                .iter()
                .chain(s.chars().collect::<Vec<_>>().iter())
                .chain(chars[at..].iter())
                .collect();
        }
        Mutation::Truncate(at) => {
            let joined = lines.join("\n");
            let mut cut = at.index(joined.len() + 1);
            while !joined.is_char_boundary(cut) {
                cut -= 1;
            }
            return joined[..cut].to_string();
        }
    }
    lines.join("\n") + "\n"
}

/// What one case did, for the summary.
#[derive(Debug, Default)]
struct Stats {
    cases: u32,
    plans: u32,
    errors: u32,
    limit_errors: u32,
    slowest: Duration,
    total: Duration,
}

/// Loads and plans `text`: the answer must be a plan within the limits or
/// an error that renders.
fn answer(text: &str, stats: &mut Stats) -> Result<(), TestCaseError> {
    let started = Instant::now();
    let outcome = config::parse(Path::new("matrix.toml"), text.to_string())
        .map_err(miette::Report::new)
        .and_then(|loaded| {
            let plan = build(&loaded, &request(&[])).map_err(miette::Report::new)?;
            Ok((loaded, plan))
        });
    match &outcome {
        Ok((loaded, plan)) => {
            stats.plans += 1;
            let max = loaded.config.limits.max_targets as usize;
            prop_assert!(plan.targets.len() <= max, "{} targets", plan.targets.len());
        }
        Err(report) => {
            stats.errors += 1;
            if let Some(PlanError::Config(e)) = report.downcast_ref::<PlanError>()
                && e.limit.is_some()
            {
                stats.limit_errors += 1;
            }
            let mut shown = String::new();
            miette::GraphicalReportHandler::new()
                .render_report(&mut shown, report.as_ref())
                .map_err(|e| TestCaseError::fail(format!("cannot render: {e}")))?;
            prop_assert!(!shown.is_empty());
            // Excerpts and clipped values keep messages short.
            prop_assert!(shown.len() < 64 * 1024, "{} bytes of error", shown.len());
        }
    }
    let took = started.elapsed();
    stats.cases += 1;
    stats.total += took;
    stats.slowest = stats.slowest.max(took);
    let bound = std::env::var("MATRIX_PROPTEST_MAX_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    prop_assert!(
        took < Duration::from_secs(bound),
        "one case took {took:?} (bound {bound} s)"
    );
    Ok(())
}

#[test]
fn mutated_examples_always_get_an_answer() {
    let cases = std::env::var("MATRIX_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    });
    let stats = std::cell::RefCell::new(Stats::default());
    let strategy = (0..EXAMPLES.len(), prop::collection::vec(mutation(), 1..6));
    let result = runner.run(&strategy, |(example, mutations)| {
        let mut text = EXAMPLES[example].1.to_string();
        for m in &mutations {
            text = apply(&text, m);
        }
        answer(&text, &mut stats.borrow_mut())
    });
    let s = stats.into_inner();
    eprintln!(
        "plan fuzz: {} cases ({} plans, {} errors of which {} from [limits]); slowest {:?}, mean {:?}",
        s.cases,
        s.plans,
        s.errors,
        s.limit_errors,
        s.slowest,
        s.total / s.cases.max(1)
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn the_examples_themselves_plan() {
    for (name, text) in EXAMPLES {
        let loaded = config::parse(Path::new(name), text.to_string()).unwrap();
        let plan = build(&loaded, &request(&[])).unwrap();
        assert!(!plan.targets.is_empty(), "{name}");
    }
}
