//! Folder digests: a BLAKE3 Merkle tree over sorted entries.

use std::path::Path;

use crate::Digest;
use crate::error::{Error, Result};

/// The Merkle digest of the folder at `root`: sorted entries with name, kind, executable bit
/// and content digest or link target. Modification times and owners are not part of it.
pub fn hash_dir(root: &Path) -> Result<Digest> {
    let mut entries: Vec<_> = std::fs::read_dir(root)
        .map_err(|e| Error::io(format!("read {}", root.display()), e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io(format!("read {}", root.display()), e))?;
    entries.sort_by_key(|e| e.file_name());
    let mut tree = blake3::Hasher::new();
    for entry in entries {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| Error::io(format!("stat {}", path.display()), e))?;
        let name = entry.file_name();
        let (kind, digest) = if meta.is_dir() {
            ("d", hash_dir(&path)?)
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)
                .map_err(|e| Error::io(format!("read link {}", path.display()), e))?;
            ("l", Digest::of(target.as_os_str().as_encoded_bytes()))
        } else {
            let bytes = std::fs::read(&path)
                .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
            use std::os::unix::fs::PermissionsExt;
            let kind = if meta.permissions().mode() & 0o111 != 0 {
                "x"
            } else {
                "f"
            };
            (kind, Digest::of(&bytes))
        };
        tree.update(name.as_encoded_bytes());
        tree.update(&[0]);
        tree.update(kind.as_bytes());
        tree.update(&digest.0);
    }
    Ok(tree.finalize().into())
}
