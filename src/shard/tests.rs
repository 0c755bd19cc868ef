use serde_json::json;

use super::*;

/// `(id, weight)` pairs named t01, t02, ... in the given order.
fn targets(weights: &[f64]) -> Vec<(String, f64)> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| (format!("t{:02}", i + 1), w))
        .collect()
}

fn heaviest(a: &Assignment) -> f64 {
    a.shards.iter().map(|s| s.weight).fold(0.0, f64::max)
}

/// Every target lands in exactly one shard, each shard lists its targets
/// in plan order, and each shard's weight is the sum of its targets'.
fn assert_partition(input: &[(String, f64)], a: &Assignment, n: usize) {
    assert_eq!(a.shards.len(), n);
    let position = |id: &str| input.iter().position(|(t, _)| t == id).unwrap();
    let mut seen = vec![0; input.len()];
    for (k, shard) in a.shards.iter().enumerate() {
        assert_eq!(shard.index, k + 1);
        let positions: Vec<usize> = shard.targets.iter().map(|t| position(t)).collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "shard {} is not in plan order: {:?}",
            shard.index,
            shard.targets
        );
        let sum: f64 = positions.iter().map(|&p| sanitize(input[p].1)).sum();
        // Added up in another order than the shard did, so allow rounding.
        let close = (sum - shard.weight).abs() <= 1e-9 * sum.max(1.0);
        assert!(close, "shard {}: {sum} != {}", shard.index, shard.weight);
        for p in positions {
            seen[p] += 1;
        }
    }
    assert!(
        seen.iter().all(|&c| c == 1),
        "placements per target: {seen:?}"
    );
}

#[test]
fn skewed_weights_balance_within_ten_percent_of_the_mean_where_possible() {
    // (name, durations, shards, one job alone outweighs the mean)
    let cases: &[(&str, &[f64], usize, bool)] = &[
        (
            "16 targets, a long tail",
            &[
                120.0, 90.0, 60.0, 60.0, 30.0, 30.0, 30.0, 30.0, 20.0, 20.0, 20.0, 20.0, 10.0,
                10.0, 10.0, 10.0,
            ],
            4,
            false,
        ),
        (
            "same durations in plan order reversed",
            &[
                10.0, 10.0, 10.0, 10.0, 20.0, 20.0, 20.0, 20.0, 30.0, 30.0, 30.0, 30.0, 60.0, 60.0,
                90.0, 120.0,
            ],
            4,
            false,
        ),
        (
            "macOS via zig is slow, musl is quick (ms)",
            &[
                412_000.0, 398_500.0, 95_300.0, 88_100.0, 91_700.0, 60_200.0, 58_900.0, 43_000.0,
                41_800.0, 39_900.0, 12_400.0, 11_800.0,
            ],
            3,
            false,
        ),
        ("equal weights divide evenly", &[5.0; 8], 4, false),
        (
            "two shards, many mid-size jobs",
            &[
                70.0, 65.0, 64.0, 50.0, 41.0, 40.0, 33.0, 30.0, 22.0, 20.0, 18.0, 11.0, 9.0,
            ],
            2,
            false,
        ),
        (
            "one job longer than the mean shard",
            &[600.0, 50.0, 40.0, 30.0, 20.0, 10.0],
            3,
            true,
        ),
        (
            "one job alone, the rest tiny",
            &[1.0, 1.0, 1.0, 100.0, 1.0, 1.0, 1.0, 1.0],
            4,
            true,
        ),
    ];
    for &(name, durations, n, dominated) in cases {
        let input = targets(durations);
        let a = assign(&input, n);
        assert_partition(&input, &a, n);
        let total: f64 = durations.iter().sum();
        let mean = total / n as f64;
        let largest = durations.iter().copied().fold(0.0, f64::max);
        let max = heaviest(&a);
        assert_eq!(largest > mean, dominated, "{name}: case is mislabelled");
        if dominated {
            // No split beats the one job, so that is the bar: the job's
            // shard holds it alone and nothing is heavier.
            assert_eq!(max, largest, "{name}: {a:#?}");
            let alone = a.shards.iter().find(|s| s.weight == largest).unwrap();
            assert_eq!(alone.targets.len(), 1, "{name}: {a:#?}");
        } else {
            assert!(
                max / mean <= 1.10,
                "{name}: heaviest {max} is {:.3} x the mean {mean}: {a:#?}",
                max / mean
            );
        }
    }
}

#[test]
fn history_from_a_manifest_balances_a_real_split() {
    // A previous release's manifest: build + archive per target, plus
    // release-wide jobs that belong to no target.
    let ms = [
        ("linux/amd64", 61_000, 2_000),
        ("linux/arm64", 64_000, 2_100),
        ("linux/riscv64", 70_500, 2_000),
        ("linux/s390x", 66_000, 1_900),
        ("darwin/amd64", 240_000, 3_000),
        ("darwin/arm64", 236_000, 3_100),
        ("windows/amd64", 120_000, 4_000),
        ("windows/arm64", 118_000, 4_200),
        ("freebsd/amd64", 58_000, 1_800),
        ("openbsd/amd64", 57_000, 1_700),
    ];
    let mut jobs = Vec::new();
    for (id, build, archive) in ms {
        let slug = id.replace('/', "-");
        jobs.push(json!({"id": format!("build-{slug}"), "kind": "build", "target": id, "status": "ok", "duration_ms": build}));
        jobs.push(json!({"id": format!("archive-{slug}"), "kind": "archive", "target": id, "status": "ok", "duration_ms": archive}));
    }
    jobs.push(
        json!({"id": "checksums", "kind": "checksums", "status": "ok", "duration_ms": 900_000}),
    );
    // The merge's jobs of a target (its packages, its SBOM) weigh nothing
    // in a shard, and one that failed leaves the target's record whole.
    jobs.push(json!({"id": "package-snap-linux-amd64", "kind": "package", "target": "linux/amd64", "status": "ok", "duration_ms": 500_000}));
    jobs.push(json!({"id": "sbom-linux-amd64", "kind": "sbom", "target": "linux/amd64", "status": "ok", "duration_ms": 500_000}));
    jobs.push(json!({"id": "package-deb-linux-arm64", "kind": "package", "target": "linux/arm64", "status": "failed", "duration_ms": 1}));
    let history = json!({"format_version": 1, "jobs": jobs});

    let ids: Vec<String> = ms.iter().map(|(id, _, _)| id.to_string()).collect();
    let w = weights(&ids, Some(&serde_json::from_value(history).unwrap()));
    assert_eq!(w[4], 243_000.0, "darwin/amd64 is build + archive");
    assert_eq!(w[0], 63_000.0, "linux/amd64 is build + archive, no package");
    assert_eq!(
        w[1], 66_100.0,
        "linux/arm64's failed package is the merge's"
    );
    let input: Vec<(String, f64)> = ids.into_iter().zip(w).collect();
    let a = assign(&input, 4);
    assert_partition(&input, &a, 4);
    let mean = a.shards.iter().map(|s| s.weight).sum::<f64>() / 4.0;
    assert!(heaviest(&a) / mean <= 1.10, "{a:#?}");
    // The two slow macOS targets never share a runner.
    let darwin = |s: &Shard| {
        s.targets
            .iter()
            .filter(|t| t.starts_with("darwin/"))
            .count()
    };
    assert!(a.shards.iter().all(|s| darwin(s) <= 1), "{a:#?}");
}

#[test]
fn same_input_same_assignment() {
    let input = targets(&[3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0]);
    let first = assign(&input, 3);
    for _ in 0..5 {
        assert_eq!(assign(&input, 3), first);
    }
    assert_eq!(
        render(&assign(&input, 3), Format::Ci(Provider::Github)),
        render(&first, Format::Ci(Provider::Github))
    );
}

#[test]
fn partitions_hold_for_many_inputs() {
    // A small LCG so the cases are varied but the same on every run.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as f64 / 1000.0
    };
    for len in 0..24 {
        for n in 1..7 {
            let input: Vec<(String, f64)> =
                (0..len).map(|i| (format!("os{i}/arch"), next())).collect();
            let a = assign(&input, n);
            assert_partition(&input, &a, n);
            // LPT's guarantee: no shard ends above the mean plus the
            // largest single weight.
            let mean = input.iter().map(|t| t.1).sum::<f64>() / n as f64;
            let largest = input.iter().map(|t| t.1).fold(0.0, f64::max);
            assert!(heaviest(&a) <= mean + largest + 1e-9);
        }
    }
}

#[test]
fn ties_and_edge_cases() {
    let ids = |a: &Assignment| -> Vec<Vec<String>> {
        a.shards.iter().map(|s| s.targets.clone()).collect()
    };
    let v = |s: &[&str]| s.iter().map(|t| t.to_string()).collect::<Vec<_>>();
    // (name, weights, n, expected targets per shard)
    type Case = (&'static str, Vec<f64>, usize, Vec<Vec<String>>);
    let cases: Vec<Case> = vec![
        (
            "equal weights deal round robin in plan order",
            vec![1.0; 5],
            2,
            vec![v(&["t01", "t03", "t05"]), v(&["t02", "t04"])],
        ),
        (
            "zero weights spread by count, not all onto shard 1",
            vec![0.0; 5],
            3,
            vec![v(&["t01", "t04"]), v(&["t02", "t05"]), v(&["t03"])],
        ),
        (
            "heaviest first, listed in plan order within a shard",
            vec![1.0, 2.0, 8.0, 4.0],
            2,
            vec![v(&["t03"]), v(&["t01", "t02", "t04"])],
        ),
        (
            "more shards than targets leaves empty shards",
            vec![2.0, 1.0],
            4,
            vec![v(&["t01"]), v(&["t02"]), vec![], vec![]],
        ),
        (
            "NaN and negative weights count as zero",
            vec![f64::NAN, 3.0, -5.0, 2.0],
            2,
            vec![v(&["t02"]), v(&["t01", "t03", "t04"])],
        ),
        ("no targets", vec![], 2, vec![vec![], vec![]]),
        ("no shards", vec![1.0], 0, vec![]),
    ];
    for (name, w, n, want) in cases {
        let a = assign(&targets(&w), n);
        assert_eq!(ids(&a), want, "{name}");
    }
    let a = assign(&targets(&[1.0, 2.0]), 2);
    assert_eq!(a.get(1).unwrap().targets, ["t02"]);
    assert_eq!(a.get(2).unwrap().targets, ["t01"]);
    assert!(a.get(0).is_none() && a.get(3).is_none());
}

#[test]
fn weights_from_history() {
    let job = |target: &str, status: &str, ms: Value| json!({"id": format!("build-{target}"), "kind": "build", "target": target, "status": status, "duration_ms": ms});
    let ids: Vec<String> = ["a/x", "b/x", "c/x", "d/x"].map(String::from).to_vec();
    // (name, history, expected weights)
    let cases: Vec<(&str, Option<Value>, Vec<f64>)> = vec![
        ("no history", None, vec![1.0; 4]),
        (
            "history without jobs",
            Some(json!({"format_version": 1})),
            vec![1.0; 4],
        ),
        (
            "jobs of a target add up; unknown targets get the median (odd count)",
            Some(json!({"jobs": [
                job("a/x", "ok", json!(100)), job("a/x", "ok", json!(20)),
                job("b/x", "ok", json!(300)), job("c/x", "ok", json!(50)),
            ]})),
            vec![120.0, 300.0, 50.0, 120.0],
        ),
        (
            "median of an even count is the mean of the middle two",
            Some(json!({"jobs": [job("a/x", "ok", json!(100)), job("b/x", "ok", json!(300))]})),
            vec![100.0, 300.0, 200.0, 200.0],
        ),
        (
            "a failed or skipped job makes the record incomplete",
            Some(json!({"jobs": [
                job("a/x", "ok", json!(100)), job("a/x", "failed", json!(5)),
                job("b/x", "ok", json!(40)), job("c/x", "skipped", json!(0)),
                job("d/x", "ok", json!(60)),
            ]})),
            vec![50.0, 40.0, 50.0, 60.0],
        ),
        (
            "a missing or bad duration makes the record incomplete",
            Some(json!({"jobs": [
                job("a/x", "ok", json!("slow")), job("b/x", "ok", json!(-3)),
                {"id": "build-c", "kind": "build", "target": "c/x", "status": "ok"},
                job("d/x", "ok", json!(7.5)),
            ]})),
            vec![7.5, 7.5, 7.5, 7.5],
        ),
        (
            "release-wide jobs and other plans' targets are ignored",
            Some(json!({"jobs": [
                {"id": "checksums", "kind": "checksums", "status": "ok", "duration_ms": 999},
                job("z/y", "ok", json!(5)),
            ]})),
            vec![1.0; 4],
        ),
        (
            "zero durations are known, not missing",
            Some(json!({"jobs": [job("a/x", "ok", json!(0)), job("b/x", "ok", json!(0))]})),
            vec![0.0; 4],
        ),
    ];
    for (name, history, want) in cases {
        let history: Option<History> = history.map(|h| serde_json::from_value(h).unwrap());
        assert_eq!(weights(&ids, history.as_ref()), want, "{name}");
    }
}

#[test]
fn parse_shard_accepts_i_of_n() {
    let ok = [
        ("1/1", (1, 1)),
        ("2/4", (2, 4)),
        ("4/4", (4, 4)),
        ("10/12", (10, 12)),
        ("1000/1000", (1000, 1000)),
    ];
    for (s, want) in ok {
        assert_eq!(parse_shard(s), Ok(want), "{s}");
    }
    // (input, part of the message)
    let bad = [
        ("3", "`3` is not a shard: expected i/N"),
        ("", "is not a shard"),
        ("0/4", "shards count from 1, so the first is 1/4"),
        (
            "5/4",
            "there is no shard 5 of 4 (the shards are 1/4 to 4/4)",
        ),
        ("1/0", "the shard count must be at least 1"),
        ("a/4", "the shard index `a` is not a whole number"),
        ("1/four", "the shard count `four` is not a whole number"),
        ("+1/4", "the shard index `+1` is not a whole number"),
        (" 1/4", "the shard index ` 1` is not a whole number"),
        ("/4", "the shard index `` is not a whole number"),
        ("1/2/3", "the shard count `2/3` is not a whole number"),
        (
            "1/99999999999999999999999",
            "the shard count `99999999999999999999999` is too large",
        ),
        // Parsed fine, but more shards than any CI runs: refused before
        // anything is allocated per shard.
        ("1/1001", "the shard count is at most 1000"),
    ];
    for (s, want) in bad {
        let err = parse_shard(s).unwrap_err();
        assert!(err.contains(want), "{s:?}: {err}");
    }
}

fn sample() -> Assignment {
    let input = vec![
        ("linux/amd64".to_string(), 10.0),
        ("linux/arm64".to_string(), 30.0),
        ("darwin/arm64".to_string(), 20.0),
    ];
    assign(&input, 3)
}

#[test]
fn render_github_is_one_line_with_every_shard() {
    let mut a = sample();
    a.shards.push(Shard {
        index: 4,
        targets: vec![],
        weight: 0.0,
    });
    assert_eq!(
        render(&a, Format::Ci(Provider::Github)),
        concat!(
            r#"{"include":["#,
            r#"{"index":1,"shard":"1/4","targets":"linux/arm64","total":4},"#,
            r#"{"index":2,"shard":"2/4","targets":"darwin/arm64","total":4},"#,
            r#"{"index":3,"shard":"3/4","targets":"linux/amd64","total":4},"#,
            r#"{"index":4,"shard":"4/4","targets":"","total":4}]}"#,
            "\n"
        )
    );
}

#[test]
fn render_json_is_the_serialized_assignment() {
    let a = assign(&targets(&[5.0, 1.0, 2.5, 7.0, 0.5]), 3);
    let text = render(&a, Format::Json);
    assert!(text.starts_with("{\n  \"shards\": [\n"), "{text}");
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed, serde_json::to_value(&a).unwrap());
}

#[test]
fn render_gitlab_lists_shard_values_and_targets() {
    let a = assign(&targets(&[3.0, 1.0]), 3);
    assert_eq!(
        render(&a, Format::Ci(Provider::Gitlab)),
        "# 3 shards; each job runs `matrix build --shard \"$SHARD\"`.\n\
         # 1/3: t01\n\
         # 2/3: t02\n\
         # 3/3: (no targets)\n\
         parallel:\n  matrix:\n    - SHARD: [\"1/3\", \"2/3\", \"3/3\"]\n"
    );
}

#[test]
fn history_is_read_leniently_field_by_field() {
    let read = |text: &str| serde_json::from_str::<History>(text).map(|h| h.jobs);
    let job = |target: Option<&str>, status: Option<&str>, ms: Option<f64>| HistoryJob {
        id: None,
        target: target.map(String::from),
        kind: None,
        status: status.map(String::from),
        duration_ms: ms,
    };
    // (name, manifest.json, expected jobs)
    let cases = [
        ("not an object", "[1, 2]", vec![]),
        ("a number", "3", vec![]),
        ("jobs not a list", r#"{"jobs": "many"}"#, vec![]),
        ("jobs null", r#"{"jobs": null}"#, vec![]),
        (
            "a job that is not an object has no target",
            r#"{"jobs": [7, {"target": "a/x", "status": "ok", "duration_ms": 5}]}"#,
            vec![
                job(None, None, None),
                job(Some("a/x"), Some("ok"), Some(5.0)),
            ],
        ),
        (
            "fields of the wrong type are missing",
            r#"{"jobs": [{"target": 1, "status": ["ok"], "duration_ms": "slow", "extra": {}}]}"#,
            vec![job(None, None, None)],
        ),
    ];
    for (name, text, want) in cases {
        assert_eq!(read(text).unwrap(), want, "{name}");
    }
    assert!(read("not json").is_err());
    assert!(read("{} trailing").is_err());
}
