//! Universal macOS binaries: hello-go's darwin builds (Go cross-compiles
//! darwin without a C toolchain) joined by matrix's fat Mach-O writer and
//! read back by the real tools: llvm-lipo (Debian's `llvm` package names it
//! `llvm-lipo-<version>`) and file(1).

use std::path::{Path, PathBuf};
use std::process::Command;

use matrix::package::macho_fat::{self, DEFAULT_CAP};

use crate::cross::example;
use crate::support::{Project, WRITE_BINARY, require, run, script_config, which};

const LIPO_HINT: &str = "sudo apt-get install -y --no-install-recommends llvm";

/// llvm-lipo under any of the names Debian gives it, or `None` (a skip on
/// a dev machine, a failure in CI).
fn lipo() -> Option<PathBuf> {
    if let Some(found) = which("llvm-lipo") {
        return Some(found);
    }
    // Debian's `llvm` installs llvm-config, whose bindir holds the
    // unversioned llvm-lipo whatever the LLVM version.
    let bindir = Command::new("llvm-config").arg("--bindir").output();
    if let Ok(out) = bindir
        && out.status.success()
    {
        let found = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("llvm-lipo");
        if found.is_file() {
            return Some(found);
        }
    }
    require("llvm-config", LIPO_HINT);
    None
}

/// hello-go built for darwin/`arch` into `dir`.
fn go_darwin(dir: &Path, arch: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello-go");
    let out = dir.join(format!("hello-{arch}"));
    let (code, _, err) = run(Command::new("go")
        .args([
            "build",
            "-trimpath",
            "-buildvcs=false",
            "-ldflags=-s -w -buildid=",
            "-o",
        ])
        .arg(&out)
        .arg(".")
        .current_dir(&root)
        .env("GOOS", "darwin")
        .env("GOARCH", arch)
        .env("CGO_ENABLED", "0"));
    assert_eq!(code, 0, "go build darwin/{arch}: {err}");
    out
}

fn tool(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("run tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn hello_go_darwin_builds_merge_into_a_universal_binary_lipo_reads() {
    if !require("go", "sudo apt-get install -y golang-go")
        || !require("file", "sudo apt-get install -y file")
    {
        return;
    }
    let Some(lipo) = lipo() else { return };
    let dir = tempfile::tempdir().unwrap();
    let amd64 = go_darwin(dir.path(), "amd64");
    let arm64 = go_darwin(dir.path(), "arm64");
    let x = macho_fat::read_thin(&amd64, DEFAULT_CAP).unwrap();
    let a = macho_fat::read_thin(&arm64, DEFAULT_CAP).unwrap();
    let fat = macho_fat::write_fat(&[a.clone(), x.clone()]).unwrap();
    // Two writes, either input order: the same bytes.
    assert_eq!(fat, macho_fat::write_fat(&[x.clone(), a.clone()]).unwrap());
    let universal = dir.path().join("hello-universal");
    std::fs::write(&universal, &fat).unwrap();

    let info = String::from_utf8(tool(Command::new(&lipo).arg("-info").arg(&universal))).unwrap();
    assert!(info.contains("are: x86_64 arm64"), "{info}");
    let desc = String::from_utf8(tool(Command::new("file").arg("-b").arg(&universal))).unwrap();
    assert!(
        desc.starts_with("Mach-O universal binary with 2 architectures"),
        "{desc}"
    );
    for (arch, thin) in [("x86_64", &amd64), ("arm64", &arm64)] {
        let out = dir.path().join(format!("thin-{arch}"));
        tool(
            Command::new(&lipo)
                .arg(&universal)
                .args(["-thin", arch, "-output"])
                .arg(&out),
        );
        assert_eq!(
            std::fs::read(&out).unwrap(),
            std::fs::read(thin).unwrap(),
            "the {arch} slice differs from its thin binary"
        );
    }
    // Byte for byte what llvm-lipo -create writes.
    let created = dir.path().join("lipo-created");
    tool(
        Command::new(&lipo)
            .arg("-create")
            .arg(&amd64)
            .arg(&arm64)
            .arg("-output")
            .arg(&created),
    );
    assert!(
        std::fs::read(&created).unwrap() == fat,
        "differs from llvm-lipo -create"
    );

    // Not Mach-O, same arch: clear errors naming the inputs.
    let err = macho_fat::write_fat(&[x.clone(), x])
        .unwrap_err()
        .to_string();
    assert!(err.contains("are both x86_64"), "{err}");
    let err = macho_fat::read_thin(&universal, DEFAULT_CAP)
        .unwrap_err()
        .to_string();
    assert!(err.contains("already a universal binary"), "{err}");
    let elf = dir.path().join("elf");
    std::fs::write(&elf, b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0").unwrap();
    let err = macho_fat::read_thin(&elf, DEFAULT_CAP)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is not a thin Mach-O file (magic 0x7f454c46)"),
        "{err}"
    );
}

/// hello-go with darwin/amd64, darwin/arm64 and linux/amd64, a Homebrew
/// channel, and `[universal] darwin = true`.
const CONFIG: &str = r#"[project]
name = "hello"
description = "A tiny greeter"
homepage = "https://example.org/hello"
license = "MIT"

[matrix]
os = ["darwin", "linux"]
arch = ["amd64", "arm64"]
exclude = [{ os = "linux", arch = "arm64" }]

[build]
command = "go build -trimpath -ldflags '-s -w -buildid= -X main.version={{ version }}' -o {{ out }}/{{ bin }} ."
env = { CGO_ENABLED = "0", GOOS = "{{ os }}", GOARCH = "{{ arch }}", GOFLAGS = "-mod=mod -buildvcs=false", GOCACHE = "{{ env.HOME }}/.cache/matrix-go-build" }
binary = "hello"

[archive]
name = "{{ project }}_{{ version }}_{{ os }}_{{ arch }}"
files = ["LICENSE", "README.md"]

[checksum]
name = "{{ project }}_{{ version }}_checksums.txt"

[release]
url = "https://example.org/dl/{{ tag }}/{{ artifact }}"

[channels.homebrew]
kind = "homebrew"
desc = "Tiny greeter"

[universal]
darwin = true
"#;

const UNIVERSAL: &str = "hello_1.2.3_darwin_universal.tar.gz";
const CHECKSUMS: &str = "hello_1.2.3_checksums.txt";

/// hello-go's sources with `config` as matrix.toml, committed and tagged.
fn project(config: &str) -> Project {
    let p = example("hello-go");
    p.file("matrix.toml", config);
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    p
}

fn matrix_ok(p: &Project, args: &[&str]) -> String {
    let (code, out, err) = run(&mut p.matrix(args));
    assert_eq!(code, 0, "matrix {args:?}\nstdout: {out}\nstderr: {err}");
    format!("{out}{err}")
}

/// The file `name` of the tar.gz at `archive` (not wrapped in a folder).
fn member(archive: &Path, name: &str) -> Vec<u8> {
    tool(Command::new("tar").arg("-xzOf").arg(archive).arg(name))
}

fn tools() -> Option<PathBuf> {
    if !require("go", "sudo apt-get install -y golang-go")
        || !require("file", "sudo apt-get install -y file")
        || !require("ruby", "sudo apt-get install -y ruby")
    {
        return None;
    }
    lipo()
}

#[test]
fn universal_darwin_archive_is_built_checked_summed_and_in_the_formula() {
    let Some(lipo) = tools() else { return };
    let p = project(CONFIG);
    matrix_ok(&p, &["build", "-j", "2"]);
    let dist = p.dist();
    let archive = dist.join(UNIVERSAL);
    assert!(archive.is_file(), "no {UNIVERSAL}");

    let sums = std::fs::read_to_string(dist.join(CHECKSUMS)).unwrap();
    assert!(sums.contains(&format!("  {UNIVERSAL}\n")), "{sums}");
    tool(
        Command::new("sha256sum")
            .arg("-c")
            .arg(CHECKSUMS)
            .current_dir(&dist),
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dist.join("manifest.json")).unwrap()).unwrap();
    let record = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == UNIVERSAL)
        .unwrap_or_else(|| panic!("{UNIVERSAL} not in the manifest"));
    assert_eq!(record["target"], "darwin/universal");
    assert_eq!(record["kind"], "archive");
    matrix_ok(&p, &["verify", "dist"]);

    // The joined binary, read back by llvm-lipo and file(1).
    let dir = tempfile::tempdir().unwrap();
    let fat = dir.path().join("hello");
    std::fs::write(&fat, member(&archive, "hello")).unwrap();
    let info = String::from_utf8(tool(Command::new(&lipo).arg("-info").arg(&fat))).unwrap();
    assert!(info.contains("are: x86_64 arm64"), "{info}");
    let desc = String::from_utf8(tool(Command::new("file").arg("-b").arg(&fat))).unwrap();
    assert!(
        desc.starts_with("Mach-O universal binary with 2 architectures"),
        "{desc}"
    );
    // Each slice is byte for byte the binary of its own target's archive.
    for (arch, goarch) in [("x86_64", "amd64"), ("arm64", "arm64")] {
        let out = dir.path().join(format!("thin-{arch}"));
        tool(
            Command::new(&lipo)
                .arg(&fat)
                .args(["-thin", arch, "-output"])
                .arg(&out),
        );
        let thin = member(
            &dist.join(format!("hello_1.2.3_darwin_{goarch}.tar.gz")),
            "hello",
        );
        assert!(
            std::fs::read(&out).unwrap() == thin,
            "the {arch} slice differs from darwin/{goarch}'s binary"
        );
    }

    // The release notes list it among the downloads.
    let notes = std::fs::read_to_string(dist.join("RELEASE_NOTES.md")).unwrap();
    assert!(notes.contains(UNIVERSAL), "{notes}");

    // Homebrew: on_macos holds the universal archive alone.
    let formula = dist.join("homebrew/hello.rb");
    let text = std::fs::read_to_string(&formula).unwrap();
    tool(Command::new("ruby").arg("-c").arg(&formula));
    let harness =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/packager/testdata/formula_harness.rb");
    let recorded: serde_json::Value = serde_json::from_slice(&tool(
        Command::new("ruby")
            .arg(&harness)
            .arg(&formula)
            .arg("Hello"),
    ))
    .unwrap();
    let blocks = recorded["blocks"].as_object().unwrap();
    let keys: Vec<&str> = blocks.keys().map(String::as_str).collect();
    assert_eq!(keys, ["linux/intel", "macos/any"], "{text}");
    let macos = &blocks["macos/any"];
    assert_eq!(
        macos["url"],
        format!("https://example.org/dl/v1.2.3/{UNIVERSAL}"),
        "{text}"
    );
    let sha = sums
        .lines()
        .find(|l| l.ends_with(UNIVERSAL))
        .and_then(|l| l.split_whitespace().next())
        .unwrap();
    assert_eq!(macos["sha256"], sha, "{text}");

    // Two builds: the same bytes.
    let first = std::fs::read(&archive).unwrap();
    matrix_ok(&p, &["build", "-j", "2", "--dist", "again"]);
    let second = std::fs::read(p.path().join("again").join(UNIVERSAL)).unwrap();
    assert!(
        first == second,
        "two builds made different universal archives"
    );
}

#[test]
fn two_shards_and_a_merge_make_the_universal_archive_of_one_build() {
    if tools().is_none() {
        return;
    }
    let p = project(CONFIG);
    matrix_ok(&p, &["build", "-j", "2"]);
    // Three targets over two shards: darwin/amd64 and darwin/arm64 land
    // on different shards, so only the merge has both binaries.
    let plan = matrix_ok(&p, &["plan", "--shards", "2"]);
    let mut dirs = Vec::new();
    for i in 1..=2 {
        let dir = p.path().join(format!("shard-{i}"));
        matrix_ok(
            &p,
            &[
                "build",
                "--shard",
                &format!("{i}/2"),
                "--dist",
                dir.to_str().unwrap(),
            ],
        );
        assert!(!dir.join(UNIVERSAL).exists(), "a shard made {UNIVERSAL}");
        dirs.push(dir);
    }
    let shard_of = |id: &str| {
        (1..=2).find(|i| {
            std::fs::read_to_string(dirs[i - 1].join("manifest.json"))
                .unwrap()
                .contains(&format!("hello_1.2.3_{id}.tar.gz"))
        })
    };
    assert_ne!(
        shard_of("darwin_amd64"),
        shard_of("darwin_arm64"),
        "the darwin builds share a shard: {plan}"
    );
    let mut args = vec!["merge".to_string()];
    args.extend(dirs.iter().map(|d| d.display().to_string()));
    args.extend(["--dist".into(), "merged".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    matrix_ok(&p, &args);
    let merged = p.path().join("merged");
    for file in [UNIVERSAL, CHECKSUMS, "homebrew/hello.rb"] {
        assert!(
            std::fs::read(merged.join(file)).unwrap()
                == std::fs::read(p.dist().join(file)).unwrap(),
            "{file}: the merge differs from one build"
        );
    }
    matrix_ok(&p, &["verify", "merged"]);
}

#[test]
fn a_matrix_without_darwin_arm64_is_a_located_error_and_a_filter_a_note() {
    let config = CONFIG.replace(
        "exclude = [{ os = \"linux\", arch = \"arm64\" }]",
        "exclude = [{ os = \"linux\", arch = \"arm64\" }, { os = \"darwin\", arch = \"arm64\" }]",
    );
    let p = project(&config);
    let (code, out, err) = run(&mut p.matrix(&["plan"]));
    assert_eq!(code, 2, "{out}{err}");
    let words: Vec<&str> = err.split_whitespace().filter(|w| *w != "|").collect();
    let err = words.join(" ");
    assert!(err.contains("matrix.toml:32:10"), "{err}");
    assert!(
        err.contains("but the matrix has no darwin/arm64 target"),
        "{err}"
    );
    assert!(err.contains("darwin = true"), "{err}");

    // Both in the matrix, one left out by --target: a note, no error.
    let p = project(CONFIG);
    let said = matrix_ok(&p, &["plan", "--target", "darwin/amd64"]);
    assert!(
        said.contains("darwin/amd64: no universal binary is made, --target leaves out its darwin/arm64 partner"),
        "{said}"
    );
    let json = matrix_ok(&p, &["plan", "--json", "--target", "darwin/*"]);
    assert!(json.contains("\"darwin/universal\""), "{json}");
}

#[test]
fn builds_that_are_not_mach_o_fail_the_join_naming_the_target() {
    // `verify = false` lets the scripts through their own builds; the join
    // still refuses them.
    let mut config = script_config(
        "os = [\"darwin\"]\narch = [\"amd64\", \"arm64\"]",
        WRITE_BINARY,
    );
    config.push_str("\n[universal]\ndarwin = true\n");
    let p = Project::with_config(&config);
    let (code, out, err) = run(&mut p.matrix(&["build", "-j", "1"]));
    assert_ne!(code, 0, "{out}{err}");
    let words: Vec<&str> = err.split_whitespace().filter(|w| *w != "|").collect();
    let err = words.join(" ");
    assert!(
        err.contains("darwin/universal: cannot join the universal binary:")
            && err.contains("darwin/amd64 (")
            && err.contains("is not a thin Mach-O file (magic 0x2321"),
        "{err}"
    );
    assert!(
        !p.dist()
            .join("hello_1.2.3_darwin_universal.tar.gz")
            .exists()
    );
}
