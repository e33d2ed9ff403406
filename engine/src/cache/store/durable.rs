//! Making what the store wrote survive a crash of the machine, not only of the process.
//!
//! A rename makes an object appear whole to other processes, but after a power cut the new
//! name may be on disk while the data it names is not. Readers verify what they load, so
//! that costs a miss, never a wrong hit; still, a record should not outlive the blobs and
//! trees it points at. So the objects an ingest moved in are flushed (their data, then the
//! folders that name them) before it returns, and so before any record can point at them;
//! records themselves are flushed with their folder. Two writes are not, since losing them
//! loses nothing a run needs: the record of a shared cache's hit (the server still has it)
//! and a step's last key (it only explains the next miss).
//!
//! One `fsync` costs a few milliseconds on a journaling file system (3.6 ms per small file
//! here), so an output of thousands of files is flushed with one `syncfs(2)` of the store's
//! file system instead, which writes the whole batch in one journal commit.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Above this many objects one `syncfs` is cheaper than an `fsync` each.
#[cfg(target_os = "linux")]
const SYNCFS_ABOVE: usize = 32;

/// Objects renamed into the store whose data and names are not yet known to be on disk.
#[derive(Debug, Default)]
pub(super) struct Unsynced {
    files: Vec<PathBuf>,
    dirs: BTreeSet<PathBuf>,
}

impl Unsynced {
    /// Notes that `path` was just renamed into place (its shard folder may be new too).
    pub(super) fn add(&mut self, path: &Path) {
        self.files.push(path.to_path_buf());
        self.dirs
            .extend(path.ancestors().skip(1).take(2).map(Path::to_path_buf));
    }

    /// Flushes every noted object and the folders naming them; `root` is the store's root.
    pub(super) fn flush(self, root: &Path) -> Result<()> {
        if self.files.is_empty() {
            return Ok(());
        }
        #[cfg(target_os = "linux")]
        if self.files.len() > SYNCFS_ABOVE {
            return syncfs(root);
        }
        for file in &self.files {
            sync_path(file)?;
        }
        for dir in &self.dirs {
            sync_path(dir)?;
        }
        Ok(())
    }
}

/// `fsync` of the file or folder at `path`.
pub(super) fn sync_path(path: &Path) -> Result<()> {
    trace(|| format!("fsync {}", path.display()));
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(format!("flush {} to disk", path.display()), e))
}

/// `syncfs` of the file system holding `root`.
#[cfg(target_os = "linux")]
fn syncfs(root: &Path) -> Result<()> {
    use std::os::fd::AsRawFd as _;
    trace(|| "syncfs".to_owned());
    let io = |e| Error::io(format!("flush the store at {} to disk", root.display()), e);
    let dir = std::fs::File::open(root).map_err(io)?;
    #[allow(unsafe_code)]
    // SAFETY: `dir` is an open descriptor for the duration of the call; syncfs only reads it.
    let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
    if rc != 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
thread_local! {
    static TRACE: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Notes a durability event for this module's tests (nothing in other builds).
pub(super) fn trace(event: impl FnOnce() -> String) {
    #[cfg(test)]
    TRACE.with_borrow_mut(|t| t.push(event()));
    #[cfg(not(test))]
    let _ = event;
}

/// The events noted on this thread since the last call.
#[cfg(test)]
pub(super) fn take_trace() -> Vec<String> {
    TRACE.take()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::artifact::Artifact;
    use crate::cache::key::KeyRecord;
    use crate::cache::store::{ActionResult, Store};
    use crate::digest::Digest;

    /// Ingests a folder of `files` distinct files, records it, and returns the store, the
    /// events up to the record's rename and the events after it.
    fn ingest_and_record(files: usize) -> (tempfile::TempDir, Store, Vec<String>, Vec<String>) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::open(tmp.path().join("store")).expect("opens");
        let staging = store.temp_dir().expect("staging");
        let top = staging.path().join("out");
        std::fs::create_dir_all(top.join("sub")).expect("mkdir");
        for i in 0..files {
            std::fs::write(top.join("sub").join(format!("f{i}")), format!("file {i}"))
                .expect("write");
        }
        take_trace();
        let dir = store.ingest_dir(&top).expect("ingests");
        let key = KeyRecord::new("durable::step", "code");
        let result = ActionResult::new(key.clone(), &[Artifact::Dir(dir)], Duration::ZERO);
        store.record(&key.digest(), &result).expect("records");
        let mut trace = take_trace();
        let record = store.action_path(&key.digest());
        let at = trace
            .iter()
            .position(|e| *e == format!("rename {}", record.display()))
            .unwrap_or_else(|| panic!("the record was written: {trace:#?}"));
        let after = trace.split_off(at);
        (tmp, store, trace, after)
    }

    #[test]
    fn blobs_and_trees_are_flushed_before_a_record_points_at_them() {
        let (_tmp, store, before, after) = ingest_and_record(2);
        let fsynced = |path: &Path| before.contains(&format!("fsync {}", path.display()));
        for i in 0..2 {
            let blob = store.blob_path(&Digest::of(format!("file {i}").as_bytes()), false);
            assert!(fsynced(&blob), "blob {i} data: {before:#?}");
            assert!(fsynced(blob.parent().expect("shard")), "its shard folder");
        }
        assert!(fsynced(&store.root.join("blobs")), "the blobs folder");
        for tree in std::fs::read_dir(store.root.join("trees"))
            .expect("trees")
            .flatten()
        {
            for object in std::fs::read_dir(tree.path()).expect("shard").flatten() {
                assert!(fsynced(&object.path()), "tree {}", object.path().display());
                assert!(fsynced(&tree.path()), "its shard folder");
            }
        }
        assert!(
            after
                .iter()
                .any(|e| e.starts_with("fsync ") && e.contains("/ac/")),
            "the record's folder is flushed after it: {after:#?}"
        );
    }

    #[test]
    fn a_remote_hits_record_and_a_last_key_are_written_whole_but_not_flushed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::open(tmp.path().join("store")).expect("opens");
        let key = KeyRecord::new("durable::remote", "code");
        let result = ActionResult::new(key.clone(), &[], Duration::ZERO);
        take_trace();
        store
            .record_remote(&key.digest(), &result)
            .expect("records");
        store.set_last_key("remote", &key).expect("remembers");
        let trace = take_trace();
        let renamed = |what: &str| {
            trace
                .iter()
                .any(|e| e.starts_with("rename ") && e.contains(what))
        };
        assert!(renamed("/ac/") && renamed("/last/"), "{trace:#?}");
        assert!(!trace.iter().any(|e| e.starts_with("fsync ")), "{trace:#?}");
        let found = store.lookup(&key.digest()).expect("reads");
        assert_eq!(found.map(|r| r.key.digest()), Some(key.digest()));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_large_output_is_flushed_with_one_syncfs() {
        let (_tmp, _store, before, _) = ingest_and_record(SYNCFS_ABOVE + 8);
        let syncs: Vec<_> = before.iter().filter(|e| *e == "syncfs").collect();
        assert_eq!(syncs.len(), 1, "{before:#?}");
        assert!(
            !before.iter().any(|e| e.contains("/blobs/")),
            "no blob is flushed on its own: {before:#?}"
        );
    }
}
