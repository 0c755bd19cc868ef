//! The registry store: cache entries shared through an OCI registry, so
//! CI shards and laptops restore each other's builds from infrastructure
//! they already run.
//!
//! Part of `cache`, layered under the [`LocalStore`]: a [`Layered`] store
//! answers from the local folder, and on a local miss pulls the entry from
//! each `--cache-from` repository in turn into the local folder (blobs
//! first, the record last) before restoring it like any local entry; after
//! a local save it pushes the entry to the `--cache-to` repository.
//!
//! An entry is an OCI image manifest tagged [`tag_of`] the key: its config
//! is the record's JSON ([`RECORD_TYPE`], also its `artifactType`), its
//! layers the record's blobs ([`BLOB_TYPE`], titled by their path). Only
//! blobs the registry lacks are uploaded, and the manifest goes up last, so
//! a reader never sees an entry whose blobs are missing; two writers of one
//! key each put a whole entry.
//!
//! Everything a registry sends is hostile: the manifest and the record are
//! read capped, the record is checked like a local one (its key, relative
//! paths, sha256 names), each blob is streamed into the local store capped
//! at the record's size and refused unless it hashes to the record's
//! digest. A refused entry is a miss with a warning. A registry that is
//! down, refuses us or answers in a way that is not an entry's is off for
//! the rest of the run after one warning: connecting gives up after
//! [`CONNECT_TIMEOUT`] and waiting for an answer after 15 s, and a
//! manifest or record gets 15 s to arrive whole (a blob 10 minutes), so a
//! dead or dripping registry costs seconds once, not minutes per job, and
//! never fails the build. An answer that stops or times out midway is the
//! registry's failure, not a malformed entry. `plan --cache-status` reads
//! records only ([`Layered::peek`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::key::is_key;
use super::store::{Blob, LocalStore, MAX_OUTPUTS, MAX_RECORD, Record, Saving, Store};
use super::{Inputs, store};
use crate::image::registry::{
    Client, ClientOptions, Descriptor, OCI_MANIFEST, Reference, RegistryError,
};

/// The media type of an entry's config blob (the record) and its
/// `artifactType`.
pub const RECORD_TYPE: &str = "application/vnd.matrix.cache.record.v1+json";
/// The media type of an entry's layers (output files and the log).
pub const BLOB_TYPE: &str = "application/vnd.matrix.cache.blob.v1";
/// How long connecting to a cache registry may take before it is off.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a cache registry may take to start answering a request.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long receiving one answer's body may take (a blob of a large
/// binary over a slow link).
const BODY_TIMEOUT: Duration = Duration::from_secs(600);
/// Largest entry manifest read: one layer per output, each well under
/// 400 bytes.
const MAX_MANIFEST: usize = 4 << 20;

/// The tag of `key`'s entry: `ac-<key>` (67 characters, within a tag's
/// `[A-Za-z0-9_.-]{1,128}`), as the local store's `ac/<key>.json`.
pub fn tag_of(key: &str) -> Option<String> {
    is_key(key).then(|| format!("ac-{key}"))
}

/// Checks a cache reference (`--cache-from`, `[cache] to`): a registry
/// repository, without a tag or digest (the tags are the keys).
pub fn parse_reference(text: &str) -> Result<Reference, String> {
    let reference = Reference::parse(text).map_err(|e| with_help(&e))?;
    if reference.tag().is_some() || reference.digest().is_some() {
        return Err(format!(
            "`{text}` names a tag or digest; a cache is a repository (its tags are the cache keys), for example `ghcr.io/acme/tool-cache`"
        ));
    }
    Ok(reference)
}

/// One registry repository the run reads and/or writes.
#[derive(Debug)]
struct Remote {
    repo: Reference,
    read: bool,
    write: bool,
    /// Set after the first failure: not asked again in this run.
    off: AtomicBool,
}

/// The local store, with registries under it.
#[derive(Debug)]
pub struct Layered {
    local: LocalStore,
    remotes: Vec<Remote>,
    options: ClientOptions,
    /// `[cache] max-size`: an entry whose files the local store lacks add
    /// up to more is refused before any is downloaded.
    max_size: u64,
    /// Idle clients (each keeps its connections and tokens), by how long
    /// they give an answer's body ([`Body`]); jobs running at once each
    /// take one.
    clients: Mutex<Vec<(Body, Client)>>,
}

/// What a client reads, which says how long an answer's body may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// A manifest or a record (a few MiB at most): [`RESPONSE_TIMEOUT`],
    /// so a registry that drips one stalls a lookup seconds, not minutes.
    Record,
    /// A blob of a large binary over a slow link: [`BODY_TIMEOUT`].
    Blob,
}

/// Why a registry gave no entry.
enum Failure {
    /// The registry answered with a server error (5xx): tried once more,
    /// then taken as down. A registry may fail one of two uploads of the
    /// same blob at once.
    Busy(String),
    /// The registry is down, refuses us or speaks nonsense: it goes off.
    Down(String),
    /// This entry is not usable (tampered, incomplete): a miss.
    Entry(String),
}

/// The wait before the one retry after a server error.
const RETRY_AFTER: std::time::Duration = std::time::Duration::from_millis(250);

impl Layered {
    /// The local store alone.
    pub fn local_only(local: LocalStore) -> Layered {
        Layered {
            local,
            remotes: Vec::new(),
            options: ClientOptions::default(),
            max_size: super::DEFAULT_MAX_SIZE,
            clients: Mutex::new(Vec::new()),
        }
    }

    /// The local store, reading from `from` (in order) on a local miss and
    /// writing to `to` after a save; an entry larger than `max_size` is not
    /// pulled. Credentials come from the environment as for pushing images.
    pub fn open(
        local: LocalStore,
        from: &[Reference],
        to: Option<&Reference>,
        max_size: u64,
    ) -> Result<Layered, RegistryError> {
        let options = if from.is_empty() && to.is_none() {
            ClientOptions::default()
        } else {
            ClientOptions::from_env()?
        };
        let mut remotes: Vec<Remote> = Vec::new();
        for (repo, read) in from.iter().map(|r| (r, true)).chain(to.map(|r| (r, false))) {
            match remotes.iter_mut().find(|r| r.repo == *repo) {
                Some(r) if read => r.read = true,
                Some(r) => r.write = true,
                None => remotes.push(Remote {
                    repo: repo.clone(),
                    read,
                    write: !read,
                    off: AtomicBool::new(false),
                }),
            }
        }
        Ok(Layered {
            local,
            remotes,
            options,
            max_size,
            clients: Mutex::new(Vec::new()),
        })
    }

    pub fn local(&self) -> &LocalStore {
        &self.local
    }

    /// Runs `f` with an idle client for `body` (or a new one).
    fn with_client<T>(&self, body: Body, f: impl FnOnce(&mut Client) -> T) -> T {
        let idle = self.clients.lock().ok().and_then(|mut c| {
            let i = c.iter().position(|(b, _)| *b == body)?;
            Some(c.swap_remove(i).1)
        });
        let mut client = idle.unwrap_or_else(|| {
            let timeout = match body {
                Body::Record => RESPONSE_TIMEOUT,
                Body::Blob => BODY_TIMEOUT,
            };
            Client::with_timeouts(
                self.options.clone(),
                CONNECT_TIMEOUT,
                RESPONSE_TIMEOUT,
                Some(timeout),
            )
        });
        let out = f(&mut client);
        if let Ok(mut idle) = self.clients.lock() {
            idle.push((body, client));
        }
        out
    }

    /// Turns `remote` off after `failure` (warning the first time), or
    /// warns that one entry was refused.
    fn failed(&self, remote: &Remote, key: &str, failure: Failure) {
        match failure {
            Failure::Down(why) | Failure::Busy(why) => {
                if !remote.off.swap(true, Ordering::SeqCst) {
                    tracing::warn!(
                        "the cache registry {} is not used for the rest of this run: {why}",
                        remote.repo.name()
                    );
                }
            }
            Failure::Entry(why) => tracing::warn!(
                "cache entry {key} in {} is refused ({why}); the job runs",
                remote.repo.name()
            ),
        }
    }

    /// Pulls `key`'s entry from the first registry that has a usable one
    /// into the local store; whether one was pulled.
    fn pull(&self, key: &str) -> bool {
        for remote in self.remotes.iter().filter(|r| r.read) {
            if remote.off.load(Ordering::SeqCst) {
                continue;
            }
            match retried(|| self.pull_from(&remote.repo, key)) {
                Ok(true) => {
                    tracing::debug!(key, from = %remote.repo.name(), "pulled from the cache registry");
                    return true;
                }
                Ok(false) => {}
                Err(failure) => self.failed(remote, key, failure),
            }
        }
        false
    }

    /// Pulls one entry: manifest, record, blobs the local store lacks,
    /// then the local record. `false` when the registry has no such tag.
    fn pull_from(&self, repo: &Reference, key: &str) -> Result<bool, Failure> {
        let Some(record) = self.with_client(Body::Record, |c| fetch_record(c, repo, key))? else {
            return Ok(false);
        };
        let missing = self.missing_blobs(&record)?;
        self.with_client(Body::Blob, |client| self.pull_blobs(client, repo, &missing))?;
        self.local
            .put_record(&record)
            .map_err(|e| Failure::Entry(format!("cannot store its record locally: {e}")))?;
        Ok(true)
    }

    /// Streams `missing` from `repo` into the local store, each checked.
    fn pull_blobs(
        &self,
        client: &mut Client,
        repo: &Reference,
        missing: &[&Blob],
    ) -> Result<(), Failure> {
        for blob in missing {
            let digest = format!("sha256:{}", blob.sha256);
            self.local
                .put_from(blob, |out| {
                    client
                        .fetch_blob_to(repo, &digest, blob.size, out)
                        .map_err(io::Error::other)
                })
                .map_err(|e| match e.into_inner() {
                    Some(inner) => match inner.downcast::<RegistryError>() {
                        Ok(e) => classify(*e),
                        Err(other) => Failure::Entry(other.to_string()),
                    },
                    None => Failure::Entry("a blob cannot be stored".into()),
                })?;
        }
        Ok(())
    }

    /// The record's blobs the local store lacks; refused when they add up
    /// to more than `max_size` (the sizes are the registry's word: bytes
    /// past one are refused as they come, but a record may say terabytes).
    fn missing_blobs<'r>(&self, record: &'r Record) -> Result<Vec<&'r Blob>, Failure> {
        let missing: Vec<&Blob> = blobs(record)
            .into_iter()
            .filter(|b| !self.local.has_blob(b))
            .collect();
        let size = missing.iter().fold(0u64, |n, b| n.saturating_add(b.size));
        if size > self.max_size {
            return Err(Failure::Entry(format!(
                "its files are {size} bytes, more than the cache's max-size of {} bytes",
                self.max_size
            )));
        }
        Ok(missing)
    }

    /// `key`'s record without its files (for `plan --cache-status`): the
    /// local one, else the first usable one a `--cache-from` registry has
    /// (manifest and record only, checked as a pull checks them), with the
    /// repository it came from.
    pub fn peek(&self, key: &str) -> io::Result<Option<(Record, Option<String>)>> {
        if let Some(record) = self.local.lookup(key)? {
            return Ok(Some((record, None)));
        }
        for remote in self.remotes.iter().filter(|r| r.read) {
            if remote.off.load(Ordering::SeqCst) {
                continue;
            }
            let found = retried(|| {
                self.with_client(Body::Record, |c| {
                    match fetch_record(c, &remote.repo, key)? {
                        Some(record) => {
                            self.missing_blobs(&record)?;
                            Ok(Some(record))
                        }
                        None => Ok(None),
                    }
                })
            });
            match found {
                Ok(Some(record)) => return Ok(Some((record, Some(remote.repo.name())))),
                Ok(None) => {}
                Err(failure) => self.failed(remote, key, failure),
            }
        }
        Ok(None)
    }

    /// Pushes `record` (saved locally) to every registry written to.
    fn push(&self, record: &Record) {
        for remote in self.remotes.iter().filter(|r| r.write) {
            if remote.off.load(Ordering::SeqCst) {
                continue;
            }
            if let Err(failure) =
                retried(|| self.with_client(Body::Blob, |c| self.push_to(c, &remote.repo, record)))
            {
                self.failed(remote, &record.key, failure);
            }
        }
    }

    /// Uploads the blobs `repo` lacks, the record, then the manifest under
    /// the key's tag.
    fn push_to(
        &self,
        client: &mut Client,
        repo: &Reference,
        record: &Record,
    ) -> Result<(), Failure> {
        let local = |e: io::Error| Failure::Entry(format!("cannot read the local entry: {e}"));
        for blob in blobs(record) {
            let file = store::open_nofollow(&self.local.blob_path(&blob.sha256)).map_err(local)?;
            let digest = format!("sha256:{}", blob.sha256);
            client
                .push_blob_file(repo, &digest, blob.size, &file)
                .map_err(classify)?;
        }
        let json = store::record_bytes(record).map_err(local)?;
        let config = Descriptor {
            media_type: RECORD_TYPE.into(),
            digest: digest_of(&json),
            size: json.len() as u64,
        };
        client
            .push_blob(repo, &config.digest, &json)
            .map_err(classify)?;
        let manifest = manifest_bytes(record, config);
        let tag = tag_of(&record.key).ok_or_else(|| Failure::Entry("not a key".into()))?;
        client
            .push_manifest(repo, &tag, OCI_MANIFEST, &manifest)
            .map_err(classify)?;
        tracing::debug!(key = %record.key, to = %repo.name(), "pushed to the cache registry");
        Ok(())
    }
}

impl Store for Layered {
    fn lookup(&self, key: &str) -> io::Result<Option<Record>> {
        if let Some(record) = self.local.lookup(key)? {
            return Ok(Some(record));
        }
        if self.pull(key) {
            return self.local.lookup(key);
        }
        Ok(None)
    }

    fn restore(
        &self,
        record: &Record,
        bases: &BTreeMap<String, std::path::PathBuf>,
        log: &Path,
    ) -> io::Result<()> {
        self.local.restore(record, bases, log)
    }

    fn save(
        &self,
        job: &str,
        inputs: &Inputs,
        outputs: &[Saving],
        log: Option<&Path>,
    ) -> io::Result<Record> {
        let record = self.local.save(job, inputs, outputs, log)?;
        self.push(&record);
        Ok(record)
    }

    fn drop_record(&self, key: &str) {
        self.local.drop_record(key);
    }

    fn last_inputs(&self, scope: &str) -> Option<Inputs> {
        self.local.last_inputs(scope)
    }

    fn set_last_inputs(&self, scope: &str, inputs: &Inputs) -> io::Result<()> {
        self.local.set_last_inputs(scope, inputs)
    }
}

/// `key`'s record as `repo` has it (manifest and record read capped, the
/// record checked like a local one), or `None` when it has no such tag.
fn fetch_record(
    client: &mut Client,
    repo: &Reference,
    key: &str,
) -> Result<Option<Record>, Failure> {
    let tag = tag_of(key).ok_or_else(|| Failure::Entry(format!("`{key}` is not a key")))?;
    let reference = repo
        .with_tag(&tag)
        .map_err(|e| Failure::Entry(e.to_string()))?;
    let (_, bytes, _) = match client.fetch_manifest(&reference, &[OCI_MANIFEST]) {
        Ok(found) => found,
        Err(RegistryError::Status { status: 404, .. }) => return Ok(None),
        Err(e) => return Err(classify(e)),
    };
    let config = record_descriptor(&bytes).map_err(Failure::Entry)?;
    let json = client
        .fetch_blob(repo, &config.digest, config.size)
        .map_err(classify)?;
    let record: Record = serde_json::from_slice(&json)
        .map_err(|e| Failure::Entry(format!("its record does not parse: {e}")))?;
    store::check(&record, key).map_err(|why| Failure::Entry(format!("its record {why}")))?;
    Ok(Some(record))
}

/// `call`, and once more after [`RETRY_AFTER`] if the registry answered
/// with a server error (pulls and pushes are idempotent).
fn retried<T>(call: impl Fn() -> Result<T, Failure>) -> Result<T, Failure> {
    match call() {
        Err(Failure::Busy(_)) => {
            std::thread::sleep(RETRY_AFTER);
            call()
        }
        done => done,
    }
}

/// A registry error as a [`Failure`]: a missing or wrong blob is the
/// entry's fault, a server error may pass, anything else (connection,
/// auth) is the registry's.
fn classify(e: RegistryError) -> Failure {
    match e {
        RegistryError::Status { status: 404, .. }
        | RegistryError::DigestMismatch { .. }
        | RegistryError::BadDigest { .. } => Failure::Entry(e.to_string()),
        RegistryError::Status {
            status: 500..=599, ..
        } => Failure::Busy(with_help(&e)),
        other => Failure::Down(with_help(&other)),
    }
}

/// A registry error and what to do about it (`is the registry running?
/// check with curl ...`).
fn with_help(e: &RegistryError) -> String {
    use miette::Diagnostic as _;
    match e.help() {
        Some(help) => format!("{e} ({help})"),
        None => e.to_string(),
    }
}

/// The record's distinct blobs: outputs, then the log.
fn blobs(record: &Record) -> Vec<&Blob> {
    let mut seen = BTreeSet::new();
    record
        .outputs
        .iter()
        .map(|o| &o.blob)
        .chain(&record.log)
        .filter(|b| seen.insert(b.sha256.as_str()))
        .collect()
}

fn digest_of(bytes: &[u8]) -> String {
    use crate::package::checksum::{Algorithm, Hasher};
    let mut hasher = Hasher::new(Algorithm::Sha256);
    hasher.update(bytes);
    format!("sha256:{}", hasher.finalize_hex())
}

/// The parts of an entry's manifest matrix reads and writes.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema_version: u32,
    media_type: String,
    artifact_type: String,
    config: Descriptor,
    layers: Vec<Layer>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Layer {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

/// An entry's manifest: the record as config, one layer per distinct
/// blob, titled by the first output path that holds it (`log` for the log).
fn manifest_bytes(record: &Record, config: Descriptor) -> Vec<u8> {
    let titles: BTreeMap<&str, String> = record
        .log
        .iter()
        .map(|b| (b.sha256.as_str(), "log".to_string()))
        .chain(
            record
                .outputs
                .iter()
                .rev()
                .map(|o| (o.blob.sha256.as_str(), format!("{}/{}", o.base, o.path))),
        )
        .collect();
    let layers = blobs(record)
        .into_iter()
        .map(|b| Layer {
            media_type: BLOB_TYPE.into(),
            digest: format!("sha256:{}", b.sha256),
            size: b.size,
            annotations: titles
                .get(b.sha256.as_str())
                .map(|t| BTreeMap::from([("org.opencontainers.image.title".into(), t.clone())]))
                .unwrap_or_default(),
        })
        .collect();
    let manifest = Manifest {
        schema_version: 2,
        media_type: OCI_MANIFEST.into(),
        artifact_type: RECORD_TYPE.into(),
        config,
        layers,
    };
    serde_json::to_vec(&manifest).unwrap_or_default()
}

/// The record's descriptor in an entry manifest, checked: an OCI manifest
/// of a matrix record no larger than a record may be, with at most one
/// layer per output and the log.
fn record_descriptor(bytes: &[u8]) -> Result<Descriptor, String> {
    if bytes.len() > MAX_MANIFEST {
        return Err(format!("its manifest is larger than {MAX_MANIFEST} bytes"));
    }
    let m: Manifest =
        serde_json::from_slice(bytes).map_err(|e| format!("its manifest does not parse: {e}"))?;
    if m.schema_version != 2 || m.media_type != OCI_MANIFEST || m.config.media_type != RECORD_TYPE {
        return Err(format!(
            "its manifest is not a matrix cache entry (config media type `{}`, {RECORD_TYPE} expected)",
            m.config.media_type
        ));
    }
    if m.config.size > MAX_RECORD {
        return Err(format!(
            "its record is {} bytes, more than {MAX_RECORD}",
            m.config.size
        ));
    }
    if m.layers.len() > MAX_OUTPUTS + 1 {
        return Err(format!("its manifest lists {} layers", m.layers.len()));
    }
    Ok(m.config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::store::OutputFile;

    fn record(key: &str) -> Record {
        let blob = |c: char, size| Blob {
            sha256: c.to_string().repeat(64),
            size,
        };
        Record {
            format: crate::cache::FORMAT,
            key: key.into(),
            job: "build-linux-amd64".into(),
            inputs: Inputs::default(),
            outputs: vec![
                OutputFile {
                    base: "out".into(),
                    path: "hello".into(),
                    blob: blob('a', 3),
                    mode: 0o755,
                },
                OutputFile {
                    base: "out".into(),
                    path: "copy/hello".into(),
                    blob: blob('a', 3),
                    mode: 0o755,
                },
            ],
            log: Some(blob('b', 9)),
        }
    }

    #[test]
    fn a_server_error_is_tried_once_more_and_nothing_else_is() {
        use std::cell::Cell;
        let calls = Cell::new(0);
        let busy_once = || {
            calls.set(calls.get() + 1);
            match calls.get() {
                1 => Err(Failure::Busy("500".into())),
                _ => Ok(()),
            }
        };
        assert!(retried(busy_once).is_ok());
        assert_eq!(calls.get(), 2);
        calls.set(0);
        let busy = || {
            calls.set(calls.get() + 1);
            Err::<(), _>(Failure::Busy("503".into()))
        };
        assert!(matches!(retried(busy), Err(Failure::Busy(_))));
        assert_eq!(calls.get(), 2, "one retry, not more");
        for failure in [Failure::Down, Failure::Entry] {
            calls.set(0);
            let fails = || {
                calls.set(calls.get() + 1);
                Err::<(), _>(failure("x".into()))
            };
            assert!(retried(fails).is_err());
            assert_eq!(calls.get(), 1);
        }
        let status = |status| RegistryError::Status {
            registry: "127.0.0.1:5000".into(),
            repository: "cache".into(),
            action: "HEAD blob".into(),
            status,
            message: String::new(),
            hint: None,
        };
        assert!(matches!(classify(status(500)), Failure::Busy(_)));
        assert!(matches!(classify(status(404)), Failure::Entry(_)));
        assert!(matches!(classify(status(401)), Failure::Down(_)));
    }

    #[test]
    fn a_keys_tag_is_a_valid_tag_and_nothing_else_gets_one() {
        let key = "0123456789abcdef".repeat(4);
        let tag = tag_of(&key).unwrap();
        assert_eq!(tag, format!("ac-{key}"));
        let repo = parse_reference("127.0.0.1:5000/team/cache").unwrap();
        assert_eq!(repo.with_tag(&tag).unwrap().tag(), Some(tag.as_str()));
        for bad in ["", "latest", "../x", &"A".repeat(64), &"a".repeat(65)] {
            assert_eq!(tag_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_cache_reference_is_a_repository() {
        let r = parse_reference("ghcr.io/acme/tool-cache").unwrap();
        assert_eq!(r.name(), "ghcr.io/acme/tool-cache");
        let tagged = parse_reference("ghcr.io/acme/tool-cache:v1").unwrap_err();
        assert!(tagged.contains("names a tag or digest"), "{tagged}");
        let bad = parse_reference("ghcr.io/Acme/x").unwrap_err();
        assert!(bad.contains("lowercase"), "{bad}");
    }

    #[test]
    fn an_entry_manifest_round_trips_and_lists_each_blob_once() {
        let key = "c".repeat(64);
        let r = record(&key);
        let config = Descriptor {
            media_type: RECORD_TYPE.into(),
            digest: format!("sha256:{}", "d".repeat(64)),
            size: 100,
        };
        let bytes = manifest_bytes(&r, config.clone());
        assert_eq!(record_descriptor(&bytes).unwrap(), config);
        let m: Manifest = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(m.layers.len(), 2);
        assert_eq!(
            m.layers[0].annotations["org.opencontainers.image.title"],
            "out/hello"
        );
        assert_eq!(
            m.layers[1].annotations["org.opencontainers.image.title"],
            "log"
        );
        assert_eq!(
            bytes,
            manifest_bytes(&r, config),
            "the same bytes each time"
        );
    }

    #[test]
    fn a_manifest_that_is_not_an_entry_is_refused() {
        let key = "c".repeat(64);
        let config = |media: &str, size| Descriptor {
            media_type: media.into(),
            digest: format!("sha256:{}", "d".repeat(64)),
            size,
        };
        let image = manifest_bytes(
            &record(&key),
            config("application/vnd.oci.image.config.v1+json", 10),
        );
        assert!(
            record_descriptor(&image)
                .unwrap_err()
                .contains("not a matrix cache entry")
        );
        let huge = manifest_bytes(&record(&key), config(RECORD_TYPE, MAX_RECORD + 1));
        assert!(record_descriptor(&huge).unwrap_err().contains("more than"));
        assert!(
            record_descriptor(b"{")
                .unwrap_err()
                .contains("does not parse")
        );
        let big = vec![b' '; MAX_MANIFEST + 1];
        assert!(record_descriptor(&big).unwrap_err().contains("larger than"));
    }

    #[test]
    fn a_pulled_record_is_checked_like_a_local_one() {
        let key = "c".repeat(64);
        assert!(store::check(&record(&key), &key).is_ok());
        let other = store::check(&record(&key), &"e".repeat(64)).unwrap_err();
        assert!(other.contains("record of key"), "{other}");
        let mut escape = record(&key);
        escape.outputs[0].path = "../../.bashrc".into();
        let err = store::check(&escape, &key).unwrap_err();
        assert!(err.contains("leaves its folder"), "{err}");
        let mut named = record(&key);
        named.outputs[1].blob.sha256 = "../../etc/passwd".into();
        assert!(
            store::check(&named, &key)
                .unwrap_err()
                .contains("not a sha256")
        );
        let mut many = record(&key);
        many.outputs = vec![many.outputs[0].clone(); MAX_OUTPUTS + 1];
        assert!(store::check(&many, &key).unwrap_err().contains("more than"));
    }

    #[test]
    fn a_registry_that_is_down_is_off_after_one_try_and_costs_no_stall() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let repo = parse_reference(&format!("127.0.0.1:{port}/cache")).unwrap();
        let local = LocalStore::open(dir.path()).unwrap();
        let store = Layered::open(
            local,
            std::slice::from_ref(&repo),
            Some(&repo),
            super::super::DEFAULT_MAX_SIZE,
        )
        .unwrap();
        assert_eq!(store.remotes.len(), 1, "one repository read and written");
        let started = std::time::Instant::now();
        assert!(store.lookup(&"c".repeat(64)).unwrap().is_none());
        assert!(store.remotes[0].off.load(Ordering::SeqCst));
        assert!(store.lookup(&"d".repeat(64)).unwrap().is_none());
        assert!(started.elapsed() < CONNECT_TIMEOUT);
    }

    /// A registry at 127.0.0.1 that answers every request at once, then
    /// sends its body a byte a second for a minute; its port.
    fn dripping_registry() -> u16 {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(8) {
                let Ok(mut s) = stream else { continue };
                std::thread::spawn(move || {
                    let _ = s.read(&mut [0u8; 4096]);
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: {OCI_MANIFEST}\r\ncontent-length: 100000\r\n\r\n"
                    );
                    let _ = s.write_all(head.as_bytes());
                    for _ in 0..60 {
                        if s.write_all(b" ").is_err() {
                            break;
                        }
                        std::thread::sleep(Duration::from_secs(1));
                    }
                });
            }
        });
        port
    }

    /// A store in a fresh folder reading from a registry that drips.
    fn dripping_store() -> (tempfile::TempDir, Layered) {
        let port = dripping_registry();
        let dir = tempfile::tempdir().unwrap();
        let repo = parse_reference(&format!("127.0.0.1:{port}/cache")).unwrap();
        let local = LocalStore::open(dir.path()).unwrap();
        let max = super::super::DEFAULT_MAX_SIZE;
        let store = Layered::open(local, std::slice::from_ref(&repo), None, max).unwrap();
        (dir, store)
    }

    /// `f` took no longer than one answer's time (and some slack).
    fn within_an_answer(f: impl FnOnce()) {
        let started = std::time::Instant::now();
        f();
        let took = started.elapsed();
        assert!(
            took < RESPONSE_TIMEOUT + Duration::from_secs(10),
            "{took:?}"
        );
    }

    #[test]
    fn a_registry_that_drips_a_record_to_a_build_stalls_it_once() {
        // A build's client gives a blob minutes; a record must not get
        // them, and a registry that timed out is off for the run, not
        // waited for again by every job.
        let (_dir, store) = dripping_store();
        within_an_answer(|| {
            assert!(store.lookup(&"c".repeat(64)).unwrap().is_none());
            assert!(store.lookup(&"d".repeat(64)).unwrap().is_none());
        });
        assert!(store.remotes[0].off.load(Ordering::SeqCst));
    }

    #[test]
    fn a_registry_that_drips_a_record_stalls_a_peek_no_longer_than_an_answer() {
        let (_dir, store) = dripping_store();
        within_an_answer(|| assert!(store.peek(&"c".repeat(64)).unwrap().is_none()));
    }

    /// The test registry (scripts/setup-containers.sh), or `None` when
    /// nothing listens there outside CI; in CI a missing one fails.
    fn test_registry() -> Option<String> {
        let host =
            std::env::var("MATRIX_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into());
        let up = std::net::TcpStream::connect(&host).is_ok();
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            up || !ci,
            "no registry at {host}: run scripts/setup-containers.sh"
        );
        up.then_some(host)
    }

    #[test]
    fn an_entry_larger_than_max_size_is_refused_before_a_byte_is_pulled() {
        let Some(host) = test_registry() else { return };
        let dir = tempfile::tempdir().unwrap();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let repo = parse_reference(&format!("{host}/matrix-unit-{nanos}/cache")).unwrap();
        let max = super::super::DEFAULT_MAX_SIZE;
        let open = |name: &str, max_size| {
            let local = LocalStore::open(&dir.path().join(name)).unwrap();
            Layered::open(local, std::slice::from_ref(&repo), Some(&repo), max_size).unwrap()
        };
        let file = dir.path().join("hello");
        std::fs::write(&file, "sixteen bytes...").unwrap();
        let mut inputs = Inputs::default();
        inputs.set("nanos", nanos);
        let saving = [Saving {
            base: "out".into(),
            path: "hello".into(),
            file,
        }];
        let record = open("writer", max)
            .save("build-x", &inputs, &saving, None)
            .unwrap();
        let small = open("small", 15);
        assert!(small.lookup(&record.key).unwrap().is_none());
        assert!(!small.remotes[0].off.load(Ordering::SeqCst));
        assert!(!small.local.has_blob(&record.outputs[0].blob));
        let fits = open("fits", 16);
        assert_eq!(fits.lookup(&record.key).unwrap(), Some(record));
    }
}
