//! What the stat cache learnt since it was loaded: records kept in the order walks handed
//! them over, indexed by inode only once a lookup needs it.
//!
//! A cold walk of 100k files hands over 100k records and never looks one up again (its own
//! files are not read twice), so filling a hash map for them, then walking the map to save
//! it, was most of what a cold hash did after its walk. A list is appended to in one copy and
//! saved from one merge of its batches' keys.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::cache::statfile::Record;

/// A multiplicative hasher for `(device, inode)` keys: inode numbers are handed out by the
/// file system, not chosen by users, so SipHash's flood resistance buys nothing here.
#[derive(Default)]
struct InodeHasher(u64);

impl Hasher for InodeHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// Where in the list each key's latest record is.
type Index = HashMap<(u64, u64), usize, BuildHasherDefault<InodeHasher>>;

/// Records learnt this session; a later record for a key replaces an earlier one.
#[derive(Debug, Default)]
pub(super) struct Learnt {
    list: Vec<Record>,
    index: Index,
    /// How many of `list`'s records `index` covers.
    indexed: usize,
}

impl Learnt {
    /// Appends `records`, in the order they were learnt.
    pub(super) fn extend(&mut self, mut records: Vec<Record>) {
        if self.list.is_empty() {
            self.list = records;
        } else {
            self.list.append(&mut records);
        }
    }

    /// How many records were handed over, counting each key's replaced ones.
    pub(super) fn handed_over(&self) -> usize {
        self.list.len()
    }

    /// The latest record of `key`.
    pub(super) fn find(&mut self, key: &(u64, u64)) -> Option<&Record> {
        for (i, r) in self.list.iter().enumerate().skip(self.indexed) {
            self.index.insert(r.key, i);
        }
        self.indexed = self.list.len();
        self.index.get(key).map(|&i| &self.list[i])
    }

    /// The latest record of each key, in key order.
    pub(super) fn latest(&self) -> impl Iterator<Item = &Record> + '_ {
        // Each batch comes in key order (the thread that hands it over sorts it), so the
        // standard library's stable sort only merges a few long runs. A key's records are
        // ordered latest first, so the one kept of each run of equal keys is the latest.
        let mut order: Vec<((u64, u64), Reverse<usize>)> = self
            .list
            .iter()
            .enumerate()
            .map(|(i, r)| (r.key, Reverse(i)))
            .collect();
        order.sort();
        order.dedup_by_key(|(key, _)| *key);
        order.into_iter().map(|(_, Reverse(i))| &self.list[i])
    }

    /// Every record, for tests that age them.
    #[cfg(test)]
    pub(super) fn records_mut(&mut self) -> &mut [Record] {
        &mut self.list
    }
}

/// The records of `loaded` and `learnt`, both in key order with one record per key, merged
/// in key order; where both hold a key, the learnt record replaces the loaded one.
pub(super) fn merge<'a>(
    loaded: impl Iterator<Item = Record> + 'a,
    learnt: impl Iterator<Item = Record> + 'a,
) -> impl Iterator<Item = Record> + 'a {
    let (mut loaded, mut learnt) = (loaded.peekable(), learnt.peekable());
    std::iter::from_fn(move || match (loaded.peek(), learnt.peek()) {
        (Some(old), Some(new)) if old.key < new.key => loaded.next(),
        (Some(old), Some(new)) if old.key == new.key => {
            loaded.next();
            learnt.next()
        }
        (_, Some(_)) => learnt.next(),
        (Some(_), None) => loaded.next(),
        (None, None) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    fn record(ino: u64, tag: &[u8]) -> Record {
        Record {
            key: (1, ino),
            size: 1,
            mtime_ns: 2,
            ctime_ns: 3,
            digest: Digest::of(tag),
            seen: 4,
        }
    }

    #[test]
    fn the_latest_record_of_a_key_wins_in_lookups_and_in_key_order() {
        let mut learnt = Learnt::default();
        learnt.extend(vec![record(5, b"a"), record(2, b"b"), record(5, b"c")]);
        assert_eq!(
            learnt.find(&(1, 5)).map(|r| r.digest),
            Some(Digest::of(b"c"))
        );
        // Records handed over after a lookup are indexed by the next one.
        learnt.extend(vec![record(2, b"d"), record(9, b"e")]);
        assert_eq!(
            learnt.find(&(1, 2)).map(|r| r.digest),
            Some(Digest::of(b"d"))
        );
        assert_eq!(learnt.find(&(1, 7)), None);
        let latest: Vec<_> = learnt.latest().map(|r| (r.key.1, r.digest)).collect();
        let want = [(2, b"d"), (5, b"c"), (9, b"e")].map(|(i, t)| (i, Digest::of(t)));
        assert_eq!(latest, want);
    }

    #[test]
    fn a_merge_keeps_key_order_and_prefers_what_was_learnt() {
        let loaded = [record(1, b"old"), record(3, b"old"), record(8, b"old")];
        let learnt = [record(0, b"new"), record(3, b"new"), record(9, b"new")];
        let merged: Vec<_> = merge(loaded.into_iter(), learnt.into_iter())
            .map(|r| (r.key.1, r.digest == Digest::of(b"new")))
            .collect();
        assert_eq!(
            merged,
            [(0, true), (1, false), (3, true), (8, false), (9, true)]
        );
        assert_eq!(merge(loaded.into_iter(), std::iter::empty()).count(), 3);
        assert_eq!(merge(std::iter::empty(), learnt.into_iter()).count(), 3);
    }
}
