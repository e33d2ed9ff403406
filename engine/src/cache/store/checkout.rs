//! Read-only checkouts: a tree's folder built from hard links to its blobs in staging, renamed
//! into `checkouts/<hex>` when complete, and checked before it is reused.
//!
//! Building one never writes through a symlink. Entry names are single path components (a
//! tree that says otherwise does not decode), every folder level is made fresh by
//! `create_dir`, and `link` and `symlink` fail rather than follow a link at their
//! destination; since names are unique within a tree, no symlink entry can be the parent of
//! another entry. A checkout already in place is used only if it is a real folder, not a link
//! to one, whose content hashes to its name.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;
use std::sync::PoisonError;

use super::ingest::BlobId;
use super::{Store, remove_tree, set_mode};
use crate::artifact::{Dir, DirSelect};
use crate::cache::hash::hash_dir_with;
use crate::cache::tree::EntryKind;
use crate::digest::Digest;
use crate::error::{Error, Result};

impl Store {
    /// The folder with tree digest `digest` as a read-only checkout, built from hardlinks to
    /// the blobs on first use and renamed into place when complete. A checkout already there
    /// is used only once it is shown to hold exactly that tree; a damaged one is rebuilt.
    pub fn dir(&self, digest: Digest) -> Result<Dir> {
        self.check_out(digest, &HashSet::new())
    }

    /// [`Store::dir`], trusting the blobs in `checked` (just moved in or verified) without
    /// checking them again.
    pub(super) fn check_out(&self, digest: Digest, checked: &HashSet<BlobId>) -> Result<Dir> {
        let dest = self.checkout_path(&digest);
        let vouched = self.take_vouched(&digest)
            && std::fs::symlink_metadata(&dest).is_ok_and(|m| m.is_dir());
        if vouched || self.checkout_intact(&digest) {
            return Ok(Dir::new(dest, digest));
        }
        let staging = self.temp_dir()?;
        let top = staging.path().join("c");
        if let Err(e) = self.materialize(&top, digest, checked) {
            remove_tree(&top);
            return Err(e);
        }
        // A concurrent run may rename its copy in first: it is used if sound and replaced if
        // not. Three tries, in case something keeps putting damaged copies there.
        let mut failure = None;
        for _ in 0..3 {
            match std::fs::rename(&top, &dest) {
                Ok(()) => {
                    seal_dir(&dest);
                    return Ok(Dir::new(dest, digest));
                }
                Err(_) if self.checkout_intact(&digest) => {
                    remove_tree(&top);
                    return Ok(Dir::new(dest, digest));
                }
                Err(e) => failure = Some(e),
            }
        }
        remove_tree(&top);
        let e = failure.unwrap_or_else(|| std::io::Error::other("no attempt was made"));
        Err(Error::io(format!("check out {}", dest.display()), e))
    }

    /// Whether the checkout of tree `digest` is a real folder still holding exactly that
    /// tree; a damaged one (or anything else in its place) is removed. Stat data makes this a
    /// walk of `stat` calls when nothing changed.
    pub(super) fn checkout_intact(&self, digest: &Digest) -> bool {
        let path = self.checkout_path(digest);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            return false;
        };
        if meta.is_dir()
            && hash_dir_with(&path, &DirSelect::ALL, self.stat_cache())
                .is_ok_and(|h| h.digest == *digest)
        {
            return true;
        }
        tracing::warn!(path = %path.display(), "discarding a damaged checkout");
        remove_tree(&path);
        false
    }

    /// Notes that the checkout of `digest` was just found intact, so that the [`Store::dir`]
    /// call following a lookup does not walk it a second time.
    pub(super) fn vouch_checkout(&self, digest: Digest) {
        self.vouched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(digest);
    }

    /// Uses up a vouch made by [`Store::vouch_checkout`].
    fn take_vouched(&self, digest: &Digest) -> bool {
        self.vouched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(digest)
    }

    fn materialize(&self, dir: &Path, digest: Digest, checked: &HashSet<BlobId>) -> Result<()> {
        let tree = self.tree(&digest)?.ok_or_else(|| {
            Error::Store(format!(
                "folder {} is not in the store at {}",
                digest.short(),
                self.root.display()
            ))
        })?;
        std::fs::create_dir(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        for e in tree.entries() {
            let path = dir.join(&e.name);
            match e.kind {
                EntryKind::File | EntryKind::Exec => {
                    let exec = e.kind == EntryKind::Exec;
                    if !checked.contains(&(e.digest, exec))
                        && !self.blob_intact(&e.digest, exec, e.size)
                    {
                        return Err(Error::Store(format!(
                            "cannot check out folder {}: its file `{}` ({}) is missing or \
                             damaged in the store at {}; a lookup of the result that made it \
                             misses, so that step runs again",
                            digest.short(),
                            e.name,
                            e.digest.short(),
                            self.root.display()
                        )));
                    }
                    link_or_copy(&self.blob_path(&e.digest, exec), &path)?;
                }
                EntryKind::Dir => {
                    self.materialize(&path, e.digest, checked)?;
                    set_mode(&path, 0o555);
                }
                EntryKind::Symlink => {
                    let target = e.target.as_deref().unwrap_or_default();
                    let target = std::ffi::OsStr::from_bytes(target);
                    std::os::unix::fs::symlink(target, &path)
                        .map_err(|err| Error::io(format!("create link {}", path.display()), err))?;
                }
            }
        }
        Ok(())
    }
}

fn link_or_copy(blob: &Path, dest: &Path) -> Result<()> {
    if std::fs::hard_link(blob, dest).is_ok() {
        return Ok(());
    }
    // Too many links to one inode, or a file system without hardlinks: copy instead. `dest`
    // is new in a folder we just made, so the copy cannot land anywhere else.
    std::fs::copy(blob, dest)
        .map(drop)
        .map_err(|e| Error::io(format!("check out {} from the store", dest.display()), e))
}

/// Makes the folder at `path` read-only, through a descriptor opened without following a
/// link, so a link put in its place cannot redirect the change.
fn seal_dir(path: &Path) {
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(path);
    if let Ok(dir) = opened {
        let _ = dir.set_permissions(std::fs::Permissions::from_mode(0o555));
    }
}
