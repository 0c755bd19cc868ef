//! matrix's own image builder, for images that need no container engine.
//!
//! An image job whose Dockerfile passes [`Dockerfile::native_blocker`]
//! (single stage, `FROM scratch`, COPY and metadata only) comes here instead
//! of going to docker: the COPY results become ONE reproducible layer (sorted
//! tar entries, fixed mtime and owners, deterministic gzip), and the config
//! and manifest are written into a [`Layout`]. The same Dockerfile, context,
//! platform, labels and time give the same manifest digest on any machine.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::dockerfile::{self, DEFAULT_PATH, Dockerfile, Op};
use super::error::ImageError;
use super::oci::{
    Descriptor, Empty, History, ImageConfig, ImageManifest, LayerWriter, Layout, MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_MANIFEST, Platform, RootFs, RuntimeConfig,
};

/// What to build, and where to put it.
pub struct NativeBuild<'a> {
    pub dockerfile: &'a Dockerfile,
    /// The build context folder COPY sources are relative to.
    pub context: &'a Path,
    pub platform: &'a Platform,
    /// Merged over the Dockerfile's LABELs (these win).
    pub labels: &'a BTreeMap<String, String>,
    /// Unix seconds (SOURCE_DATE_EPOCH): config `created` and every mtime.
    pub created: i64,
    pub layout: &'a Layout,
}

/// Builds the image into the layout and returns its manifest descriptor,
/// with `platform` set.
pub fn build(req: &NativeBuild<'_>) -> Result<Descriptor, ImageError> {
    let df = req.dockerfile;
    if let Some(reason) = df.native_blocker() {
        return Err(ImageError::NotNative {
            dockerfile: df.path.clone(),
            reason,
        });
    }
    let mtime =
        u64::try_from(req.created).map_err(|_| ImageError::Timestamp { epoch: req.created })?;
    let created = OffsetDateTime::from_unix_timestamp(req.created)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .ok_or(ImageError::Timestamp { epoch: req.created })?;
    let context = req
        .context
        .canonicalize()
        .map_err(|e| ImageError::io(req.context, e))?;

    let mut state = State {
        dockerfile: &df.path,
        context: &context,
        tree: BTreeMap::new(),
        workdir: "/".to_string(),
    };
    let mut env: Vec<(String, String)> = vec![("PATH".to_string(), DEFAULT_PATH.to_string())];
    let mut labels = BTreeMap::new();
    let mut ports = BTreeSet::new();
    let mut runtime = RuntimeConfig::default();
    for ins in &df.final_stage().instructions {
        match &ins.op {
            Op::Copy(copy) => state.copy(ins.line, copy)?,
            Op::Env(pairs) => {
                for (k, v) in pairs {
                    match env.iter_mut().find(|(name, _)| name == k) {
                        Some(slot) => slot.1 = v.clone(),
                        None => env.push((k.clone(), v.clone())),
                    }
                }
            }
            Op::Label(pairs) => labels.extend(pairs.iter().cloned()),
            Op::Entrypoint(argv) => runtime.entrypoint = Some(argv.clone()),
            Op::Cmd(argv) => runtime.cmd = Some(argv.clone()),
            Op::Workdir(dir) => {
                state.workdir = format!("/{}", resolve(&state.workdir, dir));
                // Docker creates the working directory in the image.
                let rel = resolve("/", &state.workdir);
                state.add_dir(&rel, None, 0, 0, false);
            }
            Op::User(user) => runtime.user = user.clone(),
            Op::Expose(list) => ports.extend(list.iter().cloned()),
            // ARG only feeds substitution, done by the parser; anything else
            // was refused by `native_blocker` above.
            _ => {}
        }
    }
    labels.extend(req.labels.iter().map(|(k, v)| (k.clone(), v.clone())));

    let (layer, diff_id) = write_layer(req.layout, &state.tree, mtime)?;
    runtime.env = env.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    runtime.labels = labels;
    runtime.exposed_ports = ports.into_iter().map(|p| (p, Empty {})).collect();
    if state.workdir != "/" {
        runtime.working_dir = state.workdir.clone();
    }
    let config = ImageConfig {
        created: Some(created.clone()),
        architecture: req.platform.architecture.clone(),
        os: req.platform.os.clone(),
        variant: req.platform.variant.clone(),
        config: runtime,
        rootfs: RootFs {
            kind: "layers".to_string(),
            diff_ids: vec![diff_id],
        },
        history: vec![History {
            created: Some(created),
            created_by: Some("matrix native image build (COPY)".to_string()),
            ..History::default()
        }],
    };
    let config = req.layout.put_json(MEDIA_TYPE_CONFIG, &config)?;
    let manifest = ImageManifest::new(config, vec![layer]);
    let mut desc = req.layout.put_json(MEDIA_TYPE_MANIFEST, &manifest)?;
    desc.platform = Some(req.platform.clone());
    Ok(desc)
}

/// One entry of the layer, keyed by its path in the image (no leading `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    kind: Kind,
    mode: u32,
    uid: u64,
    gid: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Dir,
    File(PathBuf),
    Symlink(PathBuf),
}

struct State<'a> {
    dockerfile: &'a Path,
    /// Canonical, so a canonical source path can be checked against it.
    context: &'a Path,
    tree: BTreeMap<String, Node>,
    /// Absolute, as set by WORKDIR.
    workdir: String,
}

impl State<'_> {
    fn source_error(&self, line: usize, source: &str, reason: impl Into<String>) -> ImageError {
        ImageError::CopySource {
            dockerfile: self.dockerfile.to_path_buf(),
            line,
            source_path: source.to_string(),
            context: self.context.to_path_buf(),
            reason: reason.into(),
        }
    }

    fn copy(&mut self, line: usize, copy: &dockerfile::Copy) -> Result<(), ImageError> {
        let (uid, gid) = match &copy.chown {
            // `native_blocker` already refused names.
            Some(owner) => dockerfile::parse_owner(owner).unwrap_or((0, 0)),
            None => (0, 0),
        };
        let mut sources = Vec::new();
        for src in &copy.sources {
            sources.extend(self.expand_source(line, src)?);
        }
        let dest = resolve(&self.workdir, &copy.dest);
        let into_dir = copy.dest.ends_with('/')
            || copy.dest.ends_with("/.")
            || copy.dest == "."
            || sources.len() > 1
            || dest.is_empty()
            || self.tree.get(&dest).is_some_and(|n| n.kind == Kind::Dir);
        for (shown, path) in sources {
            let canonical = path
                .canonicalize()
                .map_err(|e| self.source_error(line, &shown, format!("cannot be read: {e}")))?;
            if !canonical.starts_with(self.context) {
                return Err(self.source_error(line, &shown, "points outside the build context"));
            }
            let meta = fs::metadata(&canonical).map_err(|e| ImageError::io(&canonical, e))?;
            if meta.is_dir() {
                // A folder's contents are copied, not the folder itself.
                self.add_dir(&dest, copy.chmod, uid, gid, true);
                self.add_tree(line, &shown, &canonical, &dest, copy.chmod, uid, gid)?;
            } else if meta.is_file() {
                let target = if into_dir {
                    self.add_dir(&dest, None, uid, gid, false);
                    let name = file_name(&path);
                    join(&dest, &name)
                } else {
                    dest.clone()
                };
                let mode = copy.chmod.unwrap_or_else(|| file_mode(&meta));
                self.insert(&target, Kind::File(canonical), mode, uid, gid);
            } else {
                return Err(self.source_error(line, &shown, "is not a file or folder"));
            }
        }
        Ok(())
    }

    /// The context paths a source names: itself, or its glob matches.
    fn expand_source(&self, line: usize, src: &str) -> Result<Vec<(String, PathBuf)>, ImageError> {
        let rel = Path::new(src);
        if rel.is_absolute() || rel.components().any(|c| c == Component::ParentDir) {
            return Err(self.source_error(
                line,
                src,
                "escapes the build context (absolute or `..`)",
            ));
        }
        if !src.contains(['*', '?', '[']) {
            let path = self.context.join(rel);
            if fs::symlink_metadata(&path).is_err() {
                return Err(self.source_error(line, src, "does not exist in the build context"));
            }
            return Ok(vec![(src.to_string(), path)]);
        }
        let pattern = src.trim_start_matches("./");
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| self.source_error(line, src, format!("is not a valid pattern: {e}")))?
            .compile_matcher();
        let mut found = Vec::new();
        for entry in walkdir::WalkDir::new(self.context)
            .min_depth(1)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|e| ImageError::io(self.context, e.into()))?;
            let rel = slash_path(
                entry
                    .path()
                    .strip_prefix(self.context)
                    .unwrap_or(entry.path()),
            );
            if glob.is_match(&rel) {
                found.push((rel, entry.path().to_path_buf()));
            }
        }
        if found.is_empty() {
            return Err(self.source_error(line, src, "matches nothing in the build context"));
        }
        found.sort();
        Ok(found)
    }

    /// Copies a context folder's contents under `dest`. Symlinks inside it
    /// are kept as links (never followed), so nothing outside the context
    /// is read.
    #[allow(clippy::too_many_arguments)]
    fn add_tree(
        &mut self,
        line: usize,
        shown: &str,
        root: &Path,
        dest: &str,
        chmod: Option<u32>,
        uid: u64,
        gid: u64,
    ) -> Result<(), ImageError> {
        for entry in walkdir::WalkDir::new(root).min_depth(1).sort_by_file_name() {
            let entry = entry.map_err(|e| ImageError::io(root, e.into()))?;
            let rel = slash_path(entry.path().strip_prefix(root).unwrap_or(entry.path()));
            let target = join(dest, &rel);
            let kind = entry.file_type();
            if kind.is_dir() {
                self.insert(&target, Kind::Dir, chmod.unwrap_or(0o755), uid, gid);
            } else if kind.is_file() {
                let meta = entry
                    .metadata()
                    .map_err(|e| ImageError::io(entry.path(), e.into()))?;
                let mode = chmod.unwrap_or_else(|| file_mode(&meta));
                self.insert(
                    &target,
                    Kind::File(entry.path().to_path_buf()),
                    mode,
                    uid,
                    gid,
                );
            } else if kind.is_symlink() {
                let link =
                    fs::read_link(entry.path()).map_err(|e| ImageError::io(entry.path(), e))?;
                self.insert(&target, Kind::Symlink(link), 0o777, uid, gid);
            } else {
                let what = format!("contains {rel}, which is not a file, folder or symlink");
                return Err(self.source_error(line, shown, what));
            }
        }
        Ok(())
    }

    /// Adds a folder (with its parents). `explicit` folders take the COPY's
    /// owner and mode even if already present; implied ones keep what is
    /// there.
    fn add_dir(&mut self, path: &str, chmod: Option<u32>, uid: u64, gid: u64, explicit: bool) {
        if path.is_empty() {
            return;
        }
        self.add_parents(path);
        let present = self.tree.get(path).is_some_and(|n| n.kind == Kind::Dir);
        if explicit || !present {
            self.insert(path, Kind::Dir, chmod.unwrap_or(0o755), uid, gid);
        }
    }

    /// Creates missing parent folders of `path` as root-owned 0755.
    fn add_parents(&mut self, path: &str) {
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if !self.tree.get(&prefix).is_some_and(|n| n.kind == Kind::Dir) {
                self.insert(&prefix.clone(), Kind::Dir, 0o755, 0, 0);
            }
        }
    }

    /// Places an entry, replacing what was at that path; a non-folder
    /// replacing a folder also drops everything that was under it.
    fn insert(&mut self, path: &str, kind: Kind, mode: u32, uid: u64, gid: u64) {
        self.add_parents(path);
        if kind != Kind::Dir {
            let under = format!("{path}/");
            let stale: Vec<String> = self
                .tree
                .range(under.clone()..)
                .take_while(|(k, _)| k.starts_with(&under))
                .map(|(k, _)| k.clone())
                .collect();
            for key in stale {
                self.tree.remove(&key);
            }
        }
        self.tree.insert(
            path.to_string(),
            Node {
                kind,
                mode,
                uid,
                gid,
            },
        );
    }
}

/// Normalised file mode: executable or not, never umask-dependent.
fn file_mode(meta: &fs::Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o111 != 0 {
            return 0o755;
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    0o644
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Resolves an image path against the working directory like Go's
/// `path.Clean` does for Docker: the result has no leading `/`, and `..`
/// stops at the root. `""` is the root itself.
fn resolve(workdir: &str, path: &str) -> String {
    if path.starts_with('/') {
        super::docker_archive::normalise(path)
    } else {
        super::docker_archive::normalise(&format!("{workdir}/{path}"))
    }
}

/// Writes the layer tar (sorted entries, `mtime`, numeric owners without
/// names) through a [`LayerWriter`].
fn write_layer(
    layout: &Layout,
    tree: &BTreeMap<String, Node>,
    mtime: u64,
) -> Result<(Descriptor, String), ImageError> {
    let layer_err = |e: io::Error| ImageError::io(layout.root(), e);
    let mut tar = tar::Builder::new(LayerWriter::new(layout)?);
    for (path, node) in tree {
        let mut header = tar::Header::new_gnu();
        header.set_mode(node.mode);
        header.set_uid(node.uid);
        header.set_gid(node.gid);
        header.set_mtime(mtime);
        match &node.kind {
            Kind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                tar.append_data(&mut header, format!("{path}/"), io::empty())
                    .map_err(layer_err)?;
            }
            Kind::Symlink(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                tar.append_link(&mut header, path, target)
                    .map_err(layer_err)?;
            }
            Kind::File(src) => {
                let file = File::open(src).map_err(|e| ImageError::io(src, e))?;
                let len = file.metadata().map_err(|e| ImageError::io(src, e))?.len();
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(len);
                let mut data = file.take(len);
                tar.append_data(&mut header, path, &mut data)
                    .map_err(|e| ImageError::io(src, e))?;
                if data.limit() != 0 {
                    let e = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shrank while being read",
                    );
                    return Err(ImageError::io(src, e));
                }
            }
        }
    }
    tar.into_inner().map_err(layer_err)?.finish()
}
#[cfg(test)]
mod tests;
