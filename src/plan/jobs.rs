//! The job graph: which jobs a plan runs, and what each one waits for.
//!
//! Part of `plan`, so pure. A job is a [`JobId`]: its kind with the typed
//! indexes it works on. [`Steps::name`] is the one place a job's string id
//! (`build-linux-arm64`, `checksums`: the names in logs and the manifest)
//! is made, and [`Steps::needs`] the one place what a job waits for is
//! decided, for a whole plan, a shard and a merge alike; the release-wide
//! jobs (checksums, manifest, notes, channels, indexes and pushes) are
//! ruled there once. A need that names no job of the plan is a
//! [`GraphError`] when the plan is made, never dropped.

use serde::Serialize;
use serde::ser::SerializeStruct;

use super::Target;
use super::channels::ChannelStep;
use super::containers::{BuilderStep, ContainerImage};
use super::images::ImagePlan;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Build a `[builders.<name>]` image (or find it already built).
    Builder,
    Build,
    Archive,
    /// Write one archive's SBOMs (`[sbom]`).
    Sbom,
    /// Build one platform of one image variant.
    Image,
    /// Assemble a variant's multi-platform index (and its OCI archive).
    Index,
    /// Push a variant's index under every tag to every repository.
    Push,
    /// Build one target's package of a channel that makes one per
    /// target (a .deb, .rpm, .msi or .snap).
    Package,
    /// Render one release channel's files (and build its packages, unless
    /// its package jobs do).
    Channel,
    /// Write the release notes.
    Notes,
    Checksums,
    /// Sign the checksums file (or every artifact): `[sign]`.
    Sign,
    Manifest,
}

impl JobKind {
    /// The jobs that read the records of the jobs before them
    /// (artifacts, verified binaries, durations): the channels and their
    /// package jobs, the notes, the checksums file and the manifest.
    pub fn reads_results(self) -> bool {
        matches!(
            self,
            JobKind::Checksums
                | JobKind::Sign
                | JobKind::Manifest
                | JobKind::Channel
                | JobKind::Package
                | JobKind::Notes
                | JobKind::Sbom
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Builder => "builder",
            JobKind::Build => "build",
            JobKind::Image => "image",
            JobKind::Index => "index",
            JobKind::Push => "push",
            JobKind::Package => "package",
            JobKind::Channel => "channel",
            JobKind::Notes => "notes",
            JobKind::Archive => "archive",
            JobKind::Sbom => "sbom",
            JobKind::Checksums => "checksums",
            JobKind::Sign => "sign",
            JobKind::Manifest => "manifest",
        }
    }
}

/// What a job works on: its kind and the indexes into the plan it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobId {
    /// Index into `Plan::builders`.
    Builder(usize),
    /// Index into `Plan::targets`.
    Build(usize),
    /// Index into `Plan::targets`.
    Archive(usize),
    /// Index into `Plan::targets` (and `Plan::sboms`).
    Sbom(usize),
    /// Indexes into the image variants and into the variant's platforms.
    Image {
        variant: usize,
        platform: usize,
    },
    /// Index into the image variants.
    Index(usize),
    /// Index into the image variants.
    Push(usize),
    /// Indexes into `Plan::channels` and `Plan::targets`: the channel's
    /// package of that target.
    Package {
        channel: usize,
        target: usize,
    },
    /// Index into `Plan::channels`.
    Channel(usize),
    Notes,
    Checksums,
    Sign,
    Manifest,
}

impl JobId {
    pub fn kind(self) -> JobKind {
        match self {
            JobId::Builder(_) => JobKind::Builder,
            JobId::Build(_) => JobKind::Build,
            JobId::Archive(_) => JobKind::Archive,
            JobId::Sbom(_) => JobKind::Sbom,
            JobId::Image { .. } => JobKind::Image,
            JobId::Index(_) => JobKind::Index,
            JobId::Push(_) => JobKind::Push,
            JobId::Package { .. } => JobKind::Package,
            JobId::Channel(_) => JobKind::Channel,
            JobId::Notes => JobKind::Notes,
            JobId::Checksums => JobKind::Checksums,
            JobId::Sign => JobKind::Sign,
            JobId::Manifest => JobKind::Manifest,
        }
    }

    /// The target of a per-target job (builds, archives, SBOMs and
    /// packages).
    pub fn target(self) -> Option<usize> {
        match self {
            JobId::Build(t) | JobId::Archive(t) | JobId::Sbom(t) => Some(t),
            JobId::Package { target, .. } => Some(target),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    /// Unique, file-name safe: `build-linux-arm64`, `checksums`.
    pub id: String,
    /// The kind of `work`, kept beside it for readers of the plan.
    pub kind: JobKind,
    /// What the job works on; `id` and `kind` are made from it. Private,
    /// so a job is only made by [`Steps::wire`].
    work: JobId,
    /// The job runs a container engine, so `--container-jobs` counts it.
    pub uses_engine: bool,
    /// Ids of the jobs that must succeed first; each names a job of the plan.
    pub needs: Vec<String>,
}

impl Job {
    pub fn work(&self) -> JobId {
        self.work
    }

    /// Index into `Plan::targets` for per-target jobs.
    pub fn target(&self) -> Option<usize> {
        self.work.target()
    }
}

/// The plan's JSON shape of a job: `item` is the builder, variant or
/// channel index (a package job's channel), `platform` the image
/// platform's.
impl Serialize for Job {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (item, platform) = match self.work {
            JobId::Builder(i) | JobId::Index(i) | JobId::Push(i) | JobId::Channel(i) => {
                (Some(i), None)
            }
            JobId::Package { channel, .. } => (Some(channel), None),
            JobId::Image { variant, platform } => (Some(variant), Some(platform)),
            _ => (None, None),
        };
        let fields = 5 + usize::from(item.is_some()) + usize::from(platform.is_some());
        let mut st = s.serialize_struct("Job", fields)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("target", &self.target())?;
        if let Some(item) = item {
            st.serialize_field("item", &item)?;
        }
        if let Some(platform) = platform {
            st.serialize_field("platform", &platform)?;
        }
        st.serialize_field("uses_engine", &self.uses_engine)?;
        st.serialize_field("needs", &self.needs)?;
        st.end()
    }
}

/// A job graph that does not hold together.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum GraphError {
    #[error("job {job} needs {need}, which is no job of the plan")]
    #[diagnostic(code(matrix::plan::missing_need))]
    MissingNeed { job: String, need: String },
    #[error("job {job} runs in builder {builder:?}, which the plan does not build")]
    #[diagnostic(code(matrix::plan::missing_need))]
    NoBuilder { job: String, builder: String },
}

/// Which part of a release the graph runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The whole release on one machine.
    Whole,
    /// One shard's builds and archives, ending with a shard manifest.
    Shard,
    /// The release-wide jobs over the shards' archives and images.
    Merge,
}

/// The plan's steps job ids and needs are made from.
#[derive(Debug, Clone, Copy)]
pub struct Steps<'a> {
    pub targets: &'a [Target],
    pub builders: &'a [BuilderStep],
    pub images: Option<&'a ImagePlan>,
    pub channels: &'a [ChannelStep],
    /// `[sbom]`: every archive gets an SBOM job.
    pub sbom: bool,
    /// `[sign]`: a sign job follows the checksums.
    pub sign: bool,
}

impl Steps<'_> {
    fn variant(&self, v: usize) -> &super::images::ImageVariant {
        let variants = self.images.map_or(&[][..], |i| &i.variants);
        &variants[v]
    }

    /// The one constructor of a job's string id.
    pub fn name(&self, id: JobId) -> String {
        match id {
            JobId::Builder(b) => format!("builder-{}", self.builders[b].name),
            JobId::Build(t) => format!("build-{}", self.targets[t].slug),
            JobId::Archive(t) => format!("archive-{}", self.targets[t].slug),
            JobId::Sbom(t) => format!("sbom-{}", self.targets[t].slug),
            JobId::Image { variant, platform } => {
                format!("image-{}", self.variant(variant).platforms[platform].slug)
            }
            JobId::Index(v) => format!("index-{}", self.variant(v).slug),
            JobId::Push(v) => format!("push-{}", self.variant(v).slug),
            // One channel per kind, and a kind's folder has no '-': unique.
            JobId::Package { channel, target } => format!(
                "package-{}-{}",
                self.channels[channel].kind.dir(),
                self.targets[target].slug
            ),
            JobId::Channel(c) => format!("channel-{}", self.channels[c].name),
            JobId::Notes => "release-notes".into(),
            JobId::Checksums => "checksums".into(),
            JobId::Sign => "sign".into(),
            JobId::Manifest => "manifest".into(),
        }
    }

    /// Jobs whose results `scope` takes from elsewhere: a merge's
    /// archives and platform images come from the shards. A joined
    /// target's build and archive are the merge's own (no shard has both
    /// thin binaries).
    fn done_elsewhere(&self, id: JobId, scope: Scope) -> bool {
        scope == Scope::Merge
            && matches!(
                id.kind(),
                JobKind::Builder | JobKind::Build | JobKind::Archive | JobKind::Image
            )
            && id.target().is_none_or(|t| self.targets[t].of_matrix())
    }

    fn uses_engine(&self, id: JobId) -> bool {
        match id {
            JobId::Builder(_) => true,
            JobId::Build(t) => self.targets[t].build.container.is_some(),
            // Decided per Dockerfile at run time; counting every image
            // build keeps the engine from being overloaded.
            JobId::Image { .. } => self
                .images
                .is_some_and(|i| i.native != crate::config::NativeMode::Always),
            _ => false,
        }
    }

    /// What `id` waits for, given the jobs of the graph (`jobs`, in plan
    /// order). The rules of every kind, written once.
    pub fn needs(&self, id: JobId, jobs: &[JobId], scope: Scope) -> Result<Vec<JobId>, GraphError> {
        // The jobs of the graph of some kinds, in plan order.
        let of = |keep: &dyn Fn(JobKind) -> bool| -> Vec<JobId> {
            jobs.iter().copied().filter(|j| keep(j.kind())).collect()
        };
        let oci = self.images.is_some_and(|i| i.oci_archives);
        let push = self.images.is_some_and(|i| i.push);
        let needs: Vec<JobId> = match id {
            JobId::Builder(_) => vec![],
            // A joined target's build reads the thin builds' binaries.
            JobId::Build(t) if self.targets[t].joins.is_some() => self.targets[t]
                .joins
                .iter()
                .flatten()
                .map(|&thin| JobId::Build(thin))
                .collect(),
            JobId::Build(t) => match &self.targets[t].build.container {
                Some(ContainerImage::Builder { name }) => {
                    let b = self
                        .builders
                        .iter()
                        .position(|b| &b.name == name)
                        .ok_or_else(|| GraphError::NoBuilder {
                            job: self.name(id),
                            builder: name.clone(),
                        })?;
                    vec![JobId::Builder(b)]
                }
                _ => vec![],
            },
            JobId::Archive(t) => vec![JobId::Build(t)],
            // The SBOM reads the binary and names the archive's digest.
            JobId::Sbom(t) => vec![JobId::Archive(t)],
            JobId::Image { variant, platform } => {
                vec![JobId::Build(
                    self.variant(variant).platforms[platform].target,
                )]
            }
            JobId::Index(v) => (0..self.variant(v).platforms.len())
                .map(|platform| JobId::Image {
                    variant: v,
                    platform,
                })
                .collect(),
            // Nothing is pushed until every archive and the checksums file
            // exist: a failed release must not leave images out in a
            // registry.
            JobId::Push(v) => vec![JobId::Index(v), JobId::Checksums],
            // A package is built from its target's binary, and names its
            // archive's record.
            JobId::Package { target, .. } => vec![JobId::Archive(target)],
            JobId::Channel(c) => self.channel_needs(c, jobs),
            // The notes also list the images.
            JobId::Notes => of(&|k| matches!(k, JobKind::Archive | JobKind::Index)),
            // Every file of the release: the archives and their SBOMs,
            // then the release files (OCI archives, channel files, the
            // notes).
            JobId::Checksums => {
                let mut needs = of(&|k| matches!(k, JobKind::Archive | JobKind::Sbom));
                needs.extend(of(&|k| match k {
                    JobKind::Index => oci,
                    JobKind::Package | JobKind::Channel | JobKind::Notes => true,
                    _ => false,
                }));
                needs
            }
            // The signatures cover the checksums file, and with
            // `artifacts = "all"` every file it lists.
            JobId::Sign => vec![JobId::Checksums],
            // A shard's manifest records its parts.
            JobId::Manifest if scope == Scope::Shard => {
                of(&|k| matches!(k, JobKind::Archive | JobKind::Image))
            }
            // The manifest records every image, so it waits for them: for
            // the pushes, or for the indexes the checksums do not wait for.
            JobId::Manifest => {
                let mut needs = vec![JobId::Checksums];
                needs.extend(of(&|k| k == JobKind::Sign));
                needs.extend(of(&|k| match k {
                    JobKind::Push => true,
                    JobKind::Index => !push && !oci,
                    _ => false,
                }));
                needs
            }
        };
        Ok(needs
            .into_iter()
            .filter(|n| !self.done_elsewhere(*n, scope))
            .collect())
    }

    /// A channel reads its archives' records, and comes after its
    /// package jobs (of `jobs`), so it ends when its whole kind is done.
    fn channel_needs(&self, c: usize, jobs: &[JobId]) -> Vec<JobId> {
        let mut needs: Vec<JobId> = self.channels[c]
            .targets
            .iter()
            .map(|(t, _)| JobId::Archive(*t))
            .collect();
        needs.extend(
            jobs.iter()
                .filter(|j| matches!(j, JobId::Package { channel, .. } if *channel == c)),
        );
        needs
    }

    /// Makes the jobs of `ids` (in that order) with their needs; a need
    /// that names no job of `ids` is an error.
    pub fn wire(&self, ids: &[JobId], scope: Scope) -> Result<Vec<Job>, GraphError> {
        let mut jobs = Vec::with_capacity(ids.len());
        // A set: the checksums job alone needs every archive.
        let known: std::collections::HashSet<JobId> = ids.iter().copied().collect();
        for &id in ids {
            let needs = self.needs(id, ids, scope)?;
            if let Some(missing) = needs.iter().find(|n| !known.contains(n)) {
                return Err(GraphError::MissingNeed {
                    job: self.name(id),
                    need: self.name(*missing),
                });
            }
            jobs.push(Job {
                id: self.name(id),
                kind: id.kind(),
                work: id,
                uses_engine: self.uses_engine(id),
                needs: needs.into_iter().map(|n| self.name(n)).collect(),
            });
        }
        Ok(jobs)
    }

    /// Every job of a whole release, in plan order: builder images; build
    /// then archive (then SBOM) per target; per image variant its platforms, index
    /// and push; per channel its package jobs (one per target, for a kind
    /// that makes them) then the channel; the notes; then checksums, the signatures (with
    /// `[sign]`), then the manifest.
    pub fn all(&self, notes: bool) -> Vec<JobId> {
        let mut ids: Vec<JobId> = (0..self.builders.len()).map(JobId::Builder).collect();
        for t in 0..self.targets.len() {
            ids.extend([JobId::Build(t), JobId::Archive(t)]);
            if self.sbom {
                ids.push(JobId::Sbom(t));
            }
        }
        if let Some(images) = self.images {
            for (v, variant) in images.variants.iter().enumerate() {
                ids.extend((0..variant.platforms.len()).map(|platform| JobId::Image {
                    variant: v,
                    platform,
                }));
                ids.push(JobId::Index(v));
                if images.push {
                    ids.push(JobId::Push(v));
                }
            }
        }
        for (c, channel) in self.channels.iter().enumerate() {
            if channel.per_target() {
                ids.extend(
                    channel
                        .targets
                        .iter()
                        .map(|&(target, _)| JobId::Package { channel: c, target }),
                );
            }
            ids.push(JobId::Channel(c));
        }
        if notes {
            ids.push(JobId::Notes);
        }
        ids.push(JobId::Checksums);
        if self.sign {
            ids.push(JobId::Sign);
        }
        ids.push(JobId::Manifest);
        ids
    }
}
