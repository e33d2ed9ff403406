//! Tree objects: the sorted listing of one folder level, its canonical encoding, and diffs.
//!
//! A folder's digest is the BLAKE3 digest of its [`Tree`]'s canonical encoding; a sub-folder
//! is referenced by its own tree's digest, so the root digest is a Merkle root over the whole
//! folder. The encoding is binary, versioned and unambiguous (every variable-length field is
//! length-prefixed), so it is cheap to produce for 100k files and has exactly one form per
//! listing. [`Tree`] also implements serde for humans and tools.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, Result};

/// How many levels below its root a folder may sit in a tree: what tanto reads from a host
/// folder, captures from a container or fetches from the shared cache is refused deeper,
/// so every walk over a tree in the store is bounded (and may recurse).
pub(crate) const MAX_DEPTH: usize = 256;

/// The first bytes of every encoded tree: format name and version.
const MAGIC: &[u8] = b"tanto-tree-1\n";

/// What an entry of a folder is. The executable bit is part of the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file without any executable bit.
    File,
    /// A regular file with at least one executable bit.
    Exec,
    /// A folder; its digest is the digest of its own tree.
    Dir,
    /// A symbolic link; its target is recorded, never followed.
    Symlink,
}

impl EntryKind {
    fn tag(self) -> u8 {
        match self {
            EntryKind::File => b'f',
            EntryKind::Exec => b'x',
            EntryKind::Dir => b'd',
            EntryKind::Symlink => b'l',
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        Some(match tag {
            b'f' => EntryKind::File,
            b'x' => EntryKind::Exec,
            b'd' => EntryKind::Dir,
            b'l' => EntryKind::Symlink,
            _ => return None,
        })
    }

    /// Whether this is a regular file, executable or not.
    pub fn is_file(self) -> bool {
        matches!(self, EntryKind::File | EntryKind::Exec)
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntryKind::File => "file",
            EntryKind::Exec => "executable",
            EntryKind::Dir => "folder",
            EntryKind::Symlink => "symlink",
        })
    }
}

/// One entry of a folder level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    /// The entry's file name (one path component, UTF-8).
    pub name: String,
    /// File, executable, folder or symlink.
    pub kind: EntryKind,
    /// Content digest of a file, tree digest of a folder, digest of the target of a symlink.
    pub digest: Digest,
    /// Size in bytes of a file; 0 for other kinds. Lets the store catch truncated blobs.
    pub size: u64,
    /// The link target of a symlink, as raw bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Vec<u8>>,
}

impl TreeEntry {
    /// A regular file entry.
    pub fn file(name: impl Into<String>, digest: Digest, size: u64, executable: bool) -> Self {
        let kind = if executable {
            EntryKind::Exec
        } else {
            EntryKind::File
        };
        Self {
            name: name.into(),
            kind,
            digest,
            size,
            target: None,
        }
    }

    /// A folder entry referencing the tree with digest `tree`.
    pub fn dir(name: impl Into<String>, tree: Digest) -> Self {
        Self {
            name: name.into(),
            kind: EntryKind::Dir,
            digest: tree,
            size: 0,
            target: None,
        }
    }

    /// A symlink entry pointing at `target` (raw bytes, not followed).
    pub fn symlink(name: impl Into<String>, target: Vec<u8>) -> Self {
        Self {
            name: name.into(),
            kind: EntryKind::Symlink,
            digest: Digest::of(&target),
            size: 0,
            target: Some(target),
        }
    }
}

/// The sorted listing of one folder level; children are referenced by digest.
///
/// Every entry's name is one path component (not empty, not `.` or `..`, without `/` or
/// NUL) and names are unique, however the tree was made or read: so a path built by joining
/// names from the root down stays inside the root and never passes through a symlink entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawTree")]
pub struct Tree {
    entries: Vec<TreeEntry>,
}

/// A tree as serde reads it, before its names are checked.
#[derive(Deserialize)]
struct RawTree {
    entries: Vec<TreeEntry>,
}

impl TryFrom<RawTree> for Tree {
    type Error = Error;

    fn try_from(raw: RawTree) -> Result<Self> {
        Tree::new(raw.entries)
    }
}

/// Why `name` cannot name a folder entry, if it cannot: it must be one path component.
fn bad_name(name: &str) -> Option<&'static str> {
    match name {
        "" => Some("is empty"),
        "." | ".." => Some("is `.` or `..`"),
        _ if name.contains('/') => Some("contains `/`"),
        _ if name.contains('\0') => Some("contains a NUL byte"),
        _ => None,
    }
}

impl Tree {
    /// A tree of `entries`, sorted by name. A name that is not one path component, or two
    /// entries with one name, are an error.
    pub fn new(mut entries: Vec<TreeEntry>) -> Result<Self> {
        if let Some((e, why)) = entries.iter().find_map(|e| Some((e, bad_name(&e.name)?))) {
            return Err(Error::Store(format!(
                "a folder entry cannot be named {:?}: the name {why}, and must be one path \
                 component",
                e.name
            )));
        }
        entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        if let Some(w) = entries.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(Error::Store(format!(
                "a folder cannot hold two entries named `{}`",
                w[0].name
            )));
        }
        Ok(Self { entries })
    }

    /// The entries, sorted by name.
    pub fn entries(&self) -> &[TreeEntry] {
        &self.entries
    }

    /// The entry called `name`.
    pub fn get(&self, name: &str) -> Option<&TreeEntry> {
        self.entries
            .binary_search_by(|e| e.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// The canonical encoding, whose BLAKE3 digest is the tree's digest.
    ///
    /// `magic, count: u32le, then per entry: kind tag byte, name length: u32le, name bytes,
    /// and for files size: u64le + digest, for folders the digest, for symlinks the target's
    /// length: u32le + its bytes`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAGIC.len() + 4 + self.entries.len() * 64);
        out.extend_from_slice(MAGIC);
        put_len(&mut out, self.entries.len());
        for e in &self.entries {
            out.push(e.kind.tag());
            put_len(&mut out, e.name.len());
            out.extend_from_slice(e.name.as_bytes());
            match e.kind {
                EntryKind::File | EntryKind::Exec => {
                    out.extend_from_slice(&e.size.to_le_bytes());
                    out.extend_from_slice(&e.digest.0);
                }
                EntryKind::Dir => out.extend_from_slice(&e.digest.0),
                EntryKind::Symlink => {
                    let target = e.target.as_deref().unwrap_or_default();
                    put_len(&mut out, target.len());
                    out.extend_from_slice(target);
                }
            }
        }
        out
    }

    /// The tree's digest: BLAKE3 of [`Tree::encode`].
    pub fn digest(&self) -> Digest {
        Digest::of(&self.encode())
    }

    /// Parses a canonical encoding; anything else (truncated, unsorted or repeated names,
    /// trailing bytes) is an error, so a parsed tree always re-encodes to the same bytes. So
    /// is a name that is not one path component (see [`Tree`]): a tree read from a damaged or
    /// hostile store cannot make a checkout write outside its folder.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let bad = |what: &str| Error::Store(format!("tree object is corrupt: {what}"));
        let mut r = Reader(bytes);
        if r.take(MAGIC.len()) != Some(MAGIC) {
            return Err(bad("unknown format"));
        }
        let count = r.u32().ok_or_else(|| bad("truncated"))? as usize;
        let mut entries = Vec::with_capacity(count.min(bytes.len() / 8));
        for _ in 0..count {
            let tag = r.take(1).ok_or_else(|| bad("truncated"))?[0];
            let kind = EntryKind::from_tag(tag).ok_or_else(|| bad("unknown entry kind"))?;
            let name = r.bytes().ok_or_else(|| bad("truncated"))?;
            let name = std::str::from_utf8(name)
                .map_err(|_| bad("name is not UTF-8"))?
                .to_owned();
            if let Some(why) = bad_name(&name) {
                return Err(bad(&format!("entry name {name:?} {why}")));
            }
            let entry = match kind {
                EntryKind::File | EntryKind::Exec => {
                    let size = r.u64().ok_or_else(|| bad("truncated"))?;
                    let digest = r.digest().ok_or_else(|| bad("truncated"))?;
                    TreeEntry::file(name, digest, size, kind == EntryKind::Exec)
                }
                EntryKind::Dir => TreeEntry::dir(name, r.digest().ok_or_else(|| bad("truncated"))?),
                EntryKind::Symlink => {
                    let target = r.bytes().ok_or_else(|| bad("truncated"))?;
                    TreeEntry::symlink(name, target.to_vec())
                }
            };
            entries.push(entry);
        }
        if !r.0.is_empty() {
            return Err(bad("trailing bytes"));
        }
        if entries.windows(2).any(|w| w[0].name >= w[1].name) {
            return Err(bad("entries are not sorted, or a name repeats"));
        }
        Ok(Self { entries })
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    // Names and link targets are far below 4 GiB; saturating keeps the encoding total.
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn digest(&mut self) -> Option<Digest> {
        Some(Digest(self.take(32)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

/// Somewhere tree objects can be looked up by digest: a [`Trees`] map or the store.
pub trait TreeSource {
    /// The tree with digest `digest`, or `None` when it is not known here.
    fn tree(&self, digest: &Digest) -> Result<Option<Tree>>;
}

/// The trees of one hashed folder, by digest.
pub type Trees = HashMap<Digest, Tree>;

impl TreeSource for Trees {
    fn tree(&self, digest: &Digest) -> Result<Option<Tree>> {
        Ok(self.get(digest).cloned())
    }
}

impl<T: TreeSource + ?Sized> TreeSource for &T {
    fn tree(&self, digest: &Digest) -> Result<Option<Tree>> {
        (**self).tree(digest)
    }
}

impl<T: TreeSource + ?Sized> TreeSource for std::sync::Arc<T> {
    fn tree(&self, digest: &Digest) -> Result<Option<Tree>> {
        (**self).tree(digest)
    }
}

/// The paths that differ between two folders, relative to their roots, `/`-separated.
///
/// A whole folder added or removed is listed once, with a trailing `/`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeDiff {
    /// Paths only in the new folder.
    pub added: Vec<String>,
    /// Paths only in the old folder.
    pub removed: Vec<String>,
    /// Paths in both whose content, kind or link target differ; a file whose bytes are the
    /// same says what changed instead: `run.sh (made executable)`.
    pub modified: Vec<String>,
    /// Whether some trees were missing, so the diff stops at the folders listed as modified.
    pub incomplete: bool,
}

impl TreeDiff {
    /// Whether no path differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.modified.is_empty()
    }

    /// How many paths differ.
    pub fn len(&self) -> usize {
        self.added.len() + self.removed.len() + self.modified.len()
    }
}

/// Diffs the folder with root tree `old` against the one with root tree `new`, loading trees
/// from `source`. Only sub-trees whose digests differ are visited.
pub fn diff_trees(old: Digest, new: Digest, source: &dyn TreeSource) -> TreeDiff {
    let mut diff = TreeDiff::default();
    diff_at("", old, new, source, &mut diff);
    diff
}

fn diff_at(prefix: &str, old: Digest, new: Digest, source: &dyn TreeSource, out: &mut TreeDiff) {
    if old == new {
        return;
    }
    let load = |d: &Digest| source.tree(d).ok().flatten();
    let (Some(old_tree), Some(new_tree)) = (load(&old), load(&new)) else {
        out.incomplete = true;
        out.modified.push(dir_path(prefix));
        return;
    };
    let mut merged: BTreeMap<&str, (Option<&TreeEntry>, Option<&TreeEntry>)> = BTreeMap::new();
    for e in old_tree.entries() {
        merged.entry(&e.name).or_default().0 = Some(e);
    }
    for e in new_tree.entries() {
        merged.entry(&e.name).or_default().1 = Some(e);
    }
    for (name, pair) in merged {
        let path = format!("{prefix}{name}");
        match pair {
            (Some(a), None) => out.removed.push(entry_path(path, a)),
            (None, Some(b)) => out.added.push(entry_path(path, b)),
            (Some(a), Some(b)) if a.kind == EntryKind::Dir && b.kind == EntryKind::Dir => {
                diff_at(&format!("{path}/"), a.digest, b.digest, source, out);
            }
            (Some(a), Some(b)) if a != b => out.modified.push(match (a.kind, b.kind) {
                (EntryKind::File, EntryKind::Exec) if a.digest == b.digest => {
                    format!("{path} (made executable)")
                }
                (EntryKind::Exec, EntryKind::File) if a.digest == b.digest => {
                    format!("{path} (no longer executable)")
                }
                _ => path,
            }),
            _ => {}
        }
    }
}

fn entry_path(path: String, e: &TreeEntry) -> String {
    if e.kind == EntryKind::Dir {
        path + "/"
    } else {
        path
    }
}

fn dir_path(prefix: &str) -> String {
    if prefix.is_empty() {
        "./".to_owned()
    } else {
        prefix.to_owned()
    }
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
