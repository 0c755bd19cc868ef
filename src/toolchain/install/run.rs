//! Running what `compose` decided: apt-get, zig's venv and wrapper, the
//! binfmt_misc handlers, zig's cache. Each step prints its command line and
//! how long it took; a failure is a problem to report, not a stop, so one
//! run shows everything that is still wrong.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{BINFMT, Install, Privilege, apt_argv};
use crate::preset::{ZIG_VERSION, apt_command};
use crate::process::{Stream, find_program, tool};

/// Runs the install; returns the problems (empty when all went well).
pub fn run(install: &Install) -> Vec<String> {
    let mut problems = Vec::new();
    if !install.packages.is_empty() {
        let privilege = install.privilege.as_ref().unwrap_or(&Privilege::None);
        match apt_argv(privilege, &install.packages) {
            Some(argv) => {
                if let Err(e) = apt_install(&argv) {
                    problems.push(e);
                }
            }
            None => problems.push(format!(
                "the Debian packages {} are not installed (not root, no sudo): run {}",
                install.packages.join(" "),
                apt_command(&install.packages)
            )),
        }
    }
    if let Some(problem) = &install.zig_problem {
        problems.push(problem.clone());
    }
    if let Some((tools, python)) = &install.zig {
        let python = python.clone().or_else(find_python);
        match python {
            Some(python) => {
                if let Err(e) = install_zig(tools, &python) {
                    problems.push(e);
                }
            }
            None => problems.push(
                "no Python with the venv and ensurepip modules, needed to install zig from PyPI: apt-get install python3-venv".into(),
            ),
        }
    }
    for name in &install.binfmt {
        if let Err(e) = register_binfmt(name) {
            // Optional: smoke runs call qemu-<arch>-static explicitly.
            println!("binfmt: {e}");
        }
    }
    if !install.warm.is_empty()
        && let Err(e) = warm_zig(&install.warm)
    {
        problems.push(e);
    }
    problems
}

/// One step, its output going to the user's terminal, its time printed.
fn step(what: &str, argv: &[String], env: &[(&str, &str)]) -> Result<(), String> {
    let (program, args) = argv.split_first().ok_or("empty command")?;
    println!("==> {}", shell_words::join(argv));
    let started = Instant::now();
    let status = tool(program, args, env, Stream::Inherit, Stream::Inherit)
        .map_err(|e| format!("{what}: cannot start {program}: {e}"))?
        .status;
    println!(
        "<== {what}: {status} ({:.1}s)",
        started.elapsed().as_secs_f64()
    );
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status}): see its output above"))
    }
}

/// `apt-get install`; when it fails (fresh containers ship no package
/// lists), `apt-get update` and once more.
fn apt_install(argv: &[String]) -> Result<(), String> {
    if step("apt-get install", argv, &[]).is_ok() {
        return Ok(());
    }
    let at = argv.iter().position(|w| w == "apt-get").unwrap_or(0);
    let mut update: Vec<String> = argv[..=at].to_vec();
    update.push("update".into());
    step("apt-get update", &update, &[])?;
    step("apt-get install", argv, &[])
}

/// The first Python that can make a venv with pip in it.
pub(super) fn find_python() -> Option<PathBuf> {
    let from_env = std::env::var_os("MATRIX_PYTHON")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let candidates = from_env
        .into_iter()
        .chain([PathBuf::from("/usr/bin/python3")])
        .chain(find_program("python3"));
    candidates.into_iter().find(|py| {
        tool(
            py,
            ["-c", "import venv, ensurepip"],
            &[],
            Stream::Discard,
            Stream::Discard,
        )
        .is_ok_and(|o| o.status.success())
    })
}

/// zig from PyPI into `<tools>/zig-venv`, with the wrapper `<tools>/bin/zig`.
/// A venv whose Python went away (a pyenv version removed) is made anew.
fn install_zig(tools: &Path, python: &Path) -> Result<(), String> {
    let venv = tools.join("zig-venv");
    let venv_python = venv.join("bin/python");
    let s = |p: &Path| p.display().to_string();
    // The cache and the venv's Python are checked before anything in them
    // runs: another user who can write there could have put a `python`.
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(tools)
            .map_err(|e| format!("{}: {e}", tools.display()))?;
    }
    let untrusted = crate::process::untrusted;
    if let Some(why) = untrusted(&tools.join("bin").join("zig")).or_else(|| untrusted(&venv_python))
    {
        return Err(format!("not installing zig: {why}"));
    }
    let works = tool(
        &venv_python,
        ["-c", ""],
        &[],
        Stream::Inherit,
        Stream::Discard,
    )
    .is_ok_and(|o| o.status.success());
    if !works {
        step(
            "python -m venv",
            &[
                s(python),
                "-m".into(),
                "venv".into(),
                "--clear".into(),
                s(&venv),
            ],
            &[],
        )?;
    }
    step(
        "pip install ziglang",
        &[
            s(&venv_python),
            "-m".into(),
            "pip".into(),
            "install".into(),
            "--no-input".into(),
            "-q".into(),
            format!("ziglang=={ZIG_VERSION}"),
        ],
        &[("PIP_DISABLE_PIP_VERSION_CHECK", "1")],
    )?;
    let bin = tools.join("bin");
    {
        use std::os::unix::fs::DirBuilderExt;
        // Not writable by others whatever the umask: build jobs run from it.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&bin)
            .map_err(|e| format!("{}: {e}", bin.display()))?;
    }
    if let Some(why) = crate::process::untrusted(&bin.join("zig")) {
        return Err(format!("not writing the zig wrapper: {why}"));
    }
    let wrapper = bin.join("zig");
    write_wrapper(&wrapper, &venv_python).map_err(|e| format!("{}: {e}", wrapper.display()))?;
    let out = tool(&wrapper, ["version"], &[], Stream::Capture, Stream::Capture)
        .map_err(|e| format!("{}: {e}", wrapper.display()))?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if version != ZIG_VERSION {
        return Err(format!(
            "the zig wrapper {} reports {version:?}, not {ZIG_VERSION}: {}",
            wrapper.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    println!("zig {ZIG_VERSION}: {}", wrapper.display());
    Ok(())
}

/// The wrapper names the venv's Python by absolute path, so `zig` works
/// from any folder and whatever python3 PATH finds first. Written to a
/// temporary name and renamed, so a half-written wrapper never runs.
pub fn write_wrapper(wrapper: &Path, venv_python: &Path) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let text = wrapper_text(venv_python);
    let dir = wrapper.parent().unwrap_or(Path::new("."));
    // A fresh, unpredictable name opened with O_EXCL: a symlink planted at
    // the temporary name is never followed.
    let mut tmp = tempfile::Builder::new()
        .prefix(".zig-wrapper-")
        .tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o755))?;
    tmp.persist(wrapper).map(|_| ()).map_err(|e| e.error)
}

pub fn wrapper_text(venv_python: &Path) -> String {
    let python = venv_python.display().to_string();
    format!(
        "#!/bin/sh\n# Written by matrix doctor --install: zig {ZIG_VERSION} from PyPI (ziglang).\nexec {} -m ziglang \"$@\"\n",
        shell_words::quote(&python)
    )
}

/// Lets the kernel run foreign Linux binaries directly through qemu:
/// binfmt-support's database first, else the line qemu-user-static ships
/// for systemd-binfmt, written straight into the register file.
fn register_binfmt(name: &str) -> Result<(), String> {
    let dir = Path::new(BINFMT);
    if !dir.join("register").exists() {
        let _ = tool(
            "mount",
            ["-t", "binfmt_misc", "binfmt_misc", BINFMT],
            &[],
            Stream::Inherit,
            Stream::Discard,
        );
        if !dir.join("register").exists() {
            return Err(format!(
                "cannot mount binfmt_misc on {BINFMT} (a container usually forbids it); not registering {name}"
            ));
        }
    }
    if Path::new("/usr/share/binfmts").join(name).exists()
        && find_program("update-binfmts").is_some()
    {
        let _ = tool(
            "update-binfmts",
            ["--enable", name],
            &[],
            Stream::Discard,
            Stream::Discard,
        );
    }
    if !dir.join(name).exists() {
        let conf = Path::new("/usr/lib/binfmt.d").join(format!("{name}.conf"));
        let line = std::fs::read_to_string(&conf).ok().and_then(|t| {
            t.lines()
                .find(|l| !l.starts_with(['#', ';']) && !l.trim().is_empty())
                .map(str::to_string)
        });
        if let Some(line) = line {
            let _ = std::fs::write(dir.join("register"), line);
        }
    }
    if dir.join(name).exists() {
        println!("binfmt: registered {name}");
        Ok(())
    } else {
        Err(format!("could not register {name} (the kernel refused)"))
    }
}

/// zig builds libc (musl, the macOS stubs) and compiler_rt for a target the
/// first time it links for it: minutes on a cold cache, which a build job
/// with a timeout must not pay. Linking a tiny C program once per target
/// fills zig's global cache; warm, it takes a second per target. (A build
/// with other flags, -O0 say, still builds its own libc once.)
fn warm_zig(targets: &[String]) -> Result<(), String> {
    let zig = find_program("zig").ok_or("zig is still not installed; cannot warm its cache")?;
    let tmp = tempfile::tempdir().map_err(|e| format!("a temporary folder: {e}"))?;
    let src = tmp.path().join("hello.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n",
    )
    .map_err(|e| format!("{}: {e}", src.display()))?;
    let started = Instant::now();
    let mut failed = Vec::new();
    for target in targets {
        // zig caches libc per optimisation mode and link mode: warm the
        // ones a release build uses (-O2; static, except on macOS, whose
        // system libraries link only dynamically).
        let mut args = vec!["cc", "-target", target, "-O2"];
        if !target.contains("macos") {
            args.push("-static");
        }
        args.push("-o");
        let mut args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
        args.push(tmp.path().join(format!("hello-{target}")).into());
        args.push(src.clone().into());
        let out = tool(&zig, args, &[], Stream::Capture, Stream::Capture);
        match out {
            Ok(o) if o.status.success() => println!("warm: zig cc -target {target}: ok"),
            Ok(o) => {
                for line in String::from_utf8_lossy(&o.stderr).lines().take(20) {
                    println!("warm: zig {target}: {line}");
                }
                failed.push(target.clone());
            }
            Err(e) => {
                println!("warm: zig {target}: {e}");
                failed.push(target.clone());
            }
        }
    }
    println!(
        "warm: zig's cache holds libc for {} ({:.1}s)",
        crate::human::count(targets.len() - failed.len(), "target", "targets"),
        started.elapsed().as_secs_f64()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "zig could not link a C program for {} (see the warm lines above)",
            failed.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zig_is_not_installed_into_a_cache_others_can_write_to() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let tools = tmp.path().join("tools");
        let venv_bin = tools.join("zig-venv/bin");
        std::fs::create_dir_all(&venv_bin).unwrap();
        // A `python` someone else planted: it must never run.
        let marker = tmp.path().join("ran");
        let planted = venv_bin.join("python");
        std::fs::write(
            &planted,
            format!(
                "#!/bin/sh\ntouch {}\n",
                shell_words::quote(&marker.display().to_string())
            ),
        )
        .unwrap();
        std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&venv_bin, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = install_zig(&tools, Path::new("/nonexistent/python3")).unwrap_err();
        assert!(err.contains("writable by every user"), "{err}");
        assert!(!marker.exists(), "the planted python ran");
        assert!(!tools.join("bin/zig").exists());
    }
}
