//! Joined targets: `[universal] darwin = true` adds `darwin/universal`,
//! whose build joins the darwin/amd64 and darwin/arm64 binaries into one
//! universal Mach-O instead of running a command.
//!
//! Part of `plan`, so pure. The joined target is an ordinary [`Target`]
//! after the matrix's own (so its archive, SBOM, checksums line, manifest
//! record and channels come from the same code), marked by
//! [`Target::joins`]: its build job needs the two thin builds, `--shard`
//! never gives it to a shard, and `matrix merge` makes it from the binaries
//! the shards' archives hold.

use indexmap::IndexMap;

use super::steps::Renderer;
use super::{BUILD_DIR, Named, Target, slugify};
use crate::config::{ConfigError, KeyPath, Loaded};
use crate::target::UNIVERSAL_ARCH;

/// The thin archs a universal macOS binary joins, in slice order.
const THIN: [&str; 2] = ["amd64", "arm64"];

fn key() -> KeyPath {
    KeyPath::parse("universal.darwin")
}

fn enabled(loaded: &Loaded) -> bool {
    loaded.config.universal.as_ref().is_some_and(|u| u.darwin)
}

fn is(values: &IndexMap<String, String>, os: &str, arch: &str) -> bool {
    values.get("os").is_some_and(|v| v == os) && values.get("arch").is_some_and(|v| v == arch)
}

/// With `darwin = true` the matrix (before `--target` filters) must have
/// darwin/amd64 and darwin/arm64 targets; the error sits at the key.
pub(super) fn check_matrix(loaded: &Loaded, named: &[Named]) -> Result<(), ConfigError> {
    if !enabled(loaded) {
        return Ok(());
    }
    let lacking: Vec<String> = THIN
        .iter()
        .filter(|arch| !named.iter().any(|(_, _, v)| is(v, "darwin", arch)))
        .map(|arch| format!("darwin/{arch}"))
        .collect();
    if lacking.is_empty() {
        return Ok(());
    }
    Err(loaded.source.error_at(
        &key(),
        format!(
            "a universal macOS binary joins darwin/amd64 and darwin/arm64, but the matrix has no {} target",
            lacking.join(" or ")
        ),
        Some(format!(
            "add {} to the matrix (os = \"darwin\", arch = [\"amd64\", \"arm64\"]), or set darwin = false",
            lacking.join(" and ")
        )),
    ))
}

/// The thin targets' other values must match: darwin/amd64 pairs with the
/// darwin/arm64 target whose every other value is the same.
fn partner(targets: &[Target], amd64: &Target) -> Option<usize> {
    targets.iter().position(|t| {
        is(&t.values, "darwin", THIN[1])
            && t.values.len() == amd64.values.len()
            && t.values
                .iter()
                .all(|(k, v)| k == "arch" || amd64.values.get(k) == Some(v))
    })
}

/// `id` with its arch part (at `arch`'s place among the values) replaced.
fn joined_id(thin: &Target) -> String {
    let pos = thin.values.keys().position(|k| k == "arch");
    let mut parts: Vec<&str> = thin.id.split('/').collect();
    match pos.and_then(|p| parts.get_mut(p)) {
        Some(part) if *part == THIN[0] => *part = UNIVERSAL_ARCH,
        _ => return format!("darwin/{UNIVERSAL_ARCH}"),
    }
    parts.join("/")
}

impl Renderer<'_> {
    /// Appends a joined target for each darwin/amd64 + darwin/arm64 pair
    /// the (filtered) targets hold; a pair `--target` broke up is a note in
    /// `warnings`, not an error.
    pub(super) fn universal(
        &self,
        targets: &mut Vec<Target>,
        warnings: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        if !enabled(self.loaded) {
            return Ok(());
        }
        let matrix = targets.len();
        for a in 0..matrix {
            if !is(&targets[a].values, "darwin", THIN[0]) {
                continue;
            }
            let Some(b) = partner(&targets[..matrix], &targets[a]) else {
                warnings.push(format!(
                    "{}: no universal binary is made, --target leaves out its darwin/arm64 partner ([universal] darwin)",
                    targets[a].id
                ));
                continue;
            };
            let joined = self.joined(&targets[a], [a, b])?;
            targets.push(joined);
        }
        if !targets[..matrix]
            .iter()
            .any(|t| is(&t.values, "darwin", THIN[0]))
            && let Some(t) = targets[..matrix]
                .iter()
                .find(|t| is(&t.values, "darwin", THIN[1]))
        {
            warnings.push(format!(
                "{}: no universal binary is made, --target leaves out its darwin/amd64 partner ([universal] darwin)",
                t.id
            ));
        }
        Ok(())
    }

    /// The joined target of `thin` (darwin/amd64) and its partner: the
    /// amd64 target's settings with arch `universal`, a build that runs
    /// nothing, and the archive its templates name.
    fn joined(&self, thin: &Target, joins: [usize; 2]) -> Result<Target, ConfigError> {
        let id = joined_id(thin);
        let slug = slugify(&id);
        let mut values = thin.values.clone();
        values.insert("arch".into(), UNIVERSAL_ARCH.into());
        let out_dir = self.req.dist.join(BUILD_DIR).join(&slug);
        let binary = thin.build.binary.clone();
        let mut vars = self.vars_for(&values, &id, &slug, None);
        vars.set("target_id", id.as_str())
            .set("target_slug", slug.as_str())
            .set("out", out_dir.display().to_string())
            .set("bin", binary.as_str())
            .set("ext", "");
        let archive = self.archive_step(&id, &values, &vars, "")?;
        let mut build = thin.build.clone();
        build.argv = Vec::new();
        build.shell = false;
        build.env.clear();
        build.artifact = out_dir.join(&binary);
        build.out_dir = out_dir;
        build.binary = binary;
        build.preset = None;
        // The join checks both inputs are Mach-O of two CPU types.
        build.verify = false;
        build.smoke = None;
        build.timeout = None;
        build.container = None;
        Ok(Target {
            id,
            slug,
            values,
            platform: None,
            build,
            archive,
            joins: Some(joins.to_vec()),
        })
    }
}

/// For a channel that ships joined targets: each joined target whose thin
/// targets `shipped` holds (all of them) takes their place.
pub(super) fn ship_joined(targets: &[Target], shipped: &mut Vec<usize>) {
    for (u, t) in targets.iter().enumerate() {
        let Some(joins) = &t.joins else { continue };
        if joins.iter().all(|j| shipped.contains(j)) {
            shipped.retain(|s| !joins.contains(s));
            shipped.push(u);
        }
    }
}
