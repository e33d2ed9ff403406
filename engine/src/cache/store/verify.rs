//! Checking the store: every object re-hashed, and what is damaged removed.

use super::action::read_sealed_or;
use super::images::made_images;
use super::maintain::{list_objects, parse_blob_name};
use super::object::{Found, read_object};
use super::reports::VerifyReport;
use super::{Store, remove_tree};
use crate::artifact::DirSelect;
use crate::cache::hash::{hash_dir_with, hash_file_contents};
use crate::cache::statcache::StatCache;
use crate::cache::store::{ActionResult, OutputRecord};
use crate::cache::tree::Tree;
use crate::digest::Digest;
use crate::error::Result;

impl Store {
    /// Re-hashes every blob, tree, checkout and record, removes what is damaged (and each
    /// result that names something removed) and reports it. Reads everything, so it takes as
    /// long as reading the store once. Holds a lease, so a prune cannot remove objects under it
    /// (which would read as damage).
    pub fn verify(&self) -> Result<VerifyReport> {
        let _lease = self.lease()?;
        let mut report = VerifyReport::default();
        let mut buf = Vec::new();
        // Where a blob, tree or record should be, no write leaves anything but a file.
        for (folder, what) in [
            ("blobs", "blob"),
            ("trees", "tree"),
            ("ac", "action record"),
        ] {
            for path in not_files(&self.root.join(folder)) {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                report
                    .problems
                    .push(format!("{what} {name} is damaged: it is not a file"));
                remove_tree(&path);
            }
        }
        for o in list_objects(&self.root.join("blobs")) {
            report.blobs += 1;
            let ok = parse_blob_name(&o.name).is_some_and(|(digest, _)| {
                hash_file_contents(&o.path, &mut buf).is_ok_and(|(d, _)| d == digest)
            });
            if !ok {
                report.problems.push(format!("blob {} is damaged", o.name));
                let _ = std::fs::remove_file(&o.path);
            }
        }
        for o in list_objects(&self.root.join("trees")) {
            report.trees += 1;
            let ok = matches!(read_object(&o.path), Ok(Found::Bytes(bytes))
                if Digest::of(&bytes).to_hex() == o.name && Tree::decode(&bytes).is_ok());
            if !ok {
                report.problems.push(format!("tree {} is damaged", o.name));
                let _ = std::fs::remove_file(&o.path);
            }
        }
        if let Ok(entries) = std::fs::read_dir(self.root.join("checkouts")) {
            for e in entries.flatten() {
                report.checkouts += 1;
                let name = e.file_name().to_string_lossy().into_owned();
                // A link to a sound copy elsewhere is not a checkout.
                let real = e.file_type().is_ok_and(|t| t.is_dir());
                let hashed = hash_dir_with(&e.path(), &DirSelect::ALL, &StatCache::in_memory());
                if !real || !hashed.is_ok_and(|h| h.digest.to_hex() == name) {
                    report.problems.push(format!("checkout {name} is damaged"));
                    remove_tree(&e.path());
                }
            }
        }
        for o in list_objects(&self.root.join("ac")) {
            report.records += 1;
            let result = read_sealed_or::<ActionResult>(&o.path, |_, _| {})
                .ok()
                .flatten()
                .filter(|r| {
                    r.key.digest().to_hex() == o.name
                        && r.outputs.iter().all(OutputRecord::value_intact)
                });
            let problem = match result {
                None => Some(format!("action record {} is damaged", o.name)),
                // What it names may have been removed above as damaged: a record that can
                // never be a hit again would read as sound to every later check. Sound itself,
                // it leaves the images it made to the next prune, as a dropped result does.
                Some(r)
                    if !r
                        .outputs
                        .iter()
                        .all(|out| self.has_output(out).unwrap_or(false)) =>
                {
                    if let Err(e) = self.remember_images(made_images(&r)) {
                        tracing::warn!("cannot remember the images of a removed result: {e}");
                    }
                    Some(format!(
                        "action record {} names an output that is no longer in the store",
                        o.name
                    ))
                }
                Some(_) => None,
            };
            if let Some(problem) = problem {
                report.problems.push(problem);
                let _ = std::fs::remove_file(&o.path);
            }
        }
        // What a step's last run left besides its result: each sealed, each only a hint or an
        // explanation, so a damaged one is removed and reported like the rest.
        for (folder, what) in [
            ("last", "last key"),
            ("recipes", "container recipe"),
            ("failed", "failure record"),
            ("single", "single-command hint"),
        ] {
            let Ok(entries) = std::fs::read_dir(self.root.join(folder)) else {
                continue;
            };
            for e in entries.flatten() {
                report.step_records += 1;
                let sound = read_sealed_or::<serde_json::Value>(&e.path(), |_, _| {})
                    .is_ok_and(|r| r.is_some());
                if !sound {
                    let name = e.file_name().to_string_lossy().into_owned();
                    report.problems.push(format!("{what} {name} is damaged"));
                    remove_tree(&e.path());
                }
            }
        }
        Ok(report)
    }
}

/// What is in the shards of the object folder `dir` and is not a file (a folder or a link).
fn not_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let shards = std::fs::read_dir(dir).into_iter().flatten().flatten();
    let entries = shards.filter_map(|shard| std::fs::read_dir(shard.path()).ok());
    (entries.flatten().flatten())
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_file()))
        .map(|e| e.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::artifact::Artifact;
    use crate::cache::key::KeyRecord;
    use crate::cache::store::Recorded;

    #[test]
    fn a_damaged_record_of_a_last_run_is_reported_and_removed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::open(tmp.path().join("store")).expect("store");
        let step = "ci/build";
        store
            .set_recipe(step, &serde_json::json!({"image": "busybox"}))
            .expect("recipe");
        store
            .set_last_failure(
                step,
                &KeyRecord::new("ci::build", "code"),
                std::time::SystemTime::now(),
            )
            .expect("failure");
        store.set_single_command(step, "code", true).expect("hint");
        let clean = store.verify().expect("verify");
        assert!(clean.is_clean(), "{:?}", clean.problems);
        assert_eq!(clean.step_records, 4);
        let name = Digest::of(step.as_bytes()).to_hex();
        for folder in ["last", "recipes", "failed", "single"] {
            std::fs::write(
                tmp.path().join("store").join(folder).join(&name),
                b"garbage",
            )
            .expect("damage");
        }
        let report = store.verify().expect("verify");
        let mut problems = report.problems.clone();
        problems.sort();
        assert_eq!(
            problems,
            [
                format!("container recipe {name} is damaged"),
                format!("failure record {name} is damaged"),
                format!("last key {name} is damaged"),
                format!("single-command hint {name} is damaged"),
            ]
        );
        assert!(store.verify().expect("verify").is_clean());
        assert_eq!(
            store.recipe::<serde_json::Value>(step).expect("read"),
            Recorded::None
        );
    }

    #[test]
    fn a_folder_or_link_where_an_object_should_be_is_reported_and_removed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("store");
        let store = Store::open(&root).expect("store");
        let name = "ab".repeat(32);
        for folder in ["ac", "trees"] {
            std::fs::create_dir_all(root.join(folder).join("ab").join(&name).join("in"))
                .expect("a folder in an object's place");
        }
        std::fs::create_dir_all(root.join("blobs/ab")).expect("shard");
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, b"not the store's").expect("writes");
        std::os::unix::fs::symlink(&outside, root.join("blobs/ab").join(&name)).expect("link");
        let mut problems = store.verify().expect("verify").problems;
        problems.sort();
        assert_eq!(
            problems,
            [
                format!("action record {name} is damaged: it is not a file"),
                format!("blob {name} is damaged: it is not a file"),
                format!("tree {name} is damaged: it is not a file"),
            ]
        );
        assert!(store.verify().expect("verify").is_clean());
        assert!(outside.exists(), "only the link was removed");
    }

    #[test]
    fn a_damaged_recipe_reads_as_damaged_not_as_never_recorded() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::open(tmp.path().join("store")).expect("store");
        store
            .set_recipe("ci/test", &serde_json::json!(1))
            .expect("recipe");
        let name = Digest::of(b"ci/test").to_hex();
        std::fs::write(tmp.path().join("store/recipes").join(name), b"x").expect("damage");
        assert_eq!(
            store.recipe::<serde_json::Value>("ci/test").expect("read"),
            Recorded::Damaged
        );
        assert_eq!(
            store.recipe::<serde_json::Value>("ci/test").expect("read"),
            Recorded::None,
            "discarded"
        );
    }

    #[test]
    fn a_record_whose_value_is_not_the_one_its_digest_names_is_a_miss_and_damage() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::open(tmp.path().join("store")).expect("store");
        let value = Artifact::Value(serde_json::json!("real"));
        let result = ActionResult::new(KeyRecord::new("ci::v", "code"), &[value], Duration::ZERO);
        let key = result.key.digest();
        // Sealed as soundly as the real one, as a remote hit's record is.
        let mut forged = result.clone();
        forged.outputs[0].value = Some(serde_json::json!("EVIL"));
        store.record(&key, &forged).expect("record");
        assert!(store.lookup(&key).expect("lookup").is_none());
        store.record(&key, &forged).expect("record");
        let report = store.verify().expect("verify");
        assert_eq!(
            report.problems,
            [format!("action record {} is damaged", key.to_hex())]
        );
        store.record(&key, &result).expect("record");
        assert!(store.lookup(&key).expect("lookup").is_some());
    }

    #[test]
    fn a_result_removed_for_a_lost_output_leaves_its_image_to_reclaim() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::open(tmp.path().join("store")).expect("store");
        let host = tmp.path().join("notes.txt");
        std::fs::write(&host, "never stored").expect("write");
        // A file the store does not hold stands for one a verify removed as damaged.
        let lost = Artifact::File(store.hash_input_file(&host).expect("hash"));
        let image = Artifact::Image(crate::artifact::Image::new(
            "sha256:made".to_owned(),
            Digest::of(b"made"),
        ));
        let result = ActionResult::new(
            KeyRecord::new("ci::pack", "code"),
            &[image, lost],
            Duration::ZERO,
        );
        let key = result.key.digest();
        store.record(&key, &result).expect("record");
        assert!(store.images_to_reclaim().is_empty());
        let report = store.verify().expect("verify");
        assert_eq!(
            report.problems,
            [format!(
                "action record {} names an output that is no longer in the store",
                key.to_hex()
            )]
        );
        assert_eq!(
            store.images_to_reclaim().into_iter().collect::<Vec<_>>(),
            ["sha256:made"]
        );
    }
}
