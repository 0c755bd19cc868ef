//! `matrix merge`: shard folders into one release, checked byte by byte.
//!
//! Each shard (`matrix build --shard i/N`) leaves its archives and a shard
//! manifest. The merge trusts nothing in them: every artifact is re-hashed
//! against its record, every shard must come from the plan the merge itself
//! makes from the checkout (config hash, version, commit), names must be
//! plain file names, and files nobody recorded are refused. Only then are
//! the archives copied into dist/ and the release-wide jobs (channels,
//! notes, checksums, manifest) run through the same code a single
//! `matrix build` runs, so the result is the same bytes.

pub mod owned;
pub mod unpack;

pub use unpack::unpack;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::dist_check::{archive_binaries, expected};
use crate::exec::Seed;
use crate::package::checksum::{Algorithm, algorithm_of};
use crate::package::manifest::{Artifact, ArtifactKind, Manifest};
use crate::plan::Plan;

/// Folders a shard may hold that are not part of the release.
pub(crate) const WORK_DIRS: [&str; 3] = ["logs", "build", "images"];

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum MergeError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Graph(#[from] crate::plan::GraphError),
    #[error("{}: {what}", path.display())]
    #[diagnostic(
        code(matrix::merge::read),
        help("pass the folders `matrix build --shard i/N --dist <folder>` wrote")
    )]
    Read { path: PathBuf, what: String },
    #[error("{}: not a shard (its manifest.json has no `shard` field)", dir.display())]
    #[diagnostic(
        code(matrix::merge::not_a_shard),
        help("merge only what `matrix build --shard i/N` wrote")
    )]
    NotAShard { dir: PathBuf },
    #[error("{}: {what} is {theirs}, but this checkout's plan has {ours}", dir.display())]
    #[diagnostic(
        code(matrix::merge::other_plan),
        help("every shard and the merge must run on the same commit with the same matrix.toml")
    )]
    OtherPlan {
        dir: PathBuf,
        what: &'static str,
        theirs: String,
        ours: String,
    },
    #[error("{}: {name:?} is not a plain file name in the release: {why}", dir.display())]
    #[diagnostic(
        code(matrix::merge::bad_name),
        help("shard manifests may only name files inside their own folder")
    )]
    BadName {
        dir: PathBuf,
        name: String,
        why: String,
    },
    #[error("{}: {} is a symbolic link", dir.display(), path.display())]
    #[diagnostic(
        code(matrix::merge::symlink),
        help("a release holds regular files only")
    )]
    Symlink { dir: PathBuf, path: PathBuf },
    #[error("{}: {} is in the folder but in no record", dir.display(), path.display())]
    #[diagnostic(code(matrix::merge::unknown), help("remove it, or rebuild the shard"))]
    Unknown { dir: PathBuf, path: PathBuf },
    #[error("{name}: its bytes do not match its record: sha256 {actual} in {}, {expected} recorded", dir.display())]
    #[diagnostic(
        code(matrix::merge::tampered),
        help("the file changed after its shard built it; rebuild that shard")
    )]
    Tampered {
        dir: PathBuf,
        name: String,
        expected: String,
        actual: String,
    },
    #[error("{name} comes from two shards: {} and {}", first.display(), second.display())]
    #[diagnostic(
        code(matrix::merge::duplicate),
        help("each target belongs to one shard; were the same shards passed twice?")
    )]
    Duplicate {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("shard {index}/{total} is given twice: {} and {}", first.display(), second.display())]
    #[diagnostic(code(matrix::merge::duplicate_shard))]
    DuplicateShard {
        index: usize,
        total: usize,
        first: PathBuf,
        second: PathBuf,
    },
    /// A shard's manifest disagrees with what the plan gives it.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Plan(#[from] owned::ShardError),
    #[error("the shards lack {}: {}", crate::human::count(missing.len(), "target", "targets"), missing.join(", "))]
    #[diagnostic(
        code(matrix::merge::incomplete),
        help(
            "add the missing shards, or pass --allow-partial to make an explicitly partial release"
        )
    )]
    Incomplete { missing: Vec<String> },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Unpack(#[from] unpack::UnpackError),
    #[error("{}: {member}: {what}", archive.display())]
    #[diagnostic(
        code(matrix::merge::wrong_binary),
        help(
            "the archive does not hold a binary for the target its record and the plan give it; rebuild that shard"
        )
    )]
    Binary {
        archive: PathBuf,
        member: String,
        what: String,
    },
}

/// One shard folder, read and checked.
#[derive(Debug)]
pub struct Shard {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// What the merge found: every archive record with the file it came from,
/// and every platform image with the shard folder holding its blobs.
#[derive(Debug, Default)]
pub struct Checked {
    pub artifacts: Vec<(PathBuf, Artifact)>,
    pub images: Vec<(PathBuf, crate::package::manifest::ImagePart)>,
    pub missing: Vec<String>,
    /// The shards' job records, checked against the plan, in plan order.
    pub jobs: Vec<crate::package::manifest::Job>,
}

/// Reads a shard folder's manifest, which must be a regular file: a
/// symbolic link could make a shard speak with another folder's manifest.
pub fn read_shard(dir: &Path) -> Result<Shard, MergeError> {
    let path = dir.join(crate::plan::MANIFEST);
    let meta = std::fs::symlink_metadata(&path).map_err(|e| MergeError::Read {
        path: path.clone(),
        what: e.to_string(),
    })?;
    if meta.file_type().is_symlink() {
        return Err(MergeError::Symlink {
            dir: dir.to_path_buf(),
            path: PathBuf::from(crate::plan::MANIFEST),
        });
    }
    if !meta.file_type().is_file() {
        return Err(MergeError::Read {
            path,
            what: "not a regular file".into(),
        });
    }
    let manifest = Manifest::read(&path).map_err(|e| MergeError::Read {
        path: path.clone(),
        what: e.to_string(),
    })?;
    if manifest.shard.is_none() {
        return Err(MergeError::NotAShard {
            dir: dir.to_path_buf(),
        });
    }
    Ok(Shard {
        dir: dir.to_path_buf(),
        manifest,
    })
}

/// Checks the shards against the plan (the whole plan, before it is cut
/// down to the merge's jobs) and each other. The plan decides: which
/// targets each shard owns ([`owned::identify`]), which records it may
/// hold ([`owned::check_record`]) and which jobs it ran; what the shard
/// says is only compared with that.
pub fn check(plan: &Plan, shards: &[Shard], allow_partial: bool) -> Result<Checked, MergeError> {
    // Cheap checks of every shard first: nothing is hashed for a merge
    // that is refused anyway.
    for shard in shards {
        same_plan(plan, shard)?;
    }
    let owned = owned::identify(plan, shards)?;
    let mut names: BTreeMap<String, &Path> = BTreeMap::new();
    let mut present: BTreeSet<usize> = BTreeSet::new();
    // Targets whose archive is there but an image platform is not.
    let mut lacking: BTreeMap<usize, String> = BTreeMap::new();
    let mut jobs: Vec<(usize, crate::package::manifest::Job)> = Vec::new();
    let mut checked = Checked::default();
    for (shard, owned) in shards.iter().zip(&owned) {
        let m = &shard.manifest;
        let dir = &shard.dir;
        let mut recorded: BTreeSet<PathBuf> = BTreeSet::new();
        for a in &m.artifacts {
            check_name(dir, &a.path)?;
            let target = owned::check_record(plan, dir, owned, a)?;
            if let Some(first) = names.insert(a.name.clone(), dir) {
                return Err(MergeError::Duplicate {
                    name: a.name.clone(),
                    first: first.to_path_buf(),
                    second: dir.clone(),
                });
            }
            let file = dir.join(&a.path);
            let meta = std::fs::symlink_metadata(&file).map_err(|e| MergeError::Read {
                path: file.clone(),
                what: e.to_string(),
            })?;
            if meta.file_type().is_symlink() {
                return Err(MergeError::Symlink {
                    dir: dir.clone(),
                    path: PathBuf::from(&a.path),
                });
            }
            let actual = hash_file(&file, algorithm_of(&a.digest))?;
            if actual != a.digest || meta.len() != a.size {
                return Err(MergeError::Tampered {
                    dir: dir.clone(),
                    name: a.name.clone(),
                    expected: a.digest.clone(),
                    actual,
                });
            }
            present.insert(target);
            recorded.insert(PathBuf::from(&a.path));
            checked.artifacts.push((file, a.clone()));
        }
        find_unknown(dir, &recorded)?;
        lacking.extend(owned::check_image_parts(plan, dir, owned, &m.image_parts)?);
        for part in &m.image_parts {
            checked.images.push((dir.clone(), part.clone()));
        }
        for job in owned::check_jobs(plan, dir, owned, &m.jobs)? {
            jobs.push((owned.index, job));
        }
    }
    checked.jobs = merged_jobs(plan, jobs);
    // Missing is what the plan's split gives the shards and they do not
    // hold, whatever their `targets` lists say.
    // Joined targets are made by the merge itself.
    let missing: Vec<usize> = (0..plan.targets.len())
        .filter(|&t| plan.targets[t].of_matrix())
        .filter(|t| !present.contains(t) || lacking.contains_key(t))
        .collect();
    if !missing.is_empty() && !allow_partial {
        return Err(MergeError::Incomplete {
            missing: missing
                .iter()
                .map(|t| match (present.contains(t), lacking.get(t)) {
                    (true, Some(image)) => format!("{} (its {image})", plan.targets[*t].id),
                    _ => plan.targets[*t].id.clone(),
                })
                .collect(),
        });
    }
    let missing: Vec<String> = missing
        .into_iter()
        .map(|t| plan.targets[t].id.clone())
        .collect();
    checked.missing = missing;
    plan_binaries(plan, &checked)?;
    Ok(checked)
}

/// A shard must come from the plan the merge made: same config, version
/// and commit.
fn same_plan(plan: &Plan, shard: &Shard) -> Result<(), MergeError> {
    let m = &shard.manifest;
    let other = |what, theirs: &str, ours: &str| {
        (theirs != ours).then(|| MergeError::OtherPlan {
            dir: shard.dir.clone(),
            what,
            theirs: theirs.to_string(),
            ours: ours.to_string(),
        })
    };
    match [
        other("the config hash", &m.config_sha256, &plan.config_sha256),
        other("the version", &m.version, &plan.version.version),
        other("the commit", &m.commit, &plan.version.commit),
    ]
    .into_iter()
    .flatten()
    .next()
    {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The shards' job records in plan order (shard index breaking ties), each
/// id once: builder jobs run in every shard that needs the builder, and
/// the first shard's record stands for them.
fn merged_jobs(
    plan: &Plan,
    mut jobs: Vec<(usize, crate::package::manifest::Job)>,
) -> Vec<crate::package::manifest::Job> {
    let order: BTreeMap<&str, usize> = plan
        .jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.id.as_str(), i))
        .collect();
    jobs.sort_by_key(|(shard, j)| (order.get(j.id.as_str()).copied(), *shard));
    let mut seen = BTreeSet::new();
    jobs.into_iter()
        .map(|(_, j)| j)
        .filter(|j| seen.insert(j.id.clone()))
        .collect()
}

fn check_name(dir: &Path, name: &str) -> Result<(), MergeError> {
    let bad = |why: &str| {
        Err(MergeError::BadName {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            why: why.to_string(),
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.starts_with('/') || name.contains('\\') {
        return bad("it is absolute");
    }
    if name
        .split('/')
        .any(|part| part == ".." || part == "." || part.is_empty())
    {
        return bad("it climbs out of the folder or has empty parts");
    }
    if name.chars().any(char::is_control) {
        return bad("it has control characters");
    }
    Ok(())
}

/// Every file of a shard folder must be recorded, apart from its work
/// folders and its manifest.
fn find_unknown(dir: &Path, recorded: &BTreeSet<PathBuf>) -> Result<(), MergeError> {
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| MergeError::Read {
            path: dir.to_path_buf(),
            what: e.to_string(),
        })?;
        let rel = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        let top = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned());
        if rel.as_os_str().is_empty() || top.as_deref().is_some_and(|t| WORK_DIRS.contains(&t)) {
            continue;
        }
        if entry.file_type().is_dir() {
            continue;
        }
        if entry.file_type().is_symlink() {
            return Err(MergeError::Symlink {
                dir: dir.to_path_buf(),
                path: rel.to_path_buf(),
            });
        }
        if rel == Path::new(crate::plan::MANIFEST) || recorded.contains(rel) {
            continue;
        }
        return Err(MergeError::Unknown {
            dir: dir.to_path_buf(),
            path: rel.to_path_buf(),
        });
    }
    Ok(())
}

/// `<algorithm>:<hex>` of a file, as records write digests.
fn hash_file(path: &Path, algorithm: Algorithm) -> Result<String, MergeError> {
    crate::package::checksum::digest_file(path, algorithm).map_err(|e| MergeError::Read {
        path: path.to_path_buf(),
        what: e.to_string(),
    })
}

/// The merge's check of every archive against the target the plan (not
/// the shard) gives it, with [`archive_binaries`]: a relabelled archive,
/// its records otherwise consistent, is refused here, naming the archive
/// and the member. Targets built with `verify = false`, or that matrix
/// knows no executable format for, are not checked, as in the build.
fn plan_binaries(plan: &Plan, checked: &Checked) -> Result<(), MergeError> {
    for (file, a) in &checked.artifacts {
        if !matches!(a.kind, ArtifactKind::Archive | ArtifactKind::Binary) {
            continue;
        }
        let Some(target) = a
            .target
            .as_ref()
            .and_then(|id| plan.targets.iter().find(|t| &t.id == id))
        else {
            continue;
        };
        let Some(p) = target.platform.filter(|_| target.build.verify) else {
            continue;
        };
        let found = archive_binaries(file, target.archive.format, &expected(&target.id, p));
        if let Some(problem) = found.problems.into_iter().next() {
            return Err(MergeError::Binary {
                archive: file.clone(),
                member: problem.member.unwrap_or_else(|| a.name.clone()),
                what: problem.what,
            });
        }
    }
    Ok(())
}

/// Copies the checked archives into dist/ (each atomically) and puts every
/// target's executable back where its build left it, for the packages that
/// embed it (.snap); returns what the release-wide jobs start from.
pub fn stage(plan: &Plan, checked: &Checked) -> Result<Seed, MergeError> {
    let io = |path: &Path, e: &dyn std::fmt::Display| MergeError::Read {
        path: path.to_path_buf(),
        what: e.to_string(),
    };
    let mut seed = Seed {
        missing_targets: checked.missing.clone(),
        jobs: checked.jobs.clone(),
        ..Seed::default()
    };
    for (src, a) in &checked.artifacts {
        let dest = plan.dist.join(&a.path);
        if let Some(actual) = copy_atomic(src, &dest, &a.digest).map_err(|e| io(&dest, &e))? {
            return Err(MergeError::Tampered {
                dir: src.parent().unwrap_or(src).to_path_buf(),
                name: a.name.clone(),
                expected: a.digest.clone(),
                actual,
            });
        }
        seed.artifacts.push(a.clone());
        let Some(t) = a
            .target
            .as_ref()
            .and_then(|id| plan.targets.iter().position(|t| &t.id == id))
        else {
            continue;
        };
        if !matches!(a.kind, ArtifactKind::Archive | ArtifactKind::Binary) {
            continue;
        }
        if let Some(b) = &a.binary {
            seed.binaries.push((t, b.clone()));
        }
        let target = &plan.targets[t];
        let inside = match &target.archive.wrap {
            Some(dir) => format!("{dir}/{}", target.build.binary),
            None => target.build.binary.clone(),
        };
        let format = target.archive.format;
        let out = plan
            .dist
            .join(crate::plan::BUILD_DIR)
            .join(&target.slug)
            .join(&target.build.binary);
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, &e))?;
        }
        // Streamed from the archive to the file: a binary of any size
        // passes through a small buffer.
        crate::package::extract::extract_to(
            &dest,
            format,
            |m| format == crate::package::archive::Format::Binary || m.path == inside,
            &out,
        )
        .map_err(|e| io(&dest, &e))?;
    }
    stage_images(plan, checked, &mut seed)?;
    Ok(seed)
}

/// Most bytes an image manifest blob may have: registries refuse larger
/// manifests (the OCI distribution spec names 4 MiB), and a platform
/// manifest lists a config and a few layers in a few KiB.
const MAX_IMAGE_MANIFEST: u64 = 4 << 20;

/// An image manifest blob, read whole only when it is manifest-sized.
fn read_image_manifest(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    crate::package::capped::read_to_end(file, MAX_IMAGE_MANIFEST, 0)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .ok_or_else(|| {
            format!(
                "image manifest {} is larger than {MAX_IMAGE_MANIFEST} bytes, the most a manifest may have",
                path.display()
            )
        })
}

/// Streams `src` to `dest` under a temporary name, renamed when complete:
/// archives can be gigabytes, and no half-copied one may look finished.
/// The copy is hashed on the way and kept only when it still has the
/// recorded digest: a shard file changed after `check` hashed it (another
/// process writing into the shard during the merge) never reaches dist/.
fn copy_atomic(src: &Path, dest: &Path, digest: &str) -> std::io::Result<Option<String>> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let algorithm = algorithm_of(digest);
    let mut out = crate::package::atomic::AtomicFile::create(dest)?;
    let mut input = std::fs::File::open(src)?;
    let mut writer = crate::package::checksum::HashingWriter::new(out.file(), algorithm);
    std::io::copy(&mut input, &mut writer)?;
    let (_, hex, _) = writer.finish();
    let actual = format!("{}:{hex}", algorithm.name());
    if actual != digest {
        // Dropped uncommitted: the temporary file is removed.
        return Ok(Some(actual));
    }
    out.set_mode(0o644);
    out.commit()?;
    Ok(None)
}

/// Copies the shards' image blobs into the merged layouts, each checked
/// against the digest it is named by, and checks that every platform image
/// has its config and layers; returns them as built platforms.
fn stage_images(plan: &Plan, checked: &Checked, seed: &mut Seed) -> Result<(), MergeError> {
    use crate::exec::{ImageBuilt, Produced};
    let Some(images) = &plan.images else {
        return Ok(());
    };
    let fail = |path: &Path, what: String| MergeError::Read {
        path: path.to_path_buf(),
        what,
    };
    for (dir, part) in &checked.images {
        let Some(v) = images.variants.iter().position(|v| v.id == part.variant) else {
            return Err(fail(
                dir,
                format!("image {} is not in this plan", part.variant),
            ));
        };
        let variant = &images.variants[v];
        let from = dir
            .join(crate::plan::images::IMAGE_DIR)
            .join("oci")
            .join(&variant.slug)
            .join("blobs/sha256");
        let to = crate::exec::images_layout_dir(&plan.dist, variant).join("blobs/sha256");
        std::fs::create_dir_all(&to).map_err(|e| fail(&to, e.to_string()))?;
        // Each blob is copied once, hashed on the way, and only kept when
        // it is what its name says.
        let blob = |digest: &str| -> Result<PathBuf, MergeError> {
            let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
            let src = from.join(hex);
            let meta = std::fs::symlink_metadata(&src).map_err(|e| fail(&src, e.to_string()))?;
            if !meta.file_type().is_file() {
                return Err(MergeError::Symlink {
                    dir: dir.clone(),
                    path: src.clone(),
                });
            }
            let dest = to.join(hex);
            let copy = || -> std::io::Result<(crate::package::atomic::AtomicFile, String)> {
                let mut out = crate::package::atomic::AtomicFile::create(&dest)?;
                let mut writer =
                    crate::package::checksum::HashingWriter::new(out.file(), Algorithm::Sha256);
                std::io::copy(&mut std::fs::File::open(&src)?, &mut writer)?;
                let (_, hex, _) = writer.finish();
                Ok((out, hex))
            };
            let (out, actual) = copy().map_err(|e| fail(&src, e.to_string()))?;
            if actual != hex {
                return Err(MergeError::Tampered {
                    dir: dir.clone(),
                    name: format!("image blob {hex}"),
                    expected: format!("sha256:{hex}"),
                    actual: format!("sha256:{actual}"),
                });
            }
            out.commit().map_err(|e| fail(&dest, e.to_string()))?;
            Ok(dest)
        };
        let manifest_path = blob(&part.descriptor.digest)?;
        let manifest = read_image_manifest(&manifest_path).map_err(|e| fail(dir, e))?;
        let parsed: serde_json::Value = serde_json::from_slice(&manifest).map_err(|e| {
            fail(
                dir,
                format!("image manifest {}: {e}", part.descriptor.digest),
            )
        })?;
        let mut digests = vec![
            parsed["config"]["digest"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ];
        if let Some(layers) = parsed["layers"].as_array() {
            digests.extend(
                layers
                    .iter()
                    .filter_map(|l| l["digest"].as_str().map(str::to_string)),
            );
        }
        for d in digests {
            blob(&d)?;
        }
        seed.produced.push(Produced::Image(ImageBuilt {
            variant: v,
            platform: part.platform.clone(),
            descriptor: part.descriptor.clone(),
            native: part.native,
            local_tag: part.local_tag.clone(),
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
