//! The store tests' shared set-up: a store in a temporary folder, folders ingested into it,
//! keys and results recorded, and their last use set.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::time::Duration;

use tanto::__internal::Artifact;
use tanto::__internal::cache::{ActionResult, ArtifactKind, InputRecord, KeyRecord, Store};
use tanto::{Digest, Dir};

/// Writes `content` to `rel` under `root`, making the folders it needs.
pub fn write(root: &Path, rel: &str, content: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

/// A store of its own in a temporary folder, which is removed with the returned guard.
pub fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("store")).expect("opens");
    (dir, store)
}

/// Stages a folder in the store's temp area with `files` and ingests it.
pub fn ingest(store: &Store, files: &[(&str, &[u8])]) -> Dir {
    let staging = store.temp_dir().expect("temp dir");
    let top = staging.path().join("out");
    std::fs::create_dir(&top).expect("mkdir");
    for (rel, content) in files {
        write(&top, rel, content);
    }
    store.ingest_dir(&top).expect("ingests")
}

/// The key of step `step` with the value input `src` of digest `input`.
pub fn key(step: &str, input: &[u8]) -> KeyRecord {
    KeyRecord::new(step, "code").input(
        "src",
        InputRecord {
            kind: ArtifactKind::Value,
            digest: Digest::of(input),
            upstream: None,
            value: None,
            items: None,
        },
    )
}

/// Records `outputs` as the result of `key`.
pub fn record(store: &Store, key: &KeyRecord, outputs: &[Artifact]) {
    let result = ActionResult::new(key.clone(), outputs, Duration::from_millis(5));
    store.record(&key.digest(), &result).expect("records");
}

/// Marks the record of `key` as last used `ago` before now, as a lookup `ago` ago would have:
/// tests order uses by setting the times, not by sleeping between them.
pub fn last_used(store: &Store, key: &KeyRecord, ago: Duration) {
    let hex = key.digest().to_hex();
    let path = store.root().join("ac").join(&hex[..2]).join(&hex);
    let when = std::time::SystemTime::now() - ago;
    std::fs::File::open(&path)
        .and_then(|f| f.set_modified(when))
        .unwrap_or_else(|e| panic!("set the time of {}: {e}", path.display()));
}
