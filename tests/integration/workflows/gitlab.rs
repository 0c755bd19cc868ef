//! The GitLab pipeline, played: stages in order, `parallel: matrix` jobs one
//! per value, artifacts passed by GitLab's rules (all earlier stages by
//! default, only `needs` jobs when set, none for `dependencies: []`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use super::{Runner, assert_same_release, copy_artifact, project, python, tools, workflow};

const RESERVED: [&str; 9] = [
    "workflow",
    "stages",
    "variables",
    "default",
    "include",
    "image",
    "services",
    "before_script",
    "cache",
];

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|s| s.as_str().unwrap().to_owned()).collect(),
        Value::Null => vec![],
        other => panic!("not a string list: {other}"),
    }
}

fn vars(map: &Value) -> BTreeMap<String, String> {
    map.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            )
        })
        .collect()
}

/// `parallel: matrix` as one variable set per job (one variable per entry
/// here; several would multiply).
fn instances(job: &Value) -> Vec<BTreeMap<String, String>> {
    let Some(entries) = job["parallel"]["matrix"].as_array() else {
        return vec![BTreeMap::new()];
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.as_object().unwrap();
        assert_eq!(entry.len(), 1, "one variable per matrix entry: {entry:?}");
        let (k, values) = entry.iter().next().unwrap();
        for v in strings(values) {
            out.push(BTreeMap::from([(k.clone(), v)]));
        }
    }
    out
}

/// Plays the pipeline; returns the artifact folder of each job run by name
/// (`build 1/3` for matrix jobs).
pub(super) fn play(runner: &mut Runner, doc: &Value) -> BTreeMap<String, (String, PathBuf)> {
    let store = runner.work.path().join("artifacts");
    // job run -> (job name, artifact root)
    let mut done: BTreeMap<String, (String, PathBuf)> = BTreeMap::new();
    let mut stage_of: BTreeMap<String, usize> = BTreeMap::new();
    let stages = strings(&doc["stages"]);
    for (s, stage) in stages.iter().enumerate() {
        for (name, job) in doc.as_object().unwrap() {
            if RESERVED.contains(&name.as_str()) || job["stage"].as_str() != Some(stage) {
                continue;
            }
            stage_of.insert(name.clone(), s);
            for matrix in instances(job) {
                let run = if matrix.is_empty() {
                    name.clone()
                } else {
                    format!(
                        "{name} {}",
                        matrix.values().cloned().collect::<Vec<_>>().join(" ")
                    )
                };
                let dir = runner.checkout(name);
                // Artifacts in, by GitLab's rules.
                let from: Vec<&(String, PathBuf)> = if job.get("dependencies").is_some() {
                    let deps = strings(&job["dependencies"]);
                    done.values().filter(|(n, _)| deps.contains(n)).collect()
                } else if let Some(needs) = job["needs"].as_array() {
                    let wanted: Vec<&str> = needs
                        .iter()
                        .filter(|n| n["artifacts"].as_bool() != Some(false))
                        .map(|n| n.as_str().or(n["job"].as_str()).unwrap())
                        .collect();
                    done.values()
                        .filter(|(n, _)| wanted.contains(&n.as_str()))
                        .collect()
                } else {
                    done.values().filter(|(n, _)| stage_of[n] < s).collect()
                };
                for (_, root) in from {
                    copy_artifact(root, &dir, true);
                }
                let mut env = vars(&doc["variables"]);
                env.extend(vars(&job["variables"]));
                env.extend(matrix.clone());
                env.insert("CI_JOB_NAME".into(), run.clone());
                // Not set by GitLab; keeps the jobs' mktemp out of /tmp.
                env.insert("TMPDIR".into(), runner.temp().display().to_string());
                match runner.tag {
                    Some(tag) => {
                        env.insert("CI_COMMIT_TAG".into(), tag.into());
                        env.insert("CI_PIPELINE_SOURCE".into(), "push".into());
                    }
                    None => {
                        env.insert("CI_PIPELINE_SOURCE".into(), "web".into());
                    }
                }
                let before = if job.get("before_script").is_some() {
                    &job["before_script"]
                } else {
                    &doc["default"]["before_script"]
                };
                let mut script = strings(before);
                script.extend(strings(&job["script"]));
                runner.bash(&run, &dir, &script.join("\n"), &env);
                // Artifacts out: each path as it is in the checkout.
                let root = store.join(format!("{}", done.len()));
                std::fs::create_dir_all(&root).unwrap();
                for path in strings(&job["artifacts"]["paths"]) {
                    let path = path.trim_end_matches('/');
                    let src = dir.join(path);
                    if src.is_dir() {
                        copy_artifact(&src, &root.join(path), true);
                    } else if src.is_file() {
                        std::fs::copy(&src, root.join(path)).unwrap();
                    } else {
                        eprintln!("WARNING: {run}: {path}: no matching files");
                    }
                }
                done.insert(run, (name.clone(), root));
            }
        }
    }
    done
}

pub(super) fn release(done: &BTreeMap<String, (String, PathBuf)>, doc: &Value) -> PathBuf {
    let (_, root) = &done["merge"];
    let paths = strings(&doc["merge"]["artifacts"]["paths"]);
    assert_eq!(paths.len(), 1, "{paths:?}");
    root.join(&paths[0])
}

#[test]
fn gitlab_pipeline_releases_what_a_single_build_does() {
    let Some(py) = python() else { return };
    if !tools() {
        return;
    }
    let p = project();
    let doc = workflow(&py, &p, "gitlab", 2);
    let mut runner = Runner::new(&p, Some("v1.2.3"));
    let done = play(&mut runner, &doc);
    // plan, two builds, merge.
    assert_eq!(done.len(), 4, "{:?}", done.keys());
    assert_same_release(&mut runner, &release(&done, &doc));
}

#[test]
fn gitlab_pipeline_snapshot_run_from_the_web() {
    let Some(py) = python() else { return };
    if !tools() {
        return;
    }
    let p = project();
    p.file("hello.c", "int main(void) { return 0; }\n");
    p.commit();
    let doc = workflow(&py, &p, "gitlab", 3);
    let mut runner = Runner::new(&p, None);
    let done = play(&mut runner, &doc);
    let release = release(&done, &doc);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(release.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["is_snapshot"], true);
    assert_same_release(&mut runner, &release);
}
