//! The pre-build check of a plan's images: each Dockerfile parsed, the
//! ones matrix assembles itself told from the ones the engine builds, and
//! qemu emulation checked for the engine's RUN steps on a foreign platform.
//!
//! Part of `toolchain`, beside the checks of programs: like them it looks at
//! this machine before any job runs. The Dockerfiles themselves are
//! `image`'s.

use std::path::{Path, PathBuf};

use crate::config::NativeMode;
use crate::image::dockerfile;
use crate::plan::Plan;

/// Why the images of a plan cannot be built on this machine, found before
/// any job starts.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PrecheckError {
    #[error("cannot read the Dockerfile {}: {source}", path.display())]
    #[diagnostic(
        code(matrix::image::dockerfile),
        help("check [images] dockerfile; the path is relative to matrix.toml's folder")
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Dockerfile(#[from] dockerfile::DockerfileError),
    #[error(
        "image {image} for {platform}: {} has RUN steps, which need {arch} emulation, and this machine has none",
        dockerfile.display()
    )]
    #[diagnostic(
        code(matrix::image::emulation),
        help(
            "install qemu-user-static and binfmt-support (Debian/Ubuntu: apt-get install qemu-user-static binfmt-support) so /proc/sys/fs/binfmt_misc/qemu-{qemu} is enabled, or drop the RUN steps"
        )
    )]
    NoEmulation {
        image: String,
        platform: String,
        dockerfile: PathBuf,
        arch: String,
        qemu: String,
    },
    #[error("image {image}: {} needs an engine ({why}), but [images] native = \"always\"", dockerfile.display())]
    #[diagnostic(
        code(matrix::image::not_native),
        help(
            "set native = \"auto\", or keep the Dockerfile to FROM scratch with COPY, ENV, LABEL, ENTRYPOINT, CMD, WORKDIR, USER and EXPOSE"
        )
    )]
    NotNative {
        image: String,
        dockerfile: PathBuf,
        why: String,
    },
}

/// Parses every image Dockerfile and, for the ones the engine builds on a
/// foreign platform with RUN steps, checks that qemu-user emulation is
/// registered with binfmt_misc. Returns whether any image needs the engine
/// (the others matrix assembles itself).
pub fn precheck(plan: &Plan) -> Result<bool, PrecheckError> {
    precheck_with(plan, Path::new(BINFMT_DIR))
}

/// Where the kernel lists binfmt_misc handlers.
const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";

fn precheck_with(plan: &Plan, binfmt: &Path) -> Result<bool, PrecheckError> {
    let Some(images) = &plan.images else {
        return Ok(false);
    };
    let mut needs_engine = false;
    for variant in &images.variants {
        for p in &variant.platforms {
            let text =
                std::fs::read_to_string(&p.dockerfile).map_err(|source| PrecheckError::Read {
                    path: p.dockerfile.clone(),
                    source,
                })?;
            let parsed = dockerfile::parse(&text, &p.dockerfile, &p.args)?;
            let blocker = parsed.native_blocker();
            let native = match (images.native, blocker) {
                (NativeMode::Never, _) => false,
                (NativeMode::Auto, b) => b.is_none(),
                (NativeMode::Always, None) => true,
                (NativeMode::Always, Some(why)) => {
                    return Err(PrecheckError::NotNative {
                        image: variant.id.clone(),
                        dockerfile: p.dockerfile.clone(),
                        why,
                    });
                }
            };
            needs_engine |= !native;
            if native || !parsed.needs_run() {
                continue;
            }
            let target = &plan.targets[p.target];
            let Some(platform) = target.platform else {
                continue;
            };
            if crate::target::runs_natively(platform) {
                continue;
            }
            let qemu = platform.qemu.unwrap_or(platform.arch);
            if !binfmt_enabled(binfmt, qemu) {
                return Err(PrecheckError::NoEmulation {
                    image: variant.id.clone(),
                    platform: p.platform.clone(),
                    dockerfile: p.dockerfile.clone(),
                    arch: p.arch.clone(),
                    qemu: qemu.to_string(),
                });
            }
        }
    }
    Ok(needs_engine)
}

/// Whether binfmt_misc has an enabled qemu handler for `qemu` (`aarch64`).
fn binfmt_enabled(dir: &Path, qemu: &str) -> bool {
    std::fs::read_to_string(dir.join(format!("qemu-{qemu}")))
        .is_ok_and(|s| s.lines().next() == Some("enabled"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config;

    /// A project with one image whose Dockerfile is `dockerfile`, for
    /// linux/amd64 and linux/arm64, planned with `native`.
    fn plan(dir: &Path, dockerfile: &str, native: &str) -> Plan {
        std::fs::write(dir.join("img.Dockerfile"), dockerfile).unwrap();
        let text = format!(
            "[project]\nname = \"p\"\n[matrix]\nos = [\"linux\"]\narch = [\"amd64\", \"arm64\"]\n\
             [build]\ncommand = \"make\"\nbinary = \"p\"\n\
             [images]\nrepositories = [\"r/p\"]\ndockerfile = \"img.Dockerfile\"\nnative = \"{native}\"\n\
             [images.matrix]\nplatform = [\"linux/amd64\", \"linux/arm64\"]\n"
        );
        let loaded = config::parse(&dir.join("matrix.toml"), text).unwrap();
        let req = crate::plan::Request {
            version: crate::plan::tests::version(),
            root: dir.to_path_buf(),
            dist: dir.join("dist"),
            filters: vec![],
            env: BTreeMap::new(),
            push: false,
            oci_archives: false,
            images: true,
            has_changelog: false,
        };
        crate::plan::build(&loaded, &req).unwrap()
    }

    const RUN: &str = "FROM base\nCOPY p /p\nRUN /p --version\n";

    #[test]
    fn run_steps_on_a_foreign_platform_need_a_binfmt_handler() {
        let dir = tempfile::tempdir().unwrap();
        let binfmt = dir.path().join("binfmt");
        std::fs::create_dir(&binfmt).unwrap();
        let p = plan(dir.path(), RUN, "auto");
        match precheck_with(&p, &binfmt) {
            Err(PrecheckError::NoEmulation { platform, qemu, .. }) => {
                assert_eq!(platform, "linux/arm64");
                assert_eq!(qemu, "aarch64");
            }
            other => panic!("expected NoEmulation, got {other:?}"),
        }
        std::fs::write(binfmt.join("qemu-aarch64"), "disabled\ninterpreter x\n").unwrap();
        assert!(
            precheck_with(&p, &binfmt).is_err(),
            "a disabled handler does not count"
        );
        std::fs::write(binfmt.join("qemu-aarch64"), "enabled\ninterpreter x\n").unwrap();
        assert!(precheck_with(&p, &binfmt).unwrap(), "the engine builds it");
    }

    #[test]
    fn copy_only_images_need_neither_engine_nor_emulation() {
        let dir = tempfile::tempdir().unwrap();
        let p = plan(
            dir.path(),
            "FROM scratch\nCOPY p /p\nENTRYPOINT [\"/p\"]\n",
            "auto",
        );
        assert!(!precheck_with(&p, dir.path()).unwrap());
        // Without a distro axis the image is the default one: the bare
        // version, and `latest` for a final release.
        assert_eq!(
            p.images.as_ref().unwrap().variants[0].tags,
            ["1.2.3", "latest"]
        );
        let p = plan(dir.path(), "FROM scratch\nCOPY p /p\n", "never");
        assert!(
            precheck_with(&p, dir.path()).unwrap(),
            "native = never uses the engine"
        );
        let p = plan(dir.path(), RUN, "always");
        assert!(matches!(
            precheck_with(&p, dir.path()),
            Err(PrecheckError::NotNative { .. })
        ));
        let p = plan(dir.path(), "FROM scratch\nCOPY\n", "auto");
        assert!(matches!(
            precheck_with(&p, dir.path()),
            Err(PrecheckError::Dockerfile(_))
        ));
    }
}
