//! Writable copies of folders, for exporting outputs out of the read-only store.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::error::{Error, Result};

/// Copies the folder `src` into `dest` (created if needed, merged if it exists): files keep
/// their executable bit but become writable by their owner, symlinks are copied as links.
/// Copies never share inodes with the store, so editing them cannot damage it.
///
/// Nothing is written through a symlink below `dest`: an entry of `dest` in the way of a
/// folder of `src` (a link left by an earlier export, or a file) is replaced by a folder.
pub fn copy_tree(src: &Path, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest)
        .map_err(|e| Error::io(format!("create {}", dest.display()), e))?;
    copy_into(src, dest)
}

/// Makes `path` a real folder, replacing a symlink or file there.
fn make_dir(path: &Path) -> Result<()> {
    let io = |e| Error::io(format!("create {}", path.display()), e);
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => std::fs::remove_file(path).map_err(io)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    std::fs::create_dir(path).map_err(io)
}

fn copy_into(src: &Path, dest: &Path) -> Result<()> {
    let entries =
        std::fs::read_dir(src).map_err(|e| Error::io(format!("read {}", src.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("read {}", src.display()), e))?;
        let from = entry.path();
        let to = dest.join(entry.file_name());
        let kind = entry
            .file_type()
            .map_err(|e| Error::io(format!("stat {}", from.display()), e))?;
        if kind.is_dir() {
            make_dir(&to)?;
            copy_into(&from, &to)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&from)
                .map_err(|e| Error::io(format!("read link {}", from.display()), e))?;
            let _ = std::fs::remove_file(&to);
            std::os::unix::fs::symlink(&target, &to)
                .map_err(|e| Error::io(format!("create link {}", to.display()), e))?;
        } else {
            // Remove first: `to` may be a read-only file from an earlier export.
            let _ = std::fs::remove_file(&to);
            std::fs::copy(&from, &to).map_err(|e| {
                Error::io(format!("copy {} to {}", from.display(), to.display()), e)
            })?;
            let mut perms = std::fs::metadata(&to)
                .map_err(|e| Error::io(format!("stat {}", to.display()), e))?
                .permissions();
            perms.set_mode(perms.mode() | 0o200);
            std::fs::set_permissions(&to, perms)
                .map_err(|e| Error::io(format!("make {} writable", to.display()), e))?;
        }
    }
    Ok(())
}
