//! The install step: this version of matrix by default, from its tag or its
//! release archive; the GitHub cache of a cargo build; the toolchain step.

use serde_json::Value;

use super::*;

fn steps<'a>(doc: &'a Value, job: &str) -> &'a Vec<Value> {
    doc["jobs"][job]["steps"].as_array().unwrap()
}

fn named<'a>(doc: &'a Value, job: &str, name: &str) -> Option<&'a Value> {
    steps(doc, job)
        .iter()
        .find(|s| s["name"].as_str().is_some_and(|n| n.starts_with(name)))
}

#[test]
fn the_package_is_not_the_crates_io_matrix() {
    // `matrix` on crates.io is an unrelated linear-algebra crate.
    assert_eq!(PACKAGE, "matrix-release");
    assert!(REPOSITORY.starts_with("https://"), "{REPOSITORY}");
    assert!(semver::Version::parse(VERSION).is_ok());
}

#[test]
fn default_install_is_this_version_from_its_tag() {
    let Some(py) = python() else { return };
    let line = format!("cargo install --locked --git {REPOSITORY} --tag v{VERSION} {PACKAGE}");
    let opts = CiOptions::new(3, Install::cargo());
    let doc = load(&py, &github_workflow(&opts).unwrap());
    for job in ["plan", "build", "merge"] {
        let cache = &steps(&doc, job)[1];
        assert_eq!(cache["uses"], "actions/cache@v4", "{job}");
        assert_eq!(cache["id"], "matrix-cache");
        assert_eq!(cache["with"]["path"], "~/.cargo/bin/matrix");
        assert_eq!(
            cache["with"]["key"],
            json!(format!(
                "{PACKAGE}-v{VERSION}-${{{{ runner.os }}}}-${{{{ runner.arch }}}}"
            ))
        );
        let install = &steps(&doc, job)[2];
        assert_eq!(install["name"], "Install matrix");
        assert_eq!(
            install["if"],
            "steps.matrix-cache.outputs.cache-hit != 'true'"
        );
        assert_eq!(install["run"], json!(format!("{line}\n")));
    }
    let doc = load(&py, &gitlab_ci(&opts).unwrap());
    assert_eq!(
        doc["default"]["before_script"][0],
        json!(format!("{line}\n"))
    );
    assert_eq!(doc["default"]["image"], "rust:1");
}

#[test]
fn only_a_cargo_install_is_cached() {
    let Some(py) = python() else { return };
    let sha = "ab".repeat(32);
    for install in [
        Install::archive(None),
        Install::archive(Some(sha)),
        install(),
    ] {
        let doc = load(
            &py,
            &github_workflow(&CiOptions::new(2, install.clone())).unwrap(),
        );
        for job in ["plan", "build", "merge"] {
            assert!(
                steps(&doc, job)
                    .iter()
                    .all(|s| s["uses"] != "actions/cache@v4"),
                "{install:?} {job}"
            );
            let step = named(&doc, job, "Install matrix").unwrap();
            assert!(step.get("if").is_none(), "{install:?} {job}");
        }
    }
}

#[test]
fn archive_install_lines() {
    let Some(py) = python() else { return };
    let archive = archive_name(VERSION);
    let sums = checksums_name(VERSION);
    let url = format!("{REPOSITORY}/releases/download/v{VERSION}");
    let pinned = "AB".repeat(32);
    for sha in [None, Some(pinned.clone())] {
        let opts = CiOptions::new(2, Install::archive(sha.clone()));
        let github = load(&py, &github_workflow(&opts).unwrap());
        let gitlab = load(&py, &gitlab_ci(&opts).unwrap());
        let scripts = [
            (
                "github",
                named(&github, "build", "Install matrix").unwrap()["run"].clone(),
            ),
            ("gitlab", gitlab["default"]["before_script"][0].clone()),
        ];
        for (ci, script) in scripts {
            let script = script.as_str().unwrap();
            assert_bash(script);
            assert!(script.contains(&format!("matrix_url={url}\n")), "{script}");
            assert!(
                script.contains(&format!("\"$matrix_url\"/{archive}")),
                "{script}"
            );
            let path_line = match ci {
                "github" => "echo \"$matrix_dir\" >> \"$GITHUB_PATH\"",
                _ => "export PATH=\"$matrix_dir:$PATH\"",
            };
            assert!(script.trim_end().ends_with(path_line), "{ci}: {script}");
            match &sha {
                // The pinned sha (lower case), and no checksums file.
                Some(sha) => {
                    assert!(
                        script.contains(&format!(
                            "printf '%s  %s\\n' {} {archive}",
                            sha.to_ascii_lowercase()
                        )),
                        "{script}"
                    );
                    assert!(!script.contains(&sums), "{script}");
                    assert!(script.contains("sha256sum --check --strict pinned.sha256"));
                }
                None => {
                    assert!(
                        script.contains(&format!(
                            "sha256sum --check --ignore-missing --strict {sums}"
                        )),
                        "{script}"
                    );
                    assert!(script.contains("not an archive replaced together"));
                }
            }
        }
    }
}

#[test]
fn toolchain_steps() {
    let Some(py) = python() else { return };
    let doctor = |toolchains| {
        let opts = CiOptions {
            toolchains,
            ..CiOptions::new(2, install())
        };
        let github = load(&py, &github_workflow(&opts).unwrap());
        let gitlab = load(&py, &gitlab_ci(&opts).unwrap());
        let github_line = steps(&github, "build")
            .iter()
            .filter_map(|s| s["run"].as_str())
            .find_map(|r| r.lines().find(|l| l.contains(" doctor ")))
            .map(|l| l.trim().to_owned());
        let gitlab_line = gitlab["build"]["script"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|s| s.as_str().unwrap().lines().find(|l| l.contains(" doctor ")))
            .map(|l| l.trim().to_owned());
        // Plan and merge build nothing, so they never need toolchains.
        for job in ["plan", "merge"] {
            let runs: Vec<&str> = steps(&github, job)
                .iter()
                .filter_map(|s| s["run"].as_str())
                .collect();
            assert!(runs.iter().all(|r| !r.contains(" doctor ")), "{job}");
        }
        (github_line, gitlab_line)
    };
    let (github, gitlab) = doctor(Toolchains::Install);
    assert!(
        github
            .unwrap()
            .ends_with(r#"doctor $SNAPSHOT "${ids[@]/#/--target=}" --install --yes"#)
    );
    assert!(
        gitlab
            .unwrap()
            .ends_with("doctor $SNAPSHOT --install --yes")
    );
    let (github, gitlab) = doctor(Toolchains::Check);
    assert!(
        github
            .unwrap()
            .ends_with(r#"doctor $SNAPSHOT "${ids[@]/#/--target=}""#)
    );
    assert!(gitlab.unwrap().ends_with("doctor $SNAPSHOT"));
    assert_eq!(doctor(Toolchains::None), (None, None));
}

#[test]
fn github_doctor_gets_the_shard_targets() {
    // The step's shell on real bash: each id of $TARGETS one --target=,
    // an empty shard no doctor at all.
    let opts = CiOptions::new(2, install());
    let yaml = github_workflow(&opts).unwrap();
    let start = yaml.find("read -ra ids").unwrap();
    let end = yaml[start..].find("          fi\n").unwrap() + start + "          fi\n".len();
    let script: String = yaml[start..end]
        .lines()
        .map(|l| l.trim_start())
        .collect::<Vec<_>>()
        .join("\n");
    let script = format!("matrix() {{ printf '%s\\n' \"$@\"; }}\n{script}");
    for (targets, want) in [
        (
            "linux/amd64 windows/arm64",
            "--config\nmatrix.toml\ndoctor\n--target=linux/amd64\n--target=windows/arm64\n--install\n--yes\n",
        ),
        ("", ""),
    ] {
        let out = Command::new("bash")
            .args(["-c", &script])
            .env("TARGETS", targets)
            .env("SNAPSHOT", "")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{targets:?}");
    }
}

#[test]
fn pinned_installs_are_checked() {
    let cargo = |repository: &str, version: &str| Install::Cargo {
        repository: repository.into(),
        version: version.into(),
    };
    let archive = |sha: &str| Install::Archive {
        repository: REPOSITORY.into(),
        version: VERSION.into(),
        sha256: Some(sha.into()),
    };
    let bad = [
        ("no patch", cargo(REPOSITORY, "1.2"), "install"),
        ("a v prefix", cargo(REPOSITORY, "v1.2.3"), "install"),
        ("shell", cargo(REPOSITORY, "1.2.3; rm -rf /"), "install"),
        ("http", cargo("http://example.com/m", "1.2.3"), "install"),
        ("no host", cargo("https://", "1.2.3"), "install"),
        ("no host, path", cargo("https:///m", "1.2.3"), "install"),
        (
            "a space",
            cargo("https://example.com/a b", "1.2.3"),
            "install",
        ),
        (
            "a newline",
            cargo("https://example.com/a\nb", "1.2.3"),
            "install",
        ),
        (
            "a carriage return in a command",
            Install::command("true\rjobs: {}"),
            "install",
        ),
        (
            "a line separator in a command",
            Install::command("true\u{2028}jobs: {}"),
            "install",
        ),
        ("short sha", archive(&"a".repeat(63)), "install.sha256"),
        ("long sha", archive(&"a".repeat(65)), "install.sha256"),
        ("not hex", archive(&"g".repeat(64)), "install.sha256"),
        (
            "sha with a quote",
            archive(&format!("{}'", "a".repeat(63))),
            "install.sha256",
        ),
    ];
    for (name, install, option) in bad {
        let opts = CiOptions::new(2, install);
        for generate in [github_workflow, gitlab_ci] {
            match generate(&opts) {
                Err(CiError::Option { option: got, .. }) => assert_eq!(got, option, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
    for good in [
        cargo("https://example.com/m/", "1.2.3-rc.1"),
        archive(&"AbCd".repeat(16)),
    ] {
        assert!(github_workflow(&CiOptions::new(2, good)).is_ok());
    }
}

#[test]
fn pin_warnings() {
    assert_eq!(pin_warning("1.2.3", false), None);
    for (version, debug, why) in [
        ("1.2.3", true, "is a debug build"),
        ("1.2.3-rc.1", false, "is not a release version"),
        ("1.2.3+abc", false, "is not a release version"),
        ("1.2.3-rc.1", true, "is not a release version"),
    ] {
        let w = pin_warning(version, debug).unwrap();
        assert!(w.contains(why), "{w}");
        assert!(
            w.contains(&format!("tag v{version} of {REPOSITORY}")),
            "{w}"
        );
        assert!(w.contains("--install"), "{w}");
    }
}
