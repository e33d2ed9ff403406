//! What a step's run is held to: its timeout, and the host folders it read, which must still
//! hold what its key says when it ends.

use std::sync::Arc;

use crate::artifact::{Artifact, Dir};
use crate::cache::hash_dir_with;
use crate::error::{Error, Result};
use crate::step::RunContext;

/// The first of `dirs` whose content no longer matches its digest, re-hashed through the stat
/// cache (a `stat` per file when nothing changed). Only the digest is wanted: the trees were
/// stored when the folder was bound, and the engine saves the stat cache once at the end.
pub(super) async fn changed_during_run(
    run: &RunContext,
    dirs: &[(&'static str, Dir)],
) -> Option<&'static str> {
    let store = Arc::clone(&run.store);
    let dirs = dirs.to_vec();
    tokio::task::spawn_blocking(move || {
        dirs.into_iter().find_map(|(param, dir)| {
            let now = hash_dir_with(dir.path(), &dir.select(), store.stat_cache());
            (!now.is_ok_and(|h| h.digest == dir.digest())).then_some(param)
        })
    })
    .await
    .unwrap_or(None)
}

pub(super) async fn with_timeout<F>(
    limit: Option<std::time::Duration>,
    label: &str,
    body: F,
) -> Result<Vec<Artifact>>
where
    F: std::future::Future<Output = Result<Vec<Artifact>>>,
{
    match limit {
        None => body.await,
        Some(after) => tokio::time::timeout(after, body).await.unwrap_or_else(|_| {
            Err(Error::Timeout {
                step: label.to_owned(),
                after,
            })
        }),
    }
}
