//! How a container is shown exactly what a host `Dir`'s digest covers: the entries of the
//! folder that its [`DirSelect`](crate::artifact::DirSelect) leaves out (ignored by
//! `.gitignore`, `.git` itself, or outside the input's globs), and the run's views that hide
//! them.
//!
//! Two ways show a container only the selected entries of a host folder without copying file
//! contents: a *linked view* (a folder in the store that holds a hard link to each selected
//! file, mounted instead of the folder; exact, but the folder and the store must share a file
//! system) and *masks* (empty mounts over each left-out entry; the names stay visible).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::artifact::{Dir, Origin};
use crate::cache::{EntryKind, Store, Tree, TreeSource};
use crate::digest::Digest;
use crate::error::{Error, Result};

/// How a read-only mount of a host `Dir` hides the entries its digest leaves out.
/// `TANTO_DIR_VIEW=linked|masks` chooses it for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewMode {
    /// The default: mount the folder's *linked view*, a folder in the store with a hard link
    /// to each selected file (exact; one link per file, once per run), or masks where hard
    /// links cannot reach the store.
    #[default]
    Linked,
    /// Mount the folder itself with an empty folder or file over each left-out entry: no link
    /// per file, for very large folders, but the names of left-out entries stay visible.
    Masks,
}

impl ViewMode {
    /// The choice of `TANTO_DIR_VIEW` (`linked` or `masks`), [`ViewMode::Linked`] if unset.
    pub fn from_env() -> Result<Self> {
        match std::env::var("TANTO_DIR_VIEW").as_deref() {
            Err(_) | Ok("" | "linked") => Ok(Self::Linked),
            Ok("masks") => Ok(Self::Masks),
            Ok(other) => Err(Error::Usage(format!(
                "TANTO_DIR_VIEW=`{other}` is not known; use `linked` (the default) or `masks`"
            ))),
        }
    }
}

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

/// The views of one run's host folders: what each leaves out, and its linked view, worked out
/// on first use from the folder's trees in the store and kept until the run ends, when the
/// linked views are removed.
#[derive(Debug)]
pub struct HostViews {
    store: Arc<Store>,
    mode: ViewMode,
    views: Mutex<HashMap<(PathBuf, Digest), Arc<HostView>>>,
}

#[derive(Debug, Default)]
struct HostView {
    hidden: OnceLock<Vec<Hidden>>,
    /// `None` when hard links could not make it.
    linked: OnceLock<Option<tempfile::TempDir>>,
}

impl HostViews {
    /// The views of a run whose folders' trees are in `store`, shown as `mode` says.
    pub fn new(store: Arc<Store>, mode: ViewMode) -> Self {
        Self {
            store,
            mode,
            views: Mutex::new(HashMap::new()),
        }
    }

    /// How this run shows host folders.
    pub fn mode(&self) -> ViewMode {
        self.mode
    }

    /// Removes every linked view made so far: the run is over.
    pub fn remove_all(&self) {
        self.views
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn view(&self, dir: &Dir) -> Arc<HostView> {
        let key = (dir.path().to_path_buf(), dir.digest());
        let mut views = self.views.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(views.entry(key).or_default())
    }

    /// The entries under `dir`'s path that its digest does not cover, each folder whole;
    /// empty unless `dir` is a host folder. Lists the folder on first use (blocking; no file
    /// is read).
    pub fn hidden(&self, dir: &Dir) -> Result<Vec<Hidden>> {
        if !matches!(dir.origin(), Origin::Host { .. }) {
            return Ok(Vec::new());
        }
        let view = self.view(dir);
        if let Some(hidden) = view.hidden.get() {
            return Ok(hidden.clone());
        }
        let mut found = Vec::new();
        if let Some(tree) = self.store.tree(&dir.digest())? {
            hidden_under(
                dir.path(),
                Path::new(""),
                &tree,
                self.store.as_ref(),
                &mut found,
            )?;
        }
        Ok(view.hidden.get_or_init(|| found).clone())
    }

    /// A folder in the store with exactly the entries of `dir`'s digest: a hard link to each
    /// file of the host folder (no content is copied), the symlinks recreated. Made on first
    /// use (blocking) and removed with the run's views. `None` when it cannot be made, e.g.
    /// when the folder and the store are on different file systems; the reason is logged.
    pub fn linked(&self, dir: &Dir) -> Option<PathBuf> {
        let view = self.view(dir);
        let made = view.linked.get_or_init(|| {
            let made = self.store.temp_dir().and_then(|into| {
                let root = dir.path();
                let digest = dir.digest();
                let tree = self.store.tree(&digest)?.ok_or_else(|| {
                    Error::Store(format!(
                        "the tree {digest} of {} is missing",
                        root.display()
                    ))
                })?;
                link_tree(root, into.path(), &tree, self.store.as_ref())
                    .and_then(|()| same_mode(root, into.path()))
                    .map_err(|e| Error::io(format!("link the files of {}", root.display()), e))?;
                Ok(into)
            });
            made.map_err(|e| {
                tracing::debug!("no linked view; masking what the folder leaves out: {e}");
            })
            .ok()
        });
        made.as_ref().map(|d| d.path().to_path_buf())
    }
}

fn missing_tree(at: &Path) -> io::Error {
    io::Error::other(format!("the tree of {} is missing", at.display()))
}

/// Fills the empty folder `into` with the entries of `tree`, found under `root`: folders made,
/// files hard-linked, symlinks recreated from their recorded targets.
fn link_tree(root: &Path, into: &Path, tree: &Tree, trees: &dyn TreeSource) -> io::Result<()> {
    for entry in tree.entries() {
        let (from, to) = (root.join(&entry.name), into.join(&entry.name));
        match entry.kind {
            EntryKind::Dir => {
                let sub = trees
                    .tree(&entry.digest)
                    .map_err(io::Error::other)?
                    .ok_or_else(|| missing_tree(&from))?;
                fs::create_dir(&to)?;
                link_tree(&from, &to, &sub, trees)?;
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
    trees: &dyn TreeSource,
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
                if let Some(sub) = trees.tree(&e.digest)? {
                    hidden_under(&entry.path(), &rel.join(&name), &sub, trees, out)?;
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
    use crate::artifact::DirSelect;
    use crate::cache::{StatCache, hash_dir_with};

    /// `root` bound as a host `Dir` with `select`, its trees in a store in `at`.
    fn bound(root: &Path, at: &Path, select: DirSelect) -> (HostViews, Dir) {
        let store = Arc::new(Store::open(at).unwrap());
        let hashed = store.hash_input_dir(root, &select).unwrap();
        let dir = Dir::host(root, hashed.digest, select);
        (HostViews::new(store, ViewMode::Linked), dir)
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn hidden_of(root: &Path, select: DirSelect) -> Vec<(String, HiddenKind)> {
        let store = tempfile::tempdir().unwrap();
        let (views, dir) = bound(root, store.path(), select);
        views
            .hidden(&dir)
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
            hidden_of(root, DirSelect::DEFAULT),
            [
                (".git".to_owned(), HiddenKind::Dir),
                ("src/debug.log".to_owned(), HiddenKind::File),
                ("target".to_owned(), HiddenKind::Dir),
            ]
        );
        assert!(hidden_of(root, DirSelect::ALL).is_empty());
    }

    #[test]
    fn globs_hide_what_they_leave_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "src/lib.rs", "");
        write(root, "src/notes.md", "");
        write(root, "docs/guide.md", "");
        let filter = DirSelect {
            include: &["src/**/*.rs"],
            ..DirSelect::DEFAULT
        };
        assert_eq!(
            hidden_of(root, filter),
            [
                ("docs".to_owned(), HiddenKind::Dir),
                ("src/notes.md".to_owned(), HiddenKind::File),
            ]
        );
        std::os::unix::fs::symlink("src/lib.rs", root.join("link")).unwrap();
        let filter = DirSelect {
            exclude: &["link", "docs"],
            ..DirSelect::DEFAULT
        };
        assert_eq!(
            hidden_of(root, filter),
            [
                ("docs".to_owned(), HiddenKind::Dir),
                ("link".to_owned(), HiddenKind::Symlink),
            ]
        );
    }

    #[test]
    fn a_linked_view_holds_exactly_the_selected_entries_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("project");
        write(&root, ".gitignore", "target/\n");
        write(&root, "src/lib.rs", "library");
        write(&root, "target/app", "binary");
        std::os::unix::fs::symlink("src/lib.rs", root.join("link")).unwrap();
        let (views, bound_dir) = bound(&root, &dir.path().join("store"), DirSelect::DEFAULT);

        let view = views
            .linked(&bound_dir)
            .expect("the folder and the store share a file system");
        assert_eq!(
            views.linked(&bound_dir).as_deref(),
            Some(view.as_path()),
            "made once per run"
        );
        assert_eq!(
            hash_dir_with(&view, &DirSelect::ALL, &StatCache::in_memory())
                .unwrap()
                .digest,
            bound_dir.digest()
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

        drop(views);
        assert!(!view.exists(), "the view goes with the run's views");
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
        use std::os::unix::fs::MetadataExt;
        let dev = |p: &Path| fs::metadata(p).unwrap().dev();
        assert_ne!(
            dev(&root),
            dev(dir.path()),
            "/dev/shm must be another file system"
        );
        let (views, bound_dir) = bound(&root, dir.path(), DirSelect::DEFAULT);
        assert!(views.linked(&bound_dir).is_none());
        let staging = Store::open(dir.path()).unwrap().staged();
        assert!(
            staging.is_empty(),
            "a failed view leaves nothing: {staging:?}"
        );
    }
}
