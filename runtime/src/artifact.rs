//! The values that flow along a pipeline's edges: folders, files and serde values.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Digest;
use crate::cache::{DirFilter, Hidden, Selection, Store};
use crate::error::{Error, Result};

/// A folder tree, identified by the digest of its content.
///
/// A `Dir` is either a pipeline input bound to a host folder, or a step's output held in the
/// store. Steps receive it as a parameter and hand it to a container, read-only with
/// [`Container::with_mounted_dir`](crate::Container::with_mounted_dir) or as a private writable
/// copy with [`Container::with_dir`](crate::Container::with_dir).
///
/// A host folder holds more than its digest covers when some of it is left out (ignored by
/// `.gitignore`, or outside the globs of `#[dir(..)]`); containers are shown only what the
/// digest covers.
#[derive(Debug, Clone)]
pub struct Dir {
    path: PathBuf,
    digest: Digest,
    /// For a host folder: how it was selected, so containers see only the selected entries.
    selection: Option<Arc<Selection>>,
}

impl PartialEq for Dir {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.digest == other.digest
    }
}

impl Eq for Dir {}

impl Dir {
    /// A folder at `path` whose content digest is `digest`, every entry of it included.
    ///
    /// The runtime builds these; a unit test of a step can build one from
    /// [`crate::cache::hash_dir`] too.
    pub fn new(path: impl Into<PathBuf>, digest: Digest) -> Self {
        Self {
            path: path.into(),
            digest,
            selection: None,
        }
    }

    /// A host folder at `path`, hashed to `digest` with `selection`'s filter: the entries the
    /// filter left out are hidden from containers.
    pub fn selected(path: impl Into<PathBuf>, digest: Digest, selection: Selection) -> Self {
        Self {
            path: path.into(),
            digest,
            selection: Some(Arc::new(selection)),
        }
    }

    /// The filter the folder was hashed with: [`DirFilter::all`] unless it is a selected host
    /// folder.
    pub fn filter(&self) -> DirFilter {
        self.selection
            .as_ref()
            .map_or_else(DirFilter::all, |s| s.filter().clone())
    }

    /// A folder in `store` with exactly the entries the digest covers, hard-linked from
    /// [`path`](Self::path), made on first use (blocking) and kept for the run; `None` when the
    /// folder was not selected, or hard links cannot reach it from the store.
    pub fn linked_view(&self, store: &Store) -> Option<&Path> {
        self.selection
            .as_ref()
            .and_then(|s| s.linked_view(&self.path, &self.digest, store))
    }

    /// The entries under [`path`](Self::path) that the digest does not cover, each folder
    /// whole; empty unless the folder was selected. Lists the folder on first use (blocking).
    pub fn hidden(&self) -> Result<&[Hidden]> {
        match &self.selection {
            Some(selection) => selection.hidden(&self.path, &self.digest),
            None => Ok(&[]),
        }
    }

    /// Where the folder is on the host. Treat it as read-only.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The Merkle root of the folder's content.
    pub fn digest(&self) -> Digest {
        self.digest
    }
}

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

/// One realized input or output of a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Artifact {
    /// A folder.
    Dir(Dir),
    /// A file.
    File(File),
    /// A serde value, kept in its JSON form.
    Value(serde_json::Value),
}

impl Artifact {
    /// The content digest of this artifact: a tree digest, a blob digest, or the digest of the
    /// value's canonical JSON (object keys sorted, no whitespace).
    pub fn digest(&self) -> Digest {
        match self {
            Artifact::Dir(d) => d.digest(),
            Artifact::File(f) => f.digest(),
            Artifact::Value(v) => Digest::of(canonical_json(v).as_bytes()),
        }
    }

    /// A short human name of the artifact's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Artifact::Dir(_) => "dir",
            Artifact::File(_) => "file",
            Artifact::Value(_) => "value",
        }
    }
}

/// The canonical JSON text of a value: `serde_json` keeps object keys sorted (no
/// `preserve_order`), and the compact writer adds no whitespace.
pub(crate) fn canonical_json(value: &serde_json::Value) -> String {
    value.to_string()
}

/// A type a step can take as a parameter: [`Dir`], [`File`], or an owned serde value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a step input",
    label = "not a step input",
    note = "a step input is a `Dir`, a `File`, or an owned value that implements `serde::Serialize` and `serde::de::DeserializeOwned`"
)]
pub trait FromArtifact: Sized + Send + 'static {
    /// Converts the artifact given to parameter `param` of step `step`.
    fn from_artifact(artifact: Artifact, step: &str, param: &str) -> Result<Self>;
}

/// A type a step can return: [`Dir`], [`File`], or an owned serde value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a step output",
    label = "not a step output",
    note = "a step returns `()`, a `Dir`, a `File`, a value that implements `serde::Serialize` and `serde::de::DeserializeOwned`, or a tuple of those"
)]
pub trait IntoArtifact: Sized + Send + 'static {
    /// Converts the returned value into an artifact.
    fn into_artifact(self) -> Result<Artifact>;
}

fn mismatch(step: &str, param: &str, expected: &str, got: &Artifact) -> Error {
    Error::Wiring(format!(
        "step `{step}` parameter `{param}` expects a {expected}, but received a {}",
        got.kind()
    ))
}

impl FromArtifact for Dir {
    fn from_artifact(artifact: Artifact, step: &str, param: &str) -> Result<Self> {
        match artifact {
            Artifact::Dir(d) => Ok(d),
            other => Err(mismatch(step, param, "dir", &other)),
        }
    }
}

impl FromArtifact for File {
    fn from_artifact(artifact: Artifact, step: &str, param: &str) -> Result<Self> {
        match artifact {
            Artifact::File(f) => Ok(f),
            other => Err(mismatch(step, param, "file", &other)),
        }
    }
}

impl<T: Serialize + DeserializeOwned + Send + 'static> FromArtifact for T {
    fn from_artifact(artifact: Artifact, step: &str, param: &str) -> Result<Self> {
        match artifact {
            Artifact::Value(v) => serde_json::from_value(v)
                .map_err(|e| Error::Wiring(format!("step `{step}` parameter `{param}`: {e}"))),
            other => Err(mismatch(step, param, "value", &other)),
        }
    }
}

impl IntoArtifact for Dir {
    fn into_artifact(self) -> Result<Artifact> {
        Ok(Artifact::Dir(self))
    }
}

impl IntoArtifact for File {
    fn into_artifact(self) -> Result<Artifact> {
        Ok(Artifact::File(self))
    }
}

impl<T: Serialize + DeserializeOwned + Send + 'static> IntoArtifact for T {
    fn into_artifact(self) -> Result<Artifact> {
        serde_json::to_value(&self)
            .map(Artifact::Value)
            .map_err(|e| Error::Other(format!("cannot serialize a step output: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_digest_ignores_key_order() {
        let a: serde_json::Value = serde_json::from_str(r#"{"b":1,"a":[1,2]}"#).unwrap();
        let b: serde_json::Value = serde_json::from_str(r#"{ "a": [1, 2], "b": 1 }"#).unwrap();
        assert_eq!(Artifact::Value(a).digest(), Artifact::Value(b).digest());
    }

    #[test]
    fn wrong_kind_names_step_and_parameter() {
        let err = Dir::from_artifact(Artifact::Value(serde_json::json!(1)), "build", "src")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("step `build` parameter `src` expects a dir"),
            "{err}"
        );
    }
}
