//! The local content-addressed store: blobs and trees by BLAKE3 digest, read-only folder
//! checkouts, and the action cache from step keys to results.

mod action;
mod checkout;
mod durable;
mod images;
mod ingest;
mod lease;
mod maintain;
mod object;
mod present;
mod reports;
mod staging;
mod verify;

use std::collections::HashSet;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

pub use action::{ActionResult, OutputRecord, Recorded};
pub use images::StoreImages;
pub use lease::StoreLease;
pub use reports::{PruneOptions, PruneReport, StoreStats, VerifyReport};

use crate::artifact::{DirSelect, File};
use crate::cache::hash::{HashedDir, hash_dir_with, hash_file_contents};
use crate::cache::statcache::StatCache;
use crate::cache::tree::{Tree, TreeSource, Trees};
use crate::digest::Digest;
use crate::error::{Error, Result};
use object::{Found, read_object};
use staging::unlock_staged;

/// The content-addressed store: blobs, trees, checkouts and the action cache in one folder.
///
/// # Layout
///
/// ```text
/// <root>/tmp/proc-XXXXXX/       staging, one folder per process, held by a `flock` on its
///                               `lock` file; every write lands here first, then is renamed;
///                               the folder of a process that is gone is reaped
/// <root>/blobs/ab/<hex>[.x]     file contents, read-only (`.x`: the executable variant)
/// <root>/trees/ab/<hex>         tree objects in their canonical encoding
/// <root>/checkouts/<hex>/       read-only folders built from hardlinks to blobs
/// <root>/ac/ab/<hex>            action records: step key → result, sealed with a checksum
/// <root>/last/<hex>             the last key of each step label, for explanations
/// <root>/statcache              the stat cache of hashed input folders
/// <root>/reclaim/<hex>          the id of an image no result names any more, for a prune
///                               to remove from the daemon (`hex`: BLAKE3 of the id)
/// <root>/lease.lock             flock: shared by every run using the store, exclusive
///                               while pruning
/// ```
///
/// # Safety
///
/// Every object is written to a temp file in `tmp/` and renamed into place, so a reader (or a
/// run killed mid-write) never sees a partial object. Objects are named by content, so
/// concurrent runs writing the same object race harmlessly and need no lock between them. Only
/// a prune removes what is sound, so a run holds a [`StoreLease`] ([`Store::lease`]) while it
/// uses the store and a prune sweeps only once no lease is held. Nothing is trusted by its
/// name, since another machine, a killed run or a user may have left anything there: reads are
/// verified (trees and records are re-hashed on load, blobs checked for size, mode and digest,
/// checkouts re-hashed, with the stat cache vouching for what was verified before and has not
/// changed since), an ingest reuses an object already there only after the same checks and
/// replaces a damaged one, and anything damaged is discarded with a warning and treated as a
/// miss; [`Store::verify`] re-hashes everything. The blobs and trees an ingest moved in are
/// flushed to disk before it returns, and so before a record can point at them; records are
/// flushed with their folder.
///
/// # Why not a library
///
/// `cacache` is the closest fit, but it addresses content by SHA-256/SRI strings and keeps its
/// own index format, while our digests are BLAKE3 Merkle roots and containers need plain
/// read-only folders built by hardlinking blobs (which cacache cannot give without copying).
/// `redb`/`sled` would put blobs inside one database file, so they could neither be
/// hardlinked nor bind-mounted. The file layout above is the same scheme as Bazel's disk
/// cache and fits in a few hundred lines over `tempfile`'s atomic persist.
///
/// Cloning is cheap and shares the loaded stat cache.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    stat_cache: Arc<OnceLock<StatCache>>,
    /// Checkouts a lookup just found intact, for the `dir` call that follows it.
    vouched: Arc<Mutex<HashSet<Digest>>>,
    /// How many [`StoreLease`]s this store and its clones hold.
    held: Arc<AtomicUsize>,
    /// This process's staging folder under `tmp/`, made on first use.
    staging: Arc<OnceLock<staging::Staging>>,
    /// Reads change nothing (`--plan`): a damaged entry is left as it is, a hit not marked
    /// as used.
    looking: bool,
    /// Looking only, the trees of the folders hashed, which are kept here instead.
    looked: Arc<Mutex<Trees>>,
    /// The folder of a private store ([`Store::open_private`]), removed with the last clone.
    private: Option<Arc<staging::Staging>>,
}

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for sub in ["tmp", "blobs", "trees", "checkouts", "ac", "last"] {
            let dir = root.join(sub);
            std::fs::create_dir_all(&dir).map_err(|e| {
                Error::io(
                    format!(
                        "create the cache folder {}; set TANTO_CACHE_DIR to use another",
                        dir.display()
                    ),
                    e,
                )
            })?;
        }
        Ok(Self {
            root,
            stat_cache: Arc::default(),
            vouched: Arc::default(),
            held: Arc::default(),
            staging: Arc::default(),
            looking: false,
            looked: Arc::default(),
            private: None,
        })
    }

    /// With `on`, the store changes nothing (`--plan`): a damaged entry is reported and left,
    /// a hit is not marked as recently used, and the trees of hashed folders and the stat
    /// cache stay in memory.
    pub fn looking_only(mut self, on: bool) -> Self {
        self.looking = on;
        self
    }

    /// Removes a damaged object, logging why; only logs it when looking only.
    fn discard(&self, path: &Path, why: &str) {
        if self.looking {
            tracing::warn!(path = %path.display(), "a damaged cache entry, left as it is: {why}");
        } else {
            discard(path, why);
        }
    }

    /// Marks the object at `path` as just used, for [`Store::prune`], unless looking only.
    fn touch(&self, path: &Path) {
        if !self.looking {
            touch(path);
        }
    }

    /// Opens the store at `TANTO_CACHE_DIR`, or else in the user's cache folder
    /// (`~/.cache/tanto` on Linux).
    pub fn open_default() -> Result<Self> {
        Self::open(Self::default_root()?)
    }

    /// Where [`Store::open_default`] puts the store.
    pub fn default_root() -> Result<PathBuf> {
        if let Some(dir) = std::env::var_os("TANTO_CACHE_DIR").filter(|d| !d.is_empty()) {
            return Ok(PathBuf::from(dir));
        }
        user_cache_dir().map(|d| d.join("tanto")).ok_or_else(|| {
            Error::Store("no user cache folder is known here; set TANTO_CACHE_DIR".into())
        })
    }

    /// The store's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A fresh temporary folder inside the store, on the same file system, for staging: in
    /// this process's staging folder, which the next run removes if this process is killed.
    pub fn temp_dir(&self) -> Result<tempfile::TempDir> {
        tempfile::tempdir_in(self.staging_dir())
            .map_err(|e| Error::io("create a temporary folder in the store", e))
    }

    /// This process's staging folder, made on first use; `tmp/` itself when it cannot be
    /// made (what is written there then says why).
    fn staging_dir(&self) -> PathBuf {
        let tmp = self.root.join("tmp");
        if self.staging.get().is_none() {
            match staging::Staging::new(&tmp, staging::PREFIX) {
                // Another thread may have made one first: this one then goes with its drop.
                Ok(made) => drop(self.staging.set(made)),
                Err(e) => tracing::debug!("cannot make a staging folder in the store: {e}"),
            }
        }
        self.staging.get().map_or(tmp, |s| s.path().to_owned())
    }

    /// What is staged in the store now, by this process and others: each file or folder
    /// under `tmp/` but the staging folders themselves and their locks. Empty when nothing is
    /// under way.
    pub fn staged(&self) -> Vec<PathBuf> {
        staging::staged(&self.root.join("tmp"))
    }

    /// Removes the staging folders that processes now gone (killed, say) left under `tmp/`,
    /// with the files and linked views in them; returns how many. Cheap: a run calls it when
    /// it starts.
    pub fn reap_staging(&self) -> usize {
        staging::reap(&self.root.join("tmp"), staging::PREFIX)
    }

    /// An empty, read-only file of the store, laid over the files that a `Dir` input leaves
    /// out when its folder is bind mounted. Made on first use (atomically: several runs may
    /// ask at once).
    pub fn empty_file(&self) -> Result<PathBuf> {
        let path = self.root.join("empty");
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            return Ok(path);
        }
        let made = tempfile::NamedTempFile::new_in(self.staging_dir()).and_then(|tmp| {
            std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o444))?;
            tmp.persist(&path).map_err(|e| e.error)
        });
        made.map_err(|e| Error::io(format!("create {}", path.display()), e))?;
        Ok(path)
    }

    /// The store's stat cache, loaded on first use, for [`hash_dir_with`]; save it after
    /// hashing ([`Store::hash_input_dir`] does both).
    pub fn stat_cache(&self) -> &StatCache {
        self.stat_cache.get_or_init(|| {
            StatCache::load(self.root.join("statcache")).staging_in(self.staging_dir())
        })
    }

    /// Hashes the host folder `path` as a step input, choosing its files with `select`
    /// (blocking): reuses and saves the stat cache, and stores the folder's trees (not its
    /// files) so a later miss can name the paths that changed and a container can be shown
    /// exactly the selected entries.
    pub fn hash_input_dir(&self, path: &Path, select: &DirSelect) -> Result<HashedDir> {
        let cache = self.stat_cache();
        let hashed = hash_dir_with(path, select, cache)?;
        if self.looking {
            let mut looked = self.looked.lock().unwrap_or_else(|e| e.into_inner());
            looked.extend(hashed.trees.iter().map(|(d, tree)| (*d, tree.clone())));
            return Ok(hashed);
        }
        let missing = self.missing_trees(&hashed);
        let saved = if missing.is_empty() {
            cache.save()
        } else {
            // A cold hash has both to write, and neither waits on the other: the stat cache
            // is saved beside the trees, which creating files makes the slowest part.
            std::thread::scope(|s| {
                let saver = s.spawn(|| cache.save());
                let put = self.put_missing_trees(&missing);
                let saved = saver
                    .join()
                    .unwrap_or_else(|_| Err(Error::Store("saving the stat cache panicked".into())));
                put.map(|()| saved)
            })?
        };
        if let Err(e) = saved {
            tracing::warn!("could not save the stat cache: {e}");
        }
        Ok(hashed)
    }

    /// Hashes the host file `path` as a step input. The returned [`File`] points at `path`.
    pub fn hash_input_file(&self, path: &Path) -> Result<File> {
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::io(format!("open {}", path.display()), e))?;
        if !meta.is_file() {
            return Err(Error::Usage(format!(
                "{} is not a file; a `File` input must name a file",
                path.display()
            )));
        }
        let (digest, _) = hash_file_contents(path, &mut Vec::new())?;
        let executable = meta.permissions().mode() & 0o111 != 0;
        Ok(File::new(path, digest, executable))
    }

    fn blob_path(&self, digest: &Digest, executable: bool) -> PathBuf {
        let hex = digest.to_hex();
        let name = if executable {
            format!("{hex}.x")
        } else {
            hex.clone()
        };
        self.root.join("blobs").join(&hex[..2]).join(name)
    }

    /// Saves what the stat cache learned during this run.
    pub fn save_stat_cache(&self) -> Result<()> {
        self.stat_cache().save()
    }

    fn tree_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.root.join("trees").join(&hex[..2]).join(hex)
    }

    fn checkout_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("checkouts").join(digest.to_hex())
    }

    /// Writes `bytes` to `dest` by temp file + rename; `sync` fsyncs the data first and the
    /// folder naming it after (and its parent, which may have been created).
    fn write_atomic(&self, dest: &Path, bytes: &[u8], sync: bool) -> Result<()> {
        let io = |e| Error::io(format!("write {}", dest.display()), e);
        let mut tmp = tempfile::NamedTempFile::new_in(self.staging_dir()).map_err(io)?;
        tmp.write_all(bytes).map_err(io)?;
        if sync {
            tmp.as_file().sync_all().map_err(io)?;
        }
        match tmp.persist(dest) {
            Ok(_) => {}
            Err(e) if e.error.kind() == std::io::ErrorKind::NotFound => {
                create_parent(dest)?;
                e.file.persist(dest).map(drop).map_err(|e| io(e.error))?;
            }
            Err(e) => return Err(io(e.error)),
        }
        durable::trace(|| format!("rename {}", dest.display()));
        if sync {
            for dir in dest.ancestors().skip(1).take(2) {
                durable::sync_path(dir)?;
            }
        }
        Ok(())
    }

    /// Stores `tree` (if not already there) and returns its digest.
    pub fn put_tree(&self, tree: &Tree) -> Result<Digest> {
        let bytes = tree.encode();
        let digest = Digest::of(&bytes);
        let path = self.tree_path(&digest);
        if !path.exists() {
            self.write_atomic(&path, &bytes, false)?;
        }
        Ok(digest)
    }

    /// The trees of `hashed` the store does not hold, with their paths.
    fn missing_trees<'a>(&self, hashed: &'a HashedDir) -> Vec<(PathBuf, &'a Tree)> {
        // The walk already hashed each tree's encoding: a tree the store holds costs a stat.
        let path = |d| self.tree_path(d);
        let trees = hashed.trees.iter().map(|(d, tree)| (path(d), tree));
        trees.filter(|(path, _)| !path.exists()).collect()
    }

    /// Writes `missing` trees on all cores: each is a new file, and creating a file costs the
    /// file system more than writing a tree's bytes.
    fn put_missing_trees(&self, missing: &[(PathBuf, &Tree)]) -> Result<()> {
        let put = |share: &[(PathBuf, &Tree)]| {
            share
                .iter()
                .try_for_each(|(path, tree)| self.write_atomic(path, &tree.encode(), false))
        };
        let threads = crate::cache::walk::threads().min(missing.len().div_ceil(8));
        if threads <= 1 {
            return put(missing);
        }
        let share = missing.len().div_ceil(threads);
        std::thread::scope(|s| {
            let mut shares = missing.chunks(share);
            let first = shares.next().unwrap_or_default();
            let others: Vec<_> = shares.map(|c| s.spawn(move || put(c))).collect();
            let mut result = put(first);
            for other in others {
                let done = other
                    .join()
                    .unwrap_or_else(|_| Err(Error::Store("writing trees panicked".into())));
                result = result.and(done);
            }
            result
        })
    }

    /// The tree with digest `digest`, verified; `None` when it is missing or was damaged (a
    /// damaged tree is removed).
    pub fn tree(&self, digest: &Digest) -> Result<Option<Tree>> {
        let path = self.tree_path(digest);
        let bytes = match read_object(&path)? {
            Found::Bytes(b) => b,
            Found::None => {
                let looked = self.looked.lock().unwrap_or_else(|e| e.into_inner());
                return Ok(looked.get(digest).cloned());
            }
            Found::Damaged(why) => {
                self.discard(&path, &format!("tree object: {why}"));
                return Ok(None);
            }
        };
        let tree = (Digest::of(&bytes) == *digest)
            .then(|| Tree::decode(&bytes).ok())
            .flatten();
        if tree.is_none() {
            self.discard(&path, "tree object does not match its digest");
        }
        Ok(tree)
    }

    /// The file with content digest `digest`, preferring the non-executable blob.
    pub fn file(&self, digest: Digest) -> Result<File> {
        if self.blob_path(&digest, false).exists() {
            return self.file_as(digest, false);
        }
        self.file_as(digest, true)
    }

    /// The file with content digest `digest` and the given executable bit.
    pub fn file_as(&self, digest: Digest, executable: bool) -> Result<File> {
        let path = self.blob_path(&digest, executable);
        if !path.exists() {
            return Err(Error::Store(format!(
                "file {} is not in the store at {}",
                digest.short(),
                self.root.display()
            )));
        }
        Ok(File::new(path, digest, executable))
    }
}

impl TreeSource for Store {
    fn tree(&self, digest: &Digest) -> Result<Option<Tree>> {
        Store::tree(self, digest)
    }
}

fn create_parent(path: &Path) -> Result<()> {
    match path.parent() {
        Some(parent) => std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("create {}", parent.display()), e)),
        None => Ok(()),
    }
}

fn set_mode(path: &Path, mode: u32) {
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

/// Refreshes the change and modification times of `path`.
fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Removes a damaged object, logging why.
fn discard(path: &Path, why: &str) {
    tracing::warn!(path = %path.display(), "discarding a damaged cache entry: {why}");
    remove_tree(path);
}

/// Removes a folder tree, making its read-only folders writable first. A symlink (or file)
/// at `path` is removed itself: nothing outside `path` is followed, chmod-ed or removed.
fn remove_tree(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            unlock_staged(path);
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// The user's cache folder, where the XDG base directory convention (and the `dirs` crate)
/// puts it: `$XDG_CACHE_HOME` when it is an absolute path, else `~/.cache`, or
/// `~/Library/Caches` on macOS. The home folder is `$HOME` when it is set and not empty,
/// else the password database's.
fn user_cache_dir() -> Option<PathBuf> {
    if cfg!(target_os = "macos") {
        return std::env::home_dir().map(|home| home.join("Library/Caches"));
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| std::env::home_dir().map(|home| home.join(".cache")))
}
