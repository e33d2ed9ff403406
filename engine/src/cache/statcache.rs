//! The stat cache: remembers each file's content digest by its stat data, so a warm re-hash
//! of an unchanged tree only stats its files.

use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::cache::statfile::{self, Record, Records, encode};
use crate::cache::statlearnt::{Learnt, merge};
use crate::digest::Digest;
use crate::error::{Error, Result};

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
    loaded: Records,
    /// The loaded records a hash used whose last-seen day is to be moved to today.
    refreshed: Mutex<Vec<usize>>,
    /// What was learnt since.
    added: Mutex<Learnt>,
    /// Whether `added` holds anything: looked at without the lock.
    any_added: AtomicBool,
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
            loaded: Records::default(),
            refreshed: Mutex::default(),
            added: Mutex::default(),
            any_added: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
        }
    }

    /// Loads the cache saved at `file`; a missing or damaged file gives an empty cache (the
    /// damage is logged), never an error, since a cold cache only costs time.
    pub fn load(file: impl Into<PathBuf>) -> Self {
        let file = file.into();
        let loaded = match statfile::read(&file) {
            Ok(records) => records.unwrap_or_else(|| {
                tracing::warn!(path = %file.display(), "stat cache is damaged; starting cold");
                Records::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Records::default(),
            Err(e) => {
                tracing::warn!(path = %file.display(), error = %e, "cannot read the stat cache; starting cold");
                Records::default()
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
        let new = added
            .latest()
            .filter(|r| self.loaded.find(&r.key).is_none());
        self.loaded.len() + new.count()
    }

    /// Whether no file is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The remembered digest of the file with stat data `stat`, if it is unchanged.
    pub fn get(&self, stat: &FileStat) -> Option<Digest> {
        let key = (stat.dev, stat.ino);
        let want = (stat.size, stat.mtime_ns, stat.ctime_ns);
        let loaded = self.loaded.find(&key).map(|i| (i, self.loaded.record(i)));
        let Some((i, r)) = loaded.filter(|(_, r)| (r.size, r.mtime_ns, r.ctime_ns) == want) else {
            // Rare: the file is new or changed since loading, and will be read anyway. A
            // walk hands what it learnt over when it ends, so a cold walk finds nothing added
            // and takes no lock per file.
            if !self.any_added.load(Ordering::Acquire) {
                return None;
            }
            let mut added = self.added.lock().ok()?;
            let matches = |r: &&Record| (r.size, r.mtime_ns, r.ctime_ns) == want;
            return added.find(&key).filter(matches).map(|r| r.digest);
        };
        // Refresh the last-seen day at most daily, so a warm hash rarely forces a save.
        if r.seen + 24 * 3600 < self.now_secs
            && let Ok(mut refreshed) = self.refreshed.lock()
        {
            refreshed.push(i);
            self.dirty.store(true, Ordering::Relaxed);
        }
        Some(r.digest)
    }

    /// Remembers that the file with stat data `stat`, read from `read_at` on, has `digest`,
    /// unless it changed too close to `read_at` to be trusted.
    pub fn insert(&self, stat: FileStat, digest: Digest, read_at: SystemTime) {
        self.insert_many([(stat, digest, read_at)]);
    }

    /// [`insert`](Self::insert) for many files at once, under one lock.
    pub fn insert_many(&self, learnt: impl IntoIterator<Item = (FileStat, Digest, SystemTime)>) {
        // Sorted out before the lock is taken, each read time's limit worked out once: a
        // walk hands its files over together, one read time a folder.
        let mut last: Option<(SystemTime, i64)> = None;
        let mut limit_of = |read_at: SystemTime| match last {
            Some((at, limit)) if at == read_at => limit,
            _ => {
                let limit = read_at
                    .checked_sub(self.racy_window)
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
                last = Some((read_at, limit));
                limit
            }
        };
        let mut trusted: Vec<Record> = learnt
            .into_iter()
            .filter(|(stat, _, read_at)| {
                let limit = limit_of(*read_at);
                stat.mtime_ns < limit && stat.ctime_ns < limit
            })
            .map(|(stat, digest, _)| Record {
                key: (stat.dev, stat.ino),
                size: stat.size,
                mtime_ns: stat.mtime_ns,
                ctime_ns: stat.ctime_ns,
                digest,
                seen: self.now_secs,
            })
            .collect();
        if trusted.is_empty() {
            return;
        }
        // Each walking thread's batch is put in key order on its own core, so the save
        // finds a few long runs to merge rather than one list to sort.
        trusted.sort_by_key(|r| r.key);
        let Ok(mut added) = self.added.lock() else {
            return;
        };
        added.extend(trusted);
        self.any_added.store(true, Ordering::Release);
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Writes the cache back to its file (temp file + rename), if it was loaded from one and
    /// changed.
    pub fn save(&self) -> Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let forget_before = self.now_secs.saturating_sub(Self::FORGET_AFTER.as_secs());
        // Nothing learnt or used anew (each marks the cache dirty) and nothing to forget: a
        // warm hash of an unchanged tree writes nothing.
        if !self.dirty.load(Ordering::Relaxed) && !self.loaded.any_seen_before(forget_before) {
            return Ok(());
        }
        let added = self
            .added
            .lock()
            .map_err(|_| Error::Store("the stat cache lock is poisoned".into()))?;
        let mut today = vec![false; self.loaded.len()];
        for i in self.refreshed.lock().map(|r| r.clone()).unwrap_or_default() {
            if let Some(t) = today.get_mut(i) {
                *t = true;
            }
        }
        // Entries learnt this session replace loaded ones for the same inode; both are in
        // key order, so the file is written in it as they are merged, and loading needs no
        // sort.
        let kept = self.loaded.iter().zip(today).map(|(r, today)| {
            let seen = if today { self.now_secs } else { r.seen };
            Record { seen, ..r }
        });
        let at_most = self.loaded.len() + added.handed_over();
        let records = merge(kept, added.latest().copied()).filter(|r| r.seen >= forget_before);
        let out = encode(records, at_most);
        drop(added);

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
    fn a_save_writes_only_what_changed_and_keeps_every_new_entry() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("statcache");
        let inode = || std::fs::metadata(&file).expect("saved").ino();
        let cache = StatCache::load(&file);
        cache.insert(STAT, Digest::of(b"x"), SystemTime::now());
        // Last used two days ago: the next hash that uses it moves that to today.
        let two_days_ago = cache.now_secs - 2 * 24 * 3600;
        if let Ok(mut added) = cache.added.lock() {
            added
                .records_mut()
                .iter_mut()
                .for_each(|r| r.seen = two_days_ago);
        }
        cache.save().expect("saved");
        let first = inode();

        let warm = StatCache::load(&file);
        warm.save().expect("nothing to save");
        assert_eq!(inode(), first, "an unused cache is not written");
        assert_eq!(warm.get(&STAT), Some(Digest::of(b"x")));
        warm.save().expect("saved");
        let refreshed = inode();
        assert_ne!(refreshed, first, "a use on a new day is written");

        let again = StatCache::load(&file);
        assert_eq!(again.get(&STAT), Some(Digest::of(b"x")));
        again.save().expect("nothing to save");
        assert_eq!(inode(), refreshed, "a use on the same day is not written");
        let new = FileStat { ino: 7, ..STAT };
        again.insert(new, Digest::of(b"y"), SystemTime::now());
        again.save().expect("saved");
        let last = StatCache::load(&file);
        assert_eq!(last.len(), 2);
        assert_eq!(last.get(&new), Some(Digest::of(b"y")));
        assert_eq!(last.get(&STAT), Some(Digest::of(b"x")));
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
    fn each_file_is_judged_by_its_own_read_time_and_found_before_any_save() {
        let cache = StatCache::in_memory();
        let read = SystemTime::now();
        let ns = |t: SystemTime| t.duration_since(UNIX_EPOCH).expect("after 1970").as_nanos();
        let changed = i64::try_from(ns(read) - 500_000_000).expect("fits");
        let stat = |ino| FileStat {
            ino,
            mtime_ns: changed,
            ctime_ns: changed,
            ..STAT
        };
        assert_eq!(cache.get(&stat(1)), None, "nothing learnt yet");
        // Changed half a second before the first read, but two seconds before the second:
        // only the second is outside the racy window, whatever order they come in.
        let later = read + Duration::from_secs(2);
        cache.insert_many([
            (stat(1), Digest::of(b"1"), read),
            (stat(2), Digest::of(b"2"), later),
            (stat(3), Digest::of(b"3"), read),
            (stat(4), Digest::of(b"4"), later),
        ]);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&stat(1)), None);
        assert_eq!(cache.get(&stat(2)), Some(Digest::of(b"2")));
        assert_eq!(cache.get(&stat(3)), None);
        assert_eq!(cache.get(&stat(4)), Some(Digest::of(b"4")));
    }

    #[test]
    fn long_unused_entries_are_forgotten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("statcache");
        let cache = StatCache::load(&file);
        cache.insert(STAT, Digest::of(b"x"), SystemTime::now());
        let old = cache.now_secs - StatCache::FORGET_AFTER.as_secs() - 1;
        if let Ok(mut added) = cache.added.lock() {
            added.records_mut().iter_mut().for_each(|r| r.seen = old);
        }
        cache.save().expect("saved");
        assert!(StatCache::load(&file).is_empty());
    }
}
