//! Text views of things that are not a run: the plan and the target names.

use super::{Align, table};
use crate::plan::Plan;
use crate::process::Location;
use crate::target;
use crate::toolchain::{ImageCheck, ImageStatus, TargetNeed};

/// The human view of a plan: facts, the targets, the job graph.
pub fn plan(plan: &Plan, verbose: bool) -> String {
    let v = &plan.version;
    let mut out = String::new();
    let snapshot = if v.is_snapshot { ", snapshot" } else { "" };
    out.push_str(&format!("project  {}\n", plan.project.name));
    out.push_str(&format!(
        "version  {} (tag {}, commit {}{snapshot})\n",
        v.version, v.tag, v.short_commit
    ));
    out.push_str(&format!("dist     {}\n\n", plan.dist.display()));
    let rows: Vec<[String; 3]> = plan
        .targets
        .iter()
        .map(|t| {
            [
                t.id.clone(),
                t.archive.format.name().to_string(),
                t.archive.file_name.clone(),
            ]
        })
        .collect();
    out.push_str(&table_left(&["TARGET", "FORMAT", "ARTIFACT"], &rows));
    out.push_str(&format!(
        "{:<w$}  {:<8}{}\n\n",
        "(checksums)",
        plan.checksum.algorithm.name(),
        plan.checksum.file_name,
        w = width(&rows)
    ));
    out.push_str(&containers(plan));
    let jobs: Vec<[String; 2]> = plan
        .jobs
        .iter()
        .map(|j| {
            let needs = match j.needs.len() {
                0 => "-".to_string(),
                1..=2 => j.needs.join(", "),
                n => format!("{n} jobs: {} ... {}", j.needs[0], j.needs[n - 1]),
            };
            [j.id.clone(), needs]
        })
        .collect();
    out.push_str(&table_left(&["JOB", "NEEDS"], &jobs));
    for w in &plan.warnings {
        out.push_str(&format!("\nwarning: {w}"));
    }
    if !plan.warnings.is_empty() {
        out.push('\n');
    }
    if verbose {
        for t in &plan.targets {
            if let Some(joins) = &t.joins {
                let thin: Vec<&str> = joins.iter().map(|&j| plan.targets[j].id.as_str()).collect();
                out.push_str(&format!(
                    "\n{}:\n  joins {} into one universal binary\n",
                    t.id,
                    thin.join(" and ")
                ));
                continue;
            }
            out.push_str(&format!(
                "\n{}:\n  $ {}\n",
                t.id,
                shell_words::join(&t.build.argv)
            ));
            for (k, v) in &t.build.env {
                out.push_str(&format!("  {k}={v}\n"));
            }
        }
    }
    out
}

/// Where containerised targets run, and the images of the release; empty
/// for a plan that uses no engine.
fn containers(plan: &Plan) -> String {
    use crate::plan::containers::ContainerImage;
    let mut out = String::new();
    let rows: Vec<[String; 2]> = plan
        .targets
        .iter()
        .filter_map(|t| {
            let image = match t.build.container.as_ref()? {
                ContainerImage::Image { reference } => reference.clone(),
                ContainerImage::Builder { name } => {
                    let file = plan
                        .builders
                        .iter()
                        .find(|b| &b.name == name)
                        .map(|b| b.dockerfile.display().to_string())
                        .unwrap_or_default();
                    format!("builder {name} ({file})")
                }
            };
            Some([t.id.clone(), image])
        })
        .collect();
    if !rows.is_empty() {
        out.push_str(&table_left(&["TARGET", "RUNS IN"], &rows));
        out.push('\n');
    }
    if !plan.channels.is_empty() {
        let rows: Vec<[String; 3]> = plan
            .channels
            .iter()
            .map(|c| {
                [
                    c.name.clone(),
                    c.kind.name().to_string(),
                    c.targets
                        .iter()
                        .map(|(t, _)| plan.targets[*t].id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                ]
            })
            .collect();
        out.push_str(&table_left(&["CHANNEL", "KIND", "TARGETS"], &rows));
        out.push('\n');
    }
    if let Some(images) = &plan.images {
        let rows: Vec<[String; 3]> = images
            .variants
            .iter()
            .map(|v| {
                [
                    v.id.clone(),
                    v.platforms
                        .iter()
                        .map(|p| p.platform.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    v.tags.join(", "),
                ]
            })
            .collect();
        out.push_str(&table_left(&["IMAGE", "PLATFORMS", "TAGS"], &rows));
        out.push_str(&format!(
            "(repositories: {}{}{})\n\n",
            images.repositories.join(", "),
            if images.push { "; pushed" } else { "" },
            if images.oci_archives {
                "; OCI archives in dist"
            } else {
                ""
            },
        ));
    }
    out
}

fn width(rows: &[[String; 3]]) -> usize {
    rows.iter()
        .map(|r| r[0].len())
        .max()
        .unwrap_or(0)
        .max("TARGET".len())
}

fn table_left<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    table(header, rows, Align::Left)
}

/// `matrix targets`: the os and arch names matrix knows.
pub fn targets() -> String {
    let oses: Vec<[String; 3]> = target::OSES
        .iter()
        .map(|o| {
            [
                o.name.to_string(),
                o.description.to_string(),
                o.aliases.join(", "),
            ]
        })
        .collect();
    let arches: Vec<[String; 4]> = target::ARCHES
        .iter()
        .map(|a| {
            [
                a.name.to_string(),
                a.bits.to_string(),
                a.description.to_string(),
                a.aliases.join(", "),
            ]
        })
        .collect();
    let mut out = table_left(&["OS", "DESCRIPTION", "ALSO KNOWN AS"], &oses);
    out.push('\n');
    out.push_str(&table_left(
        &["ARCH", "BITS", "DESCRIPTION", "ALSO KNOWN AS"],
        &arches,
    ));
    out.push('\n');
    out.push_str(&platforms());
    out
}

/// Every platform row with its spellings (`-` where an ecosystem has none).
fn platforms() -> String {
    let dash = |v: Option<&str>| v.unwrap_or("-").to_string();
    let rows: Vec<[String; 9]> = target::PLATFORMS
        .iter()
        .map(|p| {
            let go = match p.goarm {
                Some(arm) => format!("{}/{} GOARM={arm}", p.goos, p.goarch),
                None => format!("{}/{}", p.goos, p.goarch),
            };
            [
                p.name(),
                go,
                p.rust.join(" "),
                dash(p.gnu_prefix),
                dash(p.zig),
                dash(p.debian_arch),
                dash(p.docker_platform),
                dash(p.snap_arch),
                format!("{} {}", p.format.name(), p.machine.name()),
            ]
        })
        .collect();
    table_left(
        &[
            "PLATFORM",
            "GO",
            "RUST",
            "GNU PREFIX",
            "ZIG",
            "DEBIAN",
            "DOCKER",
            "SNAP",
            "BINARY",
        ],
        &rows,
    )
}

/// `matrix doctor`: each target's toolchain needs, where each was found,
/// and how to install what is missing.
pub fn doctor(plan: &Plan, needs: &[TargetNeed]) -> String {
    let mut out = String::new();
    if needs.is_empty() {
        out.push_str("no target builds on this machine, so there is no toolchain to check here\n");
    } else {
        let rows: Vec<[String; 5]> = needs
            .iter()
            .map(|n| {
                let (status, detail) = match (&n.location, n.met) {
                    (Some(Location::ToolCache(p)), true) => (
                        "ok",
                        format!(
                            "{} (matrix's tool cache; build jobs get it on PATH)",
                            p.display()
                        ),
                    ),
                    (Some(at), true) => (
                        "ok",
                        at.path()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default(),
                    ),
                    (_, true) => ("ok", String::new()),
                    (_, false) => ("MISSING", n.advice()),
                };
                [
                    n.target.clone(),
                    n.by.clone(),
                    n.need.what(),
                    status.to_string(),
                    detail,
                ]
            })
            .collect();
        out.push_str(&table_left(
            &["TARGET", "FOR", "NEEDS", "STATUS", "WHERE / HOW TO INSTALL"],
            &rows,
        ));
    }
    for w in &plan.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// The programs of containerised targets, as found in their images.
pub fn doctor_images(checks: &[ImageCheck]) -> String {
    if checks.is_empty() {
        return String::new();
    }
    let rows: Vec<[String; 4]> = checks
        .iter()
        .map(|c| {
            let status = match &c.status {
                ImageStatus::Found => "ok".to_string(),
                ImageStatus::Missing => {
                    "MISSING: use an image that has it, or fix [build] command".to_string()
                }
                ImageStatus::Unchecked(why) => format!("not checked: {why}"),
            };
            [c.target.clone(), c.image.clone(), c.program.clone(), status]
        })
        .collect();
    table_left(&["TARGET", "IMAGE", "PROGRAM", "STATUS"], &rows)
}
