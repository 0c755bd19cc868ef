//! The msi channel on the real example: the Windows Installer packages
//! wixl builds read back by msitools (`msiinfo`): their tables, the binary
//! in File with its size, the PATH row in Environment, the summary's
//! times the release's; two builds are byte-identical (matrix re-dates the
//! two times wixl stamps with the clock); bad settings are plan errors at
//! their line.

use std::process::Command;

use crate::cross::example;
use crate::support::{Project, WRITE_BINARY, require, run, script_config};

const CHANNEL: &str = r#"
[channels.msi]
kind = "msi"
manufacturer = "Hello Authors"
"#;

const MSIS: [&str; 2] = ["msi/hello-1.2.3-x64.msi", "msi/hello-1.2.3-x86.msi"];

fn tools() -> bool {
    [
        ("go", "apt-get install golang-go"),
        ("wixl", "apt-get install wixl"),
        ("msiinfo", "apt-get install msitools"),
        ("msibuild", "apt-get install msitools"),
    ]
    .iter()
    .all(|(tool, install)| require(tool, install))
}

fn build(p: &Project) {
    let (code, out, err) = run(&mut p.matrix(&[
        "build",
        "--clean",
        "--target",
        "windows/amd64",
        "--target",
        "windows/386",
    ]));
    assert_eq!(code, 0, "{out}\n{err}");
}

fn msiinfo(args: &[&str]) -> String {
    let out = Command::new("msiinfo").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "msiinfo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn msi_tables_read_back_and_two_builds_are_identical() {
    if !tools() {
        return;
    }
    let p = example("hello-go");
    let config = std::fs::read_to_string(p.path().join("matrix.toml")).unwrap();
    p.file("matrix.toml", &format!("{config}{CHANNEL}"));
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    build(&p);
    let dist = p.dist();

    let sums = std::fs::read_to_string(dist.join("hello_1.2.3_checksums.txt")).unwrap();
    let manifest = std::fs::read_to_string(dist.join("manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let records = manifest.to_string();
    for rel in MSIS {
        assert!(sums.contains(&format!("  {rel}\n")), "{rel} in {sums}");
        assert!(
            records.contains(&format!("\"kind\":\"package\",\"name\":\"{rel}\""))
                || records.contains(&format!(
                    "\"name\":\"{rel}\",\"path\":\"{rel}\",\"kind\":\"package\""
                )),
            "{rel} in {records}"
        );
    }

    let mut first = Vec::new();
    for (rel, slug, template) in [
        (MSIS[0], "amd64", "x64;1033"),
        (MSIS[1], "386", "Intel;1033"),
    ] {
        let msi = dist.join(rel);
        let msi = msi.to_str().unwrap();
        let tables = msiinfo(&["tables", msi]);
        let tables: Vec<&str> = tables.lines().collect();
        for want in ["File", "Component", "Directory", "Environment", "Upgrade"] {
            assert!(tables.contains(&want), "{want} in {tables:?}");
        }
        let size = exe_size(&dist, slug);
        let file = msiinfo(&["export", msi, "File"]);
        assert!(
            file.contains(&format!("MainBinaryFile\tMainBinary\thello.exe\t{size}\t")),
            "{file}"
        );
        let env = msiinfo(&["export", msi, "Environment"]);
        assert!(
            env.contains("PATH\t=-*PATH\t[~];[INSTALLDIR]\tMainBinary"),
            "{env}"
        );
        let dirs = msiinfo(&["export", msi, "Directory"]);
        assert!(dirs.contains("INSTALLDIR\t"), "{dirs}");
        assert!(
            dirs.contains("\thello\n") || dirs.contains("\thello\r\n"),
            "{dirs}"
        );
        let seq = msiinfo(&["export", msi, "InstallExecuteSequence"]);
        for want in [
            "WriteEnvironmentStrings",
            "RemoveEnvironmentStrings",
            "RemoveExistingProducts",
        ] {
            assert!(seq.contains(want), "{want} in {seq}");
        }
        let info = msiinfo(&["suminfo", msi]);
        assert!(info.contains(&format!("Template: {template}")), "{info}");
        assert!(info.contains("Author: Hello Authors"), "{info}");
        let props = msiinfo(&["export", msi, "Property"]);
        assert!(props.contains("ProductVersion\t1.2.3"), "{props}");
        assert!(props.contains("Manufacturer\tHello Authors"), "{props}");
        first.push((std::fs::read(msi).unwrap(), info, props));
    }

    // A second build, a second later: wixl stamps two FILETIMEs
    // (created, last saved) with the clock, and matrix sets both to the
    // release's time, so the packages are byte-identical.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    build(&p);
    for (rel, (bytes, info, props)) in MSIS.iter().zip(&first) {
        let msi = dist.join(rel);
        let again = std::fs::read(&msi).unwrap();
        let differ: Vec<usize> = (0..bytes.len().min(again.len()))
            .filter(|&i| bytes[i] != again[i])
            .collect();
        assert!(
            bytes == &again,
            "{rel}: {} and {} bytes, differing at {differ:?}",
            bytes.len(),
            again.len()
        );
        let msi = msi.to_str().unwrap();
        assert_eq!(props, &msiinfo(&["export", msi, "Property"]), "{rel}");
        let info_again = msiinfo(&["suminfo", msi]);
        assert_eq!(info, &info_again, "{rel}");
        // The release's time (the example's commit, SOURCE_DATE_EPOCH
        // unset), not today's.
        for line in info_again
            .lines()
            .filter(|l| l.starts_with("Created") || l.starts_with("Last saved"))
        {
            assert!(!line.contains("2026-12"), "{rel}: {line}");
        }
    }
}

/// The size of the built hello.exe under dist/ whose folder names `arch`.
fn exe_size(dir: &std::path::Path, arch: &str) -> u64 {
    let mut sizes = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().filter_map(Result::ok) {
            let path = e.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if e.file_name() == "hello.exe"
                && d.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(arch))
            {
                sizes.push(meta.len());
            }
        }
    }
    assert_eq!(sizes.len(), 1, "one hello.exe for {arch}: {sizes:?}");
    sizes[0]
}

/// A plan of a project with `channel` added, expected to fail: its error.
fn plan_error(channel: &str, tag: &str) -> String {
    let config = format!(
        "{}\n{channel}\n",
        script_config(
            "os = [\"windows\"]\narch = [\"amd64\", \"arm64\"]",
            WRITE_BINARY
        )
    );
    let p = Project::new();
    p.file("matrix.toml", &config);
    p.file("LICENSE", "MIT\n");
    p.file("README.md", "# hello\n");
    p.commit();
    p.git(&["tag", tag]);
    let (code, out, err) = run(&mut p.matrix(&["plan"]));
    assert_ne!(code, 0, "{out}\n{err}");
    let wrapped = regex::Regex::new(r"\s*\n\s*\|?\s*").unwrap();
    wrapped.replace_all(&err, " ").into_owned()
}

/// Each .msi is a package job in the action cache: a second build
/// restores both (the entry names the very file the plan puts there) and
/// the release is the same bytes.
#[test]
fn msi_package_jobs_are_restored_from_the_cache() {
    if !["wixl", "msibuild"]
        .iter()
        .all(|t| require(t, "apt-get install wixl msitools"))
    {
        return;
    }
    let axes = "os = [\"windows\"]\narch = [\"amd64\", \"386\"]";
    // A stand-in binary (script_config turns `verify` off): wixl packs it
    // as it is.
    let mut toml = script_config(axes, WRITE_BINARY);
    toml.push_str(CHANNEL);
    let p = crate::support::Project::with_config(&toml);
    let cache = p.dir.parent().unwrap().join("cache");
    p.file(
        "matrix.toml",
        &format!("{toml}\n[cache]\ndir = \"{}\"\n", cache.display()),
    );
    p.commit();
    let mut releases = Vec::new();
    for _ in 0..2 {
        let (code, out, err) = run(&mut p.matrix(&["build", "--clean", "--snapshot"]));
        assert_eq!(code, 0, "{out}\n{err}");
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(p.dist().join("manifest.json")).unwrap())
                .unwrap();
        let restored: Vec<bool> = manifest["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["kind"] == "package")
            .map(|j| j["restored"].as_bool().unwrap_or(false))
            .collect();
        let msis: Vec<(String, Vec<u8>)> = std::fs::read_dir(p.dist().join("msi"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|f| {
                let name = f.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&f).unwrap())
            })
            .collect();
        releases.push((restored, msis));
    }
    assert_eq!(releases[0].0, [false, false], "the first build packs both");
    assert_eq!(releases[1].0, [true, true], "the second restores both");
    assert_eq!(releases[0].1.len(), 2);
    let sorted = |mut m: Vec<(String, Vec<u8>)>| {
        m.sort();
        m
    };
    assert_eq!(sorted(releases[0].1.clone()), sorted(releases[1].1.clone()));
}

#[test]
fn bad_msi_settings_are_located_plan_errors() {
    let ok = "manufacturer = \"Acme\"\nurl = \"https://example.org/{{ artifact }}\"";
    // wixl builds x86 and x64 only: windows/arm64 chosen with `when`.
    let err = plan_error(
        &format!(
            "[channels.msi]\nkind = \"msi\"\n{ok}\nwhen = {{ os = \"windows\", arch = \"arm64\" }}"
        ),
        "v1.2.3",
    );
    assert!(
        err.contains("matrix.toml:") && err.contains("cannot ship windows/arm64"),
        "{err}"
    );
    let url = "url = \"https://example.org/{{ artifact }}\"";
    let err = plan_error(&format!("[channels.msi]\nkind = \"msi\"\n{url}"), "v1.2.3");
    assert!(
        err.contains("needs a manufacturer") && err.contains("matrix.toml:"),
        "{err}"
    );
    for (setting, message) in [
        ("manufacturer = \"two\\nlines\"", "is not one line"),
        ("upgrade-code = \"not-a-guid\"", "is not a GUID"),
    ] {
        let extra = if setting.starts_with("manufacturer") {
            ""
        } else {
            ok
        };
        let err = plan_error(
            &format!("[channels.msi]\nkind = \"msi\"\n{extra}\n{setting}"),
            "v1.2.3",
        );
        let key = setting.split(' ').next().unwrap();
        assert!(err.contains(message), "{setting}: {err}");
        assert!(
            err.contains(&format!("channels.msi.{key}")) && err.contains("matrix.toml:"),
            "{setting}: located at the key: {err}"
        );
    }
    let err = plan_error(&format!("[channels.msi]\nkind = \"msi\"\n{ok}"), "v256.0.0");
    assert!(
        err.contains("cannot be an MSI ProductVersion") && err.contains("major 256 is above 255"),
        "{err}"
    );
}
