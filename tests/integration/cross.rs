//! Cross-compilation: presets, toolchain checks (`matrix doctor`), binary
//! verification and `--smoke` runs under qemu-user.

use std::path::Path;

use crate::support::{Project, redact, require, run};

/// Copies an example project into a fresh repository tagged v1.2.3.
pub fn example(name: &str) -> Project {
    let p = Project::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    copy_tree(&src, &p.dir);
    p.commit();
    p.git(&["tag", "v1.2.3"]);
    p
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "dist" || name == "target" {
            continue;
        }
        let dest = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn a_host_binary_under_a_foreign_name_fails_verification() {
    if !require("go", "apt-get install golang-go") {
        return;
    }
    let p = example("hello-go");
    // The deliberate mistake: GOARCH is not set, so arm64 gets a host binary.
    let config = std::fs::read_to_string(p.dir.join("matrix.toml"))
        .unwrap()
        .replace(", GOARCH = \"{{ arch }}\"", "");
    p.file("matrix.toml", &config);
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    let (code, _, err) = run(&mut p.matrix(&["build", "--target", "linux/arm64"]));
    assert_eq!(code, 1, "{err}");
    if cfg!(target_arch = "x86_64") {
        assert!(
            err.contains("error: linux/arm64: built linux/arm64 but the binary is x86-64 ELF (64-bit, little-endian) (expected aarch64 ELF (64-bit, little-endian))"),
            "{err}"
        );
    }
    assert!(
        !p.dist().join("hello_1.2.3_linux_arm64.tar.gz").exists(),
        "a wrong binary is never packaged"
    );
}

#[test]
fn doctor_names_the_package_of_a_missing_compiler() {
    let config = r#"[project]
name = "hello"
[matrix]
os = ["linux", "windows"]
arch = ["s390x", "amd64"]
exclude = [ { os = "windows", arch = "s390x" } ]
[build]
preset = "gcc-cross"
command = "make OUT={{ out }}/{{ bin }}"
binary = "hello"
"#;
    let p = Project::with_config(config);
    // A PATH with git but no compiler at all (outside the repository).
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().to_path_buf();
    let git = crate::support::which("git").expect("git");
    std::os::unix::fs::symlink(git, bin.join("git")).unwrap();
    let (code, out, err) = run(p.matrix(&["doctor"]).env("PATH", &bin));
    assert_eq!(code, 1, "{err}");
    insta::assert_snapshot!(redact(&out, &p));
    // build refuses to start, and says what to install.
    let (code, _, err) = run(p.matrix(&["build"]).env("PATH", &bin));
    assert_eq!(code, 2, "{err}");
    // (miette may wrap the line between the two package names)
    assert!(err.contains("gcc-s390x-linux-gnu"), "{err}");
    assert!(err.contains("matrix doctor --install"), "{err}");
    assert!(err.contains("libc6-dev-s390x-cross"), "{err}");
    assert!(!p.dist().exists());
}

#[test]
fn presets_that_cannot_build_a_target_are_plan_errors() {
    let config = r#"[project]
name = "hello"
[matrix]
os = ["darwin"]
arch = ["arm64"]
[build]
preset = "gcc-cross"
command = "make"
binary = "hello"
"#;
    let p = Project::with_config(config);
    let (code, _, err) = run(&mut p.matrix(&["plan"]));
    assert_eq!(code, 2, "{err}");
    insta::assert_snapshot!(redact(&err, &p));
}

#[test]
fn hello_rust_host_target_with_smoke() {
    if !require("cargo", "https://rustup.rs") {
        return;
    }
    let p = example("hello-rust");
    let (code, out, err) = run(p
        .matrix(&["build", "--smoke", "--target", "linux/amd64"])
        .env("XDG_CACHE_HOME", p.cache_home()));
    assert_eq!(code, 0, "{out}\n{err}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.dist().join("manifest.json")).unwrap()).unwrap();
    let archive = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "archive")
        .unwrap();
    let binary = &archive["binary"];
    if cfg!(target_arch = "x86_64") {
        assert_eq!(binary["machine"], "x86-64");
        assert_eq!(binary["format"], "elf");
    }
    let log = std::fs::read_to_string(p.dist().join("logs/build-linux-amd64.log")).unwrap();
    assert_eq!(
        smoke_output(&log),
        Some("1.2.3"),
        "the smoke run printed the version: {log}"
    );
    // The targets this machine cannot build are reported, not skipped.
    let (_, out, _) = run(&mut p.matrix(&["doctor"]));
    assert!(out.contains("darwin/arm64"), "{out}");
    assert!(
        out.contains("rustup target add aarch64-apple-darwin")
            || out.contains("aarch64-apple-darwin"),
        "{out}"
    );
}

/// The cargo preset's target folder is the target's `{{ cache }}`: a
/// `--clean` release keeps it, so cargo rebuilds nothing unchanged, and
/// the archive is the same.
#[test]
fn cargo_target_folder_survives_clean() {
    if !require("cargo", "https://rustup.rs") {
        return;
    }
    let p = example("hello-rust");
    let build = |args: &[&str]| {
        let (code, out, err) = run(p.matrix(args).env("XDG_CACHE_HOME", p.cache_home()));
        assert_eq!(code, 0, "{out}\n{err}");
        let log = std::fs::read_to_string(p.dist().join("logs/build-linux-amd64.log")).unwrap();
        let archive = std::fs::read_dir(p.dist())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|f| f.to_string_lossy().ends_with("_linux_amd64.tar.gz"))
            .unwrap();
        (log, std::fs::read(archive).unwrap())
    };
    let (first, archive) = build(&["build", "--target", "linux/amd64"]);
    assert!(first.contains("Compiling hello"), "{first}");
    let (second, again) = build(&["build", "--clean", "--target", "linux/amd64"]);
    assert!(!second.contains("Compiling"), "cargo rebuilt: {second}");
    assert!(second.contains("Finished"), "{second}");
    assert_eq!(archive, again, "the kept folder changes no byte");
    // It is the target's folder in the (here private) cache home, not in dist/.
    let targets = p.cache_home().join("matrix/targets");
    let project: Vec<_> = std::fs::read_dir(&targets).unwrap().collect();
    assert_eq!(project.len(), 1, "one folder per checkout");
    let folder = project[0].as_ref().unwrap().path();
    assert!(
        folder
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("hello-rust-"),
        "{folder:?}"
    );
    assert!(
        folder
            .join("linux-amd64/cargo/x86_64-unknown-linux-gnu/release/hello")
            .is_file()
    );
    assert!(!p.dist().join("build/linux-amd64/cargo").exists());
    // The action cache saves the binary from that folder and puts it back
    // there when the folder is gone.
    let store = p.cache_home().join("store");
    let cached = [
        "build",
        "--clean",
        "--cache-dir",
        store.to_str().unwrap(),
        "--target",
        "linux/amd64",
    ];
    build(&cached);
    std::fs::remove_dir_all(&targets).unwrap();
    let (restored, last) = build(&cached);
    assert!(restored.contains("cache: restored"), "{restored}");
    assert_eq!(archive, last);
    assert!(
        folder
            .join("linux-amd64/cargo/x86_64-unknown-linux-gnu/release/hello")
            .is_file()
    );
}

#[test]
fn hello_go_smoke_runs_linux_binaries_under_qemu() {
    if !require("go", "apt-get install golang-go")
        || !require(
            "qemu-aarch64-static",
            "apt-get install qemu-user-static (scripts/install-toolchains.sh)",
        )
    {
        return;
    }
    let p = example("hello-go");
    let (code, out, err) = run(&mut p.matrix(&["build", "--smoke", "--target", "linux/*"]));
    assert_eq!(code, 0, "{out}\n{err}");
    // (arch, how it runs): 386 runs natively on an x86-64 host.
    let host_is_x86_64 = cfg!(target_arch = "x86_64");
    for (arch, runner) in [
        ("arm64", "qemu-aarch64-static"),
        (
            "386",
            if host_is_x86_64 {
                ""
            } else {
                "qemu-i386-static"
            },
        ),
        ("ppc64le", "qemu-ppc64le-static"),
        ("s390x", "qemu-s390x-static"),
        ("riscv64", "qemu-riscv64-static"),
    ] {
        let log =
            std::fs::read_to_string(p.dist().join(format!("logs/build-linux-{arch}.log"))).unwrap();
        let smoke = log
            .lines()
            .find(|l| l.starts_with("# smoke: "))
            .unwrap_or_default();
        if runner.is_empty() {
            assert!(smoke.starts_with("# smoke: /"), "{arch}: {log}");
        } else {
            assert!(
                smoke.starts_with(&format!("# smoke: {runner} ")),
                "{arch}: {log}"
            );
        }
        assert_eq!(smoke_output(&log), Some("1.2.3"), "{arch}: {log}");
    }
}

/// hello-c: 9 GNU/mingw targets and 4 zig targets. Each binary's header is
/// checked with `file`, independently of matrix's own verifier, and every
/// Linux binary is run (natively or under qemu-user) by the test itself.
#[test]
fn hello_c_full_table() {
    let tools = [
        ("make", "apt-get install make"),
        ("file", "apt-get install file"),
        ("zig", "bash scripts/install-toolchains.sh"),
        (
            "aarch64-linux-gnu-gcc",
            "bash scripts/install-toolchains.sh",
        ),
        (
            "x86_64-w64-mingw32-gcc",
            "bash scripts/install-toolchains.sh",
        ),
        ("qemu-aarch64-static", "bash scripts/install-toolchains.sh"),
    ];
    if !tools.iter().all(|(tool, install)| require(tool, install)) {
        return;
    }
    let p = example("hello-c");
    let (code, out, err) = run(&mut p.matrix(&["build", "--smoke"]));
    assert_eq!(code, 0, "{out}\n{err}");
    // (id, what `file` must say, how to run it; "" = natively, "-" = not here)
    let cases = [
        ("linux/amd64/gnu", "ELF 64-bit LSB executable, x86-64", ""),
        (
            "linux/arm64/gnu",
            "ELF 64-bit LSB executable, ARM aarch64",
            "qemu-aarch64-static",
        ),
        (
            "linux/386/gnu",
            "ELF 32-bit LSB executable, Intel 80386",
            "",
        ),
        (
            "linux/ppc64le/gnu",
            "ELF 64-bit LSB executable, 64-bit PowerPC",
            "qemu-ppc64le-static",
        ),
        (
            "linux/s390x/gnu",
            "ELF 64-bit MSB executable, IBM S/390",
            "qemu-s390x-static",
        ),
        (
            "linux/riscv64/gnu",
            "ELF 64-bit LSB executable, UCB RISC-V",
            "qemu-riscv64-static",
        ),
        (
            "linux/arm/gnu",
            "ELF 32-bit LSB executable, ARM, EABI5",
            "qemu-arm-static",
        ),
        (
            "windows/amd64/gnu",
            "PE32+ executable (console) x86-64",
            "-",
        ),
        (
            "windows/386/gnu",
            "PE32 executable (console) Intel 80386",
            "-",
        ),
        (
            "darwin/amd64/system",
            "Mach-O 64-bit x86_64 executable",
            "-",
        ),
        ("darwin/arm64/system", "Mach-O 64-bit arm64 executable", "-"),
        ("linux/amd64/musl", "ELF 64-bit LSB executable, x86-64", ""),
        (
            "linux/arm64/musl",
            "ELF 64-bit LSB executable, ARM aarch64",
            "qemu-aarch64-static",
        ),
    ];
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.dist().join("manifest.json")).unwrap()).unwrap();
    let ids: Vec<&str> = manifest["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = cases.iter().map(|c| c.0).collect();
    let mut got = ids.clone();
    want.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, want);
    for (id, file_says, runner) in cases {
        let slug = id.replace('/', "-");
        let bin = if id.starts_with("windows") {
            "hello.exe"
        } else {
            "hello"
        };
        let path = p.dist().join("build").join(&slug).join(bin);
        let out = std::process::Command::new("file")
            .arg("-b")
            .arg(&path)
            .output()
            .unwrap();
        let described = String::from_utf8_lossy(&out.stdout);
        assert!(
            described.starts_with(file_says),
            "{id}: file says {described}"
        );
        if runner == "-" {
            continue;
        }
        let mut cmd = if runner.is_empty() {
            std::process::Command::new(&path)
        } else {
            let mut c = std::process::Command::new(runner);
            c.arg(&path);
            c
        };
        let out = cmd.output().unwrap();
        let (os, arch) = {
            let mut parts = id.split('/');
            (parts.next().unwrap(), parts.next().unwrap())
        };
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("hello 1.2.3 ({os}/{arch})"),
            "{id}"
        );
    }
    let sums = std::process::Command::new("sha256sum")
        .args(["--check", "--strict", "hello-c_1.2.3_checksums.txt"])
        .current_dir(p.dist())
        .output()
        .unwrap();
    assert!(
        sums.status.success(),
        "{}",
        String::from_utf8_lossy(&sums.stdout)
    );
}

/// What a build log shows the smoke run printing: the line after
/// `# smoke: ...` (the job's closing `# ok` follows it).
fn smoke_output(log: &str) -> Option<&str> {
    let mut lines = log.lines().skip_while(|l| !l.starts_with("# smoke: "));
    lines.next()?;
    lines.next()
}
