//! Writable copies of folders and files, for exporting outputs out of the read-only store.
//!
//! What is copied came from a container, and the destination may hold an earlier export of
//! something a container made: a link `hooks -> ../.git/hooks` there must not let the next
//! export write a `hooks/pre-commit` outside the destination. So nothing here follows a link
//! below the destination folder: each existing entry is looked at with `symlink_metadata`, a
//! folder is descended into only when it is a real folder, and a file or link is written
//! beside its place under a name of its own (`O_CREAT | O_EXCL`), then renamed over what was
//! there, which replaces a file or a link and never writes through one. What would lose data
//! is an error instead: a folder with content where a file goes, or a file with content where
//! a folder goes. A copy stopped part way (Ctrl-C, a full disk, `kill -9`) leaves every file
//! either as it was or whole. (This guards against what the copied content holds, not
//! against another process racing to plant links in the destination while the copy runs.)

use std::fs;
use std::io::{self, Read as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::error::{Error, Result};

/// How much of a file is copied between two looks at whether to stop.
const STRIDE: u64 = 64 << 20;

/// Copies the folder `src` into `dest` (created if needed, merged if it exists): files keep
/// their executable bit but become writable by their owner, symlinks are copied as links,
/// and a file or link an earlier copy left under a name is replaced, never written through
/// (a folder with content where a file goes, or the reverse, is an error, and nothing is
/// removed).
/// Copies never share inodes with the store, so editing them cannot damage it.
pub fn copy_tree(src: &Path, dest: &Path) -> Result<()> {
    copy_tree_until(src, dest, &|| false)
}

/// [`copy_tree`], which ends with [`Error::Cancelled`] as soon as `stop` says so: between two
/// entries, or every 64 MiB of a file. What was written by then is whole.
pub(crate) fn copy_tree_until(src: &Path, dest: &Path, stop: &dyn Fn() -> bool) -> Result<()> {
    fs::create_dir_all(dest).map_err(|e| Error::io(format!("create {}", dest.display()), e))?;
    copy_children(src, dest, stop)
}

fn copy_children(src: &Path, dest: &Path, stop: &dyn Fn() -> bool) -> Result<()> {
    let entries = fs::read_dir(src).map_err(|e| Error::io(format!("read {}", src.display()), e))?;
    for entry in entries {
        if stop() {
            return Err(Error::Cancelled);
        }
        let entry = entry.map_err(|e| Error::io(format!("read {}", src.display()), e))?;
        let from = entry.path();
        let to = dest.join(entry.file_name());
        let kind = entry
            .file_type()
            .map_err(|e| Error::io(format!("stat {}", from.display()), e))?;
        if kind.is_dir() {
            real_dir(&to)?;
            copy_children(&from, &to, stop)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&from)
                .map_err(|e| Error::io(format!("read link {}", from.display()), e))?;
            replace(&to, |part| std::os::unix::fs::symlink(&target, part))
                .map_err(|e| e.context(&format!("create link {}", to.display())))?;
        } else if kind.is_file() {
            copy_file(&from, &to, stop)?;
        }
        // Sockets, fifos and devices are never in the store.
    }
    Ok(())
}

/// Copies the file `src` to `dest`, replacing a file, a link or an empty folder at `dest`
/// without following it (a folder with content is an error). The copy keeps `src`'s
/// executable bits and is writable by its owner. It stops as [`copy_tree_until`] does,
/// leaving `dest` as it was.
pub(crate) fn copy_file(src: &Path, dest: &Path, stop: &dyn Fn() -> bool) -> Result<()> {
    let what = format!("copy {} to {}", src.display(), dest.display());
    let mut from = fs::File::open(src).map_err(|e| Error::io(what.clone(), e))?;
    let meta = from.metadata().map_err(|e| Error::io(what.clone(), e))?;
    let mode = (meta.permissions().mode() & 0o755) | 0o600;
    let copy = |to: &mut fs::File| loop {
        if stop() {
            return Err(io::Error::from(io::ErrorKind::Interrupted));
        }
        // `io::copy` of a `Take<File>` into a file still copies in the kernel.
        if io::copy(&mut (&mut from).take(STRIDE), to)? < STRIDE {
            return Ok(());
        }
    };
    replace_file(dest, mode, copy).map_err(|e| e.context(&what))
}

/// Writes `bytes` to a new file `dest`, replacing a file, a link or an empty folder there
/// without following it (a folder with content is an error). The file has mode 0644, as a
/// copied file without an executable bit has.
pub(crate) fn write_file(dest: &Path, bytes: &[u8]) -> Result<()> {
    let write = |to: &mut fs::File| io::Write::write_all(to, bytes);
    replace_file(dest, 0o644, write).map_err(|e| e.context(&format!("write {}", dest.display())))
}

/// How writing beside a path and renaming into it went wrong.
enum Replace {
    /// A folder with content is in the way, or the like: said in full.
    Refused(Error),
    /// Stopped when asked to.
    Stopped,
    /// Writing or renaming failed.
    Io(io::Error),
}

impl Replace {
    /// The error, with `what` was being done when it was an I/O error.
    fn context(self, what: &str) -> Error {
        match self {
            Replace::Refused(e) => e,
            Replace::Stopped => Error::Cancelled,
            Replace::Io(e) => Error::io(what.to_owned(), e),
        }
    }
}

/// A file of mode `mode` at `dest`, whose bytes `write` puts in: see [`replace`].
fn replace_file(
    dest: &Path,
    mode: u32,
    mut write: impl FnMut(&mut fs::File) -> io::Result<()>,
) -> std::result::Result<(), Replace> {
    replace(dest, |part| {
        let mut to = part_file(part)?;
        let written = write(&mut to)
            // Through the open file: the mode is exact whatever the umask.
            .and_then(|()| to.set_permissions(fs::Permissions::from_mode(mode)));
        if written.is_err() {
            let _ = fs::remove_file(part);
        }
        written
    })
}

/// Puts a new entry at `dest`: `make` creates it at a free name beside `dest` (failing with
/// `AlreadyExists` when the name is taken, and removing what it made when it fails
/// otherwise), then it is renamed over `dest`, which replaces a file or a link and follows
/// neither. An empty folder at `dest` is removed first, a folder with content refused; so
/// `dest` ends either as it was or as the new entry, whole.
fn replace(
    dest: &Path,
    make: impl FnMut(&Path) -> io::Result<()>,
) -> std::result::Result<(), Replace> {
    room_for_file(dest).map_err(Replace::Refused)?;
    let folder = dest.parent().unwrap_or(Path::new("."));
    let part = match tempfile::Builder::new()
        .prefix(".tanto-part-")
        .make_in(folder, make)
    {
        Ok(part) => part.into_temp_path(),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(Replace::Stopped),
        Err(e) => return Err(Replace::Io(e)),
    };
    // Removed if the rename fails.
    part.persist(dest).map_err(|e| Replace::Io(e.error))
}

/// Creates the file `path` for writing, failing if anything is there.
fn part_file(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(path)
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
    match fs::create_dir(path) {
        // Another export into the same folder made it since.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => Ok(()),
            _ => Err(Error::io(format!("create {}", path.display()), e)),
        },
        made => made.map_err(|e| Error::io(format!("create {}", path.display()), e)),
    }
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
        copy_file(&src, &dest, &|| false).unwrap();
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
            copy_file(&src, &dest, &|| false).unwrap();
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
        let err =
            copy_file(&src.join("files.txt"), &dest.join("files.txt"), &|| false).unwrap_err();
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

    /// The names in `folder`.
    fn names(folder: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_copy_stopped_part_way_leaves_each_file_as_it_was_or_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        fs::create_dir(&src).unwrap();
        // Past one stride, so the stop comes inside the file.
        let big = vec![7u8; usize::try_from(STRIDE).unwrap() + 10];
        fs::write(src.join("big"), &big).unwrap();
        let dest = tmp.path().join("dest");
        fs::create_dir(&dest).unwrap();
        fs::write(dest.join("big"), "the last export").unwrap();
        let looks = std::cell::Cell::new(0);
        let stop_second = || {
            looks.set(looks.get() + 1);
            looks.get() > 2
        };
        let err = copy_tree_until(&src, &dest, &stop_second).unwrap_err();
        assert!(matches!(err, Error::Cancelled), "{err}");
        assert_eq!(looks.get(), 3, "stopped inside the file, after one stride");
        assert_eq!(
            fs::read_to_string(dest.join("big")).unwrap(),
            "the last export"
        );
        assert_eq!(names(&dest), ["big"], "nothing is left beside it");

        copy_tree_until(&src, &dest, &|| false).unwrap();
        assert_eq!(fs::read(dest.join("big")).unwrap(), big);
        assert_eq!(names(&dest), ["big"]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_nothing_beside_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("value.json");
        fs::write(&dest, "old").unwrap();
        let err = replace_file(&dest, 0o644, |to| {
            io::Write::write_all(to, b"half")?;
            Err(io::Error::other("disk full"))
        })
        .map_err(|e| e.context("write value.json"))
        .unwrap_err();
        assert_eq!(err.to_string(), "write value.json: disk full");
        assert_eq!(fs::read_to_string(&dest).unwrap(), "old");
        assert_eq!(names(tmp.path()), ["value.json"]);
    }

    #[test]
    fn copies_into_one_folder_at_once_all_end_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        for n in 0..300 {
            let folder = src.join(format!("d{n}/e"));
            fs::create_dir_all(&folder).unwrap();
            fs::write(folder.join("f"), format!("{n}")).unwrap();
        }
        let dest = tmp.path().join("dest");
        std::thread::scope(|s| {
            let copies: Vec<_> = (0..4).map(|_| s.spawn(|| copy_tree(&src, &dest))).collect();
            for copy in copies {
                copy.join().unwrap().unwrap();
            }
        });
        assert_eq!(names(&dest).len(), 300);
        assert_eq!(fs::read_to_string(dest.join("d7/e/f")).unwrap(), "7");
        assert!(names(&dest.join("d7/e")) == ["f"], "nothing beside");
    }
}
