//! Whether a recorded result's outputs are still in the store, and, when one is not, which.

use std::collections::HashSet;

use super::Store;
use super::action::{ActionResult, OutputRecord, read_sealed_or};
use crate::cache::key::ArtifactKind;
use crate::cache::tree::EntryKind;
use crate::digest::Digest;
use crate::error::Result;

impl Store {
    /// Whether `output` of a recorded result is still here, sound: a value against its
    /// digest, a file's blob, a folder's checkout or every tree and blob it reaches.
    pub(super) fn has_output(&self, output: &OutputRecord) -> Result<bool> {
        match output.kind {
            ArtifactKind::Value => Ok(output.value_intact()),
            ArtifactKind::Secret => Ok(false),
            // The daemon holds it; the runner checks it is still there.
            ArtifactKind::Image => Ok(output.image_id.is_some()),
            ArtifactKind::File => {
                Ok(self.blob_intact(&output.digest, output.executable, output.size))
            }
            ArtifactKind::Dir => {
                if self.checkout_intact(&output.digest) {
                    self.vouch_checkout(output.digest);
                    return Ok(true);
                }
                self.has_tree_closure(&output.digest)
            }
        }
    }

    /// Whether the tree `digest`, its sub-trees and all their blobs (of the right size) are
    /// in the store. Each tree is looked at once, however often it is referenced, and the
    /// walk keeps its own stack, so a deep or much-shared tree from a hostile store cannot
    /// exhaust the thread's stack or the time.
    fn has_tree_closure(&self, digest: &Digest) -> Result<bool> {
        let mut seen = HashSet::from([*digest]);
        let mut stack = vec![*digest];
        while let Some(digest) = stack.pop() {
            let Some(tree) = self.tree(&digest)? else {
                return Ok(false);
            };
            for e in tree.entries() {
                let present = match e.kind {
                    EntryKind::File | EntryKind::Exec => {
                        self.blob_intact(&e.digest, e.kind == EntryKind::Exec, e.size)
                    }
                    EntryKind::Dir => {
                        if seen.insert(e.digest) {
                            stack.push(e.digest);
                        }
                        true
                    }
                    EntryKind::Symlink => true,
                };
                if !present {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Why key `key` found no result, for a step whose key is the one it last had and whose
    /// last run did not fail: its record is gone, or an output the record names is (damaged
    /// and discarded by the lookup, or removed by hand).
    pub fn why_no_result(&self, key: &Digest) -> String {
        const REMOVED: &str = "its cached result was removed (pruned or damaged)";
        // A store only looked at keeps what is damaged, which looking again would warn of
        // again.
        if self.looking {
            return REMOVED.to_owned();
        }
        self.lost_output(key).unwrap_or_else(|| REMOVED.to_owned())
    }

    /// Why key `key`, whose record the store still holds, found no result: the output of it
    /// that is gone (damaged and discarded by the lookup, or removed by hand); `None` when
    /// there is no such record. Whatever the step's last key was: a result another pipeline
    /// made counts too.
    pub fn lost_output(&self, key: &Digest) -> Option<String> {
        if self.looking {
            return None;
        }
        let path = self.action_path(key);
        // Read as it is: a damaged record was discarded, with a warning, by the lookup.
        let record = read_sealed_or::<ActionResult>(&path, |_, _| {})
            .ok()
            .flatten();
        let gone = record
            .filter(|r| r.key.digest() == *key)
            .and_then(|r| (r.outputs.into_iter()).find(|o| !self.has_output(o).unwrap_or(false)));
        gone.map(|output| {
            format!(
                "its cached result's {} is no longer in the store (damaged or removed)",
                described(&output)
            )
        })
    }
}

/// `file `report.txt` (3f2a1b2c4d5e)`, `folder 3f2a1b2c4d5e`.
fn described(output: &OutputRecord) -> String {
    let digest = output.digest.short();
    match (output.kind, &output.name) {
        (ArtifactKind::File, Some(name)) => format!("file `{name}` ({digest})"),
        (ArtifactKind::File, None) => format!("file {digest}"),
        (ArtifactKind::Dir, _) => format!("folder {digest}"),
        (ArtifactKind::Value, _) => "value".to_owned(),
        (ArtifactKind::Image, _) => format!("image {digest}"),
        (ArtifactKind::Secret, _) => "secret".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::Artifact;
    use crate::cache::KeyRecord;

    #[test]
    fn a_result_whose_output_went_says_which() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::open(tmp.path().join("store")).expect("store");
        let made = tmp.path().join("report.txt");
        std::fs::write(&made, "all good").expect("write");
        let file = store.ingest_file(&made, false).expect("ingests");
        let file = file.with_name("report.txt");
        let digest = file.digest();
        let key = KeyRecord::new("ci::report", "code");
        let result = ActionResult::new(key.clone(), &[Artifact::File(file)], Default::default());
        store.record(&key.digest(), &result).expect("records");
        assert!(store.lookup(&key.digest()).expect("looks").is_some());

        // Damaged: the lookup discards the blob, and the reason names it.
        let blob = store.blob_path(&digest, false);
        std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::write(&blob, "all bad!").expect("damage");
        assert!(store.lookup(&key.digest()).expect("looks").is_none());
        assert_eq!(
            store.why_no_result(&key.digest()),
            format!(
                "its cached result's file `report.txt` ({}) is no longer in the store (damaged or removed)",
                digest.short()
            )
        );
        // Its record gone too: removed.
        std::fs::remove_file(store.action_path(&key.digest())).expect("remove the record");
        assert_eq!(
            store.why_no_result(&key.digest()),
            "its cached result was removed (pruned or damaged)"
        );
    }

    #[test]
    fn a_deep_or_much_shared_tree_is_checked_without_recursion() {
        use crate::cache::tree::{Tree, TreeEntry};
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::open(tmp.path().join("store")).expect("store");
        // 64 levels of two names for one sub-tree: 2^64 paths, 64 trees.
        let mut shared = store.put_tree(&Tree::default()).expect("put");
        for _ in 0..64 {
            let tree = Tree::new(vec![
                TreeEntry::dir("a", shared),
                TreeEntry::dir("b", shared),
            ]);
            shared = store.put_tree(&tree.expect("tree")).expect("put");
        }
        assert!(store.has_tree_closure(&shared).expect("checks"));
        // 20k levels, beyond what recursion on a test thread's stack survived.
        let mut deep = store.put_tree(&Tree::default()).expect("put");
        for _ in 0..20_000 {
            let tree = Tree::new(vec![TreeEntry::dir("d", deep)]).expect("tree");
            deep = store.put_tree(&tree).expect("put");
        }
        assert!(store.has_tree_closure(&deep).expect("checks"));
    }
}
