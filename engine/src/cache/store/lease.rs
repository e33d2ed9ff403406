//! Who is using the store: every run holds a shared lease for as long as it uses it, and a
//! prune sweeps only while it holds the store alone.
//!
//! The lease is an advisory `flock` on `<root>/lease.lock`: shared for runs, exclusive for
//! [`Store::prune_with`]. A run uses store objects without writing them (a checkout bind
//! mounted into a container, blobs hard-linked into a linked view, a hit's outputs about to
//! be exported), so nothing on disk shows the use, and re-checking an object's times before
//! removing it would still leave a window between the check and the unlink; a lock closes
//! it. The kernel releases a `flock` when its holder exits, however it exits, so a killed run
//! never keeps prune out. Runs do not wait for each other; a prune waits a bounded time
//! ([`PruneOptions::wait`](super::PruneOptions::wait)) and then gives up without removing
//! anything, and a run that starts while a prune sweeps waits for it to end. The grace
//! period stays, for whatever uses the store without a lease.

use std::fs::{File, TryLockError};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::Store;
use crate::error::{Error, Result};

/// A run's shared hold on the store: while any lease lives, in this process or another, no
/// prune removes anything. Dropping it releases the hold.
#[must_use = "the store is protected only while the lease is held"]
#[derive(Debug)]
pub struct StoreLease {
    _file: File,
    held: Arc<AtomicUsize>,
}

impl Drop for StoreLease {
    fn drop(&mut self) {
        self.held.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Store {
    /// Takes a shared lease on the store, to hold for as long as the run uses it: from
    /// binding inputs until its outputs are exported and its linked views removed. Waits
    /// while a prune is sweeping (saying so on the log); leases never wait for each other.
    /// Fails only when the lock file cannot be opened or locked (a file system without
    /// `flock`).
    pub fn lease(&self) -> Result<StoreLease> {
        let file = self.open_lock()?;
        match file.try_lock_shared() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                tracing::warn!(
                    "a prune of the store at {} is running; this run waits for it to end",
                    self.root.display()
                );
                file.lock_shared().map_err(|e| self.lock_error(e))?;
            }
            Err(TryLockError::Error(e)) => return Err(self.lock_error(e)),
        }
        self.held.fetch_add(1, Ordering::Relaxed);
        Ok(StoreLease {
            _file: file,
            held: Arc::clone(&self.held),
        })
    }

    /// Holds the store alone, for a prune: waits up to `wait` for the runs holding leases to
    /// end. The store is released when the returned file is dropped.
    pub(super) fn lock_exclusive(&self, wait: Duration) -> Result<File> {
        let file = self.open_lock()?;
        let deadline = Instant::now() + wait;
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(self.lock_error(e)),
            }
            let now = Instant::now();
            if now >= deadline {
                // A lease of this very process (another thread's, or one the caller forgot)
                // would make every prune here wait in vain: say so.
                let own = match self.held.load(Ordering::Relaxed) {
                    0 => String::new(),
                    n => format!(" (this process holds {n} lease(s) on it: drop them first)"),
                };
                return Err(Error::Store(format!(
                    "another tanto run is using the store at {}{own}; nothing was pruned after \
                     waiting {} s for it to end. Prune again when it has ended",
                    self.root.display(),
                    wait.as_secs_f32()
                )));
            }
            if !told {
                tracing::warn!(
                    "another tanto run is using the store at {}; prune will run when it ends \
                     (waiting up to {} s)",
                    self.root.display(),
                    wait.as_secs_f32()
                );
                told = true;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
        }
    }

    fn lock_path(&self) -> PathBuf {
        self.root.join("lease.lock")
    }

    /// The lock file, never through a symlink put in its place.
    fn open_lock(&self) -> Result<File> {
        let path = self.lock_path();
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| match e.raw_os_error() {
                // A folder, or a symlink (never followed), in the lock file's place.
                Some(libc::EISDIR | libc::ELOOP) => Error::Store(format!(
                    "{} is not a file ({e}): the store keeps its lock there; remove what is in \
                     its place, or set TANTO_CACHE_DIR to another folder",
                    path.display()
                )),
                Some(libc::EROFS | libc::EACCES | libc::EPERM) => Error::Store(format!(
                    "the store at {} cannot be written ({e}): a run writes to it, `--plan` \
                     and `cache verify` or `prune` too (the lock file {}); make it writable \
                     for this user, or set TANTO_CACHE_DIR to a folder of your own",
                    self.root.display(),
                    path.display()
                )),
                _ => Error::io(format!("open {}", path.display()), e),
            })
    }

    /// Whether this process can use the store: its lock file opened (made when missing),
    /// as every lease opens it; else the error that says why and what to do.
    pub fn usable(&self) -> Result<()> {
        self.open_lock().map(drop)
    }

    fn lock_error(&self, e: std::io::Error) -> Error {
        Error::io(
            format!(
                "lock {}: the store needs a file system with `flock`; set TANTO_CACHE_DIR to a \
                 local folder",
                self.lock_path().display()
            ),
            e,
        )
    }
}
