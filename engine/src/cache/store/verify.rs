//! Checking the store: every object re-hashed, and what is damaged removed.

use super::action::read_sealed;
use super::maintain::{list_objects, parse_blob_name};
use super::reports::VerifyReport;
use super::{Store, remove_tree};
use crate::artifact::DirSelect;
use crate::cache::hash::{hash_dir_with, hash_file_contents};
use crate::cache::key::KeyRecord;
use crate::cache::statcache::StatCache;
use crate::cache::store::{ActionResult, OutputRecord};
use crate::cache::tree::Tree;
use crate::digest::Digest;
use crate::error::Result;

impl Store {
    /// Re-hashes every blob, tree, record and checkout, removes what is damaged and reports
    /// it. Reads everything, so it takes as long as reading the store once. Holds a lease, so
    /// a prune cannot remove objects under it (which would read as damage).
    pub fn verify(&self) -> Result<VerifyReport> {
        let _lease = self.lease()?;
        let mut report = VerifyReport::default();
        let mut buf = Vec::new();
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
            let ok = std::fs::read(&o.path).is_ok_and(|bytes| {
                Digest::of(&bytes).to_hex() == o.name && Tree::decode(&bytes).is_ok()
            });
            if !ok {
                report.problems.push(format!("tree {} is damaged", o.name));
                let _ = std::fs::remove_file(&o.path);
            }
        }
        for o in list_objects(&self.root.join("ac")) {
            report.records += 1;
            let ok = read_sealed::<ActionResult>(&o.path)
                .ok()
                .flatten()
                .is_some_and(|r| {
                    r.key.digest().to_hex() == o.name
                        && r.outputs.iter().all(OutputRecord::value_intact)
                });
            if !ok {
                report
                    .problems
                    .push(format!("action record {} is damaged", o.name));
                let _ = std::fs::remove_file(&o.path);
            }
        }
        if let Ok(entries) = std::fs::read_dir(self.root.join("last")) {
            for e in entries.flatten() {
                report.last_keys += 1;
                if read_sealed::<KeyRecord>(&e.path()).ok().flatten().is_none() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    report.problems.push(format!("last key {name} is damaged"));
                }
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
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::artifact::Artifact;

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
}
