//! Toolchains before any job runs: the program of a plain command is
//! checked on the host and in container images, `matrix doctor --install`
//! refuses to act unasked and does nothing when nothing is missing, and a
//! zig that lives only in matrix's tool cache builds.

use std::path::{Path, PathBuf};

use crate::support::{Project, run, script_config};

const LINUX_AMD64: &str = r#"os = ["linux"]
arch = ["amd64"]"#;

/// PATH without the folders that hold `tool`, so a test can hide it.
fn path_without(tool: &str) -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|dir| !dir.join(tool).exists())
        .collect();
    std::env::join_paths(kept)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn assert_no_job_ran(p: &Project) {
    let logs = p.dist().join("logs");
    let ran: Vec<String> = std::fs::read_dir(&logs)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(ran.is_empty(), "jobs ran: {ran:?}");
}

#[test]
fn doctor_names_a_missing_command_program() {
    let p = Project::with_config(&script_config(
        LINUX_AMD64,
        r#"command = "nonexistent-prog-xyz --out {{ out }}/{{ bin }}""#,
    ));
    let (code, out, err) = run(&mut p.matrix(&["doctor"]));
    assert_eq!(code, 1, "{out}\n{err}");
    let row = out
        .lines()
        .find(|l| l.contains("nonexistent-prog-xyz"))
        .unwrap_or_else(|| panic!("no row names the program: {out}"));
    assert!(row.starts_with("linux/amd64"), "{row}");
    assert!(row.contains("command") && row.contains("MISSING"), "{row}");
    assert!(row.contains("fix [build] command"), "{row}");
    assert!(err.contains("1 missing"), "{err}");
}

#[test]
fn build_refuses_a_missing_program_before_any_job() {
    for build in [
        r#"command = "nonexistent-prog-xyz --out {{ out }}/{{ bin }}""#,
        // A shell line: its first word is the program.
        "shell = true\ncommand = \"nonexistent-prog-xyz --out {{ out }}/{{ bin }} && echo done\"",
    ] {
        let p = Project::with_config(&script_config(LINUX_AMD64, build));
        let (code, out, err) = run(&mut p.matrix(&["build"]));
        assert_eq!(code, 2, "{build}\n{out}\n{err}");
        assert!(
            err.contains("linux/amd64: nonexistent-prog-xyz (for command)"),
            "{build}\n{err}"
        );
        assert!(err.contains("fix [build] command"), "{err}");
        assert!(err.contains("matrix doctor --install"), "{err}");
        assert_no_job_ran(&p);
    }
}

#[test]
fn a_shell_line_starting_with_a_builtin_is_left_to_the_shell() {
    // `cd` is no program: the check cannot know what the line runs, so the
    // job runs and its own failure is the report.
    let p = Project::with_config(&script_config(
        LINUX_AMD64,
        "shell = true\ncommand = \"cd . && nonexistent-prog-xyz {{ out }}/{{ bin }}\"",
    ));
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        p.dist().join("logs/build-linux-amd64.log").exists(),
        "{err}"
    );
}

#[test]
fn install_without_yes_and_without_a_terminal_refuses() {
    // zig is missing (not on PATH, an empty tool cache): there is work to do.
    let tools = tempfile::tempdir().unwrap();
    let p = Project::with_config(&script_config(
        r#"os = ["darwin"]
arch = ["arm64"]"#,
        "preset = \"zig-cc\"\ncommand = \"make\"",
    ));
    let (code, out, err) = run(p
        .matrix(&["doctor", "--install"])
        .env("MATRIX_TOOLS", tools.path())
        .env("PATH", path_without("zig"))
        .stdin(std::process::Stdio::null()));
    assert_eq!(code, 2, "{out}\n{err}");
    // It printed what it would run, then did none of it.
    assert!(out.contains("matrix doctor --install will run:"), "{out}");
    assert!(out.contains("ziglang==0.15.2"), "{out}");
    assert!(
        out.contains(&tools.path().join("zig-venv").display().to_string()),
        "{out}"
    );
    assert!(err.contains("pass --yes"), "{err}");
    assert_eq!(
        std::fs::read_dir(tools.path()).unwrap().count(),
        0,
        "something was installed"
    );
}

#[test]
fn install_with_everything_present_installs_nothing() {
    let p = Project::with_config(&script_config(LINUX_AMD64, crate::support::WRITE_BINARY));
    let (code, out, err) = run(p
        .matrix(&["doctor", "--install", "--yes"])
        .stdin(std::process::Stdio::null()));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("nothing to install"), "{out}");
    assert!(!out.contains("==>"), "it ran something: {out}");
    assert!(
        out.contains("every toolchain the targets need is installed"),
        "{out}"
    );
}

/// The zig wrapper of the machine's tool cache (made by scripts/setup.sh
/// through `matrix doctor --install`), or a skip (a failure in CI).
fn tool_cache_zig() -> Option<PathBuf> {
    let tools = std::env::var_os("MATRIX_TOOLS")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/matrix-tools")))?;
    let zig = tools.join("bin/zig");
    if zig.is_file() {
        return Some(tools);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let hint =
        "run `matrix doctor --install` in examples/hello-c (or scripts/install-toolchains.sh)";
    assert!(!ci, "zig in matrix's tool cache is required in CI: {hint}");
    eprintln!("SKIP: no zig in {}: {hint}", zig.display());
    None
}

#[test]
fn zig_only_in_the_tool_cache_builds() {
    let Some(tools) = tool_cache_zig() else {
        return;
    };
    let p = Project::with_config(&script_config(
        LINUX_AMD64,
        // `$CC` is `zig cc ...`: the shell inside the job must find zig
        // on the PATH matrix gives it. musl: static, and in zig's warm cache.
        r#"preset = "zig-cc"
env = { CC = "zig cc -target x86_64-linux-musl" }
command = ["sh", "-c", "$CC -o \"$0\" hello.c", "{{ out }}/{{ bin }}"]"#,
    ));
    p.file(
        "hello.c",
        "#include <stdio.h>\nint main(void) { puts(\"hello from zig\"); return 0; }\n",
    );
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    let path = path_without("zig");
    let mut doctor = p.matrix(&["doctor"]);
    doctor.env("MATRIX_TOOLS", &tools).env("PATH", &path);
    let (code, out, err) = run(&mut doctor);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("matrix's tool cache"), "{out}");
    let mut build = p.matrix(&["build"]);
    build.env("MATRIX_TOOLS", &tools).env("PATH", &path);
    let (code, out, err) = run(&mut build);
    assert_eq!(code, 0, "{out}\n{err}");
    let binary = p.dist().join("build/linux-amd64/hello");
    let ran = std::process::Command::new(&binary).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout),
        "hello from zig\n",
        "{}",
        binary.display()
    );
}

#[test]
fn a_container_target_is_checked_in_its_image() {
    if !crate::containers::require_engine() {
        return;
    }
    let p = Project::with_config(&script_config(
        LINUX_AMD64,
        &format!(
            "container = \"{}\"\ncommand = \"nonexistent-prog-xyz {{{{ out }}}}/{{{{ bin }}}}\"",
            crate::containers::BUSYBOX
        ),
    ));
    let (code, out, err) = run(&mut p.matrix(&["build"]));
    assert_eq!(code, 2, "{out}\n{err}");
    // (The diagnostic wraps long lines.)
    let err = err.replace("\n  | ", "");
    assert!(
        err.contains(&format!(
            "linux/amd64: nonexistent-prog-xyz (for command): not found in image {}",
            crate::containers::BUSYBOX
        )),
        "{err}"
    );
    // The fix is in the image, which `doctor --install` cannot change.
    let flat = err.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("programs missing from container images")
            && flat.contains("use an image that has them")
            && !flat.contains("doctor --install"),
        "{err}"
    );
    assert_no_job_ran(&p);
    let (code, out, err) = run(&mut p.matrix(&["doctor"]));
    assert_eq!(code, 1, "{out}\n{err}");
    let row = out
        .lines()
        .find(|l| l.contains("nonexistent-prog-xyz"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("MISSING"), "{row}");
}

#[test]
fn install_puts_zig_from_pypi_into_the_tool_cache_and_builds_with_it() {
    // A real install: a venv, ziglang from PyPI, the wrapper; then a build
    // that finds zig only there.
    let tools = tempfile::tempdir().unwrap();
    let p = Project::with_config(&script_config(
        r#"os = ["darwin"]
arch = ["arm64"]"#,
        r#"preset = "zig-cc"
command = ["sh", "-c", "$CC -O2 -o \"$0\" hello.c", "{{ out }}/{{ bin }}"]"#,
    ));
    p.file(
        "hello.c",
        "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n",
    );
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    let path = path_without("zig");
    let (code, out, err) = run(p
        .matrix(&["doctor", "--install", "--yes"])
        .env("MATRIX_TOOLS", tools.path())
        .env("PATH", &path)
        .stdin(std::process::Stdio::null()));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("pip install"), "{out}");
    assert!(
        out.contains("warm: zig cc -target aarch64-macos: ok"),
        "{out}"
    );
    let wrapper = tools.path().join("bin/zig");
    let version = std::process::Command::new(&wrapper)
        .arg("version")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), "0.15.2");
    // Installed: a second run has nothing to do.
    let (code, out, err) = run(p
        .matrix(&["doctor", "--install", "--yes"])
        .env("MATRIX_TOOLS", tools.path())
        .env("PATH", &path)
        .stdin(std::process::Stdio::null()));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!out.contains("pip install"), "{out}");
    let (code, out, err) = run(p
        .matrix(&["build"])
        .env("MATRIX_TOOLS", tools.path())
        .env("PATH", &path));
    assert_eq!(code, 0, "{out}\n{err}");
    // A Mach-O arm64 executable: its magic and CPU type.
    let binary = std::fs::read(p.dist().join("build/darwin-arm64/hello")).unwrap();
    assert_eq!(
        binary[..8],
        [0xcf, 0xfa, 0xed, 0xfe, 0x0c, 0x00, 0x00, 0x01]
    );
}

#[test]
fn a_program_installed_off_path_is_pointed_at() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("go/bin");
    std::fs::create_dir_all(&bin).unwrap();
    let tool = bin.join("matrix-offpath-tool");
    std::fs::write(&tool, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = Project::with_config(&script_config(
        LINUX_AMD64,
        r#"command = "matrix-offpath-tool {{ out }}/{{ bin }}""#,
    ));
    let (code, out, err) = run(p.matrix(&["doctor"]).env("HOME", home.path()));
    assert_eq!(code, 1, "{out}\n{err}");
    let row = out
        .lines()
        .find(|l| l.contains("matrix-offpath-tool"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("MISSING"), "{row}");
    assert!(
        row.contains(&format!(
            "installed at {} but that folder is not on PATH; add it: export PATH=\"{}:$PATH\"",
            tool.display(),
            bin.display()
        )),
        "{row}"
    );
    let (code, _, err) = run(p.matrix(&["build"]).env("HOME", home.path()));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not on PATH"), "{err}");
}

/// The Debian base scripts/setup-containers.sh makes with debootstrap.
const DEBIAN: &str = "matrix-base/debian:bookworm";

#[test]
fn install_runs_apt_get_in_a_fresh_debian() {
    // A fresh machine, as a container: git only, no Go. Not root and no
    // sudo, matrix prints the command and installs nothing; as root it
    // installs golang-go with one apt-get call.
    if !crate::containers::require_engine() {
        return;
    }
    let has_base = std::process::Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", DEBIAN])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        has_base,
        "{DEBIAN} is missing: run `bash scripts/setup-containers.sh`"
    );
    let p = Project::with_config(&script_config(
        LINUX_AMD64,
        r#"command = "go build -o {{ out }}/{{ bin }} .""#,
    ));
    // The user `nobody` in the container reads the project.
    use std::os::unix::fs::PermissionsExt;
    let parent = p.path().parent().unwrap();
    std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = r#"set -e
apt-get -qq update >/dev/null
apt-get install -y -qq --no-install-recommends git >/dev/null
git config --system --add safe.directory '*'
cd /src
echo '--- nobody'
if su nobody -s /bin/sh -c 'matrix doctor --install --yes'; then echo 'nobody: exit 0'; fi
echo '--- root'
matrix doctor --install --yes
echo "go: $(command -v go)"
"#;
    let out = std::process::Command::new("docker")
        .args(["run", "--rm", "--volume"])
        .arg(format!(
            "{}:/usr/local/bin/matrix:ro",
            assert_cmd::cargo::cargo_bin("matrix").display()
        ))
        .arg("--volume")
        .arg(format!("{}:/src", p.path().display()))
        .args([DEBIAN, "sh", "-c", script])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    let (nobody, root) = text
        .split_once("--- root")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(!nobody.contains("nobody: exit 0"), "{text}");
    assert!(
        nobody.contains("not root and no sudo; as root, run: sudo apt-get install -y --no-install-recommends golang-go"),
        "{text}"
    );
    assert!(!nobody.contains("==> "), "nobody ran something: {text}");
    assert!(
        root.contains(
            "apt-get -o 'DPkg::Lock::Timeout=300' install -y --no-install-recommends golang-go"
        ),
        "{text}"
    );
    assert!(
        root.contains("every toolchain the targets need is installed"),
        "{text}"
    );
    assert!(root.contains("go: /usr/bin/go"), "{text}");
}

#[test]
fn a_tool_cache_every_user_can_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    // The attack: any user drops a `zig` into a shared cache's bin, which
    // build jobs get on their PATH.
    let tools = tempfile::tempdir().unwrap();
    let bin = tools.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let zig = bin.join("zig");
    std::fs::write(&zig, "#!/bin/sh\necho planted\n").unwrap();
    mode(&zig, 0o755);
    mode(tools.path(), 0o755);
    mode(&bin, 0o777);
    let p = Project::with_config(&script_config(
        LINUX_AMD64,
        r#"preset = "zig-cc"
command = ["sh", "-c", "zig version > \"$0\"", "{{ out }}/{{ bin }}"]"#,
    ));
    p.git(&["tag", "-f", "v1.2.3"]);
    let path = path_without("zig");
    let mut doctor = p.matrix(&["doctor"]);
    doctor.env("MATRIX_TOOLS", tools.path()).env("PATH", &path);
    let (code, out, err) = run(&mut doctor);
    assert_eq!(code, 1, "{out}\n{err}");
    let row = out
        .lines()
        .find(|l| l.contains("zig") && l.contains("MISSING"))
        .unwrap_or_else(|| panic!("{out}\n{err}"));
    assert!(row.starts_with("linux/amd64"), "{row}");
    assert!(
        err.contains("not using") && err.contains("writable by every user"),
        "{err}"
    );
    assert_eq!(err.matches("not using").count(), 1, "warned once: {err}");
    let mut build = p.matrix(&["build"]);
    build.env("MATRIX_TOOLS", tools.path()).env("PATH", &path);
    let (code, out, err) = run(&mut build);
    assert_eq!(code, 2, "{out}\n{err}");
    assert_no_job_ran(&p);
    // The same cache, closed to others, is used.
    mode(&bin, 0o755);
    let mut doctor = p.matrix(&["doctor"]);
    doctor.env("MATRIX_TOOLS", tools.path()).env("PATH", &path);
    let (code, out, err) = run(&mut doctor);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("matrix's tool cache"), "{out}");
}
