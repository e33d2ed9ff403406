//! Content digests of inputs, step keys, the on-disk store, and explanations of misses.
//!
//! - [`hash_dir_with`] walks a folder (choosing its files with a `DirSelect`) and returns its
//!   BLAKE3 Merkle root with every [`Tree`], reusing file digests from a [`StatCache`].
//! - [`CodeKey`] is a step's code in its key: the digest of what the step uses, by item.
//! - [`KeyRecord`] is the structured record of everything a step's result depends on; its
//!   [`digest`](KeyRecord::digest) is the step's key.
//! - [`Store`] keeps blobs, trees, read-only checkouts and the action cache on local disk.
//! - [`Remote`] is a REAPI v2 server behind the local store: the team's shared cache.
//! - [`explain()`] turns two key records into [`Reason`]s, down to the file paths that changed.

mod at;
mod code;
mod copy;
mod explain;
mod glob;
mod hash;
mod key;
mod keyring;
mod reason;
#[cfg(feature = "remote-cache")]
mod remote;
#[cfg(not(feature = "remote-cache"))]
#[path = "remote/off.rs"]
mod remote;
mod rule_file;
mod rules;
mod select;
mod statcache;
mod statfile;
mod statlearnt;
mod store;
#[cfg(test)]
mod test_rng;
mod tree;
mod walk;

pub use code::{CodeItem, CodeKey, Cover, record_text};
pub use copy::copy_tree;
pub(crate) use copy::{copy_file, copy_tree_until, room_for_file, write_file};
pub use explain::explain;
pub use hash::{HashStats, HashedDir, hash_dir, hash_dir_with};
pub use key::{ArtifactKind, CACHE_FORMAT, InputRecord, KeyRecord};
pub use keyring::secret_key;
pub use reason::Reason;
pub use remote::{Remote, RemoteConfig, RemoteFound, RemoteStats, StepLogs};
pub use statcache::{FileStat, StatCache};
pub use store::{
    ActionResult, OutputRecord, PruneOptions, PruneReport, Recorded, Store, StoreImages,
    StoreLease, StoreStats, VerifyReport,
};
pub use tree::{EntryKind, Tree, TreeDiff, TreeEntry, TreeSource, Trees, diff_trees};

/// Runs blocking file work (the store, a copy, a walk) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> crate::error::Result<T> + Send + 'static,
) -> crate::error::Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        crate::error::Error::Other(format!("a file operation failed to finish: {e}"))
    })?
}
