//! The shared cache: a REAPI v2 server (BuildGrid, bazel-remote, NativeLink, BuildBuddy…)
//! behind the local store, over gRPC.
//!
//! A run asks the local store first and the server on a local miss ([`Remote::lookup`]):
//! one `GetActionResult` (none when the pipeline's index, read when connecting, holds the
//! key) and one `FindMissingBlobs` over its outputs' top-level digests, no blob. The outputs of a remote hit stay on the server until a step that runs needs them or
//! `--out` exports them ([`Remote::fetch`]); then they are fetched, checked against their
//! SHA-256 and, once ingested, against the BLAKE3 digest the record names, and land in the
//! local store. With `upload`, a step that ran sends its outputs and its redacted stdout and
//! stderr, only those blobs the server says are missing, then its record
//! ([`Remote::upload`]). A hit never fetches the logs.
//!
//! Faults never fail a run: the first failed, slow or refused call prints one warning and
//! opens the run's breaker, and the run goes on with the local store.

mod bound;
mod cas;
mod client;
mod config;
#[cfg(test)]
mod fetch_tests;
mod index;
mod lookup;
mod progress;
mod proto;
#[cfg(test)]
mod read_tests;
mod shape;
#[cfg(test)]
mod stream_tests;
mod upload;
mod wire;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::report::say;
use prost::Message as _;
use proto::re;

pub use config::{RemoteConfig, RemoteFound, RemoteStats, StepLogs};

use crate::artifact::Artifact;
use crate::cache::key::ArtifactKind;
use crate::cache::store::{OutputRecord, Store};
use crate::cache::{StatCache, blocking, hash_dir_with};
use crate::digest::Digest;
use crate::error::{Error, Result};
use cas::FetchError;
use client::{Breaker, Clients};
use index::RunIndex;
use wire::short;

/// The largest batch of blobs sent or read in one call, whatever a server allows.
const MAX_BATCH: u64 = 4 << 20;

/// The largest blob accepted from a server: what a step may output (`max_output`).
const MAX_BLOB: u64 = 2 << 30;

/// A REAPI v2 server used as a shared cache by one run.
pub struct Remote {
    config: RemoteConfig,
    clients: Clients,
    breaker: Breaker,
    /// The server's limit on a batch, less room for the request around the blobs.
    batch_limit: u64,
    max_blob: u64,
    /// Outputs of remote hits this run may fetch: BLAKE3 digest → record and wire digest.
    known: Mutex<HashMap<Digest, (OutputRecord, re::Digest)>>,
    /// The pipeline's index, read when connecting.
    index: RunIndex,
    /// The results the server holds that this run shared or found: its index, at its end.
    shared: Mutex<Vec<(re::Digest, re::ActionResult)>>,
    /// The step keys the server answered, each with whether the pipeline's index did: a key
    /// asked for again (`--require-cache` asks before the run does) counts once, and one whose
    /// step ran here after all ([`forget_hit`](Self::forget_hit)) not at all.
    hits: Mutex<HashMap<Digest, bool>>,
    counters: [AtomicU64; 7],
}

/// What a run counts as it goes with the server, for [`RemoteStats`].
#[derive(Debug, Clone, Copy)]
enum Counter {
    BlobsFetched,
    BytesFetched,
    BlobsSent,
    BytesSent,
    ResultsSent,
    Indexed,
    NotShared,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Remote {
    /// Connects to the server of `config`, asks its capabilities and reads the pipeline's
    /// index when `config` names one. A bad URL or CA file
    /// is an error; a server that is down or cannot serve tanto gives one warning line and
    /// `None`, and the run goes on with the local store.
    pub async fn connect(config: RemoteConfig) -> Result<Option<Self>> {
        let clients = Clients::new(&config)?;
        let breaker = Breaker::new(config.token.as_deref());
        let request = re::GetCapabilitiesRequest {
            instance_name: config.instance.clone(),
        };
        let caps = client::call(
            &breaker,
            &config.url,
            config.timeout,
            clients.get_capabilities(request),
        )
        .await;
        let caps = match caps {
            Ok(Some(caps)) => caps,
            Ok(None) => {
                breaker.trip(
                    &config.url,
                    "has no instance of that name (set TANTO_REMOTE_INSTANCE)",
                );
                return Ok(None);
            }
            Err(_) => return Ok(None),
        };
        let cache = caps.cache_capabilities.unwrap_or_default();
        let sha256 = re::SHA256;
        if !cache.digest_functions.is_empty() && !cache.digest_functions.contains(&sha256) {
            breaker.trip(
                &config.url,
                "does not speak SHA-256 digests, which tanto sends",
            );
            return Ok(None);
        }
        let mut config = config;
        let may_write = cache
            .action_cache_update_capabilities
            .is_some_and(|c| c.update_enabled);
        if config.upload && !may_write {
            say!(
                "warning: the remote cache at {} does not let clients write results; this run only reads from it",
                config.url
            );
            config.upload = false;
        }
        // The server's batch limit, at most 4 MiB: a batch is held in memory whole, and a
        // larger one would pass the client's own message limit.
        let batch = u64::try_from(cache.max_batch_total_size_bytes)
            .ok()
            .filter(|&b| b > 0)
            .map_or(MAX_BATCH, |b| b.min(MAX_BATCH));
        let max_blob = u64::try_from(cache.max_cas_blob_size_bytes)
            .ok()
            .filter(|&b| b > 0)
            .map_or(MAX_BLOB, |m| m.min(MAX_BLOB));
        let mut remote = Self {
            config,
            clients,
            breaker,
            batch_limit: batch.saturating_sub(64 * 1024).max(64 * 1024),
            max_blob,
            known: Mutex::default(),
            index: RunIndex::default(),
            shared: Mutex::default(),
            hits: Mutex::default(),
            counters: Default::default(),
        };
        if let Some(key) = &remote.config.index {
            remote.index = remote.read_index(key).await;
        }
        Ok(Some(remote))
    }

    /// The server's URL, as configured.
    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// Whether this run writes to the server.
    pub fn uploads(&self) -> bool {
        self.config.upload
    }

    /// What the run did with the server so far.
    pub fn stats(&self) -> RemoteStats {
        let n = |c: Counter| self.counters[c as usize].load(Ordering::Relaxed);
        let hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        RemoteStats {
            hits: hits.len() as u64,
            blobs_fetched: n(Counter::BlobsFetched),
            bytes_fetched: n(Counter::BytesFetched),
            blobs_sent: n(Counter::BlobsSent),
            bytes_sent: n(Counter::BytesSent),
            results_sent: n(Counter::ResultsSent),
            from_index: hits.values().filter(|&&indexed| indexed).count() as u64,
            indexed: n(Counter::Indexed),
            not_shared: n(Counter::NotShared),
        }
    }

    fn count(&self, c: Counter, by: u64) {
        self.counters[c as usize].fetch_add(by, Ordering::Relaxed);
    }

    /// Counts the step key `key` as a hit, answered by the pipeline's index or not.
    fn count_hit(&self, key: &Digest, indexed: bool) {
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        hits.entry(*key).or_insert(indexed);
    }

    /// No longer counts the step key `key` as a hit: its output could not be fetched, and its
    /// step ran here instead.
    pub fn forget_hit(&self, key: &Digest) {
        (self.hits.lock().unwrap_or_else(|p| p.into_inner())).remove(key);
    }

    /// `instance/` for resource names, or nothing.
    fn prefix(&self) -> String {
        if self.config.instance.is_empty() {
            String::new()
        } else {
            format!("{}/", self.config.instance)
        }
    }

    /// Makes sure the store holds `artifact`, fetching it when it is the output of a remote
    /// hit that is not there yet. Whatever the server sends is checked: a blob that does not
    /// match its digest, or a folder or file whose BLAKE3 digest is not the one recorded, is
    /// an error that names it, and nothing of it is kept.
    pub async fn fetch(&self, store: &Store, artifact: &Artifact) -> Result<()> {
        let entry = self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&artifact.digest())
            .cloned();
        let Some((output, wire)) = entry else {
            return Ok(());
        };
        if store.holds(&output)? {
            return Ok(());
        }
        let failed = |e: FetchError| {
            Error::Store(format!(
                "could not fetch {} {} from the remote cache: {e}",
                artifact.kind(),
                output.digest.short()
            ))
        };
        let staging = store.temp_dir()?;
        let fetched = match output.kind {
            ArtifactKind::File => {
                let path = staging.path().join("file");
                self.fetch_blob(&wire, &path, staging.path())
                    .await
                    .map_err(failed)?;
                mark_executable(&path, output.executable);
                let store = store.clone();
                let exec = output.executable;
                blocking(move || store.ingest_file(&path, exec))
                    .await?
                    .digest()
            }
            ArtifactKind::Dir => {
                let top = staging.path().join("dir");
                self.fetch_tree(&wire, &top, staging.path())
                    .await
                    .map_err(failed)?;
                let store = store.clone();
                let expected = output.digest;
                blocking(move || ingest_dir_checked(&store, &top, expected)).await?
            }
            _ => return Ok(()),
        };
        if fetched != output.digest {
            return Err(failed(FetchError::Damaged(format!(
                "its content has digest {} where the record says {}",
                fetched.short(),
                output.digest.short()
            ))));
        }
        Ok(())
    }

    /// The `docker save` tarball of image output `digest` of a remote hit, fetched into a
    /// new folder of the store's and checked against its SHA-256, with the image id the
    /// record names; `None` when no remote hit of this run made that image. Loading it, and
    /// checking what loads, is the run's work: the daemon is above the cache.
    pub async fn fetch_image(
        &self,
        store: &Store,
        digest: &Digest,
    ) -> Result<Option<(tempfile::TempDir, std::path::PathBuf, String)>> {
        let entry = self
            .known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(digest)
            .cloned();
        let Some((output, wire)) = entry.filter(|(o, _)| o.kind == ArtifactKind::Image) else {
            return Ok(None);
        };
        let staging = store.temp_dir()?;
        let path = staging.path().join("image.tar");
        self.fetch_blob(&wire, &path, staging.path())
            .await
            .map_err(|e| {
                Error::Store(format!(
                    "could not fetch image {} from the remote cache: {e}",
                    digest.short()
                ))
            })?;
        let id = output.image_id.unwrap_or_default();
        Ok(Some((staging, path, id)))
    }

    async fn fetch_blob(
        &self,
        d: &re::Digest,
        dest: &Path,
        staging: &Path,
    ) -> std::result::Result<(), FetchError> {
        self.fetch_to(d, dest, staging).await?;
        self.count(Counter::BlobsFetched, 1);
        self.count(Counter::BytesFetched, d.size_bytes as u64);
        Ok(())
    }

    /// Fetches the REAPI tree `d` and every file in it into the new folder `top`.
    async fn fetch_tree(
        &self,
        d: &re::Digest,
        top: &Path,
        staging: &Path,
    ) -> std::result::Result<(), FetchError> {
        let local = |e: std::io::Error| FetchError::Local(e.to_string());
        let tree_file = staging.join("tree");
        if d.size_bytes as u64 > bound::MAX_TREE_BYTES {
            return Err(FetchError::Damaged(format!(
                "tree {} takes {} bytes, more than the {} MiB a folder's tree may take ({} entries at most)",
                short(&d.hash),
                d.size_bytes,
                bound::MAX_TREE_BYTES >> 20,
                wire::MAX_TREE_ENTRIES
            )));
        }
        self.fetch_blob(d, &tree_file, staging).await?;
        let bytes = std::fs::read(&tree_file).map_err(local)?;
        bound::check_tree_counts(&bytes)
            .map_err(|why| FetchError::Damaged(format!("tree {}: {why}", short(&d.hash))))?;
        let tree = re::Tree::decode(bytes.as_slice()).map_err(|_| {
            FetchError::Damaged(format!("tree {} is not a REAPI Tree", short(&d.hash)))
        })?;
        let staged = wire::stage_tree(&tree, self.max_blob)
            .map_err(|why| FetchError::Damaged(format!("tree {}: {why}", short(&d.hash))))?;
        std::fs::create_dir(top).map_err(local)?;
        for dir in &staged.dirs {
            std::fs::create_dir(top.join(dir)).map_err(local)?;
        }
        let blobs = staging.join("blobs");
        std::fs::create_dir(&blobs).map_err(local)?;
        for (path, digest, executable) in &staged.files {
            let blob = blobs.join(&digest.hash);
            if !blob.exists() {
                self.fetch_blob(digest, &blob, staging).await?;
            }
            let dest = top.join(path);
            std::fs::copy(&blob, &dest).map_err(local)?;
            mark_executable(&dest, *executable);
        }
        for (path, target) in &staged.links {
            std::os::unix::fs::symlink(target, top.join(path)).map_err(local)?;
        }
        Ok(())
    }
}

/// Ingests the fetched folder `top` when its digest is `expected`, and returns its digest:
/// it is hashed first, so a folder that is not the one recorded leaves no blob, tree or
/// checkout in the store.
fn ingest_dir_checked(store: &Store, top: &Path, expected: Digest) -> Result<Digest> {
    let select = &crate::artifact::DirSelect::ALL;
    let staged = hash_dir_with(top, select, &StatCache::in_memory())?.digest;
    if staged != expected {
        return Ok(staged);
    }
    Ok(store.ingest_dir(top)?.digest())
}

fn mark_executable(path: &Path, executable: bool) {
    let mode = if executable { 0o755 } else { 0o644 };
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}
