//! install.sh (`kind = "shell"`) on the real example: shellcheck has
//! nothing to say; served from 127.0.0.1, the script installs the host's
//! build under dash, bash and busybox ash, and the linux/arm64 build in
//! the busybox arm64 image under qemu, and the installed binaries run; a
//! tampered archive or checksums file stops it with a checksum error and
//! nothing installed; a platform the release has no build for gets a clear
//! message; and the script of examples/hello-go is snapshotted.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::cross::example;
use crate::support::{Project, require, run};

/// examples/hello-go with its channels replaced by one install.sh channel
/// whose downloads are `url` + the file name.
fn project(url: &str) -> Project {
    let p = example("hello-go");
    let config = std::fs::read_to_string(p.dir.join("matrix.toml")).unwrap();
    let head = &config[..config.find("\n[release]").unwrap()];
    p.file(
        "matrix.toml",
        &format!(
            "{head}\n[release]\nurl = \"{url}{{{{ artifact }}}}\"\n\n[channels.install]\nkind = \"shell\"\n"
        ),
    );
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    p
}

fn build(p: &Project, targets: &[&str]) {
    let mut args = vec!["build"];
    for t in targets {
        args.extend(["--target", t]);
    }
    let (code, out, err) = run(&mut p.matrix(&args));
    assert_eq!(code, 0, "{out}\n{err}");
}

/// Serves the files of `root` (plain names only) over HTTP/1.0 on a port
/// of 127.0.0.1, for as long as the test runs; returns the port.
fn serve(root: PathBuf) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let root = root.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line.trim().is_empty() => break,
                        Ok(_) => {}
                    }
                }
                let name = request
                    .split(' ')
                    .nth(1)
                    .and_then(|path| path.strip_prefix('/'))
                    .unwrap_or("");
                let plain = !name.is_empty() && !name.starts_with('.') && !name.contains('/');
                let body = if plain {
                    std::fs::read(root.join(name)).ok()
                } else {
                    None
                };
                let _ = match body {
                    Some(body) => stream
                        .write_all(
                            format!(
                                "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            )
                            .as_bytes(),
                        )
                        .and_then(|()| stream.write_all(&body)),
                    None => stream.write_all(
                        b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    ),
                };
            });
        }
    });
    port
}

/// Copies the release's top-level files (archives, checksums) into `to`.
fn publish(dist: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(dist).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// The script run by `shell` (e.g. `["busybox", "ash"]`) with `args`,
/// `PATH` starting with `path_first` when given.
fn install(shell: &[&str], script: &Path, args: &[&str], path_first: Option<&Path>) -> Output {
    let mut cmd = Command::new(shell[0]);
    cmd.args(&shell[1..]).arg(script).args(args);
    cmd.env_remove("HELLO_INSTALL_DIR");
    if let Some(dir) = path_first {
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{path}", dir.display()));
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A `uname` that says `system` and `machine`, in a folder of its own.
fn fake_uname(dir: &Path, system: &str, machine: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join(format!("uname-{system}-{machine}"));
    std::fs::create_dir_all(&bin).unwrap();
    let file = bin.join("uname");
    std::fs::write(
        &file,
        format!("#!/bin/sh\ncase \"$1\" in\n-s) echo {system} ;;\n-m) echo {machine} ;;\n*) echo {system} ;;\nesac\n"),
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn tools_present() -> bool {
    require("go", "apt-get install golang-go")
        && require("shellcheck", "apt-get install shellcheck")
        && require("dash", "apt-get install dash")
        && require("busybox", "apt-get install busybox-static")
        && require("curl", "apt-get install curl")
}

#[test]
fn install_sh_installs_the_release_and_refuses_a_tampered_one() {
    if !tools_present() {
        return;
    }
    let served = tempfile::tempdir().unwrap();
    let port = serve(served.path().to_path_buf());
    let p = project(&format!("http://127.0.0.1:{port}/"));
    build(&p, &["linux/amd64", "linux/arm64"]);
    let dist = p.dist();
    publish(&dist, served.path());
    let script = dist.join("shell/install.sh");

    // An artifact of the release: in the checksums file and the manifest.
    let sums = std::fs::read_to_string(dist.join("hello_1.2.3_checksums.txt")).unwrap();
    assert!(sums.contains("  shell/install.sh\n"), "{sums}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dist.join("manifest.json")).unwrap()).unwrap();
    let record = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "shell/install.sh")
        .unwrap_or_else(|| panic!("no install.sh in {manifest}"));
    assert_eq!(record["kind"], "channel", "{record}");

    let out = Command::new("shellcheck")
        .args(["-s", "sh"])
        .arg(&script)
        .output()
        .unwrap();
    assert!(out.status.success(), "shellcheck: {}", text(&out));

    // The host's build, under each shell, then run.
    let home = tempfile::tempdir().unwrap();
    for shell in [&["dash"][..], &["bash"], &["busybox", "ash"]] {
        let prefix = home.path().join(shell.join("-")).join("bin");
        let out = install(
            shell,
            &script,
            &["--prefix", prefix.to_str().unwrap()],
            None,
        );
        assert!(out.status.success(), "{shell:?}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("downloading hello 1.2.3 for linux/amd64")
                && stderr.contains(&format!(
                    "installed hello 1.2.3 as {}/hello",
                    prefix.display()
                )),
            "{shell:?}: {stderr}"
        );
        let ran = Command::new(prefix.join("hello"))
            .arg("--version")
            .output()
            .unwrap();
        assert!(ran.status.success(), "{shell:?}: {}", text(&ran));
        assert!(
            String::from_utf8_lossy(&ran.stdout).contains("1.2.3"),
            "{shell:?}: {}",
            text(&ran)
        );
        let installed = std::fs::read_dir(&prefix).unwrap().count();
        assert_eq!(installed, 1, "{shell:?}: only the executable is left");
    }
    // HELLO_INSTALL_DIR sets the folder; `-h` prints the help.
    let by_env = home.path().join("env-bin");
    let out = Command::new("dash")
        .arg(&script)
        .env("HELLO_INSTALL_DIR", &by_env)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(by_env.join("hello").is_file());
    let out = install(&["dash"], &script, &["-h"], None);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && help.contains("--prefix DIR")
            && help.contains("Builds: linux/amd64, linux/arm64"),
        "{help}"
    );

    // uname's other spelling of a CPU picks the same build.
    let fakes = tempfile::tempdir().unwrap();
    let arm = fake_uname(fakes.path(), "Linux", "arm64");
    let prefix = home.path().join("arm-bin");
    let out = install(
        &["dash"],
        &script,
        &["--prefix", prefix.to_str().unwrap()],
        Some(&arm),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("for linux/arm64"),
        "{}",
        text(&out)
    );
    let file = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "od -An -tx1 -j18 -N2 {}",
            prefix.join("hello").display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&file.stdout).trim(),
        "b7 00",
        "an aarch64 ELF"
    );

    // Platforms without a build: a clear message naming the builds, and a
    // failure.
    for (system, machine, named) in [
        ("Linux", "sparc64", "Linux sparc64, linux/sparc64"),
        ("Darwin", "arm64", "Darwin arm64, darwin/arm64"),
        ("MINGW64_NT-10.0", "x86_64", "MINGW64_NT-10.0 x86_64"),
    ] {
        let fake = fake_uname(fakes.path(), system, machine);
        let prefix = home.path().join(format!("none-{machine}"));
        // Not busybox ash: Debian's static busybox runs its own `uname`
        // applet ahead of PATH, so no fake can stand in for it there.
        for shell in [&["dash"][..], &["bash"]] {
            let out = install(
                shell,
                &script,
                &["--prefix", prefix.to_str().unwrap()],
                Some(&fake),
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{shell:?}: {}", text(&out));
            assert!(
                stderr.contains(&format!(
                    "install.sh: error: hello 1.2.3 has no build for this system ({named}"
                )) && stderr.contains("install.sh: builds: linux/amd64, linux/arm64\n"),
                "{shell:?}: {stderr}"
            );
            assert!(!prefix.exists(), "{shell:?}: nothing installed");
        }
    }

    // The linux/arm64 build in the busybox arm64 image under qemu: wget and
    // busybox's sha256sum, tar and gzip, the default prefix as root.
    if crate::containers::require_engine() {
        let image = "matrix-base/busybox:arm64";
        let out = Command::new("docker")
            .args([
                "run",
                "--rm",
                "--platform",
                "linux/arm64",
                "--network",
                "host",
                "-v",
            ])
            .arg(format!("{}:/install.sh:ro", script.display()))
            .args([
                image,
                "sh",
                "-c",
                "uname -m && ! command -v curl && sh /install.sh && /usr/local/bin/hello --version",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "busybox arm64: {}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stdout.starts_with("aarch64\n") && stdout.contains("1.2.3"),
            "{}",
            text(&out)
        );
        assert!(
            stderr.contains("for linux/arm64") && stderr.contains("as /usr/local/bin/hello"),
            "{}",
            text(&out)
        );
    }

    // A tampered archive: a checksum error, nothing installed, no
    // temporary folder left.
    let archive = served.path().join("hello_1.2.3_linux_amd64.tar.gz");
    let good = std::fs::read(&archive).unwrap();
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    std::fs::write(&archive, &bad).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for shell in [&["dash"][..], &["bash"], &["busybox", "ash"]] {
        let prefix = home.path().join("tampered");
        let mut cmd = Command::new(shell[0]);
        cmd.args(&shell[1..])
            .arg(&script)
            .args(["--prefix", prefix.to_str().unwrap()])
            .env("TMPDIR", tmp.path());
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{shell:?}: {}", text(&out));
        assert!(
            stderr.contains(
                "install.sh: error: checksum error: hello_1.2.3_linux_amd64.tar.gz has sha256 "
            ),
            "{shell:?}: {stderr}"
        );
        assert!(!prefix.exists(), "{shell:?}: nothing installed");
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "{shell:?}: temporary folder removed"
        );
    }
    // A checksums file that lists another digest: refused the same way.
    std::fs::write(&archive, &good).unwrap();
    let sums_file = served.path().join("hello_1.2.3_checksums.txt");
    let listed = sums
        .lines()
        .find(|l| l.ends_with("  hello_1.2.3_linux_amd64.tar.gz"))
        .unwrap();
    std::fs::write(
        &sums_file,
        sums.replace(
            listed,
            &format!("{}  hello_1.2.3_linux_amd64.tar.gz", "0".repeat(64)),
        ),
    )
    .unwrap();
    let prefix = home.path().join("bad-sums");
    let out = install(
        &["dash"],
        &script,
        &["--prefix", prefix.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("checksum error: ")
            && String::from_utf8_lossy(&out.stderr)
                .contains("does not list hello_1.2.3_linux_amd64.tar.gz"),
        "{}",
        text(&out)
    );
    assert!(!prefix.exists());
}

/// The script of examples/hello-go as released (its own [release] url):
/// snapshotted, and the same bytes when two shards are merged.
#[test]
fn hello_go_install_sh_snapshot_and_merge() {
    if !require("go", "apt-get install golang-go") {
        return;
    }
    let p = project("https://github.com/example/hello/releases/download/{{ tag }}/");
    build(&p, &[]);
    let single = std::fs::read(p.dist().join("shell/install.sh")).unwrap();
    let hex = regex::Regex::new(r"\b[0-9a-f]{64}\b").unwrap();
    insta::assert_snapshot!(
        "hello_go_install_sh",
        hex.replace_all(&String::from_utf8_lossy(&single), "[SHA256]")
    );

    // Two shards, then the merge: it renders the same script.
    let out = tempfile::tempdir().unwrap();
    let shards: Vec<PathBuf> = (1..=2)
        .map(|i| out.path().join(format!("shard-{i}")))
        .collect();
    for (i, dir) in shards.iter().enumerate() {
        let shard = format!("{}/2", i + 1);
        let (code, stdout, stderr) =
            run(&mut p.matrix(&["build", "--shard", &shard, "--dist", dir.to_str().unwrap()]));
        assert_eq!(code, 0, "shard {shard}: {stdout}\n{stderr}");
        assert!(
            !dir.join("shell").exists(),
            "a shard writes no channel file"
        );
    }
    let merged = out.path().join("merged");
    let mut args = vec!["merge"];
    args.extend(shards.iter().map(|d| d.to_str().unwrap()));
    args.extend(["--dist", merged.to_str().unwrap()]);
    let (code, stdout, stderr) = run(&mut p.matrix(&args));
    assert_eq!(code, 0, "merge: {stdout}\n{stderr}");
    assert_eq!(
        std::fs::read(merged.join("shell/install.sh")).unwrap(),
        single,
        "the merge renders the single build's script"
    );
    let sums = std::fs::read_to_string(merged.join("hello_1.2.3_checksums.txt")).unwrap();
    assert!(sums.contains("  shell/install.sh\n"), "{sums}");
}

/// Every archive format the script unpacks (tar.gz, tar.xz, tar.zst, zip
/// and a bare executable), each for the CPU a fake `uname -m` names, under
/// dash and bash; the executables are small scripts, so every one runs.
#[test]
fn install_sh_unpacks_every_format() {
    if !tools_present()
        || !require("xz", "apt-get install xz-utils")
        || !require("zstd", "apt-get install zstd")
        || !require("unzip", "apt-get install unzip")
    {
        return;
    }
    let served = tempfile::tempdir().unwrap();
    let port = serve(served.path().to_path_buf());
    let config = crate::support::script_config(
        "os = [\"linux\"]\narch = [\"amd64\", \"arm64\", \"riscv64\", \"386\", \"ppc64le\"]",
        crate::support::WRITE_BINARY,
    )
    .replace(
        "format-overrides = [ { when = { os = \"windows\" }, format = \"zip\" } ]",
        "format-overrides = [\n  { when = { arch = \"arm64\" }, format = \"tar.xz\" },\n  \
         { when = { arch = \"riscv64\" }, format = \"tar.zst\" },\n  \
         { when = { arch = \"386\" }, format = \"zip\" },\n  \
         { when = { arch = \"ppc64le\" }, format = \"binary\" },\n]\nwrap-in-directory = true",
    ) + &format!(
        "\n[release]\nurl = \"http://127.0.0.1:{port}/{{{{ artifact }}}}\"\nnotes = false\n\n\
         [channels.get]\nkind = \"shell\"\nscript-name = \"get-hello.sh\"\n"
    );
    let p = Project::with_config(&config);
    build(&p, &[]);
    publish(&p.dist(), served.path());
    let script = p.dist().join("shell/get-hello.sh");
    let out = Command::new("shellcheck")
        .args(["-s", "sh"])
        .arg(&script)
        .output()
        .unwrap();
    assert!(out.status.success(), "shellcheck: {}", text(&out));

    let fakes = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    for (machine, arch, format) in [
        ("x86_64", "amd64", "tar.gz"),
        ("aarch64", "arm64", "tar.xz"),
        ("riscv64", "riscv64", "tar.zst"),
        ("i686", "386", "zip"),
        ("ppc64le", "ppc64le", "binary"),
    ] {
        let fake = fake_uname(fakes.path(), "Linux", machine);
        for shell in [&["dash"][..], &["bash"]] {
            let prefix = home.path().join(format!("{}-{arch}", shell[0]));
            let out = install(
                shell,
                &script,
                &["--prefix", prefix.to_str().unwrap()],
                Some(&fake),
            );
            assert!(out.status.success(), "{format} {shell:?}: {}", text(&out));
            assert!(
                String::from_utf8_lossy(&out.stderr).starts_with(&format!(
                    "get-hello.sh: downloading hello 1.2.3 for linux/{arch}\n"
                )),
                "{format} {shell:?}: {}",
                text(&out)
            );
            let ran = Command::new(prefix.join("hello")).output().unwrap();
            assert_eq!(
                String::from_utf8_lossy(&ran.stdout),
                format!("hello linux/{arch}\n"),
                "{format} {shell:?}"
            );
        }
    }
}

/// A glibc and a musl build of linux/amd64: the plan takes both, and the
/// script installs the one the system's libc needs (a musl loader in
/// /lib, as on Alpine, in the busybox image); a third build of the
/// platform that names no libc is a plan error.
#[test]
fn install_sh_tells_glibc_from_musl() {
    if !tools_present() {
        return;
    }
    let served = tempfile::tempdir().unwrap();
    let port = serve(served.path().to_path_buf());
    let build_cmd = r#"command = ["sh", "-c", "printf '#!/bin/sh\necho hello {{ os }}/{{ arch }}/{{ libc }}\n' > \"$0\" && chmod +x \"$0\"", "{{ out }}/{{ bin }}"]"#;
    let config = crate::support::script_config(
        "os = [\"linux\"]\narch = [\"amd64\"]\nlibc = [\"gnu\", \"musl\"]",
        build_cmd,
    )
    .replace("{{ arch }}\"\n", "{{ arch }}_{{ libc }}\"\n")
        + &format!(
            "\n[release]\nurl = \"http://127.0.0.1:{port}/{{{{ artifact }}}}\"\nnotes = false\n\n\
             [channels.install]\nkind = \"shell\"\n"
        );
    let p = Project::with_config(&config);
    build(&p, &[]);
    publish(&p.dist(), served.path());
    let script = p.dist().join("shell/install.sh");
    let out = Command::new("shellcheck")
        .args(["-s", "sh"])
        .arg(&script)
        .output()
        .unwrap();
    assert!(out.status.success(), "shellcheck: {}", text(&out));
    let help = String::from_utf8_lossy(&install(&["dash"], &script, &["--help"], None).stdout)
        .into_owned();
    assert!(
        help.contains("Builds: linux/amd64 (gnu), linux/amd64 (musl)\n"),
        "{help}"
    );

    // This machine's glibc.
    let home = tempfile::tempdir().unwrap();
    for shell in [&["dash"][..], &["bash"], &["busybox", "ash"]] {
        let prefix = home.path().join(shell.join("-"));
        let out = install(
            shell,
            &script,
            &["--prefix", prefix.to_str().unwrap()],
            None,
        );
        assert!(out.status.success(), "{shell:?}: {}", text(&out));
        let ran = Command::new(prefix.join("hello")).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&ran.stdout),
            "hello linux/amd64/gnu\n",
            "{shell:?}"
        );
    }
    // A musl system: the busybox image with a musl loader in /lib.
    if crate::containers::require_engine() {
        let out = Command::new("docker")
            .args(["run", "--rm", "--network", "host", "-v"])
            .arg(format!("{}:/install.sh:ro", script.display()))
            .args([
                crate::containers::BUSYBOX,
                "sh",
                "-c",
                "mkdir -p /lib && touch /lib/ld-musl-x86_64.so.1 && sh /install.sh --prefix /opt/bin && /opt/bin/hello",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "busybox: {}", text(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hello linux/amd64/musl\n",
            "{}",
            text(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("for linux/amd64/musl"),
            "{}",
            text(&out)
        );
    }

    // A third linux/amd64 build that names no libc: which one is ambiguous.
    let three = config.replace(
        "libc = [\"gnu\", \"musl\"]",
        "libc = [\"gnu\", \"musl\", \"static\"]",
    );
    p.file("matrix.toml", &three);
    p.commit();
    p.git(&["tag", "-f", "v1.2.3"]);
    let (code, _, err) = run(&mut p.matrix(&["plan"]));
    assert_ne!(code, 0);
    assert!(
        err.contains("would both fill") && err.contains("linux/amd64/static"),
        "{err}"
    );
}
