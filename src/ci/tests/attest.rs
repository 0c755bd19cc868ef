//! The GitHub merge job's attestations, pushes and keyless image
//! signatures: which options add which steps and permissions, and the
//! signing step's script run by bash with the real jq on a manifest's
//! image records (cosign itself is a recording stub: it needs a registry
//! and Sigstore's services).

use super::*;

/// The merge job of a file, parsed.
fn merge_job(py: &Path, opts: &CiOptions) -> Value {
    load(py, &github_workflow(opts).unwrap())["jobs"]["merge"].clone()
}

fn step<'a>(job: &'a Value, name: &str) -> Option<&'a Value> {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
}

fn uses(job: &Value) -> Vec<&str> {
    job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["uses"].as_str())
        .collect()
}

#[test]
fn merge_job_attests_and_signs_on_a_tag_only_when_asked() {
    let Some(py) = python() else { return };
    let tag = "github.ref_type == 'tag'";

    // The default: no attestations (a private repository on a plan
    // without them would fail every tag), nothing changed in the workflow.
    let default = CiOptions::new(2, install());
    assert!(!default.attestations);
    let text = github_workflow(&default).unwrap();
    assert!(
        !text.contains("attest") && !text.contains("id-token"),
        "{text}"
    );

    // [ci] attestations = true, no images.
    let base = CiOptions {
        attestations: true,
        ..default
    };
    let doc = load(&py, &github_workflow(&base).unwrap());
    assert_eq!(doc["permissions"], json!({"contents": "read"}));
    for job in ["plan", "build"] {
        assert_eq!(doc["jobs"][job]["permissions"], Value::Null, "{job}");
    }
    let merge = &doc["jobs"]["merge"];
    assert_eq!(
        merge["permissions"],
        json!({"contents": "write", "id-token": "write", "attestations": "write"})
    );
    let find = step(merge, "Find the checksums file").expect("find step");
    assert_eq!(find["if"], tag);
    assert_eq!(find["id"], "checksums");
    let attest = step(merge, "Attest the release files").expect("attest step");
    assert_eq!(attest["if"], tag);
    assert_eq!(attest["uses"], "actions/attest-build-provenance@v2");
    assert_eq!(
        attest["with"],
        json!({"subject-checksums": "${{ steps.checksums.outputs.file }}"})
    );
    assert!(!uses(merge).contains(&"sigstore/cosign-installer@v3"));
    let merge_run = step(merge, "Merge the shards").unwrap();
    assert!(!merge_run["run"].as_str().unwrap().contains("$PUSH"));

    // [images]: pushed on a tag, then signed by digest.
    let images = CiOptions {
        images: true,
        ..base.clone()
    };
    let merge = merge_job(&py, &images);
    assert_eq!(merge["permissions"]["packages"], "write");
    assert_eq!(merge["permissions"]["id-token"], "write");
    let merge_run = step(&merge, "Merge the shards").unwrap();
    assert_eq!(
        merge_run["env"]["PUSH"],
        "${{ github.ref_type == 'tag' && '--push' || '' }}"
    );
    assert!(
        merge_run["run"]
            .as_str()
            .unwrap()
            .contains(" merge $SNAPSHOT $PUSH shards/* ")
    );
    let install = step(&merge, "Install cosign").expect("cosign installer");
    assert_eq!(install["uses"], "sigstore/cosign-installer@v3");
    assert_eq!(install["if"], tag);
    let sign = step(&merge, "Sign the pushed images").expect("sign step");
    assert_eq!(sign["if"], tag);
    assert!(
        sign["run"]
            .as_str()
            .unwrap()
            .contains("cosign sign --yes \"$image\"")
    );

    // attestations = false: no OIDC token, no attestation, no signature;
    // images are still pushed.
    for images in [false, true] {
        let opts = CiOptions {
            attestations: false,
            images,
            ..base.clone()
        };
        let text = github_workflow(&opts).unwrap();
        let merge = load(&py, &text)["jobs"]["merge"].clone();
        assert_eq!(merge["permissions"]["id-token"], Value::Null);
        assert_eq!(merge["permissions"]["attestations"], Value::Null);
        assert_eq!(merge["permissions"]["packages"] == "write", images);
        assert_eq!(uses(&merge).len(), 3, "checkout, download, upload");
        assert!(!text.contains("attest"), "{text}");
        assert!(!text.contains("cosign"), "{text}");
    }
}

#[test]
fn gitlab_pipeline_ignores_the_github_only_options() {
    let base = CiOptions::new(3, install());
    let plain = gitlab_ci(&base).unwrap();
    for (attestations, images) in [(false, false), (false, true), (true, true)] {
        let opts = CiOptions {
            attestations,
            images,
            ..base.clone()
        };
        assert_eq!(gitlab_ci(&opts).unwrap(), plain);
    }
}

/// jq on PATH, or a skip outside CI.
fn jq() -> bool {
    let ok = Command::new("jq")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(ok || !ci, "jq is missing: apt-get install jq");
    if !ok {
        eprintln!("skipped: no jq (apt-get install jq)");
    }
    ok
}

/// A manifest's images as `matrix merge --push` records them.
fn manifest_with(pushed: &[(&str, &[&str])]) -> String {
    use crate::package::manifest::Image;
    let images: Vec<Image> = pushed
        .iter()
        .map(|(digest, refs)| Image {
            id: "debian".into(),
            values: Default::default(),
            repositories: Vec::new(),
            tags: Vec::new(),
            digest: digest.to_string(),
            archive: None,
            platforms: Vec::new(),
            pushed: refs.iter().map(|r| format!("{r}@{digest}")).collect(),
        })
        .collect();
    json!({ "images": images }).to_string()
}

#[test]
fn pushed_images_are_signed_by_digest_once_each() {
    let Some(py) = python() else { return };
    if !jq() {
        return;
    }
    let a = format!("sha256:{}", "a".repeat(64));
    let b = format!("sha256:{}", "b".repeat(64));
    let opts = CiOptions {
        images: true,
        attestations: true,
        dist: "out dir".into(),
        ..CiOptions::new(2, install())
    };
    let merge = merge_job(&py, &opts);
    let sign = step(&merge, "Sign the pushed images").unwrap();
    let script = sign["run"].as_str().unwrap();
    assert_eq!(sign["env"]["DIST"], "out dir");

    let work = tempfile::tempdir().unwrap();
    let bin = work.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let record = work.path().join("record");
    // cosign: records its arguments (and a login's password from stdin).
    let stub = format!(
        "#!/bin/sh\nif [ \"$1\" = login ]; then printf '%s|' \"$@\" >> '{r}'; cat >> '{r}'; echo >> '{r}'; \
         else printf '%s|' \"$@\" >> '{r}'; echo >> '{r}'; fi\n",
        r = record.display()
    );
    std::fs::write(bin.join("cosign"), stub).unwrap();
    std::fs::set_permissions(
        bin.join("cosign"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let dist = work.path().join("out dir");
    std::fs::create_dir(&dist).unwrap();
    let run = |manifest: &str| -> String {
        std::fs::write(dist.join("manifest.json"), manifest).unwrap();
        let _ = std::fs::remove_file(&record);
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
        let out = Command::new("bash")
            .args(["-e", "-o", "pipefail", "-c", script])
            .current_dir(work.path())
            .env("PATH", path)
            .env("DIST", "out dir")
            .env("MATRIX_REGISTRY_USER", "octocat")
            .env("MATRIX_REGISTRY_PASSWORD", "the-token")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        std::fs::read_to_string(&record).unwrap_or_default()
    };
    let manifest = manifest_with(&[
        (
            &a,
            &[
                "localhost:5000/o/hello:1.2.3-debian",
                "localhost:5000/o/hello:latest",
                "ghcr.io/o/hello:1.2.3-debian",
            ],
        ),
        (&b, &["ghcr.io/o/hello:1.2.3-scratch", "o/hello:1.2.3"]),
    ]);
    let want = format!(
        "login|ghcr.io|-u|octocat|--password-stdin|the-token\n\
         login|localhost:5000|-u|octocat|--password-stdin|the-token\n\
         login|docker.io|-u|octocat|--password-stdin|the-token\n\
         sign|--yes|ghcr.io/o/hello@{a}|\n\
         sign|--yes|ghcr.io/o/hello@{b}|\n\
         sign|--yes|localhost:5000/o/hello@{a}|\n\
         sign|--yes|o/hello@{b}|\n"
    );
    assert_eq!(run(&manifest), want);
    // Images built but not pushed (a manifest without `pushed`), or none.
    assert_eq!(run(&manifest_with(&[(&a, &[])])), "");
    assert_eq!(run("{}"), "");
}

#[test]
fn the_merge_step_gets_the_sign_key_from_secrets() {
    let Some(py) = python() else { return };
    let plain = CiOptions::new(2, install());
    let merge = merge_job(&py, &plain);
    assert_eq!(
        step(&merge, "Merge the shards").unwrap()["env"],
        Value::Null
    );
    let opts = CiOptions {
        sign_secrets: vec!["SIGNING_KEY".into(), "SIGNING_PASSPHRASE".into()],
        ..plain
    };
    let text = github_workflow(&opts).unwrap();
    assert!(
        text.contains("# secrets SIGNING_KEY and SIGNING_PASSPHRASE."),
        "{text}"
    );
    let merge = load(&py, &text)["jobs"]["merge"].clone();
    assert_eq!(
        step(&merge, "Merge the shards").unwrap()["env"],
        json!({
            "SIGNING_KEY": "${{ secrets.SIGNING_KEY }}",
            "SIGNING_PASSPHRASE": "${{ secrets.SIGNING_PASSPHRASE }}",
        })
    );
    // Only the merge signs: the build jobs never see the key.
    for job in ["plan", "build"] {
        assert!(
            !serde_json::to_string(&load(&py, &text)["jobs"][job])
                .unwrap()
                .contains("SIGNING"),
            "{job}"
        );
    }
}
