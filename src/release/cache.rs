//! `matrix cache stats|prune|clear`: the action cache looked after by
//! hand; and `matrix plan --cache-status`, what a build would restore.
//! Part of `release`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cache::{self, DEFAULT_MAX_SIZE, LocalStore};
use crate::error::Error;

/// Which store, and its cap: `--cache-dir`, else `[cache]` of the config
/// at `config` when that file exists, else the user's cache folder.
#[derive(Debug, Clone, Serialize)]
pub struct CacheLocation {
    pub dir: PathBuf,
    pub max_size: u64,
}

pub fn cache_location(config: &Path, flag: Option<&Path>) -> Result<CacheLocation, Error> {
    let table = if config.is_file() {
        crate::config::load(config)?.config.cache
    } else {
        None
    };
    let max_size = match table.as_ref().and_then(|t| t.max_size.as_deref()) {
        None => DEFAULT_MAX_SIZE,
        Some(text) => cache::parse_size(text).ok_or_else(|| Error::Usage {
            message: format!(
                "{}: [cache] max-size `{text}` is not a size (e.g. \"10GiB\")",
                config.display()
            ),
        })?,
    };
    let base = config.parent().unwrap_or(Path::new("."));
    let dir = flag
        .map(Path::to_path_buf)
        .or_else(|| table.as_ref()?.dir.as_ref().map(|d| base.join(d)))
        .or_else(cache::default_dir)
        .ok_or_else(|| Error::Usage {
            message: "no folder for the cache: HOME is not set; pass --cache-dir".into(),
        })?;
    Ok(CacheLocation { dir, max_size })
}

/// What `matrix cache stats` prints.
#[derive(Debug, Clone, Serialize)]
pub struct CacheStats {
    #[serde(flatten)]
    pub location: CacheLocation,
    #[serde(flatten)]
    pub stats: cache::prune::Stats,
}

pub fn cache_stats(at: &CacheLocation) -> Result<CacheStats, Error> {
    let store = LocalStore::open(&at.dir).map_err(Error::io(&at.dir))?;
    Ok(CacheStats {
        location: at.clone(),
        stats: cache::prune::stats(&store).map_err(Error::io(&at.dir))?,
    })
}

pub fn cache_prune(at: &CacheLocation) -> Result<cache::prune::Removed, Error> {
    let store = LocalStore::open(&at.dir).map_err(Error::io(&at.dir))?;
    cache::prune::prune(&store, at.max_size).map_err(Error::io(&at.dir))
}

pub fn cache_clear(at: &CacheLocation) -> Result<cache::prune::Removed, Error> {
    let store = LocalStore::open(&at.dir).map_err(Error::io(&at.dir))?;
    cache::prune::clear(&store).map_err(Error::io(&at.dir))
}

/// Each cached job of `plan` (builds, archives, package channels, platform
/// images) and what the cache would do with it now (`hit`, `miss: <why>`,
/// `not cached: <why>`, `unknown: <why>` after a miss). The store is
/// `--cache-dir`, else `[cache] dir`, else the user's cache folder, with
/// the `from` registries (else `[cache] from`) asked for the records it
/// lacks.
pub fn cache_status(
    plan: &crate::plan::Plan,
    flag: Option<&Path>,
    from: &[String],
) -> Result<Vec<(String, String)>, Error> {
    let dir = crate::exec::cache_dir(flag, plan).ok_or_else(|| Error::Usage {
        message: "no folder for the cache: HOME is not set; pass --cache-dir".into(),
    })?;
    let store = LocalStore::open(&dir).map_err(Error::io(&dir))?;
    // An engine only when a job runs in an image; one that does not
    // answer leaves those jobs `not cached: no container engine`.
    let engine = plan
        .containers
        .as_ref()
        .and_then(|c| crate::engine::detect(c).ok());
    // Registries are asked for records only (`Layered::peek`).
    let store = layered(store, plan, from, None)?;
    Ok(crate::exec::Cache::open(store, plan).status(plan, engine.as_ref()))
}

/// The local store with the registries the cache reads (`from`, else
/// `[cache] from`) and writes (`to`, else `[cache] to`).
pub(super) fn layered(
    local: LocalStore,
    plan: &crate::plan::Plan,
    from: &[String],
    to: Option<&String>,
) -> Result<cache::Layered, Error> {
    let settings = plan.cache.as_ref();
    let from = match from.is_empty() {
        true => settings.map_or(&[][..], |c| &c.from[..]),
        false => from,
    };
    let to = to.or(settings.and_then(|c| c.to.as_ref()));
    let parse = |text: &String| {
        cache::registry::parse_reference(text).map_err(|message| Error::Usage { message })
    };
    let from = from.iter().map(parse).collect::<Result<Vec<_>, _>>()?;
    let to = to.map(parse).transpose()?;
    let max_size = settings.map_or(cache::DEFAULT_MAX_SIZE, |c| c.max_size);
    cache::Layered::open(local, &from, to.as_ref(), max_size).map_err(|e| Error::Usage {
        message: format!("the cache registries cannot be used: {e}"),
    })
}
