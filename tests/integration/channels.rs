//! Release channels on the real example: every rendered file snapshotted,
//! then checked by a real validator (Ruby, the snapcraft and Scoop JSON
//! Schemas, unsquashfs, unzip, xmllint with NuGet's nuspec schema, a JSON
//! parser), with every URL and checksum matched against the checksums
//! file; and a changed archive changes every channel file that names it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cross::example;
use crate::support::{Project, require, run};

const TARGETS: [&str; 12] = [
    "--target",
    "darwin/amd64",
    "--target",
    "darwin/arm64",
    "--target",
    "linux/amd64",
    "--target",
    "linux/arm64",
    "--target",
    "windows/amd64",
    "--target",
    "windows/386",
];

fn build(p: &Project, extra: &[&str]) {
    let mut args = vec!["build", "--clean"];
    args.extend(TARGETS);
    args.extend(extra);
    let (code, out, err) = run(&mut p.matrix(&args));
    assert_eq!(code, 0, "{out}\n{err}");
}

/// file name -> sha256 from the checksums file.
fn sums(p: &Project) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(p.dist().join("hello_1.2.3_checksums.txt")).unwrap();
    text.lines()
        .map(|l| {
            let (hash, name) = l.split_once("  ").unwrap();
            (name.to_string(), hash.to_string())
        })
        .collect()
}

fn read(p: &Project, rel: &str) -> String {
    std::fs::read_to_string(p.dist().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Hashes vary with the Go toolchain; the snapshots keep the shape.
fn redact(text: &str) -> String {
    let hex = regex::Regex::new(r"\b[0-9a-f]{64}\b").unwrap();
    let commit = regex::Regex::new(r"\b[0-9a-f]{40}\b").unwrap();
    let text = hex.replace_all(text, "[SHA256]");
    commit.replace_all(&text, "[COMMIT]").into_owned()
}

/// Where scripts/setup.sh puts the validators.
fn tools() -> PathBuf {
    std::env::var_os("MATRIX_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/matrix-tools")
        })
}

fn python() -> PathBuf {
    tools().join("venv-validate/bin/python")
}

fn tools_present() -> bool {
    let ok = [
        ("go", "apt-get install golang-go"),
        ("ruby", "apt-get install ruby"),
        ("unsquashfs", "apt-get install squashfs-tools"),
        ("xmllint", "apt-get install libxml2-utils"),
        ("unzip", "apt-get install unzip"),
    ]
    .iter()
    .all(|(tool, install)| require(tool, install));
    if !ok {
        return false;
    }
    let venv = Command::new(python())
        .args(["-c", "import jsonschema, yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        venv || !ci,
        "{} lacks jsonschema/pyyaml: run scripts/setup.sh",
        python().display()
    );
    if !venv {
        eprintln!("SKIP: no validation venv; run scripts/setup.sh");
    }
    venv
}

/// `xmllint --schema` with NuGet's nuspec schema, made by
/// scripts/install-validators.sh, after removing the Chocolatey elements
/// NuGet does not know (each is one line of the nuspec).
fn nuget_schema_accepts(nuspec: &str) {
    let xsd = tools().join("nuspec.xsd");
    if !xsd.is_file() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "{} is missing in CI: run bash scripts/install-validators.sh",
            xsd.display()
        );
        eprintln!(
            "SKIP: no {}; run bash scripts/install-validators.sh",
            xsd.display()
        );
        return;
    }
    let chocolatey_only = [
        "packageSourceUrl",
        "projectSourceUrl",
        "docsUrl",
        "bugTrackerUrl",
    ];
    let plain: String = nuspec
        .lines()
        .filter(|l| {
            !chocolatey_only
                .iter()
                .any(|e| l.trim_start().starts_with(&format!("<{e}>")))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &plain).unwrap();
    output(
        Command::new("xmllint")
            .args(["--noout", "--schema"])
            .arg(&xsd)
            .arg(file.path()),
    );
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/packager/testdata")
        .join(name)
}

#[test]
fn example_channels_render_and_pass_real_validators() {
    if !tools_present() {
        return;
    }
    let p = example("hello-go");
    build(&p, &[]);
    let sums = sums(&p);
    let url =
        |file: &str| format!("https://github.com/example/hello/releases/download/v1.2.3/{file}");
    // Every channel file and package is in the checksums file.
    for rel in [
        "homebrew/hello.rb",
        "scoop/hello.json",
        "snap/snapcraft.yaml",
        "snap/hello_1.2.3_amd64.snap",
        "snap/hello_1.2.3_arm64.snap",
        "chocolatey/hello.nuspec",
        "chocolatey/tools/chocolateyinstall.ps1",
        "chocolatey/hello.1.2.3.nupkg",
        "RELEASE_NOTES.md",
    ] {
        assert!(sums.contains_key(rel), "{rel} not in {sums:?}");
    }
    let check = Command::new("sha256sum")
        .args(["--check", "--strict", "hello_1.2.3_checksums.txt"])
        .current_dir(p.dist())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let manifest = read(&p, "manifest.json");
    assert!(
        manifest.contains("\"homebrew/hello.rb\""),
        "the manifest lists channel files"
    );

    // Homebrew: Ruby parses it; the DSL harness reads url + sha256 per block.
    let formula = p.dist().join("homebrew/hello.rb");
    insta::assert_snapshot!("homebrew_formula", redact(&read(&p, "homebrew/hello.rb")));
    output(Command::new("ruby").arg("-c").arg(&formula));
    let recorded: serde_json::Value = serde_json::from_str(&output(
        Command::new("ruby")
            .arg(testdata("formula_harness.rb"))
            .arg(&formula)
            .arg("Hello"),
    ))
    .unwrap();
    let text = recorded.to_string();
    for (os, arch) in [
        ("darwin", "amd64"),
        ("darwin", "arm64"),
        ("linux", "amd64"),
        ("linux", "arm64"),
    ] {
        let file = format!("hello_1.2.3_{os}_{arch}.tar.gz");
        assert!(text.contains(&url(&file)), "{file} url in {text}");
        assert!(text.contains(&sums[&file]), "{file} sha256 in {text}");
    }

    // Snapcraft: valid against the schema; each .snap lists and declares.
    insta::assert_snapshot!("snapcraft_yaml", redact(&read(&p, "snap/snapcraft.yaml")));
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/snapcraft.json");
    output(
        Command::new(python())
            .arg(testdata("validate_schema.py"))
            .arg(&schema)
            .arg(p.dist().join("snap/snapcraft.yaml")),
    );
    let yaml = read(&p, "snap/snapcraft.yaml");
    for arch in ["amd64", "arm64"] {
        let file = format!("hello_1.2.3_linux_{arch}.tar.gz");
        assert!(
            yaml.contains(&url(&file)) && yaml.contains(&sums[&file]),
            "{file}"
        );
        let snap = p.dist().join(format!("snap/hello_1.2.3_{arch}.snap"));
        let listing = output(Command::new("unsquashfs").arg("-l").arg(&snap));
        assert!(
            listing.contains("meta/snap.yaml") && listing.contains("bin/hello"),
            "{listing}"
        );
        let meta = output(
            Command::new("unsquashfs")
                .arg("-cat")
                .arg(&snap)
                .arg("meta/snap.yaml"),
        );
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &meta).unwrap();
        let json = output(
            Command::new(python())
                .arg("-c")
                .arg("import sys, yaml, json; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))")
                .arg(file.path()),
        );
        let meta: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(meta["name"], "hello");
        assert_eq!(meta["version"], "1.2.3");
        assert_eq!(meta["architectures"], serde_json::json!([arch]));
        assert!(
            meta["apps"]["hello"]["command"]
                .as_str()
                .unwrap()
                .ends_with("bin/hello"),
            "{meta}"
        );
    }

    // Chocolatey: the package is a valid zip, its XML parts parse, the
    // install script names the right URLs and checksums.
    insta::assert_snapshot!(
        "chocolatey_nuspec",
        redact(&read(&p, "chocolatey/hello.nuspec"))
    );
    nuget_schema_accepts(&read(&p, "chocolatey/hello.nuspec"));
    let install = read(&p, "chocolatey/tools/chocolateyinstall.ps1");
    insta::assert_snapshot!("chocolatey_install", redact(&install));
    let nupkg = p.dist().join("chocolatey/hello.1.2.3.nupkg");
    output(Command::new("unzip").arg("-t").arg(&nupkg));
    let unpacked = tempfile::tempdir().unwrap();
    output(
        Command::new("unzip")
            .arg("-q")
            .arg(&nupkg)
            .arg("-d")
            .arg(unpacked.path()),
    );
    for part in ["hello.nuspec", "[Content_Types].xml", "_rels/.rels"] {
        output(
            Command::new("xmllint")
                .arg("--noout")
                .arg(unpacked.path().join(part)),
        );
    }
    for (arch, flag) in [("amd64", "-Checksum64"), ("386", "-Checksum ")] {
        let file = format!("hello_1.2.3_windows_{arch}.zip");
        assert!(install.contains(&url(&file)), "{file} url");
        let line = install
            .lines()
            .find(|l| l.contains(flag))
            .unwrap_or_default();
        assert!(
            line.contains(&sums[&file]),
            "{flag} line {line:?} lacks {file}'s sha256"
        );
    }

    // Scoop: JSON with the right hashes per architecture.
    insta::assert_snapshot!("scoop_manifest", redact(&read(&p, "scoop/hello.json")));
    // Scoop's own schema (JSON is YAML to the validator).
    output(
        Command::new(python())
            .arg(testdata("validate_schema.py"))
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/scoop.json"))
            .arg(p.dist().join("scoop/hello.json")),
    );
    let scoop: serde_json::Value = serde_json::from_str(&read(&p, "scoop/hello.json")).unwrap();
    for (key, arch) in [("64bit", "amd64"), ("32bit", "386")] {
        let file = format!("hello_1.2.3_windows_{arch}.zip");
        assert_eq!(scoop["architecture"][key]["url"], url(&file));
        assert_eq!(scoop["architecture"][key]["hash"], sums[&file]);
    }

    // Release notes: the kruntimes outline, this version's changelog.
    let notes = read(&p, "RELEASE_NOTES.md");
    insta::assert_snapshot!("release_notes", redact(&notes));
    assert!(notes.contains("sha256sum --check --ignore-missing hello_1.2.3_checksums.txt"));
    assert!(notes.contains("`hello --version` prints the version."));
}

#[test]
fn a_changed_archive_changes_every_channel_file_that_names_it() {
    if !tools_present() {
        return;
    }
    let p = example("hello-go");
    build(&p, &[]);
    let before = sums(&p);
    // The same commit twice: every channel file and package is identical.
    build(&p, &[]);
    assert_eq!(sums(&p), before, "a rebuild changed a file");
    // Every archive carries README.md: new bytes in each of them.
    p.file("README.md", "# hello\n\nA changed readme.\n");
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    build(&p, &[]);
    let after = sums(&p);
    let files = [
        (
            "homebrew/hello.rb",
            &["darwin_amd64", "darwin_arm64", "linux_amd64", "linux_arm64"][..],
        ),
        ("snap/snapcraft.yaml", &["linux_amd64", "linux_arm64"][..]),
        (
            "chocolatey/tools/chocolateyinstall.ps1",
            &["windows_amd64", "windows_386"][..],
        ),
        ("scoop/hello.json", &["windows_amd64", "windows_386"][..]),
    ];
    for (rel, targets) in files {
        let text = read(&p, rel);
        for t in targets {
            let ext = if t.starts_with("windows") {
                "zip"
            } else {
                "tar.gz"
            };
            let file = format!("hello_1.2.3_{t}.{ext}");
            assert_ne!(before[&file], after[&file], "{file} did not change");
            assert!(
                text.contains(&after[&file]),
                "{rel} lacks the new hash of {file}"
            );
            assert!(
                !text.contains(&before[&file]),
                "{rel} still has the old hash of {file}"
            );
        }
        assert_ne!(before[rel], after[rel], "{rel} itself changed");
    }
}

#[test]
fn a_release_without_its_changelog_section_stops_before_building() {
    let p = example("hello-go");
    p.git(&["tag", "v1.3.0"]);
    let (code, _, err) = run(&mut p.matrix(&["build", "--target", "linux/amd64"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("has no section for version 1.3.0"), "{err}");
    assert!(!p.dist().join("logs").exists(), "nothing may have run");
    // A snapshot only warns, and its notes say so.
    let (code, out, err) = run(&mut p.matrix(&["build", "--snapshot", "--target", "linux/amd64"]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("warning: CHANGELOG.md has no section for"),
        "{err}"
    );
    assert!(p.dist().join("RELEASE_NOTES.md").is_file());
}

#[test]
fn a_user_template_replaces_the_embedded_one() {
    let config = crate::support::script_config(
        "os = [\"linux\"]\narch = [\"amd64\", \"arm64\"]",
        crate::support::WRITE_BINARY,
    ) + "[release]\nurl = \"https://dl.example/{{ artifact }}\"\nnotes = false\n\
         [channels.brew]\nkind = \"homebrew\"\ndesc = \"Test release\"\ntemplate = \"packaging/brew.rb.j2\"\n";
    let p = Project::new();
    p.file("matrix.toml", &config);
    p.file("LICENSE", "MIT License\n");
    p.file("README.md", "# hello\n");
    p.file(
        "packaging/brew.rb.j2",
        "# {{ class_name }}\n{% for s in systems %}{% for c in s.cpus %}{{ s.name }}/{{ c.name }} {{ c.url }} {{ c.sha256 }}\n{% endfor %}{% endfor %}",
    );
    p.commit();
    p.git(&["tag", "v1.2.3"]);
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 0, "{out}\n{err}");
    let sums = sums(&p);
    let text = read(&p, "homebrew/hello.rb");
    let want = format!(
        "# Hello\nlinux/arm https://dl.example/hello_1.2.3_linux_arm64.tar.gz {}\nlinux/intel https://dl.example/hello_1.2.3_linux_amd64.tar.gz {}\n",
        sums["hello_1.2.3_linux_arm64.tar.gz"], sums["hello_1.2.3_linux_amd64.tar.gz"]
    );
    assert_eq!(text, want);
    // A typo in the user's template is an error naming the template.
    p.file("packaging/brew.rb.j2", "{{ clas_name }}\n");
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    let (code, _, err) = run(&mut p.matrix(&["build", "--clean"]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("user template") && err.contains("clas_name"),
        "{err}"
    );
}

/// A package job that fails names its channel and its target.
#[test]
fn a_failed_package_job_names_its_channel_and_target() {
    let axes = "os = [\"linux\"]\narch = [\"amd64\", \"arm64\"]";
    let mut toml = crate::support::script_config(axes, crate::support::WRITE_BINARY);
    toml.push_str("\n[release]\nurl = \"https://example.org/{{ artifact }}\"\n\n[channels.snaps]\nkind = \"snapcraft\"\nsummary = \"Hello\"\n");
    let p = Project::with_config(&toml);
    // squashfs keeps 32-bit times: a later release time fails the snaps.
    let (code, out, err) = run(p
        .matrix(&["build", "--keep-going"])
        .env("SOURCE_DATE_EPOCH", "5000000000"));
    assert_ne!(code, 0, "{out}\n{err}");
    for target in ["linux/amd64", "linux/arm64"] {
        let slug = target.replace('/', "-");
        assert!(
            err.contains(&format!(
                "package-snap-{slug} (target {target}): snaps: release timestamp 5000000000"
            )),
            "{err}"
        );
    }
    // Nothing of the channel is left in dist/ looking complete: no snap,
    // no partial one, no snapcraft.yaml (its channel job never ran), no
    // checksums file or manifest.
    let left: Vec<String> = walkdir::WalkDir::new(p.dist())
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            e.path()
                .strip_prefix(p.dist())
                .unwrap()
                .display()
                .to_string()
        })
        .filter(|rel| !rel.starts_with("logs/") && !rel.starts_with("build/"))
        .collect();
    assert!(
        left.iter()
            .all(|rel| rel.starts_with("hello_1.2.3_linux_") && rel.ends_with(".tar.gz")),
        "{left:?}"
    );
    assert!(
        !p.dist().join("logs/channel-snaps.log").exists(),
        "the channel job did not run"
    );
}

/// Package jobs finish in whatever order they finish: the release (its
/// packages, checksums file, manifest records) is the same bytes at -j1
/// and -j4, and lists every package exactly once.
#[test]
fn package_jobs_in_any_order_make_the_same_release() {
    if !require("mksquashfs", "apt-get install squashfs-tools") {
        return;
    }
    let axes = "os = [\"linux\"]\narch = [\"amd64\", \"arm64\", \"ppc64le\", \"s390x\"]";
    let mut toml = crate::support::script_config(axes, crate::support::WRITE_BINARY);
    toml.push_str(concat!(
        "\n[release]\nurl = \"https://example.org/{{ artifact }}\"\n",
        "\n[channels.deb]\nkind = \"deb\"\nmaintainer = \"Hello Authors <hello@example.org>\"\n",
        "\n[channels.rpm]\nkind = \"rpm\"\n",
        "\n[channels.snaps]\nkind = \"snapcraft\"\nsummary = \"Hello\"\n",
    ));
    let p = Project::with_config(&toml);
    let mut releases = Vec::new();
    for jobs in ["1", "4"] {
        let (code, out, err) = run(&mut p.matrix(&["build", "--clean", "-j", jobs]));
        assert_eq!(code, 0, "{out}\n{err}");
        let mut files: BTreeMap<String, Vec<u8>> = walkdir::WalkDir::new(p.dist())
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let rel = e
                    .path()
                    .strip_prefix(p.dist())
                    .unwrap()
                    .display()
                    .to_string();
                (rel, std::fs::read(e.path()).unwrap())
            })
            .filter(|(rel, _)| !rel.starts_with("logs/") && rel != "manifest.json")
            .collect();
        let manifest: serde_json::Value = serde_json::from_str(&read(&p, "manifest.json")).unwrap();
        let records = serde_json::to_vec_pretty(&manifest["artifacts"]).unwrap();
        files.insert("manifest.json artifacts".into(), records);
        releases.push(files);
    }
    // (The failed-package test above relies on this log's absence.)
    assert!(p.dist().join("logs/channel-snaps.log").is_file());
    let packages: Vec<&String> = releases[0]
        .keys()
        .filter(|k| [".deb", ".rpm", ".snap"].iter().any(|e| k.ends_with(e)))
        .collect();
    assert_eq!(packages.len(), 12, "{packages:?}");
    assert_eq!(releases[0], releases[1], "-j1 and -j4 differ");
    let sums = sums(&p);
    let manifest: serde_json::Value = serde_json::from_str(&read(&p, "manifest.json")).unwrap();
    let listed: Vec<&str> = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "package")
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, packages, "each package once, in name order");
    let text = read(&p, "hello_1.2.3_checksums.txt");
    for package in packages {
        assert!(sums.contains_key(package.as_str()), "{package}");
        let lines = text
            .lines()
            .filter(|l| l.ends_with(&format!("  {package}")));
        assert_eq!(lines.count(), 1, "{package} in {text}");
    }
}
