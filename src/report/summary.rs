//! The table printed after every build: target, status, time, artifact, size.
//!
//! One row per target in plan order (a target's status is the worst of its
//! build, archive and SBOM jobs, its time the sum), then one row per
//! package job and per release-wide job (a channel's files each on a row of
//! their own), then the dist folder, the count of
//! artifacts by kind and the run's wall time.

use crate::exec::{Outcome, Status};
use crate::package::manifest::{Artifact, ArtifactKind};
use crate::plan::{JobKind, MANIFEST, Plan};

use super::{Align, count, duration, size, table};

/// The table, then where the release went, what it holds and how long the
/// run took. `seeded` are artifacts made elsewhere that this run put in
/// dist/ all the same (a merge's shard archives).
pub fn render(plan: &Plan, outcome: &Outcome, seeded: &[Artifact]) -> String {
    let mut out = table(
        &["TARGET", "STATUS", "TIME", "ARTIFACT", "SIZE"],
        &rows(plan, outcome),
        Align::RightLast,
    );
    out.push('\n');
    out.push_str(&format!("dist       {}\n", plan.dist.display()));
    out.push_str(&format!(
        "artifacts  {}\n",
        artifacts(plan, outcome, seeded)
    ));
    out.push_str(&format!(
        "time       {} in total\n",
        duration(outcome.elapsed)
    ));
    out
}

/// The target of a job on a target's row: a package has a row of its own.
fn row_target(job: &crate::plan::Job) -> Option<usize> {
    job.target().filter(|_| job.kind != JobKind::Package)
}

fn rows(plan: &Plan, outcome: &Outcome) -> Vec<[String; 5]> {
    let mut rows: Vec<[String; 5]> = Vec::new();
    for (t, target) in plan.targets.iter().enumerate() {
        // A shard or a merge runs no job of most targets: say nothing of them.
        if !plan.jobs.iter().any(|j| row_target(j) == Some(t)) {
            continue;
        }
        let mut status = Status::Ok;
        let mut total = std::time::Duration::ZERO;
        let mut artifact = None;
        for (i, job) in plan.jobs.iter().enumerate() {
            if row_target(job) != Some(t) {
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
        if row_target(job).is_some() {
            continue;
        }
        let r = &outcome.results[i];
        // A channel job writes several files: the first on the job's row,
        // the others on rows of their own below it.
        let files: Vec<(String, String)> =
            if job.kind == JobKind::Manifest && r.status == Status::Ok {
                vec![(MANIFEST.to_string(), "-".into())]
            } else {
                r.artifact
                    .iter()
                    .chain(&r.extra)
                    .map(|a| (a.path.clone(), size(a.size)))
                    .collect()
            };
        let mut files = files.into_iter();
        let (name, bytes) = files.next().unwrap_or_else(|| ("-".into(), "-".into()));
        rows.push([
            format!("({})", job.id),
            r.status.as_str().into(),
            duration(r.duration),
            name,
            bytes,
        ]);
        for (name, bytes) in files {
            rows.push([String::new(), String::new(), String::new(), name, bytes]);
        }
    }
    rows
}

/// `9 (4 archives, 1 checksums file, 3 channel files, 1 manifest)`: every
/// file of the release this run left in dist/, by kind. Logs and build
/// folders are not artifacts. A run that did not succeed has withdrawn its
/// checksums file and manifest, so they are not counted then.
fn artifacts(plan: &Plan, outcome: &Outcome, seeded: &[Artifact]) -> String {
    let complete = outcome.succeeded();
    let mut kinds: Vec<ArtifactKind> = seeded.iter().map(|a| a.kind).collect();
    let mut manifests = 0;
    for (job, r) in plan.jobs.iter().zip(&outcome.results) {
        if r.status != Status::Ok {
            continue;
        }
        kinds.extend(r.artifact.iter().chain(&r.extra).map(|a| a.kind));
        if job.kind == JobKind::Manifest {
            manifests += 1;
        }
    }
    if !complete {
        kinds.retain(|k| {
            !matches!(
                k,
                ArtifactKind::Checksums
                    | ArtifactKind::Signature
                    | ArtifactKind::Key
                    | ArtifactKind::Provenance
            )
        });
        manifests = 0;
    }
    let of = |kind: ArtifactKind| kinds.iter().filter(|k| **k == kind).count();
    let parts: Vec<String> = [
        (of(ArtifactKind::Archive), "archive", "archives"),
        (of(ArtifactKind::Binary), "binary", "binaries"),
        (of(ArtifactKind::Sbom), "SBOM", "SBOMs"),
        (of(ArtifactKind::Image), "image archive", "image archives"),
        (
            of(ArtifactKind::Checksums),
            "checksums file",
            "checksums files",
        ),
        (of(ArtifactKind::Channel), "channel file", "channel files"),
        (of(ArtifactKind::Package), "package", "packages"),
        (
            of(ArtifactKind::Notes),
            "release notes file",
            "release notes files",
        ),
        (of(ArtifactKind::Signature), "signature", "signatures"),
        (of(ArtifactKind::Key), "public key", "public keys"),
        (
            of(ArtifactKind::Provenance),
            "provenance file",
            "provenance files",
        ),
        (manifests, "manifest", "manifests"),
    ]
    .into_iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|(n, one, many)| count(n, one, many))
    .collect();
    let total = kinds.len() + manifests;
    if parts.is_empty() {
        total.to_string()
    } else {
        format!("{total} ({})", parts.join(", "))
    }
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
