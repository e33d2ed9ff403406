//! The images the action cache names. The daemon holds them and the store never calls it, so
//! the store keeps the bookkeeping: which images its results made, and which ones no result
//! names any more (a result replaced by one with another image, a result a prune dropped),
//! for `cache prune` to remove from the daemon.
//!
//! The images to reclaim are one file each under `<root>/reclaim/`, named by the BLAKE3 of
//! the image id they hold: adding one is a write of its own and removing one an unlink, so
//! runs that add ids concurrently, and a prune that removes them, lose none. A file whose
//! name is not the digest of what it holds is damaged and discarded.

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;

use super::{ActionResult, Store};
use crate::cache::key::ArtifactKind;
use crate::digest::Digest;
use crate::error::{Error, Result};

/// The images the store's records name, as [`Store::images`] counts them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreImages {
    /// The ids of the images cached results made (their image outputs).
    pub outputs: BTreeSet<String>,
    /// The ids of images no cached result names any more, which the next `cache prune`
    /// removes from the daemon.
    pub to_reclaim: BTreeSet<String>,
}

/// The images `result` made: the ids of its image outputs. Only these keep an image from a
/// prune: a result that ran from an image another result made (`Container::from`) checks
/// that the id is still there when it is looked up, and a miss is what it costs.
pub(super) fn made_images(result: &ActionResult) -> impl Iterator<Item = &str> {
    result
        .outputs
        .iter()
        .filter(|o| o.kind == ArtifactKind::Image)
        .filter_map(|o| o.image_id.as_deref())
}

impl Store {
    fn reclaim_dir(&self) -> PathBuf {
        self.root.join("reclaim")
    }

    fn reclaim_path(&self, id: &str) -> PathBuf {
        self.reclaim_dir().join(Digest::of(id.as_bytes()).to_hex())
    }

    /// Remembers the images `ids` for the next `cache prune` to remove from the daemon, unless
    /// a result names them again by then.
    pub(super) fn remember_images<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Result<()> {
        // Flushed: an id lost in a crash is an image no prune ever removes.
        ids.into_iter().try_for_each(|id| self.remember(id, true))
    }

    /// Remembers image `id`, which a step just made, as [`remember_images`] does, without
    /// flushing it to disk: the step's record or failure, written right after on the same
    /// disk, is flushed, and a snapshot pays no `fsync` of its own.
    ///
    /// [`remember_images`]: Self::remember_images
    pub(crate) fn remember_made_image(&self, id: &str) -> Result<()> {
        self.remember(id, false)
    }

    /// Writes image `id`'s file to reclaim, flushed to disk when `flush` says so, unless it
    /// is there already.
    fn remember(&self, id: &str, flush: bool) -> Result<()> {
        let path = self.reclaim_path(id);
        if path.exists() {
            return Ok(());
        }
        self.write_atomic(&path, id.as_bytes(), flush)
    }

    /// The images the store remembers to reclaim (see [`Store::images`]).
    pub fn images_to_reclaim(&self) -> BTreeSet<String> {
        let Ok(entries) = std::fs::read_dir(self.reclaim_dir()) else {
            return BTreeSet::new();
        };
        let mut ids = BTreeSet::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(id) = std::fs::read_to_string(&path) else {
                continue;
            };
            if entry.file_name().to_str() == Some(&Digest::of(id.as_bytes()).to_hex()) {
                ids.insert(id);
            } else {
                self.discard(&path, "the image to reclaim does not match its name");
            }
        }
        ids
    }

    /// Forgets image `id`: the daemon no longer has it, or it is no longer the store's to
    /// remove.
    pub fn forget_image(&self, id: &str) -> Result<()> {
        let path = self.reclaim_path(id);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("remove {}", path.display()), e)),
        }
    }

    /// The images the store's cached results made, and those it remembers to reclaim: what
    /// `cache stats` asks the daemon about.
    pub fn images(&self) -> Result<StoreImages> {
        let mut outputs = BTreeSet::new();
        for object in super::maintain::list_objects(&self.root.join("ac")) {
            if let Some(result) = super::action::read_sealed::<ActionResult>(&object.path)? {
                outputs.extend(made_images(&result).map(str::to_owned));
            }
        }
        let mut to_reclaim = self.images_to_reclaim();
        to_reclaim.retain(|id| !outputs.contains(id));
        Ok(StoreImages {
            outputs,
            to_reclaim,
        })
    }

    /// The end of a prune: the images to reclaim that no kept result names (`named`) go to
    /// `reclaim`, which returns those the store may forget; the ones a kept result names are
    /// forgotten at once. Returns how many the store still remembers.
    pub(super) fn reclaim_images(
        &self,
        named: &HashSet<&str>,
        reclaim: &mut dyn FnMut(&[String]) -> Vec<String>,
    ) -> u64 {
        let (kept, free): (Vec<String>, Vec<String>) = self
            .images_to_reclaim()
            .into_iter()
            .partition(|id| named.contains(id.as_str()));
        let mut waiting = free.len() as u64;
        if !free.is_empty() {
            let done: HashSet<String> = reclaim(&free).into_iter().collect();
            for id in free.iter().filter(|id| done.contains(*id)) {
                match self.forget_image(id) {
                    Ok(()) => waiting -= 1,
                    Err(e) => tracing::warn!("{e}"),
                }
            }
        }
        for id in &kept {
            if let Err(e) = self.forget_image(id) {
                tracing::debug!("{e}");
            }
        }
        waiting
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::artifact::{Artifact, Image};
    use crate::cache::key::KeyRecord;
    use crate::cache::store::PruneOptions;

    fn image(id: &str) -> Artifact {
        Artifact::Image(Image::new(id.to_owned(), Digest::of(id.as_bytes())))
    }

    /// A result of step `step` (its key differs with `salt`) that made the images `ids`.
    fn result(step: &str, salt: &str, ids: &[&str]) -> ActionResult {
        let mut key = KeyRecord::new(step, "code");
        key.settings.insert("salt".into(), salt.into());
        let outputs: Vec<Artifact> = ids.iter().map(|id| image(id)).collect();
        ActionResult::new(key, &outputs, Duration::ZERO)
    }

    fn record(store: &Store, result: &ActionResult) -> Digest {
        let key = result.key.digest();
        store.record(&key, result).expect("record");
        key
    }

    fn ids(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn store() -> (tempfile::TempDir, Store) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::open(tmp.path().join("store")).expect("store");
        (tmp, store)
    }

    #[test]
    fn a_result_replaced_by_one_with_another_image_leaves_its_image_to_reclaim() {
        let (_tmp, store) = store();
        record(&store, &result("a", "1", &["sha256:old", "sha256:both"]));
        assert!(store.images_to_reclaim().is_empty(), "nothing was replaced");
        // The same key again (`--no-cache`): one image is new, one the same.
        record(&store, &result("a", "1", &["sha256:new", "sha256:both"]));
        assert_eq!(store.images_to_reclaim(), ids(&["sha256:old"]));
        // Another key leaves the first result, and its image, as they are.
        record(&store, &result("a", "2", &["sha256:other"]));
        let images = store.images().expect("images");
        assert_eq!(
            images.outputs,
            ids(&["sha256:new", "sha256:both", "sha256:other"])
        );
        assert_eq!(images.to_reclaim, ids(&["sha256:old"]));
    }

    #[test]
    fn a_prune_hands_over_the_images_no_kept_result_names_and_forgets_those_done() {
        let (_tmp, store) = store();
        let old = record(
            &store,
            &result("old", "1", &["sha256:dropped", "sha256:shared"]),
        );
        record(&store, &result("a", "1", &["sha256:replaced"]));
        // A kept result's image is never handed over, though a dropped one made it too.
        record(&store, &result("a", "1", &["sha256:shared"]));
        store
            .remember_images(["sha256:shared", "sha256:in-use"])
            .expect("remember");
        let long_ago = SystemTime::now() - Duration::from_secs(7200);
        let file = std::fs::File::options()
            .write(true)
            .open(store.action_path(&old))
            .expect("open");
        file.set_modified(long_ago).expect("age the old result");

        let mut handed = Vec::new();
        let options = PruneOptions {
            max_age: Some(Duration::from_secs(3600)),
            grace: Duration::ZERO,
            ..PruneOptions::default()
        };
        let report = store
            .prune_reclaiming(&options, |ids| {
                handed = ids.to_vec();
                // The daemon removed all but the image a container uses.
                ids.iter()
                    .filter(|id| *id != "sha256:in-use")
                    .cloned()
                    .collect()
            })
            .expect("prune");
        handed.sort();
        assert_eq!(
            handed,
            ["sha256:dropped", "sha256:in-use", "sha256:replaced"]
        );
        assert_eq!(report.records, 1);
        assert_eq!(report.images_waiting, 1);
        assert_eq!(store.images_to_reclaim(), ids(&["sha256:in-use"]));
    }

    #[test]
    fn a_prune_that_cannot_reclaim_keeps_every_image_in_mind() {
        let (_tmp, store) = store();
        record(&store, &result("a", "1", &["sha256:one"]));
        record(&store, &result("b", "1", &["sha256:two"]));
        let options = PruneOptions {
            max_bytes: Some(0),
            grace: Duration::ZERO,
            ..PruneOptions::default()
        };
        let report = store.prune_with(&options).expect("prune");
        assert_eq!(report.records, 2);
        assert_eq!(report.images_waiting, 2);
        assert_eq!(
            store.images_to_reclaim(),
            ids(&["sha256:one", "sha256:two"])
        );
        // The next prune hands them over although no result is left to drop.
        let mut handed = Vec::new();
        store
            .prune_reclaiming(&options, |ids| {
                handed = ids.to_vec();
                ids.to_vec()
            })
            .expect("prune");
        assert_eq!(handed, ["sha256:one", "sha256:two"]);
        assert!(store.images_to_reclaim().is_empty());
    }

    #[test]
    fn an_image_to_reclaim_whose_file_was_edited_is_discarded() {
        let (_tmp, store) = store();
        store.remember_images(["sha256:mine"]).expect("remember");
        std::fs::write(store.reclaim_path("sha256:mine"), "sha256:theirs").expect("edit");
        assert!(store.images_to_reclaim().is_empty());
        assert!(!store.reclaim_path("sha256:mine").exists());
    }
}
