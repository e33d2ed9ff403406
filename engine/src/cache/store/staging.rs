//! Where a process stages what it writes into the store, and how what a killed one left is
//! found.
//!
//! Each process that writes into the store gets a folder of its own under `tmp/`,
//! `proc-XXXXXX`, holding a file `lock` on which it keeps an exclusive `flock` for as long as
//! it lives; its temporary files, staged folders and linked views go there. The kernel
//! releases the lock however the process ends, so a process that can take the lock knows the
//! folder's owner is gone: a run killed with `kill -9` leaves its staged files for the next
//! run to remove ([`Store::reap_staging`](super::Store::reap_staging)), as it leaves its
//! containers. Unlike a pid, the lock means the same thing in every pid namespace and on every
//! machine that shares the store's file system with working `flock`s (which the store's lease
//! needs anyway). A folder is named `proc-…` only once its lock is held (it is renamed from
//! `.new-…`), so a folder being made is never taken for a dead one. A private store (a
//! standalone context's, or `--plan`'s where no store exists) is locked the same way in the
//! system's temporary folder.

use std::fs::File;
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::set_mode;
use crate::error::{Error, Result};

/// The prefix of a process's staging folder.
pub(super) const PREFIX: &str = "proc-";

/// The prefix of a private store's folder in the system's temporary folder, which is locked
/// and reaped the same way.
pub(super) const PRIVATE: &str = "tanto-standalone-";

/// The file whose lock its owner holds.
const LOCK: &str = "lock";

/// This process's staging folder, removed when the store's last clone goes.
#[derive(Debug)]
pub(super) struct Staging {
    path: PathBuf,
    /// Held, never read: the lock lives as long as the file stays open.
    _lock: File,
}

impl Staging {
    /// A new folder `<prefix>…` under `tmp`, its lock held.
    pub(super) fn new(tmp: &Path, prefix: &str) -> io::Result<Self> {
        let partial = tempfile::Builder::new()
            .prefix(&format!(".new-{prefix}"))
            .tempdir_in(tmp)?;
        let lock = File::create(partial.path().join(LOCK))?;
        lock.try_lock().map_err(io::Error::other)?;
        let name = partial
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().replacen(".new-", "", 1))
            .unwrap_or_default();
        let path = tmp.join(name);
        let partial = partial.keep();
        if let Err(e) = std::fs::rename(&partial, &path) {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
        Ok(Self { path, _lock: lock })
    }

    /// The folder.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        super::remove_tree(&self.path);
    }
}

impl super::Store {
    /// A store of its own in the system's temporary folder (`tanto-standalone-…`), for a
    /// context outside any run: removed with its last clone or, when its process is killed
    /// first, by the next process that opens one (it is locked like a staging folder).
    pub fn open_private() -> Result<Self> {
        let tmp = std::env::temp_dir();
        reap(&tmp, PRIVATE);
        let owned =
            Staging::new(&tmp, PRIVATE).map_err(|e| Error::io("create a temporary store", e))?;
        let mut store = Self::open(owned.path())?;
        store.private = Some(Arc::new(owned));
        Ok(store)
    }

    /// The store at [`Store::default_root`](super::Store::default_root), to look at only
    /// (`--plan`): where none exists yet, none is made; an empty private store stands in.
    pub fn open_to_look() -> Result<Self> {
        let root = Self::default_root()?;
        let store = if root.exists() {
            Self::open(root)?
        } else {
            Self::open_private()?
        };
        Ok(store.looking_only(true))
    }

    /// Removes this process's staging folder now, with what it holds, whoever else still holds
    /// the store: the end of a run, when a task given up (a fetch from a server that stalled)
    /// may keep a clone until the runtime, which does not wait for it, drops it after the
    /// process has exited. Its lock stays held until then; a later use makes nothing there.
    pub fn remove_staging(&self) {
        if let Some(staging) = self.staging.get() {
            super::remove_tree(staging.path());
        }
        // A private store is a staging folder too: the whole of it goes.
        if let Some(private) = &self.private {
            super::remove_tree(private.path());
        }
    }
}

/// Whether `name`, under `tmp/`, is a process's staging folder: reaped by its lock, never by
/// its age.
pub(super) fn is_staging(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with(PREFIX)
}

/// What is staged under `tmp` now: the entries of the staging folders but their lock files,
/// and anything else there.
pub(super) fn staged(tmp: &Path) -> Vec<PathBuf> {
    let mut staged = Vec::new();
    for entry in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
        let inside = is_staging(&entry.file_name())
            .then(|| std::fs::read_dir(entry.path()).ok())
            .flatten();
        match inside {
            Some(inside) => staged.extend(
                inside
                    .flatten()
                    .filter(|e| e.file_name() != LOCK)
                    .map(|e| e.path()),
            ),
            None => staged.push(entry.path()),
        }
    }
    staged.sort();
    staged
}

/// Removes the folders `<prefix>…` under `tmp` whose owners are gone (their lock can be
/// taken), with what they hold; returns how many. A folder whose lock is held, or cannot be
/// read, is left alone.
pub(super) fn reap(tmp: &Path, prefix: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return 0;
    };
    let mut reaped = 0;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let dir = entry.path();
        let Ok(lock) = File::open(dir.join(LOCK)) else {
            continue;
        };
        if lock.try_lock().is_ok() {
            super::remove_tree(&dir);
            reaped += 1;
        }
    }
    reaped
}

/// Gives the owner of a staged tree read, write and search permission on every folder and
/// read permission on every file, so it can be hashed, moved from and removed whatever modes
/// it arrived with. Symlinks are neither followed nor changed. Best effort: what cannot be
/// changed surfaces as an error of the step that needs it.
pub(super) fn unlock_staged(path: &Path) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode();
    if meta.is_file() {
        if mode & 0o400 == 0 {
            set_mode(path, (mode | 0o400) & 0o7777);
        }
        return;
    }
    if !meta.is_dir() {
        return;
    }
    if mode & 0o700 != 0o700 {
        set_mode(path, (mode | 0o700) & 0o7777);
    }
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            unlock_staged(&e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gone_owners_folder_is_reaped_and_a_living_ones_is_not() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mine = Staging::new(tmp.path(), PREFIX).expect("staging");
        std::fs::write(mine.path().join("staged"), "x").expect("write");
        assert!(
            mine.path()
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(PREFIX))
        );
        // What a killed process leaves: its folder, its lock file, no one holding it, and a
        // read-only folder of links as a linked view has.
        let dead = tmp.path().join("proc-dead01");
        std::fs::create_dir_all(dead.join("view/sub")).expect("mkdir");
        std::fs::write(dead.join(LOCK), "").expect("lock file");
        std::fs::write(dead.join("view/sub/file"), "y").expect("write");
        let read_only = std::fs::Permissions::from_mode(0o555);
        std::fs::set_permissions(dead.join("view/sub"), read_only).expect("chmod");
        // Being made: not yet named `proc-`, so never taken for a dead one.
        let new = tmp.path().join(".new-abc");
        std::fs::create_dir(&new).expect("mkdir");

        let mut expected = vec![new.clone(), dead.join("view"), mine.path().join("staged")];
        expected.sort();
        assert_eq!(staged(tmp.path()), expected);
        assert_eq!(reap(tmp.path(), PREFIX), 1);
        assert!(!dead.exists());
        assert!(mine.path().join("staged").exists() && new.exists());
        let path = mine.path().to_owned();
        drop(mine);
        assert!(!path.exists(), "a staging folder goes with its store");
    }
}
