//! A single file as a step input or output.

use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::error::{Error, Result};

/// A single file, identified by the digest of its bytes.
///
/// A file captured from a container keeps the name it had there (`c.file("/out/app.tar")` is
/// named `app.tar`), which is what `--out` writes it as; its [`path`](Self::path) is a blob of
/// the store, named by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    path: PathBuf,
    digest: Digest,
    executable: bool,
    name: Option<String>,
}

impl File {
    /// A file at `path` whose content digest is `digest`.
    pub fn new(path: impl Into<PathBuf>, digest: Digest, executable: bool) -> Self {
        Self {
            path: path.into(),
            digest,
            executable,
            name: None,
        }
    }

    /// The same file, named `name`: the name it had where it was captured. A name that is not
    /// one plain file name (empty, `.`, `..`, or holding a `/` or a NUL) is not kept.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.name = is_plain_name(&name).then_some(name);
        self
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

    /// The name the file was captured by, if it was named (see [`with_name`](Self::with_name)).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
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

/// Whether `name` is one plain file name: something `--out` can create inside its folder and
/// nowhere else.
pub(crate) fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_are_kept() {
        let file = || File::new("/store/blobs/ab", Digest::of(b""), false);
        assert_eq!(file().with_name("app.tar").name(), Some("app.tar"));
        for bad in ["", ".", "..", "a/b", "../x", "/etc/passwd", "a\0b"] {
            assert_eq!(file().with_name(bad).name(), None, "{bad:?}");
        }
    }
}
