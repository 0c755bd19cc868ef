//! The table printed after every build: target, status, time, artifact, size.
//!
//! One row per target in plan order (a target's status is the worst of its
//! jobs, its time the sum), then one row per release-wide job, then the
//! failures with the tail of their logs.

use crate::exec::{Outcome, Status};
use crate::plan::Plan;

use super::{Align, duration, size, table};

pub fn render(plan: &Plan, outcome: &Outcome) -> String {
    let mut rows: Vec<[String; 5]> = Vec::new();
    for (t, target) in plan.targets.iter().enumerate() {
        // A shard or a merge runs no job of most targets: say nothing of them.
        if !plan.jobs.iter().any(|j| j.target == Some(t)) {
            continue;
        }
        let mut status = Status::Ok;
        let mut total = std::time::Duration::ZERO;
        let mut artifact = None;
        for (i, job) in plan.jobs.iter().enumerate() {
            if job.target != Some(t) {
                continue;
            }
            let r = &outcome.results[i];
            total += r.duration;
            status = worst(status, r.status);
            artifact = artifact.or(r.artifact.as_ref());
        }
        rows.push([
            target.id.clone(),
            status.as_str().into(),
            duration(total),
            artifact.map_or_else(|| "-".into(), |a| a.name.clone()),
            artifact.map_or_else(|| "-".into(), |a| size(a.size)),
        ]);
    }
    for (i, job) in plan.jobs.iter().enumerate() {
        if job.target.is_some() {
            continue;
        }
        let r = &outcome.results[i];
        let name = match job.kind {
            crate::plan::JobKind::Manifest if r.status == Status::Ok => {
                crate::plan::MANIFEST.to_string()
            }
            _ => r
                .artifact
                .as_ref()
                .map_or_else(|| "-".into(), |a| a.name.clone()),
        };
        rows.push([
            format!("({})", job.id),
            r.status.as_str().into(),
            duration(r.duration),
            name,
            r.artifact
                .as_ref()
                .map_or_else(|| "-".into(), |a| size(a.size)),
        ]);
    }
    table(
        &["TARGET", "STATUS", "TIME", "ARTIFACT", "SIZE"],
        &rows,
        Align::RightLast,
    )
}

/// Failed is worse than cancelled, which is worse than skipped.
fn worst(a: Status, b: Status) -> Status {
    let rank = |s| match s {
        Status::Ok => 0,
        Status::Skipped => 1,
        Status::Cancelled => 2,
        Status::Failed => 3,
    };
    if rank(b) > rank(a) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let rows = [
            [
                "linux/amd64".to_string(),
                "ok".into(),
                "1.0s".into(),
                "a.tar.gz".into(),
                "1.2 MiB".into(),
            ],
            [
                "windows/386".to_string(),
                "failed".into(),
                "0.3s".into(),
                "-".into(),
                "-".into(),
            ],
        ];
        let t = table(
            &["TARGET", "STATUS", "TIME", "ARTIFACT", "SIZE"],
            &rows,
            Align::RightLast,
        );
        assert_eq!(
            t,
            "TARGET       STATUS  TIME  ARTIFACT     SIZE\n\
             linux/amd64  ok      1.0s  a.tar.gz  1.2 MiB\n\
             windows/386  failed  0.3s  -               -\n"
        );
    }

    #[test]
    fn worst_status_wins() {
        assert_eq!(worst(Status::Ok, Status::Failed), Status::Failed);
        assert_eq!(worst(Status::Failed, Status::Skipped), Status::Failed);
        assert_eq!(worst(Status::Skipped, Status::Cancelled), Status::Cancelled);
    }
}
