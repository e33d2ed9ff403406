//! The folder walk behind [`hash_dir_with`](crate::cache::hash_dir_with): each folder opened
//! once, listed through its descriptor, its entries chosen (ignore rules, globs) and handed
//! to the hasher by name, on all cores.
//!
//! A folder is one unit of work: a thread takes one from a shared stack, lists it, pushes its
//! sub-folders and hashes its files, so a folder's files are reached by name in the folder
//! the thread holds open (see [`crate::cache::at`]), nothing is queued per file, and the only
//! path built per entry is one reused buffer for the rules and globs. No recursion: the stack
//! is the walk's only memory of where it is, so a deep tree costs heap, not thread stack. A
//! folder more than [`MAX_DEPTH`] levels down is refused, which bounds every later walk over
//! the tree in the store.
//! One folder's files are one thread's: a tree that is one huge folder hashes on one core.
//! Sub-folders are entered by their path from the root's descriptor with `O_NOFOLLOW`, so a
//! folder that became a symlink since its parent was listed is refused, not followed.

use std::ffi::CStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};

use crate::cache::at::{Dir, Kind, Listed};
use crate::cache::rules::{Chain, Rules};
use crate::cache::select::Selection;
use crate::cache::tree::{MAX_DEPTH, Tree, TreeEntry};
use crate::digest::Digest;
use crate::error::{Error, Result};

/// What the walk asks of its user for each file and symlink it keeps.
pub(crate) trait Leaves: Sync {
    /// What each walking thread keeps for itself between calls (buffers, work to hand over
    /// in bulk).
    type Local: Default;

    /// The tree entry of the file or symlink (`kind`) called `name` in the open folder
    /// `dir`, at `path`; `None` leaves it out. `local` is the calling thread's own.
    fn leaf(
        &self,
        local: &mut Self::Local,
        dir: &Dir,
        name: &CStr,
        entry: Leaf,
        path: &dyn Fn() -> PathBuf,
    ) -> Result<Option<TreeEntry>>;

    /// Called by a thread after each folder it listed.
    fn folder_done(&self, _local: &mut Self::Local) {}

    /// Called by a thread once, when it stops walking (the walk done or failed).
    fn stopped(&self, _local: &mut Self::Local) {}
}

/// A file or symlink the walk keeps, as the listing saw it.
pub(crate) struct Leaf {
    /// Its name, checked to be UTF-8.
    pub(crate) name: String,
    /// File, symlink or special file (`fstatat` decides when the listing did not say).
    pub(crate) kind: Kind,
}

/// One folder the walk kept, by number; a folder's number is above its parent's.
pub(crate) struct Folder {
    /// The parent's number (the root's own for the root).
    pub(crate) parent: usize,
    /// The folder's name in its parent ("" for the root).
    pub(crate) name: String,
    /// Its regular files.
    pub(crate) files: u64,
    /// Its symlinks.
    pub(crate) symlinks: u64,
    /// The size of its files.
    pub(crate) bytes: u64,
    /// Its entries so far.
    pub(crate) listing: Listing,
}

/// A folder's entries as the walk leaves them.
pub(crate) enum Listing {
    /// Files and symlinks only, its sub-folders' trees still to come.
    Leaves(Vec<TreeEntry>),
    /// No sub-folders: its whole tree and its digest, made by the thread that listed it.
    Tree(Tree, Digest),
}

/// A folder waiting to be listed.
struct Job {
    id: usize,
    parent: usize,
    name: String,
    /// Its path from the root ("" for the root).
    rel: Vec<u8>,
    /// How many levels below the root it is.
    depth: usize,
    /// The rules in force in its parent.
    chain: Option<Arc<Chain>>,
}

/// What the walking threads share.
struct Walk<'a, L> {
    root: &'a Path,
    root_dir: Dir,
    select: &'a Selection,
    skip_git: bool,
    rules: Rules,
    leaves: &'a L,
    /// Folders to list, and how many threads are listing one.
    stack: Mutex<(Vec<Job>, usize)>,
    wake: Condvar,
    next_id: AtomicUsize,
    failed: AtomicBool,
    error: Mutex<Option<Error>>,
    done: Mutex<Vec<(usize, Folder)>>,
}

/// One thread's reusable buffers.
#[derive(Default)]
struct Scratch<T> {
    names: Vec<u8>,
    listed: Vec<Listed>,
    path: Vec<u8>,
    abs: Vec<u8>,
    local: T,
    found: Vec<Job>,
}

/// Walks the folder at `root` (canonical), keeping what `select` and, when `gitignore` is
/// set, the rule files keep; returns every kept folder by number, the root's being 0.
pub(crate) fn walk<L: Leaves>(
    root: &Path,
    select: &Selection,
    gitignore: bool,
    leaves: &L,
) -> Result<Vec<Folder>> {
    let root_dir =
        Dir::open(root).map_err(|e| Error::io(format!("open folder {}", root.display()), e))?;
    let walk = Walk {
        root,
        root_dir,
        select,
        skip_git: gitignore,
        rules: Rules::new(root, gitignore, gitignore),
        leaves,
        stack: Mutex::new((
            vec![Job {
                id: 0,
                parent: 0,
                name: String::new(),
                rel: Vec::new(),
                depth: 0,
                chain: None,
            }],
            0,
        )),
        wake: Condvar::new(),
        next_id: AtomicUsize::new(1),
        failed: AtomicBool::new(false),
        error: Mutex::new(None),
        done: Mutex::new(Vec::new()),
    };
    std::thread::scope(|s| {
        for _ in 1..threads() {
            s.spawn(|| walk.work());
        }
        walk.work();
    });
    if let Some(err) = walk
        .error
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
    {
        return Err(err);
    }
    let mut done = walk
        .done
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    done.sort_unstable_by_key(|(id, _)| *id);
    Ok(done.into_iter().map(|(_, f)| f).collect())
}

/// How many threads hash a folder: the cores this process may use, at most 8.
pub(crate) fn threads() -> usize {
    // Asking reads the cgroup's CPU quota from files each time; a run hashes many inputs.
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get().min(8)))
}

impl<L: Leaves> Walk<'_, L> {
    /// One thread's loop: take a folder, list it, until none is left or one failed.
    fn work(&self) {
        let mut scratch = Scratch::<L::Local>::default();
        let mut folders = Vec::new();
        loop {
            let job = {
                let mut stack = self.stack.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    if self.failed.load(Ordering::Relaxed) {
                        break None;
                    }
                    if let Some(job) = stack.0.pop() {
                        stack.1 += 1;
                        break Some(job);
                    }
                    if stack.1 == 0 {
                        break None;
                    }
                    stack = self
                        .wake
                        .wait(stack)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            let Some(job) = job else {
                self.wake.notify_all();
                break;
            };
            let id = job.id;
            let result = self.folder(job, &mut scratch);
            self.leaves.folder_done(&mut scratch.local);
            let mut stack = self.stack.lock().unwrap_or_else(PoisonError::into_inner);
            stack.1 -= 1;
            match result {
                Ok(folder) => {
                    folders.push((id, folder));
                    let woken = scratch.found.len();
                    stack.0.append(&mut scratch.found);
                    drop(stack);
                    match woken {
                        0 => {}
                        1 => self.wake.notify_one(),
                        _ => self.wake.notify_all(),
                    }
                }
                Err(err) => {
                    drop(stack);
                    scratch.found.clear();
                    self.error
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_or_insert(err);
                    self.failed.store(true, Ordering::Relaxed);
                    self.wake.notify_all();
                }
            }
        }
        self.leaves.stopped(&mut scratch.local);
        self.done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .append(&mut folders);
    }

    /// The absolute path of `rel`.
    fn abs(&self, rel: &[u8]) -> PathBuf {
        if rel.is_empty() {
            return self.root.to_owned();
        }
        self.root.join(std::ffi::OsStr::from_bytes(rel))
    }

    /// Lists one folder: its sub-folders go to `scratch.found`, its files and symlinks are
    /// hashed into the returned folder.
    fn folder(&self, job: Job, scratch: &mut Scratch<L::Local>) -> Result<Folder> {
        let io = |what: &str, e| Error::io(format!("{what} {}", self.abs(&job.rel).display()), e);
        let dir = if job.rel.is_empty() {
            Dir::open(self.root)
        } else {
            self.root_dir.open_below(&job.rel)
        }
        .map_err(|e| io("open folder", e))?;
        let Scratch {
            names,
            listed,
            path,
            abs,
            local,
            found,
        } = scratch;
        dir.list(names, listed).map_err(|e| io("list folder", e))?;
        listed.sort_unstable_by(|a, b| a.name(names).cmp(b.name(names)));

        let chain = if self.rules.enabled() {
            let has = |n: &[u8]| listed.iter().any(|e| e.name(names) == n);
            let has = [has(b".ignore"), has(b".gitignore"), has(b".git")];
            if has.iter().any(|h| *h) {
                self.rules
                    .enter(job.chain.as_ref(), &self.abs(&job.rel), &job.rel, has)
            } else {
                job.chain.clone()
            }
        } else {
            None
        };
        path.clear();
        path.extend_from_slice(&job.rel);
        if !job.rel.is_empty() {
            path.push(b'/');
        }
        let base = path.len();

        let globs = self
            .select
            .in_folder(Path::new(std::ffi::OsStr::from_bytes(&job.rel)));
        let mut leaves = Vec::new();
        let mut subdirs = 0usize;
        for entry in listed.iter() {
            let name = entry.name(names);
            if self.skip_git && name == b".git" {
                continue;
            }
            path.truncate(base);
            path.extend_from_slice(name);
            let c_name = entry.c_name(names);
            let mut kind = entry.kind;
            if kind == Kind::Unknown {
                let stat = dir
                    .stat(c_name)
                    .map_err(|e| Error::io(format!("stat {}", self.abs(path).display()), e))?;
                kind = stat.kind();
            }
            let is_dir = kind == Kind::Dir;
            if self.rules.ignores(chain.as_ref(), path, is_dir, abs) {
                continue;
            }
            let rel = Path::new(std::ffi::OsStr::from_bytes(path));
            if (is_dir && !self.select.is_empty() || globs.exclude)
                && self.select.prunes(rel, is_dir)
            {
                continue;
            }
            let Ok(name) = std::str::from_utf8(name) else {
                return Err(Error::Usage(format!(
                    "path {} is not UTF-8, and tanto keys files by their UTF-8 names: rename \
                     it, or leave it out",
                    self.abs(path).display()
                )));
            };
            if is_dir {
                if job.depth == MAX_DEPTH {
                    return Err(Error::Usage(format!(
                        "folder {} in {} is more than {MAX_DEPTH} levels down, and tanto keeps \
                         folders at most {MAX_DEPTH} levels deep: flatten it, or leave it out",
                        abbreviated(path),
                        self.root.display()
                    )));
                }
                subdirs += 1;
                found.push(Job {
                    id: self.next_id.fetch_add(1, Ordering::Relaxed),
                    parent: job.id,
                    name: name.to_owned(),
                    rel: path.clone(),
                    depth: job.depth + 1,
                    chain: chain.clone(),
                });
                continue;
            }
            if globs.include
                && let Some(include) = &self.select.include
                && !include.is_match(rel)
            {
                continue;
            }
            let leaf = Leaf {
                name: name.to_owned(),
                kind,
            };
            let full = || self.abs(path);
            if let Some(entry) = self.leaves.leaf(local, &dir, c_name, leaf, &full)? {
                leaves.push(entry);
            }
        }
        let (mut files, mut symlinks, mut bytes) = (0, 0, 0);
        for e in &leaves {
            if e.kind.is_file() {
                files += 1;
                bytes += e.size;
            } else {
                symlinks += 1;
            }
        }
        let listing = if subdirs == 0 {
            let tree = Tree::new(leaves)?;
            let digest = tree.digest();
            Listing::Tree(tree, digest)
        } else {
            Listing::Leaves(leaves)
        };
        Ok(Folder {
            parent: job.parent,
            name: job.name,
            files,
            symlinks,
            bytes,
            listing,
        })
    }
}

/// A deep path `rel` as an error shows it: its first components and its last, around `…`.
fn abbreviated(rel: &[u8]) -> String {
    let rel = String::from_utf8_lossy(rel);
    let parts: Vec<&str> = rel.split('/').collect();
    if parts.len() <= 8 {
        return rel.into_owned();
    }
    format!("{}/…/{}", parts[..4].join("/"), parts[parts.len() - 1])
}

#[cfg(test)]
#[path = "walk_tests.rs"]
mod tests;
