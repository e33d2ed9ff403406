//! A pipeline's index on the server: the action results of its last run that wrote to the
//! shared cache, in one action-cache entry, so that a run on an empty store reads them with
//! one call while it hashes its inputs, instead of one `GetActionResult` per step along its
//! dependency chains.
//!
//! The index only saves calls; it is never believed more than the server's own answer. A step's
//! action digest is looked up in it first, and an entry is read and checked as an answer to
//! `GetActionResult` for that digest would be: its record must belong to the step's key, and
//! the outputs it names must be in the CAS. A step the index lacks, or whose entry fails a
//! check, is asked for on its own. So an index that is stale, or that a run of another branch
//! wrote, costs calls, never soundness; and what an entry claims, a client allowed to write
//! results could claim for that digest directly.
//!
//! A result with an output folder is never in an index. `FindMissingBlobs` checks a folder's
//! `Tree` only, not the files it names, where a server answering `GetActionResult` makes sure
//! of every blob the result reaches (and keeps them longer): such a step is asked for alone.
//!
//! Its key (the `run-index` action of [`RemoteConfig::index`](super::RemoteConfig::index)) is
//! the run's to choose; the entry is one `ActionResult` whose `auxiliary_metadata` holds an
//! [`IndexEntry`] per step, up to [`MAX_INDEX_BYTES`].

use std::collections::{HashMap, HashSet};

use prost::Message;

use super::cas::Blob;
use super::proto::protobuf::Any;
use super::proto::re;
use super::wire::{ActionBlobs, action_named, action_of, check_digest, sha};
use super::{Counter, Remote, RemoteFound};
use crate::digest::Digest;

/// The `type_url` of one entry of an index.
const INDEX_TYPE: &str = "tanto.dev/tanto.IndexEntry.v1+proto";

/// The most bytes of entries an index holds: well under the 4 MiB that a server or a client
/// allows in one message by default. The rest of a large pipeline is asked for step by step.
const MAX_INDEX_BYTES: usize = 1 << 20;

/// The most entries read from an index, whatever it holds.
const MAX_INDEX_ENTRIES: usize = 20_000;

/// The action whose result is the index under `key`.
fn index_action(key: &Digest) -> ActionBlobs {
    action_named("run-index", key)
}

/// One step's action-cache entry, as the index holds it.
#[derive(Clone, PartialEq, Message)]
struct IndexEntry {
    /// The action the result is for.
    #[prost(message, optional, tag = "1")]
    action_digest: Option<re::Digest>,
    /// Its result, as the action cache holds it.
    #[prost(message, optional, tag = "2")]
    result: Option<re::ActionResult>,
}

/// An index read from the server: each action's digest and result by the hash of its digest,
/// in the order it held them.
#[derive(Default)]
pub(super) struct RunIndex(HashMap<String, (usize, re::Digest, re::ActionResult)>);

impl RunIndex {
    /// The entries of the index entry `found`. It is hostile input: an entry that does not
    /// decode or names no well-formed digest is left out, and at most [`MAX_INDEX_ENTRIES`]
    /// are read.
    fn read(found: &re::ActionResult) -> Self {
        let entries = (found.execution_metadata.iter())
            .flat_map(|m| &m.auxiliary_metadata)
            .filter(|any| any.type_url == INDEX_TYPE)
            .take(MAX_INDEX_ENTRIES)
            .filter_map(|any| IndexEntry::decode(any.value.as_slice()).ok())
            .filter_map(|entry| Some((entry.action_digest?, entry.result?)))
            .filter(|(action, result)| {
                check_digest(action, u64::MAX).is_ok() && result.output_directories.is_empty()
            })
            .enumerate()
            .map(|(at, (action, result))| (action.hash.clone(), (at, action, result)))
            .collect();
        Self(entries)
    }

    /// The result the index holds for `action`.
    pub(super) fn get(&self, action: &re::Digest) -> Option<&re::ActionResult> {
        self.0.get(&action.hash).map(|(_, _, result)| result)
    }

    /// `results`, then the entries of the index that they do not hold, in the index's order:
    /// what a run that did not reach every step writes, so that the steps it did not reach
    /// keep their entries (the next whole run's index drops those it no longer finds).
    fn after(
        &self,
        mut results: Vec<(re::Digest, re::ActionResult)>,
    ) -> Vec<(re::Digest, re::ActionResult)> {
        let mut rest: Vec<_> = self.0.values().collect();
        rest.sort_by_key(|(at, _, _)| *at);
        results.extend(
            rest.into_iter()
                .map(|(_, action, result)| (action.clone(), result.clone())),
        );
        results
    }

    /// Whether the index holds exactly the actions an index of `results` would.
    fn holds_exactly(&self, results: &[(re::Digest, re::ActionResult)]) -> bool {
        let actions: HashSet<&str> = indexed(results).map(|(a, _)| a.hash.as_str()).collect();
        actions.len() == self.0.len() && actions.iter().all(|a| self.0.contains_key(*a))
    }
}

/// The results of `results` an index holds: those without an output folder, once each.
fn indexed(
    results: &[(re::Digest, re::ActionResult)],
) -> impl Iterator<Item = &(re::Digest, re::ActionResult)> {
    let mut seen = HashSet::new();
    (results.iter())
        .filter(|(_, result)| result.output_directories.is_empty())
        .filter(move |(action, _)| seen.insert(&action.hash))
}

/// The index entry for `results`, in their order, as many as fit in [`MAX_INDEX_BYTES`].
fn write(results: &[(re::Digest, re::ActionResult)]) -> re::ActionResult {
    let mut room = MAX_INDEX_BYTES;
    let mut entries = Vec::new();
    for (action, result) in indexed(results) {
        let value = IndexEntry {
            action_digest: Some(action.clone()),
            result: Some(result.clone()),
        }
        .encode_to_vec();
        if value.len() > room {
            continue;
        }
        room -= value.len();
        entries.push(Any {
            type_url: INDEX_TYPE.into(),
            value,
        });
    }
    re::ActionResult {
        execution_metadata: Some(re::ExecutedActionMetadata {
            worker: "tanto".into(),
            auxiliary_metadata: entries,
        }),
        ..Default::default()
    }
}

impl Remote {
    /// Reads the index under `key`; an empty one when the server has none or it cannot be
    /// read (a fault opens the breaker, as any call's would).
    pub(super) async fn read_index(&self, key: &Digest) -> RunIndex {
        let request = re::GetActionResultRequest {
            instance_name: self.config.instance.clone(),
            action_digest: Some(index_action(key).digest),
            digest_function: re::SHA256,
        };
        match self
            .call(self.config.timeout, self.clients.get_action_result(request))
            .await
        {
            Ok(Some(found)) => RunIndex::read(&found),
            _ => RunIndex::default(),
        }
    }

    /// For a local hit of the step key `key` in a run that writes: whether the server lacks
    /// its result, which the run then shares from its store, so a server that lost results
    /// (restarted, evicted them, or was down when they were made) gets them back from the
    /// next run that writes. A result the index read from the server holds, or that this run
    /// shared already, is not asked for: it stays in the index this run writes, so a machine
    /// whose store holds most results does not shrink the index to the steps it ran. Any
    /// other is asked for; one the server cannot serve (outputs gone from its CAS) counts as
    /// lacking. False in a run that does not write, or once the server failed.
    pub async fn lacks(&self, key: &Digest) -> bool {
        if !self.config.upload || !self.breaker.is_closed() {
            return false;
        }
        let action = action_of(key).digest;
        if let Some(result) = self.index.get(&action) {
            self.remember_shared(action, result.clone());
            return false;
        }
        let known = (self.shared.lock().unwrap_or_else(|p| p.into_inner()))
            .iter()
            .any(|(shared, _)| shared.hash == action.hash);
        if known {
            return false;
        }
        !matches!(
            self.ask(&action, key, None).await,
            Some(RemoteFound::Hit(_))
        ) && self.breaker.is_closed()
    }

    /// Keeps `result`, which the server now holds for `action`, for this run's index.
    pub(super) fn remember_shared(&self, action: re::Digest, result: re::ActionResult) {
        if self.config.index.is_some() && self.config.upload {
            let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            shared.push((action, result));
        }
    }

    /// Writes the run's index when this run writes to the server: the results it shared, those
    /// it found there, and its local hits that the index it read held, and, when the run did
    /// not reach every step (`whole` is false: a step failed), the entries of that index too;
    /// unless that index holds exactly those. Failures give the run's one warning, never an
    /// error.
    pub async fn write_index(&self, whole: bool) {
        let Some(key) = &self.config.index else {
            return;
        };
        if !self.config.upload || !self.breaker.is_closed() {
            return;
        }
        let mut results =
            std::mem::take(&mut *self.shared.lock().unwrap_or_else(|p| p.into_inner()));
        if !whole {
            results = self.index.after(results);
        }
        if indexed(&results).next().is_none() || self.index.holds_exactly(&results) {
            return;
        }
        let action = index_action(key);
        let blobs = vec![
            Blob::Bytes(sha(&action.action), action.action),
            Blob::Bytes(sha(&action.command), action.command),
        ];
        let index = write(&results);
        let entries = index
            .execution_metadata
            .as_ref()
            .map_or(0, |m| m.auxiliary_metadata.len());
        let written = match self.put(blobs).await {
            Ok(_) => self.put_result(action.digest, index).await,
            Err(why) => Err(why),
        };
        match written {
            Ok(()) => self.count(Counter::Indexed, entries as u64),
            // A fault opened the breaker, whose one warning said so.
            Err(_) if !self.breaker.is_closed() => {}
            Err(why) => {
                tracing::warn!("could not write the pipeline's index to the remote cache: {why}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(byte: u8) -> re::Digest {
        re::Digest {
            hash: format!("{byte:02x}").repeat(32),
            size_bytes: 1,
        }
    }

    fn result(worker: &str) -> re::ActionResult {
        re::ActionResult {
            execution_metadata: Some(re::ExecutedActionMetadata {
                worker: worker.into(),
                auxiliary_metadata: Vec::new(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn an_index_reads_back_what_was_written_once_per_action() {
        let results = vec![
            (digest(1), result("a")),
            (digest(2), result("b")),
            (digest(1), result("a again")),
        ];
        let index = RunIndex::read(&write(&results));
        assert_eq!(index.0.len(), 2);
        assert_eq!(index.get(&digest(1)), Some(&result("a")));
        assert_eq!(index.get(&digest(2)), Some(&result("b")));
        assert_eq!(index.get(&digest(3)), None);
        assert!(index.holds_exactly(&results));
        assert!(!index.holds_exactly(&results[..1]));
    }

    #[test]
    fn an_index_holds_what_fits_and_the_rest_is_asked_for_step_by_step() {
        let big = |byte: u8| {
            let mut r = result("big");
            r.stdout_digest = Some(re::Digest {
                hash: "f".repeat(MAX_INDEX_BYTES / 3),
                size_bytes: 0,
            });
            (digest(byte), r)
        };
        let results = vec![big(1), big(2), big(3), (digest(4), result("small"))];
        let written = write(&results);
        assert!(written.encoded_len() <= MAX_INDEX_BYTES + 1024);
        let index = RunIndex::read(&written);
        assert!(index.get(&digest(1)).is_some() && index.get(&digest(2)).is_some());
        assert!(index.get(&digest(3)).is_none(), "past the limit");
        assert_eq!(index.get(&digest(4)), Some(&result("small")));
    }

    #[test]
    fn a_result_with_an_output_folder_is_never_indexed() {
        let mut folder = result("folder");
        folder.output_directories.push(re::OutputDirectory {
            path: "out/0".into(),
            tree_digest: Some(digest(9)),
        });
        let results = vec![(digest(1), folder.clone()), (digest(2), result("value"))];
        let written = write(&results);
        assert_eq!(RunIndex::read(&written).0.len(), 1);
        assert!(RunIndex::read(&written).holds_exactly(&results));
        // Nor read from an index that holds one anyway.
        let anys = vec![Any {
            type_url: INDEX_TYPE.into(),
            value: IndexEntry {
                action_digest: Some(digest(1)),
                result: Some(folder),
            }
            .encode_to_vec(),
        }];
        let mut found = result("index");
        found
            .execution_metadata
            .as_mut()
            .unwrap()
            .auxiliary_metadata = anys;
        assert_eq!(RunIndex::read(&found).get(&digest(1)), None);
    }

    #[test]
    fn entries_a_server_mangled_are_left_out() {
        let mut found = write(&[(digest(1), result("good"))]);
        let anys = &mut found
            .execution_metadata
            .as_mut()
            .unwrap()
            .auxiliary_metadata;
        anys.push(Any {
            type_url: INDEX_TYPE.into(),
            value: b"\xff\xff not a message".to_vec(),
        });
        let bad_digest = IndexEntry {
            action_digest: Some(re::Digest {
                hash: "../etc".into(),
                size_bytes: 1,
            }),
            result: Some(result("bad")),
        };
        anys.push(Any {
            type_url: INDEX_TYPE.into(),
            value: bad_digest.encode_to_vec(),
        });
        let no_result = IndexEntry {
            action_digest: Some(digest(3)),
            result: None,
        };
        anys.push(Any {
            type_url: INDEX_TYPE.into(),
            value: no_result.encode_to_vec(),
        });
        anys.push(Any {
            type_url: "something/else".into(),
            value: IndexEntry {
                action_digest: Some(digest(4)),
                result: Some(result("other type")),
            }
            .encode_to_vec(),
        });
        let index = RunIndex::read(&found);
        assert_eq!(index.0.len(), 1);
        assert_eq!(index.get(&digest(1)), Some(&result("good")));
    }

    #[test]
    fn a_run_that_stopped_short_keeps_the_entries_it_did_not_reach() {
        let read = RunIndex::read(&write(&[
            (digest(1), result("a")),
            (digest(2), result("b")),
            (digest(3), result("c")),
        ]));
        // It ran `a` again with another result, and a new step; `b` and `c` it never reached.
        let merged = read.after(vec![(digest(1), result("a'")), (digest(4), result("d"))]);
        let index = RunIndex::read(&write(&merged));
        assert_eq!(index.get(&digest(1)), Some(&result("a'")), "its own first");
        assert_eq!(index.get(&digest(2)), Some(&result("b")));
        assert_eq!(index.get(&digest(3)), Some(&result("c")));
        assert_eq!(index.get(&digest(4)), Some(&result("d")));
        // One that reached nothing new leaves the index as it was: nothing to write.
        assert!(read.holds_exactly(&read.after(Vec::new())));
    }
}
