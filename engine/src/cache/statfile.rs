//! The stat cache's file: fixed records in key order after a magic line and a count, then a
//! BLAKE3 checksum of all that; once checked, its records are searched where they were read.
//!
//! Reading the file is the one thing a warm hash does before its walk can start, so loading
//! copies nothing more: 100k records are 8 MB, which a parse into arrays of their own would
//! allocate, fill and free again (a third of the load's time, measured).

use std::cell::Cell;
use std::cmp::Ordering;
use std::path::Path;

use crate::digest::Digest;

/// The first bytes of the file: format name and version.
const MAGIC: &[u8] = b"tanto-statcache-2\n";
/// Device, inode, size, mtime, ctime, digest, last seen.
const RECORD: usize = 8 * 5 + 32 + 8;
/// Where the records start.
const START: usize = MAGIC.len() + 8;

/// One remembered file, as the file holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Record {
    /// `(device, inode)`.
    pub(super) key: (u64, u64),
    pub(super) size: u64,
    pub(super) mtime_ns: i64,
    pub(super) ctime_ns: i64,
    pub(super) digest: Digest,
    /// When a hash last used it, in seconds since the epoch.
    pub(super) seen: u64,
}

thread_local! {
    /// Where this thread's next search is tried first.
    static NEXT: Cell<usize> = const { Cell::new(0) };
}

/// A loaded file whose checksum matched and whose records are in key order, one per key.
#[derive(Debug, Default)]
pub(super) struct Records {
    bytes: Vec<u8>,
    count: usize,
}

impl Records {
    /// Checks `bytes`, a whole file; `None` when it is damaged.
    #[cfg(test)]
    pub(super) fn parse(mut bytes: Vec<u8>) -> Option<Self> {
        let body_len = bytes.len().checked_sub(32)?;
        let sum = checksum_of(&mut bytes[..body_len], &|_, _| Ok(())).ok()?;
        Self::check(bytes, sum)
    }

    /// Checks `bytes`, a whole file whose body has the BLAKE3 digest `sum`; `None` when it is
    /// damaged.
    fn check(mut bytes: Vec<u8>, sum: [u8; 32]) -> Option<Self> {
        let body_len = bytes.len().checked_sub(32)?;
        let (body, checksum) = bytes.split_at(body_len);
        if sum != checksum {
            return None;
        }
        let count = records_in(body)?;
        if body_len != START + count * RECORD {
            return None;
        }
        bytes.truncate(body_len);
        let mut records = Self { bytes, count };
        let ordered = |r: &Self| (1..r.count).all(|i| r.key(i - 1) <= r.key(i));
        if !ordered(&records) {
            // A file saved by an older version is in no particular order.
            let mut all: Vec<Record> = records.iter().collect();
            all.sort_by_key(|r| r.key);
            records = Self {
                bytes: body_of(all, count),
                count,
            };
        }
        // Two records for one inode never come from a save: the file is damaged.
        if (1..records.count).any(|i| records.key(i - 1) == records.key(i)) {
            return None;
        }
        Some(records)
    }

    /// How many records there are.
    pub(super) fn len(&self) -> usize {
        self.count
    }

    fn field(&self, i: usize, n: usize) -> u64 {
        let at = START + i * RECORD + n * 8;
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.bytes[at..at + 8]);
        u64::from_le_bytes(word)
    }

    fn key(&self, i: usize) -> (u64, u64) {
        (self.field(i, 0), self.field(i, 1))
    }

    /// The record at `i` (below [`len`](Self::len)).
    pub(super) fn record(&self, i: usize) -> Record {
        let at = START + i * RECORD + 40;
        let mut digest = [0u8; 32];
        digest.copy_from_slice(&self.bytes[at..at + 32]);
        Record {
            key: self.key(i),
            size: self.field(i, 2),
            mtime_ns: i64::from_le_bytes(self.field(i, 3).to_le_bytes()),
            ctime_ns: i64::from_le_bytes(self.field(i, 4).to_le_bytes()),
            digest: Digest(digest),
            seen: self.field(i, 9),
        }
    }

    /// Where the record of `key` is.
    pub(super) fn find(&self, key: &(u64, u64)) -> Option<usize> {
        // A folder's files are mostly listed in the order their inodes were handed out (a
        // checkout writes them by name), so the record after the last one found is tried
        // first: a walk seldom needs the bisection.
        let guess = NEXT.get();
        let i = if guess < self.count && self.key(guess) == *key {
            guess
        } else {
            let (mut lo, mut hi) = (0, self.count);
            loop {
                if lo >= hi {
                    return None;
                }
                let mid = lo + (hi - lo) / 2;
                match self.key(mid).cmp(key) {
                    Ordering::Less => lo = mid + 1,
                    Ordering::Greater => hi = mid,
                    Ordering::Equal => break mid,
                }
            }
        };
        NEXT.set(i + 1);
        Some(i)
    }

    /// Whether a record was last seen before `secs`.
    pub(super) fn any_seen_before(&self, secs: u64) -> bool {
        (0..self.count).any(|i| self.field(i, 9) < secs)
    }

    /// Every record, in key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = Record> + '_ {
        (0..self.count).map(|i| self.record(i))
    }
}

/// Reads and checks the file at `path`; `Ok(None)` when it is damaged.
///
/// The read is most of what a warm hash waits for before its walk (3.3 ms for 100k records,
/// mostly the faults that hand the fresh buffer its pages), so each half of the file is read
/// and hashed by a thread of its own.
pub(super) fn read(path: &Path) -> std::io::Result<Option<Records>> {
    use std::os::unix::fs::FileExt as _;
    let file = std::fs::File::open(path)?;
    let len = usize::try_from(file.metadata()?.len()).map_err(std::io::Error::other)?;
    let Some(body_len) = len.checked_sub(32) else {
        return Ok(None);
    };
    // The length the header's count gives, checked before room is made for the file: one
    // grown or replaced by hand (a sparse 30 GiB one, say) is damaged, not read whole.
    let mut head = [0u8; START];
    match file.read_exact_at(&mut head, 0) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    if records_in(&head).is_none_or(|count| START + count * RECORD != body_len) {
        return Ok(None);
    }
    let mut bytes = vec![0u8; len];
    let (body, stored) = bytes.split_at_mut(body_len);
    let read = |part: &mut [u8], at: usize| file.read_exact_at(part, at as u64);
    // A file cut short since its length was read is damaged, not unreadable.
    let short = |e: &std::io::Error| e.kind() == std::io::ErrorKind::UnexpectedEof;
    let sum = match checksum_of(body, &read).and_then(|sum| read(stored, body_len).map(|()| sum)) {
        Ok(sum) => sum,
        Err(e) if short(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Records::check(bytes, sum))
}

/// The most records a file may hold: more than any tree a walk hashes (its files are counted
/// by the million), and few enough that room for them can be made.
const MAX_RECORDS: usize = 1 << 26;

/// The count of records that `body`, the start of a file, says follow; `None` when it is not
/// a stat cache or claims more than [`MAX_RECORDS`].
fn records_in(body: &[u8]) -> Option<usize> {
    let count = body.strip_prefix(MAGIC)?.get(..8)?;
    let count = usize::try_from(u64::from_le_bytes(count.try_into().ok()?)).ok()?;
    (count <= MAX_RECORDS).then_some(count)
}

/// The magic line, the count and `records` (of which there are at most `at_most`: room is
/// made for them and the checksum), without the checksum.
fn body_of(records: impl IntoIterator<Item = Record>, at_most: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(START + at_most * RECORD + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&0u64.to_le_bytes());
    let mut count = 0u64;
    for r in records {
        count += 1;
        for n in [r.key.0, r.key.1, r.size] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        for t in [r.mtime_ns, r.ctime_ns] {
            out.extend_from_slice(&t.to_le_bytes());
        }
        out.extend_from_slice(&r.digest.0);
        out.extend_from_slice(&r.seen.to_le_bytes());
    }
    out[MAGIC.len()..START].copy_from_slice(&count.to_le_bytes());
    out
}

/// The whole file for `records`, which are in key order, one per key, and at most
/// `at_most`, for which room is made at once.
pub(super) fn encode(records: impl IntoIterator<Item = Record>, at_most: usize) -> Vec<u8> {
    let mut out = body_of(records, at_most);
    let checksum =
        checksum_of(&mut out, &|_, _| Ok(())).unwrap_or_else(|_| *blake3::hash(&out).as_bytes());
    out.extend_from_slice(&checksum);
    out
}

/// What fills a part of a body that starts at the given offset, before it is hashed.
type Fill<'a> = dyn Fn(&mut [u8], usize) -> std::io::Result<()> + Sync + 'a;

/// The BLAKE3 digest of `body` once `fill` has filled it: a large one is filled and hashed
/// as its two subtrees on two threads, since the check is on the way of every warm hash,
/// before its walk can start.
fn checksum_of(body: &mut [u8], fill: &Fill<'_>) -> std::io::Result<[u8; 32]> {
    use blake3::hazmat::{HasherExt as _, Mode, left_subtree_len, merge_subtrees_root};
    if body.len() < 1 << 20 {
        fill(body, 0)?;
        return Ok(*blake3::hash(body).as_bytes());
    }
    let split = usize::try_from(left_subtree_len(body.len() as u64)).unwrap_or(body.len());
    let (left, right) = body.split_at_mut(split);
    let (left_cv, right_cv) = std::thread::scope(|s| {
        let right_cv = s.spawn(|| {
            fill(right, split)?;
            let mut hasher = blake3::Hasher::new();
            hasher.set_input_offset(split as u64).update(right);
            Ok::<_, std::io::Error>(hasher.finalize_non_root())
        });
        let left_cv =
            fill(left, 0).map(|()| blake3::Hasher::new().update(left).finalize_non_root());
        (left_cv, right_cv.join())
    });
    let right_cv = right_cv.map_err(|_| std::io::Error::other("a checksum thread panicked"))?;
    Ok(*merge_subtrees_root(&left_cv?, &right_cv?, Mode::Hash).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(dev: u64, ino: u64) -> Record {
        Record {
            key: (dev, ino),
            size: 3,
            mtime_ns: -4,
            ctime_ns: 5,
            digest: Digest::of(&ino.to_le_bytes()),
            seen: 6,
        }
    }

    #[test]
    fn records_round_trip_and_are_found_in_place() {
        let records: Vec<Record> = (0..300).map(|i| record(i % 2, i)).collect();
        let mut sorted = records.clone();
        sorted.sort_by_key(|r| r.key);
        let loaded = Records::parse(encode(sorted.iter().copied(), sorted.len())).expect("intact");
        assert_eq!(loaded.iter().collect::<Vec<_>>(), sorted);
        for r in records.iter().rev() {
            let i = loaded.find(&r.key).expect("found");
            assert_eq!(loaded.record(i), *r);
        }
        assert_eq!(loaded.find(&(0, 1)), None);
        assert_eq!(loaded.find(&(7, 7)), None);
    }

    #[test]
    fn a_large_body_is_checksummed_as_blake3_hashes_it() {
        let body: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
        for len in [
            0,
            1024,
            (1 << 20) - 1,
            1 << 20,
            (1 << 20) + 1,
            3_333_333,
            5_000_000,
        ] {
            let mut part = body[..len].to_vec();
            let sum = checksum_of(&mut part, &|_, _| Ok(())).unwrap();
            assert_eq!(sum, *blake3::hash(&body[..len]).as_bytes(), "{len}");
            // Filled by parts at their offsets, as a read fills it.
            let mut read = vec![0u8; len];
            let fill = |part: &mut [u8], at: usize| {
                part.copy_from_slice(&body[at..at + part.len()]);
                Ok(())
            };
            assert_eq!(checksum_of(&mut read, &fill).unwrap(), sum, "{len}");
            assert_eq!(read, body[..len]);
        }
    }

    #[test]
    fn an_unordered_file_is_sorted_and_damage_is_refused() {
        let unordered = [record(1, 9), record(0, 4), record(1, 2)];
        let loaded = Records::parse(encode(unordered, 3)).expect("intact");
        let keys: Vec<_> = loaded.iter().map(|r| r.key).collect();
        assert_eq!(keys, [(0, 4), (1, 2), (1, 9)]);
        assert!(loaded.find(&(1, 9)).is_some());

        let twice = encode([record(1, 2), record(1, 2)], 2);
        assert!(Records::parse(twice).is_none(), "two records for one inode");
        let mut flipped = encode(unordered, 3);
        flipped[START + 3] ^= 1;
        assert!(Records::parse(flipped).is_none(), "checksum");
        let bytes = encode(unordered, 3);
        assert!(Records::parse(bytes[..bytes.len() - 1].to_vec()).is_none());
        assert!(Records::parse(Vec::new()).is_none());
    }

    #[test]
    fn a_file_longer_than_its_count_says_is_damaged_and_never_read_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("statcache");
        let intact = encode([record(0, 4), record(1, 2)], 2);
        std::fs::write(&path, &intact).expect("writes");
        assert_eq!(read(&path).expect("reads").expect("intact").count, 2);
        // Grown to 64 GiB, sparse: refused from its header, no room made for it.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(64 << 30).expect("grows");
        assert!(read(&path).expect("reads").is_none());
        // A header that claims more records than a file may hold.
        let mut claims = intact.clone();
        let many = (MAX_RECORDS as u64 + 1).to_le_bytes();
        claims[MAGIC.len()..START].copy_from_slice(&many);
        std::fs::write(&path, &claims).expect("writes");
        assert!(read(&path).expect("reads").is_none());
        std::fs::write(&path, &intact[..START - 1]).expect("writes");
        assert!(read(&path).expect("reads").is_none(), "no whole header");
    }
}
