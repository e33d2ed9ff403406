//! What a `Dir` input leaves out of its host folder: the entries on disk that its digest does
//! not cover (ignored by `.gitignore`, `.git` itself, or outside the input's globs), so that a
//! container is shown exactly the files its step's key covers.
//!
//! Two ways show a container only the selected entries of a host folder without copying file
//! contents: a *linked view* (a folder in the store that holds a hard link to each selected
//! file, mounted instead of the folder; exact, but the folder and the store must share a file
//! system) and *masks* (empty mounts over each left-out entry; the names stay visible).

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::Digest;
use crate::cache::hash::{DirFilter, HashedDir};
use crate::cache::store::Store;
use crate::cache::tree::{EntryKind, Tree, Trees};
use crate::error::{Error, Result};

/// One entry of a host folder that a `Dir` input leaves out. A hidden folder is hidden whole;
/// nothing under it is listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hidden {
    /// The entry's path relative to the folder.
    pub path: PathBuf,
    /// What the entry is on disk.
    pub kind: HiddenKind,
}

/// What a hidden entry is on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiddenKind {
    /// A folder.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// A socket, fifo or device.
    Special,
}

/// How a host folder was selected for a `Dir` input: its filter and the trees it hashed to,
/// from which the entries it leaves out are worked out when a container first needs them.
pub struct Selection {
    filter: DirFilter,
    trees: Trees,
    hidden: OnceLock<Vec<Hidden>>,
    /// The linked view, made on first use; `None` when hard links could not make it.
    linked: OnceLock<Option<tempfile::TempDir>>,
}

impl std::fmt::Debug for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selection")
            .field("filter", &self.filter)
            .field("trees", &self.trees.len())
            .finish_non_exhaustive()
    }
}

impl Selection {
    /// The selection of a folder hashed with `filter` into `hashed`.
    pub fn new(filter: DirFilter, hashed: HashedDir) -> Self {
        Self {
            filter,
            trees: hashed.trees,
            hidden: OnceLock::new(),
            linked: OnceLock::new(),
        }
    }

    /// A folder in `store` holding exactly the entries of tree `digest`: a hard link to each
    /// file of the folder at `root` (no content is copied), the symlinks recreated. Made on
    /// first use (blocking) and removed when the selection is dropped, at the end of the run.
    /// `None` when it cannot be made, e.g. when `root` and the store are on different file
    /// systems; the reason is logged.
    pub fn linked_view(&self, root: &Path, digest: &Digest, store: &Store) -> Option<&Path> {
        let view = self.linked.get_or_init(|| {
            let made = store.temp_dir().and_then(|view| {
                let tree = self.trees.get(digest).ok_or_else(|| {
                    Error::Store(format!(
                        "the tree {digest} of {} is missing",
                        root.display()
                    ))
                })?;
                link_tree(root, view.path(), tree, &self.trees)
                    .and_then(|()| same_mode(root, view.path()))
                    .map_err(|e| Error::io(format!("link the files of {}", root.display()), e))?;
                Ok(view)
            });
            made.map_err(|e| {
                tracing::debug!("no linked view; masking what the folder leaves out: {e}");
            })
            .ok()
        });
        view.as_ref().map(tempfile::TempDir::path)
    }

    /// The filter the folder was hashed with.
    pub fn filter(&self) -> &DirFilter {
        &self.filter
    }

    /// The entries of the folder at `root` that the tree `digest` leaves out, worked out on
    /// first use by listing the folders the tree covers (blocking; no file is read).
    pub fn hidden(&self, root: &Path, digest: &Digest) -> Result<&[Hidden]> {
        if let Some(hidden) = self.hidden.get() {
            return Ok(hidden);
        }
        let mut found = Vec::new();
        if let Some(tree) = self.trees.get(digest) {
            hidden_under(root, Path::new(""), tree, &self.trees, &mut found)?;
        }
        Ok(self.hidden.get_or_init(|| found))
    }
}

/// Fills the empty folder `into` with the entries of `tree`, found under `root`: folders made,
/// files hard-linked, symlinks recreated from their recorded targets.
fn link_tree(root: &Path, into: &Path, tree: &Tree, trees: &Trees) -> io::Result<()> {
    for entry in tree.entries() {
        let (from, to) = (root.join(&entry.name), into.join(&entry.name));
        match entry.kind {
            EntryKind::Dir => {
                let sub = trees.get(&entry.digest).ok_or_else(|| {
                    io::Error::other(format!("the tree of {} is missing", from.display()))
                })?;
                fs::create_dir(&to)?;
                link_tree(&from, &to, sub, trees)?;
                same_mode(&from, &to)?;
            }
            EntryKind::File | EntryKind::Exec => fs::hard_link(&from, &to)?,
            EntryKind::Symlink => {
                let target = entry.target.as_deref().unwrap_or_default();
                std::os::unix::fs::symlink(OsStr::from_bytes(target), &to)?;
            }
        }
    }
    Ok(())
}

/// Gives the folder `to` the permission bits of the folder `from`.
fn same_mode(from: &Path, to: &Path) -> io::Result<()> {
    fs::set_permissions(to, fs::metadata(from)?.permissions())
}

/// Adds to `out` the entries of `dir` (at `rel` under the root) that `tree` does not list,
/// and descends into the folders it does.
fn hidden_under(
    dir: &Path,
    rel: &Path,
    tree: &Tree,
    trees: &Trees,
    out: &mut Vec<Hidden>,
) -> Result<()> {
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        // Removed since it was hashed: the end-of-step check reports the change.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("list {}", dir.display()), e)),
    };
    let mut entries: Vec<fs::DirEntry> = listing
        .collect::<io::Result<_>>()
        .map_err(|e| Error::io(format!("list {}", dir.display()), e))?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let kind = if file_type.is_dir() {
            HiddenKind::Dir
        } else if file_type.is_file() {
            HiddenKind::File
        } else if file_type.is_symlink() {
            HiddenKind::Symlink
        } else {
            HiddenKind::Special
        };
        let listed = name.to_str().and_then(|n| tree.get(n));
        match listed {
            Some(e) if e.kind == EntryKind::Dir && kind == HiddenKind::Dir => {
                if let Some(sub) = trees.get(&e.digest) {
                    hidden_under(&entry.path(), &rel.join(&name), sub, trees, out)?;
                }
            }
            // Listed (a file whose kind changed since is caught by the end-of-step check).
            Some(_) => {}
            None => out.push(Hidden {
                path: rel.join(&name),
                kind,
            }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::hash::hash_dir_with;
    use crate::cache::statcache::StatCache;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn hidden_of(root: &Path, filter: DirFilter) -> Vec<(String, HiddenKind)> {
        let hashed = hash_dir_with(root, &filter, &StatCache::in_memory()).unwrap();
        let digest = hashed.digest;
        let selection = Selection::new(filter, hashed);
        selection
            .hidden(root, &digest)
            .unwrap()
            .iter()
            .map(|h| (h.path.display().to_string(), h.kind))
            .collect()
    }

    #[test]
    fn ignored_folders_and_files_are_hidden_whole() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, ".gitignore", "target/\n*.log\n");
        write(root, "src/lib.rs", "");
        write(root, "src/debug.log", "");
        write(root, "target/debug/app", "");
        write(root, ".git/HEAD", "");
        assert_eq!(
            hidden_of(root, DirFilter::default()),
            [
                (".git".to_owned(), HiddenKind::Dir),
                ("src/debug.log".to_owned(), HiddenKind::File),
                ("target".to_owned(), HiddenKind::Dir),
            ]
        );
        assert!(hidden_of(root, DirFilter::all()).is_empty());
    }

    #[test]
    fn globs_hide_what_they_leave_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "src/lib.rs", "");
        write(root, "src/notes.md", "");
        write(root, "docs/guide.md", "");
        let filter = DirFilter {
            include: vec!["src/**/*.rs".to_owned()],
            ..DirFilter::default()
        };
        assert_eq!(
            hidden_of(root, filter),
            [
                ("docs".to_owned(), HiddenKind::Dir),
                ("src/notes.md".to_owned(), HiddenKind::File),
            ]
        );
        std::os::unix::fs::symlink("src/lib.rs", root.join("link")).unwrap();
        let filter = DirFilter {
            exclude: vec!["link".to_owned(), "docs".to_owned()],
            ..DirFilter::default()
        };
        assert_eq!(
            hidden_of(root, filter),
            [
                ("docs".to_owned(), HiddenKind::Dir),
                ("link".to_owned(), HiddenKind::Symlink),
            ]
        );
    }

    fn selected(root: &Path) -> (Selection, Digest) {
        let filter = DirFilter::default();
        let hashed = hash_dir_with(root, &filter, &StatCache::in_memory()).unwrap();
        let digest = hashed.digest;
        (Selection::new(filter, hashed), digest)
    }

    #[test]
    fn a_linked_view_holds_exactly_the_selected_entries_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("project");
        write(&root, ".gitignore", "target/\n");
        write(&root, "src/lib.rs", "library");
        write(&root, "target/app", "binary");
        std::os::unix::fs::symlink("src/lib.rs", root.join("link")).unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let (selection, digest) = selected(&root);

        let view = selection
            .linked_view(&root, &digest, &store)
            .expect("the folder and the store share a file system")
            .to_path_buf();
        assert_eq!(
            hash_dir_with(&view, &DirFilter::all(), &StatCache::in_memory())
                .unwrap()
                .digest,
            digest
        );
        assert!(!view.join("target").exists());
        assert_eq!(
            fs::read_link(view.join("link")).unwrap(),
            Path::new("src/lib.rs")
        );
        // Hard links: the same file, no copy.
        use std::os::unix::fs::MetadataExt;
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&view.join("src/lib.rs")), ino(&root.join("src/lib.rs")));

        drop(selection);
        assert!(!view.exists(), "the view goes with its selection");
        assert_eq!(
            fs::read_to_string(root.join("src/lib.rs")).unwrap(),
            "library"
        );
    }

    #[test]
    fn no_linked_view_across_file_systems() {
        // /dev/shm is a tmpfs of its own; the store stays in the temporary folder.
        let shm = tempfile::tempdir_in("/dev/shm").unwrap();
        let root = shm.path().join("project");
        write(&root, ".gitignore", "*.log\n");
        write(&root, "a.txt", "a");
        write(&root, "b.log", "b");
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        use std::os::unix::fs::MetadataExt;
        let dev = |p: &Path| fs::metadata(p).unwrap().dev();
        assert_ne!(
            dev(&root),
            dev(dir.path()),
            "/dev/shm must be another file system"
        );
        let (selection, digest) = selected(&root);
        assert!(selection.linked_view(&root, &digest, &store).is_none());
        let staging: Vec<_> = fs::read_dir(dir.path().join("tmp")).unwrap().collect();
        assert!(
            staging.is_empty(),
            "a failed view leaves nothing: {staging:?}"
        );
    }
}
