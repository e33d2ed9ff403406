//! Writable copies of folders and files, for exporting outputs out of the read-only store.
//!
//! What is copied came from a container, and the destination may hold an earlier export of
//! something a container made: a link `hooks -> ../.git/hooks` there must not let the next
//! export write a `hooks/pre-commit` outside the destination. So nothing here follows a link
//! below the destination folder: each existing entry is looked at with `symlink_metadata`, a
//! folder is descended into only when it is a real folder, a link (or an earlier file where a
//! file goes) in the way is removed first, and files are created with
//! `O_CREAT | O_EXCL | O_NOFOLLOW`. What would lose data is an error instead: a folder with
//! content where a file goes, or a file with content where a folder goes. (This guards
//! against what the copied content holds, not against another process racing to plant links
//! in the destination while the copy runs.)

use std::fs;
use std::io;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use crate::error::{Error, Result};

/// Copies the folder `src` into `dest` (created if needed, merged if it exists): files keep
/// their executable bit but become writable by their owner, symlinks are copied as links,
/// and a file or link an earlier copy left under a name is replaced, never written through
/// (a folder with content where a file goes, or the reverse, is an error, and nothing is
/// removed).
/// Copies never share inodes with the store, so editing them cannot damage it.
pub fn copy_tree(src: &Path, dest: &Path) -> Result<()> {
    fs::create_dir_all(dest).map_err(|e| Error::io(format!("create {}", dest.display()), e))?;
    copy_children(src, dest)
}

fn copy_children(src: &Path, dest: &Path) -> Result<()> {
    let entries = fs::read_dir(src).map_err(|e| Error::io(format!("read {}", src.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("read {}", src.display()), e))?;
        let from = entry.path();
        let to = dest.join(entry.file_name());
        let kind = entry
            .file_type()
            .map_err(|e| Error::io(format!("stat {}", from.display()), e))?;
        if kind.is_dir() {
            real_dir(&to)?;
            copy_children(&from, &to)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&from)
                .map_err(|e| Error::io(format!("read link {}", from.display()), e))?;
            clear(&to)?;
            std::os::unix::fs::symlink(&target, &to)
                .map_err(|e| Error::io(format!("create link {}", to.display()), e))?;
        } else if kind.is_file() {
            copy_file(&from, &to)?;
        }
        // Sockets, fifos and devices are never in the store.
    }
    Ok(())
}

/// Copies the file `src` to `dest`, replacing a file, a link or an empty folder at `dest`
/// without following it (a folder with content is an error). The copy keeps `src`'s
/// executable bits and is writable by its owner.
pub(crate) fn copy_file(src: &Path, dest: &Path) -> Result<()> {
    let io = |e| Error::io(format!("copy {} to {}", src.display(), dest.display()), e);
    let mut from = fs::File::open(src).map_err(io)?;
    let mode = (from.metadata().map_err(io)?.permissions().mode() & 0o755) | 0o600;
    clear(dest)?;
    let mut to = create_new(dest).map_err(io)?;
    io::copy(&mut from, &mut to).map_err(io)?;
    // Through the open file: the mode is exact whatever the umask, and no path is followed.
    to.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io)
}

/// Writes `bytes` to a new file `dest`, replacing a file, a link or an empty folder there
/// without following it (a folder with content is an error). The file has mode 0644, as a
/// copied file without an executable bit has.
pub(crate) fn write_file(dest: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e| Error::io(format!("write {}", dest.display()), e);
    clear(dest)?;
    let mut file = create_new(dest).map_err(io)?;
    io::Write::write_all(&mut file, bytes).map_err(io)?;
    file.set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(io)
}

/// Makes room at `path` for a file that is renamed into place: an empty folder there is
/// removed, and a folder with content is an error, never removed; a file or a link stays, for
/// the rename to replace.
pub(crate) fn room_for_file(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => clear(path),
        _ => Ok(()),
    }
}

/// Creates the file `path`, failing if anything is there, a dangling link included.
fn create_new(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(path)
}

/// Makes `path` a real folder: one that is there is kept; a link, or an empty file, is
/// replaced; a file with content is an error (see [`clear`]).
fn real_dir(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(meta) if meta.is_file() && meta.len() > 0 => return Err(in_the_way(path, false)),
        Ok(_) => clear(path)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(format!("stat {}", path.display()), e)),
    }
    fs::create_dir(path).map_err(|e| Error::io(format!("create {}", path.display()), e))
}

/// Removes what is at `path` to make room for a file or a link: a file, a link (not what it
/// points to) or an empty folder. A folder that holds something is an error, never removed:
/// it may be the user's own, and what it holds would be lost.
fn clear(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir(path).map_err(|e| {
            if e.kind() == io::ErrorKind::DirectoryNotEmpty {
                in_the_way(path, true)
            } else {
                Error::io(format!("replace {}", path.display()), e)
            }
        }),
        Ok(_) => {
            fs::remove_file(path).map_err(|e| Error::io(format!("replace {}", path.display()), e))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("replace {}", path.display()), e)),
    }
}

/// The error for a folder (`folder`) or a file with content at `path` where an output puts
/// the other kind: nothing is removed to make room.
fn in_the_way(path: &Path, folder: bool) -> Error {
    let (there, goes) = if folder {
        ("a folder", "a file")
    } else {
        ("a file", "a folder")
    };
    Error::Other(format!(
        "`{}` is {there} with content where an output puts {goes}; it was left as it is: move or \
         remove it, or export to another folder",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_has_the_mode_of_a_copied_one() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dest = tmp.path().join("value.json");
        write_file(&dest, b"1").expect("write");
        let mode = fs::metadata(&dest).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert_eq!(fs::read(&dest).expect("read"), b"1");
    }

    #[test]
    fn a_file_over_a_dangling_link_replaces_the_link() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        fs::write(&src, "new").unwrap();
        let dest = tmp.path().join("dest");
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), &dest).unwrap();
        copy_file(&src, &dest).unwrap();
        assert!(
            !tmp.path().join("nowhere").exists(),
            "the link was followed"
        );
        assert_eq!(fs::read_to_string(&dest).unwrap(), "new");
    }

    #[test]
    fn modes_keep_the_executable_bits_and_add_owner_write() {
        let tmp = tempfile::tempdir().unwrap();
        for (mode, want) in [(0o555, 0o755), (0o444, 0o644)] {
            let src = tmp.path().join(format!("src{mode:o}"));
            fs::write(&src, "x").unwrap();
            fs::set_permissions(&src, fs::Permissions::from_mode(mode)).unwrap();
            let dest = tmp.path().join(format!("dest{mode:o}"));
            copy_file(&src, &dest).unwrap();
            let got = fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
            assert_eq!(got, want, "from {mode:o}");
        }
    }

    #[test]
    fn what_holds_data_is_never_removed_to_make_room_for_the_other_kind() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        fs::create_dir_all(src.join("tree")).unwrap();
        fs::write(src.join("tree/a"), "new").unwrap();
        fs::write(src.join("files.txt"), "new").unwrap();
        let dest = tmp.path().join("dest");
        // A folder of the user's where a file goes, and a file where a folder goes.
        fs::create_dir_all(dest.join("files.txt")).unwrap();
        fs::write(dest.join("files.txt/precious"), "keep").unwrap();
        fs::write(dest.join("tree"), "keep too").unwrap();
        let err = copy_file(&src.join("files.txt"), &dest.join("files.txt")).unwrap_err();
        assert!(
            err.to_string()
                .contains("is a folder with content where an output puts a file"),
            "{err}"
        );
        let err = copy_tree(&src, &dest).unwrap_err();
        assert!(err.to_string().contains("move or remove it"), "{err}");
        assert_eq!(
            fs::read_to_string(dest.join("files.txt/precious")).unwrap(),
            "keep"
        );
        assert_eq!(fs::read_to_string(dest.join("tree")).unwrap(), "keep too");
        // Empty ones, and links, hold nothing and are replaced.
        fs::remove_file(dest.join("files.txt/precious")).unwrap();
        fs::write(dest.join("tree"), "").unwrap();
        copy_tree(&src, &dest).unwrap();
        assert_eq!(fs::read_to_string(dest.join("files.txt")).unwrap(), "new");
        assert_eq!(fs::read_to_string(dest.join("tree/a")).unwrap(), "new");
    }
}
