//! The content-addressed store that step outputs live in.

use std::path::{Path, PathBuf};

use crate::cache::hash_dir;
use crate::error::{Error, Result};
use crate::{Digest, Dir, File};

/// The content-addressed store.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for sub in ["tmp", "dirs", "files"] {
            std::fs::create_dir_all(root.join(sub))
                .map_err(|e| Error::io(format!("create {}", root.join(sub).display()), e))?;
        }
        Ok(Self { root })
    }

    /// The store's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A fresh temporary folder inside the store, on the same file system, for staging.
    pub fn temp_dir(&self) -> Result<tempfile::TempDir> {
        tempfile::tempdir_in(self.root.join("tmp"))
            .map_err(|e| Error::io("create a temporary folder in the store", e))
    }

    /// Moves the folder at `src` into the store and returns it as a [`Dir`].
    pub fn ingest_dir(&self, src: &Path) -> Result<Dir> {
        let digest = hash_dir(src)?;
        let dest = self.root.join("dirs").join(digest.to_hex());
        if !dest.exists() {
            std::fs::rename(src, &dest)
                .map_err(|e| Error::io(format!("move {} into the store", src.display()), e))?;
        }
        Ok(Dir::new(dest, digest))
    }

    /// Moves the file at `src` into the store and returns it as a [`File`].
    pub fn ingest_file(&self, src: &Path, executable: bool) -> Result<File> {
        let bytes =
            std::fs::read(src).map_err(|e| Error::io(format!("read {}", src.display()), e))?;
        let digest = Digest::of(&bytes);
        let dest = self.root.join("files").join(digest.to_hex());
        if !dest.exists() {
            std::fs::rename(src, &dest)
                .map_err(|e| Error::io(format!("move {} into the store", src.display()), e))?;
        }
        Ok(File::new(dest, digest, executable))
    }
}
