use super::*;

/// Jobs as (id, needs, uses_engine).
fn queue(jobs: &[(&str, &[&str], bool)], durations: &[(&str, u64)]) -> Queue {
    let needs: Vec<Vec<String>> = jobs
        .iter()
        .map(|(_, n, _)| n.iter().map(|s| s.to_string()).collect())
        .collect();
    let specs: Vec<Spec<'_>> = jobs
        .iter()
        .zip(&needs)
        .map(|(&(id, _, uses_engine), needs)| Spec {
            id,
            needs,
            uses_engine,
        })
        .collect();
    let durations = durations.iter().map(|&(k, v)| (k.to_string(), v)).collect();
    Queue::new(&specs, &durations)
}

/// Pops until nothing is ready, each popped job succeeding at once;
/// returns the start order.
fn drain(q: &mut Queue) -> Vec<usize> {
    let mut order = Vec::new();
    while let Some(i) = q.pop(true) {
        order.push(i);
        q.succeeded(i);
    }
    order
}

#[test]
fn without_durations_jobs_start_in_plan_order() {
    let mut q = queue(
        &[
            ("a", &[], false),
            ("b", &[], false),
            ("c", &["a"], false),
            ("d", &[], false),
        ],
        &[],
    );
    // c becomes ready when a succeeds, and then it is the earliest one.
    assert_eq!(drain(&mut q), vec![0, 1, 2, 3]);
}

#[test]
fn the_longest_job_starts_first_and_ties_keep_plan_order() {
    let jobs: Vec<(&str, &[&str], bool)> = vec![
        ("j1", &[], false),
        ("j2", &[], false),
        ("j3", &[], false),
        ("long", &[], false),
        ("j4", &[], false),
    ];
    let mut q = queue(
        &jobs,
        &[
            ("j1", 1000),
            ("j2", 1000),
            ("j3", 1000),
            ("long", 6000),
            ("j4", 1000),
        ],
    );
    assert_eq!(drain(&mut q), vec![3, 0, 1, 2, 4]);
}

#[test]
fn a_chain_counts_the_jobs_after_it() {
    // a (1 s) feeds c (5 s); b alone takes 3 s: a starts first, its chain
    // is 6 s long.
    let mut q = queue(
        &[("b", &[], false), ("a", &[], false), ("c", &["a"], false)],
        &[("a", 1000), ("b", 3000), ("c", 5000)],
    );
    assert_eq!(q.priority(1), 6000);
    assert_eq!(q.priority(0), 3000);
    assert_eq!(q.pop(true), Some(1));
    assert_eq!(q.pop(true), Some(0));
    assert_eq!(q.pop(true), None, "c waits for a");
    q.succeeded(1);
    assert_eq!(q.pop(true), Some(2));
}

#[test]
fn unknown_jobs_weigh_the_median_of_known_ones() {
    let mut q = queue(
        &[
            ("new", &[], false),
            ("a", &[], false),
            ("b", &[], false),
            ("c", &[], false),
        ],
        &[("a", 100), ("b", 200), ("c", 300), ("gone", 9999)],
    );
    assert_eq!(q.priority(0), 200);
    // c (300), then the tie of `new` and b (200) in plan order, then a.
    assert_eq!(drain(&mut q), vec![3, 0, 2, 1]);
}

#[test]
fn a_failed_need_blocks_every_job_after_it_once() {
    let mut q = queue(
        &[
            ("a", &[], false),
            ("b", &["a"], false),
            ("c", &["b", "a"], false),
            ("d", &[], false),
            ("e", &["d", "c"], false),
        ],
        &[],
    );
    assert_eq!(q.pop(true), Some(0));
    assert_eq!(q.blocked_by(0), vec![1, 2, 4]);
    assert_eq!(q.blocked_by(0), Vec::<usize>::new());
    assert_eq!(q.pop(true), Some(3));
    q.succeeded(3);
    assert_eq!(q.pop(true), None, "e stays blocked");
}

#[test]
fn a_need_that_names_no_job_makes_its_job_unrunnable() {
    let mut q = queue(&[("a", &["ghost"], false), ("b", &["a"], false)], &[]);
    assert_eq!(q.unrunnable(), vec![0]);
    assert_eq!(q.blocked_by(0), vec![1]);
    assert_eq!(q.pop(true), None);
}

#[test]
fn engine_jobs_wait_for_a_slot_while_others_start() {
    let mut q = queue(
        &[("image", &[], true), ("build", &[], false)],
        &[("image", 5000), ("build", 10)],
    );
    assert_eq!(q.pop(false), Some(1));
    assert_eq!(q.pop(false), None);
    assert_eq!(q.pop(true), Some(0));
}

#[test]
fn a_cycle_does_not_hang_the_priorities() {
    let q = queue(&[("a", &["b"], false), ("b", &["a"], false)], &[("a", 5)]);
    assert_eq!(q.priority(0), 5);
}

/// The longest durations a hostile manifest can give (`as` saturates
/// them at u64::MAX): chains saturate instead of overflowing, durations of
/// jobs the plan does not have weigh nothing, and every job still starts
/// once, after its needs.
#[test]
fn the_largest_durations_saturate_and_every_job_starts_once() {
    let jobs: Vec<(&str, &[&str], bool)> = vec![
        ("a", &[], false),
        ("b", &["a"], false),
        ("c", &["b"], false),
        ("d", &[], false),
    ];
    let mut q = queue(
        &jobs,
        &[
            ("a", u64::MAX),
            ("b", u64::MAX),
            ("c", u64::MAX),
            ("d", u64::MAX - 1),
            ("not-a-job", u64::MAX),
        ],
    );
    assert_eq!(q.priority(0), u64::MAX);
    assert_eq!(q.priority(3), u64::MAX - 1);
    assert_eq!(drain(&mut q), vec![0, 1, 2, 3]);
}
