//! Platform image jobs through the action cache. A variant's index and its
//! push are not cached: the index is a few small JSON blobs (and the OCI
//! archive, a copy) made from the platforms' layouts, cheaper to write
//! than to look up, and a push is a side effect.
//!
//! Part of `exec::cached`. A platform image's inputs are its plan step
//! (platform, Dockerfile path, args, labels, context globs, local tag),
//! its variant's layout folder, the Dockerfile's content, the content and
//! mode of every context file, the binary's content, the release time
//! (the config's `created`), the project name (a label) and who assembles
//! it: matrix (the `native` setting and the Dockerfile's blocker) or the
//! engine. An engine build adds the engine's identity (client, server
//! version, classic builder, docker's buildx plugin: its version and
//! content) and the id of every image it reads (each
//! FROM, `COPY --from` and `RUN --mount=...,from=` that names no stage;
//! `FROM scratch` reads nothing). A RUN step, or an ADD of a URL, may
//! fetch from the network: what it fetches is not an input, as with a
//! build job's command.
//!
//! Its outputs are the blobs its manifest references and the manifest,
//! under the variant's `blobs/sha256/`. A record's blob must be named by
//! its own sha256 (nothing else may be written), the manifest must
//! reference exactly the entry's other blobs, its config must be of the
//! job's platform and its layers must be the config's diff_ids; all this
//! is checked in a hidden folder of the layout before any blob is moved
//! into place, so a refused entry leaves nothing behind. Everything
//! `ImageBuilt` says is read back from the restored bytes: the descriptor
//! from the manifest blob, the platform from the config. An engine-built
//! image keeps its engine tag only when the engine still has an image of
//! that config (its id, which with checked diff_ids names these layers);
//! otherwise the job says so in its log and reports none.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use super::{At, Cache, NO_CACHE, content, shown, through};
use crate::cache::Inputs;
use crate::cache::key::is_key;
use crate::cache::store::{OutputFile, Record, Saving, Store};
use crate::engine::Engine;
use crate::exec::context::{Context, ImageBuilt, Output, Produced, log_path};
use crate::exec::error::JobError;
use crate::exec::images;
use crate::image::dockerfile::{self, Dockerfile};
use crate::image::oci::{self, ImageConfig, ImageManifest, Layout, MEDIA_TYPE_MANIFEST};
use crate::plan::Plan;
use crate::plan::containers::ContainerImage;
use crate::plan::images::PlatformImage;

/// The record's output folder of the manifest blob.
const MANIFEST: &str = "manifest";
/// The record's output folder of the blobs it references.
const BLOBS: &str = "blobs";
/// Largest Dockerfile read for a key.
const MAX_DOCKERFILE: u64 = 1 << 20;
/// Largest manifest or config read back from an entry.
const MAX_JSON: u64 = 4 << 20;

/// Runs the job of platform `pf` of image variant `v`, through the cache
/// when there is one.
pub(in crate::exec) async fn image(
    ctx: &Context,
    job: usize,
    v: usize,
    pf: usize,
    cancel: &CancellationToken,
) -> Result<Output, JobError> {
    let plan = &ctx.plan;
    through(
        ctx,
        job,
        |cache, at| inputs(cache, at, v, pf),
        |cache, record, scratch| {
            restore(ctx, job, v, pf, cache, record, scratch).map(|built| Output {
                produced: Some(Produced::Image(built)),
                ..Output::default()
            })
        },
        images::run_platform(ctx, job, v, pf, cancel),
        |output, _| saving(plan, output),
    )
    .await
}

/// The platform's step and the folder of its variant's layout.
fn step(plan: &Plan, v: usize, pf: usize) -> Result<(&PlatformImage, PathBuf), String> {
    let images = plan.images.as_ref().ok_or("the plan has no images")?;
    let variant = &images.variants[v];
    Ok((
        &variant.platforms[pf],
        images::layout_dir(&plan.dist, variant),
    ))
}

/// The Dockerfile parsed with its args, and whether matrix assembles it.
fn dockerfile_of(plan: &Plan, p: &PlatformImage) -> Result<(Dockerfile, bool), String> {
    let text = crate::package::capped::read_text(&p.dockerfile, MAX_DOCKERFILE)
        .map_err(|e| format!("cannot read `{}`: {e}", p.dockerfile.display()))?;
    let parsed = dockerfile::parse(&text, &p.dockerfile, &p.args).map_err(|e| e.to_string())?;
    let mode = plan.images.as_ref().map(|i| i.native).unwrap_or_default();
    let native = images::native(mode, &parsed)?;
    Ok((parsed, native))
}

/// Platform `pf` of variant `v`'s inputs, or why it is not cached.
pub(super) fn inputs(cache: &Cache, at: &At<'_>, v: usize, pf: usize) -> Result<Inputs, String> {
    let plan = at.plan;
    let (p, _) = step(plan, v, pf)?;
    let target = &plan.targets[p.target];
    if target.build.no_cache {
        return Err(NO_CACHE.into());
    }
    let (parsed, native) = dockerfile_of(plan, p)?;
    let mut i = Inputs::default();
    i.set("matrix", env!("CARGO_PKG_VERSION"));
    let mut planned = serde_json::to_value(p).map_err(|e| e.to_string())?;
    planned["dockerfile"] = shown(&plan.root, &p.dockerfile).into();
    planned["target"] = target.id.clone().into();
    i.set("image", planned);
    i.set("layout", plan.images.as_ref().map(|i| &i.variants[v].slug));
    i.set("dockerfile", content(&p.dockerfile)?);
    i.set("context", context(plan, p)?);
    i.set(
        "binary",
        serde_json::json!({
            "name": target.build.binary,
            "content": at.made_file(&target.build.artifact)?,
        }),
    );
    i.set("created", plan.version.timestamp);
    // The engine labels the image with it.
    i.set("project", &plan.project.name);
    let mode = plan.images.as_ref().map(|i| i.native).unwrap_or_default();
    i.set(
        "assembly",
        serde_json::json!({
            "native": native,
            "mode": mode,
            "blocker": parsed.native_blocker(),
        }),
    );
    if !native {
        let engine = at.engine.ok_or("no container engine")?;
        i.set("engine", engine_identity(cache, engine));
        let mut bases = BTreeMap::new();
        for name in parsed.images_read() {
            let reference = ContainerImage::Image {
                reference: name.to_string(),
            };
            bases.insert(
                name.to_string(),
                super::container_id(Some(engine), &reference)?,
            );
        }
        i.set("bases", bases);
    }
    Ok(i)
}

/// Each extra context file's size, sha256 and mode by its place in the
/// context (copied as they are, modes included).
fn context(plan: &Plan, p: &PlatformImage) -> Result<BTreeMap<String, String>, String> {
    let entries = images::context_files(&plan.root, p)
        .map_err(|e| format!("its context files cannot be listed: {e}"))?;
    let mut files = BTreeMap::new();
    for e in entries {
        let mode = std::fs::metadata(&e.source)
            .map_err(|err| format!("cannot read `{}`: {err}", e.source.display()))?
            .permissions()
            .mode();
        files.insert(
            e.dest,
            format!("{} {:o}", content(&e.source)?, mode & 0o7777),
        );
    }
    Ok(files)
}

/// The engine as a build with it depends on: its client's content, its
/// server's version, the builder it is told to use and, when docker
/// builds with its buildx plugin, the plugin's version and content.
fn engine_identity(cache: &Cache, engine: &Engine) -> serde_json::Value {
    let program = crate::cache::key::path_text(&engine.program);
    let mut id = serde_json::json!({
        "kind": engine.name(),
        "client": cache.identities.of(&program, &BTreeMap::new(), Path::new("/")),
        "server": engine.version,
        "env": engine.build_env(),
    });
    if let Some(buildx) = &engine.buildx {
        id["buildx"] = serde_json::json!({
            "version": buildx.version,
            "plugin": buildx.file.as_deref().map(|f| cache.identities.of_file(f)),
        });
    }
    id
}

/// The blobs of the image a run built, to store: its manifest (as
/// `manifest`) and what the manifest references (as `blobs`), each by its
/// sha256 in the layout.
fn saving(plan: &Plan, output: &Output) -> Result<Vec<Saving>, String> {
    let Some(Produced::Image(built)) = &output.produced else {
        return Err("the job made no image".into());
    };
    let (_, layout_dir) = step(plan, built.variant, platform_index(plan, built)?)?;
    let layout = Layout::open(&layout_dir).map_err(|e| e.to_string())?;
    let manifest: ImageManifest = layout
        .read_json(&built.descriptor.digest)
        .map_err(|e| e.to_string())?;
    let blob = |base: &str, digest: &str| -> Result<Saving, String> {
        Ok(Saving {
            base: base.into(),
            path: oci::digest_hex(digest).map_err(|e| e.to_string())?.into(),
            file: layout.blob_path(digest).map_err(|e| e.to_string())?,
        })
    };
    let mut files = vec![blob(MANIFEST, &built.descriptor.digest)?];
    let mut seen = BTreeSet::new();
    for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
        if seen.insert(d.digest.as_str()) {
            files.push(blob(BLOBS, &d.digest)?);
        }
    }
    Ok(files)
}

/// The index of `built`'s platform in its variant.
fn platform_index(plan: &Plan, built: &ImageBuilt) -> Result<usize, String> {
    plan.images
        .as_ref()
        .and_then(|i| {
            i.variants[built.variant]
                .platforms
                .iter()
                .position(|p| p.platform == built.platform)
        })
        .ok_or_else(|| format!("platform {} is not in the plan", built.platform))
}

/// The entry's manifest output and its other blobs, each named by its own
/// sha256, once; anything else is refused before a file is written. The
/// shape of an image job's record: reads no blob, so the restore and
/// `plan --cache-status` both ask it.
pub(super) fn split(record: &Record) -> Result<(&OutputFile, Vec<&OutputFile>), String> {
    let mut manifest = None;
    let mut blobs = Vec::new();
    let mut names = BTreeSet::new();
    for o in &record.outputs {
        let named = is_key(&o.path) && o.path == o.blob.sha256;
        if !named || !(o.base == MANIFEST || o.base == BLOBS) {
            return Err(format!(
                "it names `{}` in `{}`; this job writes only blobs named by their sha256",
                o.path, o.base
            ));
        }
        if !names.insert(o.path.as_str()) {
            return Err(format!("it names blob {} twice", o.path));
        }
        match o.base.as_str() {
            MANIFEST if manifest.is_some() => return Err("it holds two manifests".into()),
            MANIFEST => manifest = Some(o),
            _ => blobs.push(o),
        }
    }
    Ok((manifest.ok_or("it holds no manifest")?, blobs))
}

/// Whether the manifest references exactly the entry's blobs, each at the
/// size the entry holds.
fn check_references(manifest: &ImageManifest, blobs: &[&OutputFile]) -> Result<(), String> {
    if manifest.media_type != MEDIA_TYPE_MANIFEST {
        return Err(format!("its manifest is a {}", manifest.media_type));
    }
    let held: BTreeMap<String, u64> = blobs
        .iter()
        .map(|o| (format!("sha256:{}", o.path), o.blob.size))
        .collect();
    let mut referenced = BTreeSet::new();
    for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
        match held.get(&d.digest) {
            Some(size) if *size == d.size => {
                referenced.insert(d.digest.as_str());
            }
            Some(size) => {
                return Err(format!(
                    "its manifest gives {} {} bytes, the entry {size}",
                    d.digest, d.size
                ));
            }
            None => {
                return Err(format!(
                    "its manifest references {}, which it does not hold",
                    d.digest
                ));
            }
        }
    }
    if referenced.len() != held.len() {
        return Err("it holds blobs its manifest does not reference".into());
    }
    Ok(())
}

/// Whether `bytes` are the manifest matrix writes for `manifest`'s config
/// and layers (both builds write `ImageManifest::new` as canonical JSON):
/// nothing the plan did not decide goes into the layout and the index
/// (annotations, a `subject`, a layer's `urls`).
fn check_form(manifest: &ImageManifest, bytes: &[u8]) -> Result<(), String> {
    let bare = |d: &oci::Descriptor| oci::Descriptor {
        platform: None,
        annotations: BTreeMap::new(),
        ..d.clone()
    };
    let ours = ImageManifest::new(
        bare(&manifest.config),
        manifest.layers.iter().map(bare).collect(),
    );
    match oci::canonical_json(&ours, "manifest") {
        Ok(canonical) if canonical == bytes => Ok(()),
        _ => Err("its manifest is not one matrix writes (other fields or another form)".into()),
    }
}

/// Puts a record's blobs back into the variant's layout (made if needed,
/// never through a link) and reads what the job reports from them. The
/// blobs are restored into a hidden folder of the layout and checked
/// there ([`check_image`]); only a whole, checked image is renamed into
/// place, so a refused entry leaves nothing in the layout or its archive.
fn restore(
    ctx: &Context,
    job: usize,
    v: usize,
    pf: usize,
    cache: &Cache,
    record: &Record,
    scratch: &Path,
) -> Result<ImageBuilt, String> {
    let plan = &ctx.plan;
    let (p, layout_dir) = step(plan, v, pf)?;
    let (manifest_out, blobs) = split(record)?;
    let part = |outputs: Vec<OutputFile>| Record {
        // Blobs are data: 0644 whatever the entry says.
        outputs: outputs
            .into_iter()
            .map(|o| OutputFile { mode: 0o644, ..o })
            .collect(),
        log: None,
        ..record.clone()
    };
    // The manifest first, into the scratch folder: it must reference
    // exactly the other blobs before the layout is written.
    let log = scratch.join("log");
    let bases = BTreeMap::from([(MANIFEST.to_string(), scratch.to_path_buf())]);
    cache
        .store
        .restore(&part(vec![manifest_out.clone()]), &bases, &log)
        .map_err(|e| e.to_string())?;
    let bytes = crate::package::capped::read(&scratch.join(&manifest_out.path), MAX_JSON)
        .map_err(|e| format!("its manifest: {e}"))?;
    let manifest: ImageManifest =
        serde_json::from_slice(&bytes).map_err(|e| format!("its manifest: {e}"))?;
    check_references(&manifest, &blobs)?;
    check_form(&manifest, &bytes)?;
    if manifest.config.size > MAX_JSON {
        return Err(format!("its config is {} bytes", manifest.config.size));
    }
    let slug = layout_dir
        .strip_prefix(&plan.dist)
        .map_err(|e| e.to_string())?;
    crate::package::nofollow::create_dirs(&plan.dist, &slug.join("blobs").join("sha256"))
        .map_err(|e| e.to_string())?;
    let layout = Layout::create(&layout_dir).map_err(|e| e.to_string())?;
    let blobs_dir = layout_dir.join("blobs").join("sha256");
    let staging = tempfile::Builder::new()
        .prefix(oci::PARTIAL_PREFIX)
        .tempdir_in(&blobs_dir)
        .map_err(|e| format!("cannot make a folder in `{}`: {e}", blobs_dir.display()))?;
    let bases = BTreeMap::from([(BLOBS.to_string(), staging.path().to_path_buf())]);
    let held: Vec<OutputFile> = blobs.iter().map(|o| (*o).clone()).collect();
    cache
        .store
        .restore(&part(held), &bases, &log)
        .map_err(|e| e.to_string())?;
    let platform = check_image(&manifest, staging.path(), p, cache.max_size)?;
    for o in &blobs {
        std::fs::rename(staging.path().join(&o.path), blobs_dir.join(&o.path))
            .map_err(|e| format!("cannot move blob {} into the layout: {e}", o.path))?;
    }
    let mut descriptor = layout
        .put_bytes(MEDIA_TYPE_MANIFEST, &bytes)
        .map_err(|e| e.to_string())?;
    descriptor.platform = Some(platform);
    let (_, native) = dockerfile_of(plan, p)?;
    // `through` notes the restore in the log; whether the tag is kept
    // is said here.
    let local_tag = match (native, ctx.engine.as_deref()) {
        (true, _) => None,
        (false, engine) => {
            let (tag, note) = local_tag(engine, &manifest.config.digest, &p.local_tag);
            crate::exec::process::note(&log_path(plan, job), &note).map_err(|e| e.to_string())?;
            tag
        }
    };
    Ok(ImageBuilt {
        variant: v,
        platform: p.platform.clone(),
        descriptor,
        native,
        local_tag,
    })
}

/// Whether the blobs in `dir` make an image matrix would have made for
/// `p`: an OCI config (at most [`MAX_JSON`] bytes) of `p`'s platform, and
/// gzip'd layers whose uncompressed bytes (at most `max_size` in all) are
/// the config's diff_ids, in order. A config's digest is then the image:
/// the engine's image of that id (its local tag) has these layers. Its
/// platform when it is.
fn check_image(
    manifest: &ImageManifest,
    dir: &Path,
    p: &PlatformImage,
    max_size: u64,
) -> Result<oci::Platform, String> {
    let blob = |digest: &str| -> Result<PathBuf, String> {
        Ok(dir.join(oci::digest_hex(digest).map_err(|e| e.to_string())?))
    };
    if manifest.config.media_type != oci::MEDIA_TYPE_CONFIG {
        return Err(format!("its config is a {}", manifest.config.media_type));
    }
    let bytes = crate::package::capped::read(&blob(&manifest.config.digest)?, MAX_JSON)
        .map_err(|e| format!("its config: {e}"))?;
    let config: ImageConfig =
        serde_json::from_slice(&bytes).map_err(|e| format!("its config: {e}"))?;
    let platform = config.platform();
    if !platform.matches(&images::oci_platform(p)) {
        return Err(format!("it is an image for {platform}, not {}", p.platform));
    }
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(format!(
            "its manifest has {} layers, its config {} diff_ids",
            manifest.layers.len(),
            diff_ids.len()
        ));
    }
    let mut left = max_size;
    for (layer, want) in manifest.layers.iter().zip(diff_ids) {
        if layer.media_type != oci::MEDIA_TYPE_LAYER_GZIP {
            return Err(format!(
                "its layer {} is a {}",
                layer.digest, layer.media_type
            ));
        }
        let file = std::fs::File::open(blob(&layer.digest)?).map_err(|e| e.to_string())?;
        let (got, size) = oci::diff_id(std::io::BufReader::new(file), left)
            .map_err(|e| format!("its layer {}: {e}", layer.digest))?;
        if &got != want {
            return Err(format!(
                "its layer {} is {got} uncompressed, its config says {want}",
                layer.digest
            ));
        }
        left -= size;
    }
    Ok(platform)
}

/// Gives `tag` to the engine's image of config `config` (its id) when the
/// engine still has it: the tag it had when it was built. Otherwise no tag
/// is claimed. The log line says which.
fn local_tag(engine: Option<&Engine>, config: &str, tag: &str) -> (Option<String>, String) {
    let Some(engine) = engine else {
        return (None, format!("no engine: no local tag {tag}"));
    };
    let hex = config.strip_prefix("sha256:").unwrap_or(config);
    let has = crate::engine::probe(
        &engine.program,
        &["image", "inspect", "--format", "{{.Id}}", config],
    )
    .is_ok_and(|id| id.trim().trim_start_matches("sha256:") == hex);
    if !has {
        return (
            None,
            format!(
                "the engine has no image {config}: no local tag {tag} (the image is in the OCI layout)"
            ),
        );
    }
    match crate::engine::probe(&engine.program, &["tag", config, tag]) {
        Ok(_) => (Some(tag.to_string()), format!("tagged {config} {tag}")),
        Err(e) => (
            None,
            format!("cannot tag {config} {tag} ({e}): no local tag"),
        ),
    }
}

#[cfg(test)]
mod tests;
