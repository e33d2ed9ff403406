//! Moving a step's captured outputs into the store: blobs by digest, trees, then a checkout.
//!
//! A blob or tree already present under the right name is reused only once it is shown to
//! hold exactly that content (the stat cache vouches for what was verified before and has not
//! changed since); a damaged one is replaced by the bytes being ingested, by a rename over
//! it, which readers see atomically. What an ingest moved in is flushed to disk before it
//! returns (see `durable`).

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::durable::Unsynced;
use super::object::{Found, read_object};
use super::staging::unlock_staged;
use super::{Store, create_parent, remove_tree};
use crate::artifact::{Dir, DirSelect, File};
use crate::cache::hash::{HashedDir, hash_dir_with, hash_file_contents};
use crate::cache::statcache::{FileStat, StatCache};
use crate::cache::tree::{EntryKind, Tree};
use crate::digest::Digest;
use crate::error::{Error, Result};

/// A blob's identity: content digest and executable variant.
pub(super) type BlobId = (Digest, bool);

impl Store {
    /// Whether the blob `digest` is present as a regular file of `size` bytes, with the
    /// executable bit of its variant and exactly that content. Content already verified is
    /// known by its stat data (the stat cache), so this is a `stat` unless the file changed
    /// since; a blob whose bytes no longer match is discarded.
    pub(super) fn blob_intact(&self, digest: &Digest, executable: bool, size: u64) -> bool {
        let path = self.blob_path(digest, executable);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            return false;
        };
        let has_exec_bit = meta.permissions().mode() & 0o111 != 0;
        if !meta.is_file() || meta.len() != size || has_exec_bit != executable {
            // Not this blob, though its bytes may be sound; an ingest replaces it.
            return false;
        }
        let stat = FileStat::of(&meta);
        if self.stat_cache().get(&stat) == Some(*digest) {
            return true;
        }
        let read_at = SystemTime::now();
        match hash_file_contents(&path, &mut Vec::new()) {
            Ok((actual, _)) if actual == *digest => {
                self.stat_cache().insert(stat, actual, read_at);
                true
            }
            _ => {
                self.discard(&path, "blob content does not match its digest");
                false
            }
        }
    }

    /// Moves the file at `src` into the store and returns it as a [`File`]. It is on disk
    /// (fsynced) when this returns.
    pub fn ingest_file(&self, src: &Path, executable: bool) -> Result<File> {
        unlock_staged(src);
        let (digest, size) = hash_file_contents(src, &mut Vec::new())?;
        let mut unsynced = Unsynced::default();
        let path = self.put_blob_file(src, &digest, executable, size, &mut unsynced)?;
        unsynced.flush(&self.root)?;
        Ok(File::new(path, digest, executable))
    }

    /// Moves the folder at `src` into the store (every file, ignore files included) and
    /// returns it as a [`Dir`] whose path is a read-only checkout. Its blobs and trees are on
    /// disk (fsynced) when this returns, so a record may point at them.
    ///
    /// `src` is staging: it is consumed whether or not ingestion succeeds. Its folders may
    /// have any mode (a container's read-only Go module cache or Nix tree): they are made
    /// writable by their owner first, since moving a file out of a folder, or removing the
    /// folder, needs write permission on it; folder modes are not part of a digest.
    pub fn ingest_dir(&self, src: &Path) -> Result<Dir> {
        unlock_staged(src);
        let ingested = self.ingest_staged(src);
        remove_tree(src);
        let (digest, checked) = ingested?;
        self.check_out(digest, &checked)
    }

    /// Moves the blobs and trees of `src` in; returns the root digest and every blob now known
    /// to be sound (moved in or verified).
    fn ingest_staged(&self, src: &Path) -> Result<(Digest, HashSet<BlobId>)> {
        let hashed = hash_dir_with(src, &DirSelect::ALL, &StatCache::in_memory())?;
        let mut unsynced = Unsynced::default();
        let mut checked = HashSet::new();
        self.ingest_tree(src, hashed.digest, &hashed, &mut unsynced, &mut checked)?;
        for tree in hashed.trees.values() {
            self.put_checked_tree(tree, &mut unsynced)?;
        }
        unsynced.flush(&self.root)?;
        Ok((hashed.digest, checked))
    }

    fn ingest_tree(
        &self,
        dir: &Path,
        digest: Digest,
        hashed: &HashedDir,
        unsynced: &mut Unsynced,
        checked: &mut HashSet<BlobId>,
    ) -> Result<()> {
        let tree = hashed.trees.get(&digest).ok_or_else(|| {
            Error::Store(format!("tree {} missing while ingesting", digest.short()))
        })?;
        for e in tree.entries() {
            let path = dir.join(&e.name);
            match e.kind {
                EntryKind::File | EntryKind::Exec => {
                    let exec = e.kind == EntryKind::Exec;
                    self.put_blob_file(&path, &e.digest, exec, e.size, unsynced)?;
                    checked.insert((e.digest, exec));
                }
                EntryKind::Dir => self.ingest_tree(&path, e.digest, hashed, unsynced, checked)?,
                EntryKind::Symlink => {}
            }
        }
        Ok(())
    }

    /// Stores `tree` unless a sound copy is there; notes what it wrote in `unsynced`.
    fn put_checked_tree(&self, tree: &Tree, unsynced: &mut Unsynced) -> Result<()> {
        let bytes = tree.encode();
        let digest = Digest::of(&bytes);
        let path = self.tree_path(&digest);
        if matches!(read_object(&path), Ok(Found::Bytes(found)) if found == bytes) {
            return Ok(());
        }
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            remove_tree(&path);
        }
        self.write_atomic(&path, &bytes, false)?;
        unsynced.add(&path);
        Ok(())
    }

    /// Moves the file at `src` (of `size` bytes, content `digest`, already computed) into the
    /// blobs and returns the blob's path. A sound blob already there is kept and `src` is
    /// removed; a damaged one is replaced.
    fn put_blob_file(
        &self,
        src: &Path,
        digest: &Digest,
        executable: bool,
        size: u64,
        unsynced: &mut Unsynced,
    ) -> Result<PathBuf> {
        let dest = self.blob_path(digest, executable);
        if self.blob_intact(digest, executable, size) {
            let _ = std::fs::remove_file(src);
            return Ok(dest);
        }
        let mode = std::fs::Permissions::from_mode(if executable { 0o555 } else { 0o444 });
        let io = |e| Error::io(format!("move {} into the store", src.display()), e);
        let moved = std::fs::set_permissions(src, mode.clone()).and_then(|()| place(src, &dest));
        match moved {
            Ok(()) => {}
            // Another file system, or a staged file or folder we may not change: copy, which
            // only needs to read `src`.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::CrossesDevices | io::ErrorKind::PermissionDenied
                ) =>
            {
                let staged = tempfile::NamedTempFile::new_in(self.staging_dir()).map_err(io)?;
                std::fs::copy(src, staged.path()).map_err(io)?;
                std::fs::set_permissions(staged.path(), mode).map_err(io)?;
                let staged = staged.into_temp_path();
                place(&staged, &dest).map_err(io)?;
                // Renamed away: nothing is left for the guard to remove.
                let _ = staged.keep();
                let _ = std::fs::remove_file(src);
            }
            Err(e) => return Err(io(e)),
        }
        unsynced.add(&dest);
        Ok(dest)
    }
}

/// Renames `src` to `dest`, replacing a file there. A missing shard folder is created and a
/// folder in the way (never made by the store) is removed, then the rename is tried again.
fn place(src: &Path, dest: &Path) -> io::Result<()> {
    match std::fs::rename(src, dest) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && src.exists() => {
            create_parent(dest).map_err(io::Error::other)?;
            std::fs::rename(src, dest)
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::IsADirectory | io::ErrorKind::DirectoryNotEmpty
            ) =>
        {
            remove_tree(dest);
            std::fs::rename(src, dest)
        }
        other => other,
    }
}
