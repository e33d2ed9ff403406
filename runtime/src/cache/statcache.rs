//! The stat cache: remembers each file's content digest by path and stat data, so a warm
//! re-hash of an unchanged tree only stats its files.
//!
//! An entry is `absolute path → (device, inode, size, mtime, ctime) → digest`; it is used only
//! when all five stat fields still match. Files modified within [`StatCache::racy_window`] of
//! being read are not remembered: a write in the same timestamp tick as our read would leave
//! the stat data unchanged (git calls these "racily clean" entries). The cache lives in one
//! binary file with a BLAKE3 checksum, is loaded once, and is saved by temp file + rename;
//! a damaged file is dropped with a warning and the cache starts empty.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Digest;
use crate::error::{Error, Result};

const MAGIC: &[u8] = b"tanto-statcache-1\n";

/// The stat data that must be unchanged for a remembered digest to be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    /// Device id.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i128,
    /// Status change time, nanoseconds since the Unix epoch.
    pub ctime_ns: i128,
}

impl FileStat {
    /// The stat data of `meta`.
    pub fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ctime_ns: i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
        }
    }
}

#[derive(Debug)]
struct Entry {
    stat: FileStat,
    digest: Digest,
    seen: AtomicBool,
}

/// Digests of files by path and stat data; see the [module docs](self).
///
/// Shared by reference between the hashing threads; [`StatCache::save`] writes it back.
#[derive(Debug)]
pub struct StatCache {
    file: Option<PathBuf>,
    racy_window: Duration,
    entries: RwLock<HashMap<PathBuf, Entry>>,
    roots: Mutex<Vec<PathBuf>>,
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

    /// An empty cache that is never saved.
    pub fn in_memory() -> Self {
        Self {
            file: None,
            racy_window: Self::DEFAULT_RACY_WINDOW,
            entries: RwLock::default(),
            roots: Mutex::default(),
            dirty: AtomicBool::new(false),
        }
    }

    /// Loads the cache saved at `file`; a missing or damaged file gives an empty cache (the
    /// damage is logged), never an error, since a cold cache only costs time.
    pub fn load(file: impl Into<PathBuf>) -> Self {
        let file = file.into();
        let entries = match std::fs::read(&file) {
            Ok(bytes) => match parse(&bytes) {
                Some(entries) => entries,
                None => {
                    tracing::warn!(path = %file.display(), "stat cache is damaged; starting cold");
                    HashMap::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => {
                tracing::warn!(path = %file.display(), error = %e, "cannot read the stat cache; starting cold");
                HashMap::new()
            }
        };
        Self {
            file: Some(file),
            entries: RwLock::new(entries),
            ..Self::in_memory()
        }
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
        self.entries.read().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether no file is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Notes that the folder `root` is being walked, so entries below it that the walk does
    /// not see again are dropped on [`save`](Self::save).
    pub(crate) fn begin_walk(&self, root: &Path) {
        if let Ok(mut roots) = self.roots.lock() {
            roots.push(root.to_owned());
        }
    }

    /// The remembered digest of `path` if its stat data is still `stat`.
    pub fn get(&self, path: &Path, stat: &FileStat) -> Option<Digest> {
        let entries = self.entries.read().ok()?;
        let entry = entries.get(path)?;
        if entry.stat != *stat {
            return None;
        }
        entry.seen.store(true, Ordering::Relaxed);
        Some(entry.digest)
    }

    /// Remembers that `path`, read from `read_at` on with stat data `stat`, has `digest`,
    /// unless the file changed too close to `read_at` to be trusted.
    pub fn insert(&self, path: &Path, stat: FileStat, digest: Digest, read_at: SystemTime) {
        let limit = read_at
            .checked_sub(self.racy_window)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        if stat.mtime_ns >= limit || stat.ctime_ns >= limit {
            return;
        }
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        let entry = Entry {
            stat,
            digest,
            seen: AtomicBool::new(true),
        };
        entries.insert(path.to_owned(), entry);
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Writes the cache back to its file (temp file + rename), if it was loaded from one and
    /// changed. Entries below a walked folder that the walk did not see are dropped.
    pub fn save(&self) -> Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let roots = self.roots.lock().map(|r| r.clone()).unwrap_or_default();
        let entries = self
            .entries
            .read()
            .map_err(|_| Error::Store("the stat cache lock is poisoned".into()))?;
        let keep = |path: &Path, e: &Entry| {
            e.seen.load(Ordering::Relaxed) || !roots.iter().any(|r| path.starts_with(r))
        };
        let kept = entries.iter().filter(|(p, e)| keep(p, e)).count();
        if !self.dirty.load(Ordering::Relaxed) && kept == entries.len() {
            return Ok(());
        }
        let mut out = Vec::with_capacity(MAGIC.len() + 8 + kept * 128);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(kept as u64).to_le_bytes());
        for (path, e) in entries.iter().filter(|(p, e)| keep(p, e)) {
            let bytes = path.as_os_str().as_bytes();
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(bytes);
            for n in [e.stat.dev, e.stat.ino, e.stat.size] {
                out.extend_from_slice(&n.to_le_bytes());
            }
            for t in [e.stat.mtime_ns, e.stat.ctime_ns] {
                out.extend_from_slice(&t.to_le_bytes());
            }
            out.extend_from_slice(&e.digest.0);
        }
        let checksum = blake3::hash(&out);
        out.extend_from_slice(checksum.as_bytes());
        drop(entries);

        let dir = file.parent().unwrap_or(Path::new("."));
        let io = |e| Error::io(format!("save the stat cache to {}", file.display()), e);
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        tmp.write_all(&out).map_err(io)?;
        tmp.persist(file).map_err(|e| io(e.error))?;
        self.dirty.store(false, Ordering::Relaxed);
        Ok(())
    }
}

fn parse(bytes: &[u8]) -> Option<HashMap<PathBuf, Entry>> {
    let (body, checksum) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
    if blake3::hash(body).as_bytes() != checksum {
        return None;
    }
    let mut r = body.strip_prefix(MAGIC)?;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = r.split_at_checked(n)?;
        r = tail;
        Some(head)
    };
    let u64_at = |b: &[u8]| b.try_into().ok().map(u64::from_le_bytes);
    let count = u64_at(take(8)?)?;
    let mut entries = HashMap::with_capacity(usize::try_from(count).ok()?.min(body.len() / 100));
    for _ in 0..count {
        let len = usize::try_from(u64_at(take(8)?)?).ok()?;
        let path = PathBuf::from(std::ffi::OsStr::from_bytes(take(len)?));
        let dev = u64_at(take(8)?)?;
        let ino = u64_at(take(8)?)?;
        let size = u64_at(take(8)?)?;
        let mtime_ns = i128::from_le_bytes(take(16)?.try_into().ok()?);
        let ctime_ns = i128::from_le_bytes(take(16)?.try_into().ok()?);
        let digest = Digest(take(32)?.try_into().ok()?);
        let stat = FileStat {
            dev,
            ino,
            size,
            mtime_ns,
            ctime_ns,
        };
        let seen = AtomicBool::new(false);
        entries.insert(path, Entry { stat, digest, seen });
    }
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_and_load_round_trip_and_damage_is_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("statcache");
        let stat = FileStat {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: 4,
            ctime_ns: 5,
        };
        let cache = StatCache::load(&file);
        cache.insert(Path::new("/a/b"), stat, Digest::of(b"x"), SystemTime::now());
        cache.save().expect("saved");
        let again = StatCache::load(&file);
        assert_eq!(again.get(Path::new("/a/b"), &stat), Some(Digest::of(b"x")));
        let changed = FileStat { size: 9, ..stat };
        assert_eq!(again.get(Path::new("/a/b"), &changed), None);

        let bytes = std::fs::read(&file).expect("read");
        std::fs::write(&file, &bytes[..bytes.len() - 3]).expect("write");
        assert!(StatCache::load(&file).is_empty());
    }

    #[test]
    fn racily_clean_files_are_not_remembered() {
        let cache = StatCache::in_memory();
        let now = SystemTime::now();
        let ns = now
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as i128;
        let fresh = FileStat {
            dev: 1,
            ino: 1,
            size: 1,
            mtime_ns: ns,
            ctime_ns: ns,
        };
        cache.insert(Path::new("/f"), fresh, Digest::of(b"f"), now);
        assert!(cache.is_empty());
    }
}
