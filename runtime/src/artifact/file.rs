//! A single file as a step input or output.

use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::error::{Error, Result};

/// A single file, identified by the digest of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    path: PathBuf,
    digest: Digest,
    executable: bool,
}

impl File {
    /// A file at `path` whose content digest is `digest`.
    pub fn new(path: impl Into<PathBuf>, digest: Digest, executable: bool) -> Self {
        Self {
            path: path.into(),
            digest,
            executable,
        }
    }

    /// Where the file is on the host. Treat it as read-only.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The BLAKE3 digest of the file's bytes.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// Whether the file has its executable bit set.
    pub fn is_executable(&self) -> bool {
        self.executable
    }

    /// Reads the whole file.
    pub fn read(&self) -> Result<Vec<u8>> {
        std::fs::read(&self.path).map_err(|e| Error::io(format!("read {}", self.path.display()), e))
    }

    /// Reads the whole file as UTF-8 text.
    pub fn read_to_string(&self) -> Result<String> {
        std::fs::read_to_string(&self.path)
            .map_err(|e| Error::io(format!("read {}", self.path.display()), e))
    }
}
