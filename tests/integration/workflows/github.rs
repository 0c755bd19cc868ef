//! The GitHub Actions workflow, played: jobs in `needs` order, each matrix
//! entry a job of its own, steps in order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Runner, assert_same_release, copy_artifact, project, python, tools, workflow};

/// What GitHub expressions can see while a job runs.
#[derive(Default)]
struct Context {
    tag: Option<&'static str>,
    matrix: Option<Value>,
    /// steps.<id>.outputs of the running job.
    steps: BTreeMap<String, BTreeMap<String, String>>,
    /// needs.<job>.outputs of finished jobs.
    needs: BTreeMap<String, BTreeMap<String, String>>,
}

impl Context {
    /// One expression, from the forms the workflow uses; anything else
    /// fails the test rather than being guessed.
    fn eval(&self, expr: &str) -> String {
        let tagged = self.tag.is_some();
        let lookup = |map: &BTreeMap<String, BTreeMap<String, String>>, rest: &str| {
            let (id, key) = rest
                .split_once(".outputs.")
                .unwrap_or_else(|| panic!("{expr}"));
            map.get(id)
                .and_then(|o| o.get(key))
                .unwrap_or_else(|| panic!("{expr}: no such output"))
                .clone()
        };
        match expr.trim() {
            "github.ref_type != 'tag' && '--snapshot' || ''" => {
                if tagged { "" } else { "--snapshot" }.to_owned()
            }
            "github.ref_type == 'tag'" => tagged.to_string(),
            "github.token" => "test-token".to_owned(),
            "github.ref_name" => self.tag.unwrap_or("main").to_owned(),
            e if e.starts_with("matrix.") => {
                let m = self
                    .matrix
                    .as_ref()
                    .unwrap_or_else(|| panic!("{e}: no matrix"));
                match &m[&e["matrix.".len()..]] {
                    Value::String(s) => s.clone(),
                    Value::Null => panic!("{e}: not in the matrix entry {m}"),
                    other => other.to_string(),
                }
            }
            e if e.ends_with(" != 'true'") => {
                (self.eval(&e[..e.len() - " != 'true'".len()]) != "true").to_string()
            }
            e if e.starts_with("steps.") => lookup(&self.steps, &e["steps.".len()..]),
            e if e.starts_with("needs.") => lookup(&self.needs, &e["needs.".len()..]),
            e if e.starts_with("fromJSON(") && e.ends_with(')') => {
                self.eval(&e["fromJSON(".len()..e.len() - 1])
            }
            e => panic!("an expression this player does not know: {e}"),
        }
    }

    /// `text` with every `${{ }}` replaced, as GitHub does before a step runs.
    fn expand(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("closed expression") + start;
            out.push_str(&self.eval(&rest[start + 3..end]));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn env(&self, maps: &[&Value]) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for map in maps {
            for (k, v) in map.as_object().into_iter().flatten() {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                env.insert(k.clone(), self.expand(&v));
            }
        }
        env
    }
}

/// Job names in an order that respects `needs`.
fn job_order(jobs: &serde_json::Map<String, Value>) -> Vec<String> {
    let needs = |job: &Value| -> Vec<String> {
        match &job["needs"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
            _ => vec![],
        }
    };
    let mut order: Vec<String> = Vec::new();
    while order.len() < jobs.len() {
        let before = order.len();
        for (name, job) in jobs {
            if !order.contains(name) && needs(job).iter().all(|n| order.contains(n)) {
                order.push(name.clone());
            }
        }
        assert!(order.len() > before, "a cycle in needs: {order:?}");
    }
    order
}

/// Plays the whole workflow; returns the artifact store and the folder the
/// `gh release create` step ran in with its arguments, if it ran.
pub(super) fn play(runner: &mut Runner, doc: &Value) -> (PathBuf, Option<Vec<String>>) {
    let store = runner.work.path().join("artifacts");
    std::fs::create_dir_all(&store).unwrap();
    let mut ctx = Context {
        tag: runner.tag,
        ..Context::default()
    };
    let mut gh = None;
    let mut attested = Vec::new();
    let jobs = doc["jobs"].as_object().unwrap();
    for name in job_order(jobs) {
        let job = &jobs[&name];
        let instances: Vec<Option<Value>> = match &job["strategy"]["matrix"] {
            Value::Null => vec![None],
            Value::String(expr) => {
                let json: Value = serde_json::from_str(&ctx.expand(expr)).unwrap();
                let include = json["include"].as_array().expect("include").clone();
                assert!(!include.is_empty(), "{name}: an empty matrix");
                include.into_iter().map(Some).collect()
            }
            other => panic!("{name}: a matrix this player does not know: {other}"),
        };
        for matrix in instances {
            ctx.matrix = matrix;
            ctx.steps.clear();
            let mut dir: Option<PathBuf> = None;
            // Folders steps added to $GITHUB_PATH, for the later steps.
            let mut added: Vec<String> = Vec::new();
            for (i, step) in job["steps"].as_array().unwrap().iter().enumerate() {
                let label = format!("{name} step {i}");
                if let Some(cond) = step["if"].as_str()
                    && ctx.eval(cond) != "true"
                {
                    continue;
                }
                if let Some(uses) = step["uses"].as_str() {
                    let with = &step["with"];
                    let w = |k: &str| with[k].as_str().map(|v| ctx.expand(v));
                    let checkout = dir.as_deref();
                    match uses {
                        "actions/checkout@v4" => dir = Some(runner.checkout(&name)),
                        // Always a miss: this player keeps no cache.
                        "actions/cache@v4" => {
                            if let Some(id) = step["id"].as_str() {
                                let miss = BTreeMap::from([("cache-hit".into(), "false".into())]);
                                ctx.steps.insert(id.to_owned(), miss);
                            }
                        }
                        "actions/upload-artifact@v4" => upload(&store, checkout.expect(&label), &w),
                        "actions/download-artifact@v4" => {
                            download(&store, checkout.expect(&label), &w)
                        }
                        "actions/attest-build-provenance@v2" => {
                            attested.extend(attest(checkout.expect(&label), &w))
                        }
                        other => panic!("{label}: an action this player does not know: {other}"),
                    }
                    continue;
                }
                let script = ctx.expand(step["run"].as_str().expect("run or uses"));
                let dir = dir.as_deref().expect("checked out first");
                let mut env = ctx.env(&[&doc["env"], &job["env"], &step["env"]]);
                let output = runner.work.path().join(format!("output-{}", runner.jobs));
                std::fs::write(&output, "").unwrap();
                let record = runner.work.path().join("gh-record");
                let github_path = runner.work.path().join(format!("path-{}", runner.jobs));
                std::fs::write(&github_path, "").unwrap();
                env.insert("GITHUB_OUTPUT".into(), output.display().to_string());
                env.insert("GITHUB_PATH".into(), github_path.display().to_string());
                env.insert("GH_RECORD".into(), record.display().to_string());
                env.insert("RUNNER_TEMP".into(), runner.temp().display().to_string());
                // GitHub puts the latest addition first.
                let mut path: Vec<String> = added.iter().rev().cloned().collect();
                path.push(runner.path());
                env.insert("PATH".into(), path.join(":"));
                runner.bash(&label, dir, &script, &env);
                let text = std::fs::read_to_string(&github_path).unwrap();
                added.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
                if let Some(id) = step["id"].as_str() {
                    let text = std::fs::read_to_string(&output).unwrap();
                    let outputs = text
                        .lines()
                        .filter_map(|l| l.split_once('='))
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect();
                    ctx.steps.insert(id.to_owned(), outputs);
                }
                if record.exists() {
                    let text = std::fs::read_to_string(&record).unwrap();
                    gh = Some(text.lines().map(str::to_owned).collect());
                    std::fs::remove_file(&record).unwrap();
                }
            }
            let outputs = job["outputs"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), ctx.expand(v.as_str().unwrap())))
                .collect();
            ctx.needs.insert(name.clone(), outputs);
        }
    }
    runner.attested = attested;
    (store, gh)
}

/// attest-build-provenance@v2 with `subject-checksums`: reads the file as
/// the action does (a digest of 64 or 128 hex digits, a space, an optional
/// `*` or space, the name) and returns the subjects, each checked against
/// the file of that name beside the checksums file. (Signing and the
/// attestations API are GitHub's.)
fn attest(dir: &Path, w: &dyn Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    assert_eq!(w("subject-path"), None);
    let file = dir.join(w("subject-checksums").expect("subject-checksums"));
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("subject-checksums {}: {e}", file.display()));
    let mut subjects = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (digest, rest) = line.split_once(' ').expect("digest and name");
        let name = rest.strip_prefix(['*', ' ']).unwrap_or(rest);
        assert!(
            matches!(digest.len(), 64 | 128) && digest.chars().all(|c| c.is_ascii_hexdigit()),
            "{line}"
        );
        let path = file.parent().unwrap().join(name);
        let sum = std::process::Command::new("sha256sum")
            .arg(&path)
            .output()
            .unwrap();
        let sum = String::from_utf8_lossy(&sum.stdout);
        assert_eq!(sum.split_whitespace().next(), Some(digest), "{name}");
        subjects.push((name.to_owned(), digest.to_owned()));
    }
    assert!(!subjects.is_empty(), "no subjects in {}", file.display());
    subjects
}

/// upload-artifact@v4 of one folder: its contents become the artifact's
/// root; hidden files are left out (its default since v4.4); a name is
/// uploaded once per run.
fn upload(store: &Path, dir: &Path, w: &dyn Fn(&str) -> Option<String>) {
    let name = w("name").expect("name");
    let path = dir.join(w("path").expect("path"));
    let dest = store.join(&name);
    assert!(!dest.exists(), "artifact {name} uploaded twice");
    assert!(path.is_dir(), "{} is not a folder", path.display());
    let hidden = w("include-hidden-files").as_deref() == Some("true");
    let copied = copy_artifact(&path, &dest, hidden);
    if w("if-no-files-found").as_deref() == Some("error") {
        assert!(
            copied > 0,
            "artifact {name}: no files in {}",
            path.display()
        );
    }
}

/// download-artifact@v4 with a `pattern`: every matching artifact into
/// `<path>/<name>/` (merge-multiple is false).
fn download(store: &Path, dir: &Path, w: &dyn Fn(&str) -> Option<String>) {
    let pattern = w("pattern").expect("pattern");
    let prefix = pattern.strip_suffix('*').expect("a `prefix*` pattern");
    assert_ne!(w("merge-multiple").as_deref(), Some("true"));
    let into = dir.join(w("path").expect("path"));
    let mut found = 0;
    for entry in std::fs::read_dir(store).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) {
            copy_artifact(&store.join(&name), &into.join(&name), true);
            found += 1;
        }
    }
    assert!(found > 0, "no artifact matches {pattern}");
}

#[test]
fn github_workflow_releases_what_a_single_build_does() {
    let Some(py) = python() else { return };
    if !tools() {
        return;
    }
    let p = project();
    // GitHub's attestations are opt-in.
    let config = std::fs::read_to_string(p.path().join("matrix.toml")).unwrap();
    p.file(
        "matrix.toml",
        &format!("{config}\n[ci]\nattestations = true\n"),
    );
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    let doc = workflow(&py, &p, "github", 2);
    let mut runner = Runner::new(&p, Some("v1.2.3"));
    let (store, gh) = play(&mut runner, &doc);
    let release = store.join("release");
    assert_same_release(&mut runner, &release);

    // The GitHub release gets every artifact the manifest lists, and it.
    let gh = gh.expect("the publish step runs on a tag");
    let (cwd, args) = gh.split_first().unwrap();
    assert_eq!(args[..3], ["release", "create", "v1.2.3"]);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(release.join("manifest.json")).unwrap()).unwrap();
    let mut want: Vec<String> = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("dist/{}", a["path"].as_str().unwrap()))
        .collect();
    want.push("dist/manifest.json".into());
    let files: Vec<&String> = args.iter().filter(|a| a.starts_with("dist/")).collect();
    assert_eq!(files, want.iter().collect::<Vec<_>>());
    for f in files {
        assert!(Path::new(cwd).join(f).is_file(), "{f}");
    }
    // GitHub's attestation covers every artifact but the checksums file
    // itself, with the manifest's digests.
    let mut want: Vec<(String, String)> = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] != "checksums")
        .map(|a| {
            let digest = a["digest"].as_str().unwrap();
            let hex = digest.strip_prefix("sha256:").unwrap();
            (a["path"].as_str().unwrap().to_owned(), hex.to_owned())
        })
        .collect();
    want.sort();
    let mut got = runner.attested.clone();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn github_workflow_snapshot_run_on_a_branch() {
    let Some(py) = python() else { return };
    if !tools() {
        return;
    }
    let p = project();
    // A commit after the tag: a manual run on main builds a snapshot.
    p.file("hello.c", "int main(void) { return 0; }\n");
    p.commit();
    let doc = workflow(&py, &p, "github", 3);
    let mut runner = Runner::new(&p, None);
    let (store, gh) = play(&mut runner, &doc);
    assert!(gh.is_none(), "no GitHub release without a tag");
    assert!(runner.attested.is_empty(), "no attestation without a tag");
    let release = store.join("release");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(release.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["is_snapshot"], true);
    assert_same_release(&mut runner, &release);
}

/// `matrix ci github` reads `[ci]` and `[images]` from matrix.toml: by
/// default nothing is attested, `attestations = true` attests (and signs
/// pushed images keylessly), `[images]` pushes on a tag either way, and a
/// misspelt key is a located error.
#[test]
fn ci_reads_attestations_and_images_from_the_config() {
    let p = project();
    let ci = |p: &crate::support::Project| {
        crate::support::run(&mut p.matrix(&["ci", "github", "--install", "command -v matrix"]))
    };
    let (code, text, err) = ci(&p);
    assert_eq!(code, 0, "{err}");
    assert!(
        !text.contains("attest") && !text.contains("id-token") && !text.contains("cosign"),
        "{text}"
    );
    assert!(!text.contains("$PUSH"), "{text}");

    let config = std::fs::read_to_string(p.path().join("matrix.toml")).unwrap();
    p.file(
        "matrix.toml",
        &format!("{config}\n[ci]\nattestations = true\n"),
    );
    let (code, text, err) = ci(&p);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("uses: actions/attest-build-provenance@v2"),
        "{text}"
    );
    assert!(!text.contains("cosign"), "{text}");

    let images = "\n[images]\nrepositories = [\"ghcr.io/example/hello\"]\ndockerfile = \"Dockerfile\"\n\n[images.matrix]\nplatform = [\"linux/amd64\"]\n";
    p.file(
        "matrix.toml",
        &format!("{config}{images}\n[ci]\nattestations = true\n"),
    );
    let (code, text, err) = ci(&p);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("cosign sign --yes \"$image\""), "{text}");
    assert!(text.contains(" merge $SNAPSHOT $PUSH shards/* "), "{text}");

    p.file("matrix.toml", &format!("{config}{images}"));
    let (code, text, err) = ci(&p);
    assert_eq!(code, 0, "{err}");
    assert!(
        !text.contains("attest") && !text.contains("cosign"),
        "{text}"
    );
    assert!(!text.contains("id-token"), "{text}");
    assert!(text.contains(" merge $SNAPSHOT $PUSH shards/* "), "{text}");

    p.file(
        "matrix.toml",
        &format!("{config}\n[ci]\nattestation = false\n"),
    );
    let (code, text, err) = ci(&p);
    assert_ne!(code, 0, "{text}");
    assert!(err.contains("unknown field `attestation`"), "{err}");
    assert!(err.contains("matrix.toml:"), "{err}");

    p.file(
        "matrix.toml",
        &format!("{config}\n[ci]\nrepository = \"https://github.com/o/r\"\n"),
    );
    let (code, text, err) = ci(&p);
    assert_ne!(code, 0, "{text}");
    assert!(
        err.contains("`repository` must be a GitHub repository as owner/repo"),
        "{err}"
    );
    assert!(err.contains("matrix.toml:"), "{err}");
}
