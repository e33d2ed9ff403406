//! The stat cache: remembers each file's content digest by its stat data, so a warm re-hash
//! of an unchanged tree only stats its files.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::digest::Digest;
use crate::error::{Error, Result};

const MAGIC: &[u8] = b"tanto-statcache-2\n";
const RECORD: usize = 8 * 5 + 32 + 8;

/// A file's stat data, as the stat cache compares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// Device id.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Status change time, nanoseconds since the Unix epoch.
    pub ctime_ns: i64,
}

impl FileStat {
    /// The stat data of `meta`.
    pub fn of(meta: &std::fs::Metadata) -> Self {
        let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }
}

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

type Map = HashMap<(u64, u64), Entry, BuildHasherDefault<InodeHasher>>;

/// What was loaded, sorted by `(device, inode)`: the keys apart, so a binary search touches
/// 16 bytes a step, and the entries beside them in the same order.
///
/// A file system hands out the inodes of one folder's files close together (they are mostly
/// created together), so the files of the folder a walk is in sit in one small stretch of
/// both arrays, which stays in the CPU's caches while the walk is there; a hash table would
/// scatter them over the whole table (11 MB for 100k files), a cache miss each.
#[derive(Debug, Default)]
struct Sorted {
    keys: Vec<(u64, u64)>,
    entries: Vec<Entry>,
}

impl Sorted {
    fn get(&self, key: &(u64, u64)) -> Option<&Entry> {
        let i = self.keys.binary_search(key).ok()?;
        self.entries.get(i)
    }

    fn contains_key(&self, key: &(u64, u64)) -> bool {
        self.keys.binary_search(key).is_ok()
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn iter(&self) -> impl Iterator<Item = (&(u64, u64), &Entry)> {
        self.keys.iter().zip(&self.entries)
    }
}

#[derive(Debug)]
struct Entry {
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    digest: Digest,
    /// When a hash last used this entry, in seconds since the epoch.
    seen: AtomicU64,
}

/// Digests of files by stat data.
///
/// An entry maps a file's identity `(device, inode)` to the `(size, mtime, ctime)` it had
/// when it was read and the digest of its contents; it is used only when all three still
/// match. Keying by inode rather than by path keeps the file compact (fixed 80-byte records:
/// 100k files load in a few milliseconds, with no path strings to allocate or hash) and is
/// just as safe: any write changes the mtime and ctime, and a rename, chmod or `touch -d`
/// changes the ctime, which no user can set back. An inode number reused by a new file comes
/// with a new ctime.
///
/// Files modified within [`StatCache::racy_window`] of being read are not remembered: a write
/// in the same timestamp tick as our read would leave the stat data unchanged (git calls
/// these "racily clean" entries). The cache lives in one binary file with a BLAKE3
/// checksum, is loaded once, and is saved by temp file + rename; a damaged file is dropped
/// with a warning and the cache starts empty. Entries not seen for
/// [`StatCache::FORGET_AFTER`] are dropped when saving.
///
/// Shared by reference between the hashing threads; [`StatCache::save`] writes it back.
#[derive(Debug)]
pub struct StatCache {
    file: Option<PathBuf>,
    staging: Option<PathBuf>,
    racy_window: Duration,
    now_secs: u64,
    /// What was loaded: read without locking by the hashing threads.
    loaded: Sorted,
    /// What was learnt since.
    added: Mutex<Map>,
    dirty: AtomicBool,
}

impl Default for StatCache {
    fn default() -> Self {
        Self::in_memory()
    }
}

impl StatCache {
    /// How close to a read a file's mtime or ctime may be before it is not remembered.
    ///
    /// One second covers file systems with whole-second timestamps and the kernel's coarse
    /// clock tick on the others.
    pub const DEFAULT_RACY_WINDOW: Duration = Duration::from_secs(1);

    /// Entries no hash has used for this long are dropped on save.
    pub const FORGET_AFTER: Duration = Duration::from_secs(30 * 24 * 3600);

    /// An empty cache that is never saved.
    pub fn in_memory() -> Self {
        let now_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            file: None,
            staging: None,
            racy_window: Self::DEFAULT_RACY_WINDOW,
            now_secs,
            loaded: Sorted::default(),
            added: Mutex::default(),
            dirty: AtomicBool::new(false),
        }
    }

    /// Loads the cache saved at `file`; a missing or damaged file gives an empty cache (the
    /// damage is logged), never an error, since a cold cache only costs time.
    pub fn load(file: impl Into<PathBuf>) -> Self {
        let file = file.into();
        let loaded = match std::fs::read(&file) {
            Ok(bytes) => parse(&bytes).unwrap_or_else(|| {
                tracing::warn!(path = %file.display(), "stat cache is damaged; starting cold");
                Sorted::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Sorted::default(),
            Err(e) => {
                tracing::warn!(path = %file.display(), error = %e, "cannot read the stat cache; starting cold");
                Sorted::default()
            }
        };
        Self {
            file: Some(file),
            loaded,
            ..Self::in_memory()
        }
    }

    /// Writes the temp file of [`save`](Self::save) in `dir` (on the same file system as the
    /// cache file) instead of beside the cache file, so a killed save leaves its debris there.
    pub(crate) fn staging_in(mut self, dir: PathBuf) -> Self {
        self.staging = Some(dir);
        self
    }

    /// Sets the [racy window](Self::DEFAULT_RACY_WINDOW). A zero window remembers every file,
    /// which is only safe when nothing writes to the hashed folder during or right after hashing.
    pub fn with_racy_window(mut self, window: Duration) -> Self {
        self.racy_window = window;
        self
    }

    /// The racy window in force.
    pub fn racy_window(&self) -> Duration {
        self.racy_window
    }

    /// How many files are remembered.
    pub fn len(&self) -> usize {
        let Ok(added) = self.added.lock() else {
            return self.loaded.len();
        };
        let new = added.keys().filter(|k| !self.loaded.contains_key(k));
        self.loaded.len() + new.count()
    }

    /// Whether no file is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The remembered digest of the file with stat data `stat`, if it is unchanged.
    pub fn get(&self, stat: &FileStat) -> Option<Digest> {
        let key = (stat.dev, stat.ino);
        let matches = |e: &Entry| {
            (e.size, e.mtime_ns, e.ctime_ns) == (stat.size, stat.mtime_ns, stat.ctime_ns)
        };
        let Some(e) = self.loaded.get(&key).filter(|e| matches(e)) else {
            // Rare: the file is new or changed since loading, and will be read anyway.
            let added = self.added.lock().ok()?;
            return added.get(&key).filter(|e| matches(e)).map(|e| e.digest);
        };
        // Refresh the last-seen day at most daily, so a warm hash rarely forces a save.
        if e.seen.load(Ordering::Relaxed) + 24 * 3600 < self.now_secs {
            e.seen.store(self.now_secs, Ordering::Relaxed);
            self.dirty.store(true, Ordering::Relaxed);
        }
        Some(e.digest)
    }

    /// Remembers that the file with stat data `stat`, read from `read_at` on, has `digest`,
    /// unless it changed too close to `read_at` to be trusted.
    pub fn insert(&self, stat: FileStat, digest: Digest, read_at: SystemTime) {
        let limit = read_at
            .checked_sub(self.racy_window)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        if stat.mtime_ns >= limit || stat.ctime_ns >= limit {
            return;
        }
        let Ok(mut added) = self.added.lock() else {
            return;
        };
        let entry = Entry {
            size: stat.size,
            mtime_ns: stat.mtime_ns,
            ctime_ns: stat.ctime_ns,
            digest,
            seen: AtomicU64::new(self.now_secs),
        };
        added.insert((stat.dev, stat.ino), entry);
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Writes the cache back to its file (temp file + rename), if it was loaded from one and
    /// changed.
    pub fn save(&self) -> Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let forget_before = self.now_secs.saturating_sub(Self::FORGET_AFTER.as_secs());
        let added = self
            .added
            .lock()
            .map_err(|_| Error::Store("the stat cache lock is poisoned".into()))?;
        let keep = |e: &Entry| e.seen.load(Ordering::Relaxed) >= forget_before;
        // Entries learnt this session replace loaded ones for the same inode.
        let mut entries: Vec<(&(u64, u64), &Entry)> = added
            .iter()
            .chain(self.loaded.iter().filter(|(k, _)| !added.contains_key(k)))
            .filter(|(_, e)| keep(e))
            .collect();
        // Saved in key order, so loading needs no sort.
        entries.sort_unstable_by_key(|(k, _)| **k);
        let kept = entries.len();
        if !self.dirty.load(Ordering::Relaxed) && kept == self.loaded.len() + added.len() {
            return Ok(());
        }
        let mut out = Vec::with_capacity(MAGIC.len() + 8 + kept * RECORD + 32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(kept as u64).to_le_bytes());
        for ((dev, ino), e) in entries {
            for n in [*dev, *ino, e.size] {
                out.extend_from_slice(&n.to_le_bytes());
            }
            for t in [e.mtime_ns, e.ctime_ns] {
                out.extend_from_slice(&t.to_le_bytes());
            }
            out.extend_from_slice(&e.digest.0);
            out.extend_from_slice(&e.seen.load(Ordering::Relaxed).to_le_bytes());
        }
        drop(added);
        let checksum = blake3::hash(&out);
        out.extend_from_slice(checksum.as_bytes());

        let dir = match &self.staging {
            Some(dir) => dir.as_path(),
            None => file.parent().unwrap_or(Path::new(".")),
        };
        let io = |e| Error::io(format!("save the stat cache to {}", file.display()), e);
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        tmp.write_all(&out).map_err(io)?;
        tmp.persist(file).map_err(|e| io(e.error))?;
        self.dirty.store(false, Ordering::Relaxed);
        Ok(())
    }
}

fn parse(bytes: &[u8]) -> Option<Sorted> {
    let (body, checksum) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
    if blake3::hash(body).as_bytes() != checksum {
        return None;
    }
    let rest = body.strip_prefix(MAGIC)?;
    let (count, records) = rest.split_at_checked(8)?;
    let count = usize::try_from(u64::from_le_bytes(count.try_into().ok()?)).ok()?;
    if records.len() != count.checked_mul(RECORD)? {
        return None;
    }
    let mut keys = Vec::with_capacity(count);
    let mut entries = Vec::with_capacity(count);
    for r in records.chunks_exact(RECORD) {
        let u = |i: usize| r[i * 8..i * 8 + 8].try_into().ok().map(u64::from_le_bytes);
        let t = |i: usize| r[i * 8..i * 8 + 8].try_into().ok().map(i64::from_le_bytes);
        let entry = Entry {
            size: u(2)?,
            mtime_ns: t(3)?,
            ctime_ns: t(4)?,
            digest: Digest(r[40..72].try_into().ok()?),
            seen: AtomicU64::new(u(9)?),
        };
        keys.push((u(0)?, u(1)?));
        entries.push(entry);
    }
    // A file saved by an older version is in no particular order.
    if !keys.is_sorted() {
        let mut pairs: Vec<_> = keys.into_iter().zip(entries).collect();
        pairs.sort_by_key(|(k, _)| *k);
        (keys, entries) = pairs.into_iter().unzip();
    }
    // Two records for one inode never come from `save`: the file is damaged.
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return None;
    }
    Some(Sorted { keys, entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: FileStat = FileStat {
        dev: 1,
        ino: 2,
        size: 3,
        mtime_ns: 4,
        ctime_ns: 5,
    };

    #[test]
    fn save_and_load_round_trip_and_damage_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("statcache");
        let cache = StatCache::load(&file);
        cache.insert(STAT, Digest::of(b"x"), SystemTime::now());
        cache.save().expect("saved");
        let again = StatCache::load(&file);
        assert_eq!(again.get(&STAT), Some(Digest::of(b"x")));
        for changed in [
            FileStat { size: 9, ..STAT },
            FileStat {
                ctime_ns: 9,
                ..STAT
            },
            FileStat { ino: 9, ..STAT },
        ] {
            assert_eq!(again.get(&changed), None);
        }

        let bytes = std::fs::read(&file).expect("read");
        std::fs::write(&file, &bytes[..bytes.len() - 3]).expect("write");
        assert!(StatCache::load(&file).is_empty());
    }

    #[test]
    fn many_entries_are_found_after_loading_in_any_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("statcache");
        let cache = StatCache::load(&file);
        let stats: Vec<FileStat> = (0..500u64)
            .map(|i| FileStat {
                dev: i % 3,
                ino: 1000 - i,
                ..STAT
            })
            .collect();
        for (i, s) in stats.iter().enumerate() {
            cache.insert(*s, Digest::of(&i.to_le_bytes()), SystemTime::now());
        }
        cache.save().expect("saved");
        let again = StatCache::load(&file);
        assert_eq!(again.len(), stats.len());
        for (i, s) in stats.iter().enumerate() {
            assert_eq!(again.get(s), Some(Digest::of(&i.to_le_bytes())));
        }
        assert_eq!(again.get(&FileStat { ino: 1, ..STAT }), None);
    }

    #[test]
    fn racily_clean_files_are_not_remembered() {
        let cache = StatCache::in_memory();
        let now = SystemTime::now();
        let ns = now
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as i64;
        let fresh = FileStat {
            mtime_ns: ns,
            ctime_ns: ns,
            ..STAT
        };
        cache.insert(fresh, Digest::of(b"f"), now);
        assert!(cache.is_empty());
    }

    #[test]
    fn long_unused_entries_are_forgotten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("statcache");
        let cache = StatCache::load(&file);
        cache.insert(STAT, Digest::of(b"x"), SystemTime::now());
        let old = cache.now_secs - StatCache::FORGET_AFTER.as_secs() - 1;
        if let Ok(added) = cache.added.lock() {
            added
                .values()
                .for_each(|e| e.seen.store(old, Ordering::Relaxed));
        }
        cache.save().expect("saved");
        assert!(StatCache::load(&file).is_empty());
    }
}
