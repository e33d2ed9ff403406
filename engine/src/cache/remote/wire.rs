//! tanto's keys, records and folders in REAPI v2's terms, and the checks on what a server
//! sends back.
//!
//! - A step key (BLAKE3) becomes an `Action` whose `Command` names the key, with an empty
//!   input root: its SHA-256 digest is the action-cache key, the same on every machine.
//! - A result record travels inside the `ActionResult` (`execution_metadata.auxiliary_metadata`,
//!   as sealed JSON), so a hit needs no blob; outputs are `out/<i>`: folders as REAPI `Tree`s,
//!   files and values as output files.
//! - Everything that comes back is hostile input: digests are parsed strictly, sizes are
//!   bounded, and every name in a `Tree` must be one plain path component.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::Path;

use prost::Message as _;
use sha2::{Digest as _, Sha256};

use super::proto::re;
use crate::cache::tree::{EntryKind, MAX_DEPTH, TreeSource};
use crate::digest::Digest;
use crate::error::{Error, Result};

/// The `type_url` of the tanto record inside an `ActionResult`.
pub(super) const RECORD_TYPE: &str = "tanto.dev/tanto.ActionResult.v1+json";

/// At most this many entries in one fetched folder, all levels together.
pub(super) const MAX_TREE_ENTRIES: usize = 1_000_000;

/// The longest name of an entry (Linux's `NAME_MAX`), path (`PATH_MAX`) or link target a
/// fetched tree may hold.
const MAX_NAME: usize = 255;
const MAX_PATH: usize = 4096;

/// The most bytes the paths of a fetched tree may come to: a tree whose folders share a child
/// by digest is small on the wire and lists that child once per place it appears.
const MAX_PATH_BYTES: usize = 256 << 20;

/// The SHA-256 digest of `bytes`, as REAPI names a blob.
pub(super) fn sha(bytes: &[u8]) -> re::Digest {
    re::Digest {
        hash: hex(&Sha256::digest(bytes)),
        size_bytes: bytes.len() as i64,
    }
}

/// The SHA-256 digest of the file at `path`, read in chunks.
pub(super) fn sha_file(path: &Path) -> Result<re::Digest> {
    let io = |e| Error::io(format!("read {}", path.display()), e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok(re::Digest {
        hash: hex(&hasher.finalize()),
        size_bytes: size as i64,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a digest a server sent: 64 lowercase hex characters and a size in `0..=max`.
pub(super) fn check_digest(d: &re::Digest, max: u64) -> std::result::Result<u64, String> {
    let hex_ok = d.hash.len() == 64
        && d.hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex_ok {
        return Err(format!(
            "a digest that is not SHA-256 hex: {:?}",
            short(&d.hash)
        ));
    }
    match u64::try_from(d.size_bytes) {
        Ok(size) if size <= max => Ok(size),
        _ => Err(format!(
            "blob {} claims an impossible size {}",
            short(&d.hash),
            d.size_bytes
        )),
    }
}

/// A SHA-256 hash as messages show it: `sha256:` and its first 12 characters (bounded, whatever
/// the server sent), so it is not read as one of tanto's own BLAKE3 digests.
pub(super) fn short(hash: &str) -> String {
    format!("sha256:{}", hash.chars().take(12).collect::<String>())
}

/// The `Action` and `Command` a step key stands for, encoded, and the action's digest.
pub(super) struct ActionBlobs {
    pub action: Vec<u8>,
    pub command: Vec<u8>,
    pub digest: re::Digest,
}

/// The REAPI action of the step key `key`: a command naming the key, an empty input root.
pub(super) fn action_of(key: &Digest) -> ActionBlobs {
    action_named("step-key", key)
}

/// The REAPI action `tanto WHAT HEX` with an empty input root: `step-key` for a step's
/// result, `run-index` for a pipeline's [index](super::index).
pub(super) fn action_named(what: &str, key: &Digest) -> ActionBlobs {
    let command = re::Command {
        arguments: vec!["tanto".into(), what.into(), key.to_hex()],
    }
    .encode_to_vec();
    let action = re::Action {
        command_digest: Some(sha(&command)),
        input_root_digest: Some(sha(&re::Directory::default().encode_to_vec())),
    }
    .encode_to_vec();
    let digest = sha(&action);
    ActionBlobs {
        action,
        command,
        digest,
    }
}

/// The path of output `i` in an `ActionResult`.
pub(super) fn output_path(i: usize) -> String {
    format!("out/{i}")
}

/// A file of a folder being shared, and where its bytes are in the local store.
pub(super) struct LocalBlob {
    pub digest: re::Digest,
    pub path: std::path::PathBuf,
}

/// A local folder as a REAPI `Tree`, with the store files its blobs come from.
pub(super) struct WireTree {
    pub tree: re::Tree,
    pub blobs: Vec<LocalBlob>,
}

/// Builds the REAPI `Tree` of the stored folder `root`; `blob` says where a file's bytes are.
pub(super) fn tree_of(
    source: &dyn TreeSource,
    root: Digest,
    blob: &dyn Fn(&Digest, bool) -> Result<std::path::PathBuf>,
) -> Result<WireTree> {
    let mut out = WireTree {
        tree: re::Tree::default(),
        blobs: Vec::new(),
    };
    let mut children = HashMap::new();
    let top = directory_of(source, root, blob, &mut out, &mut children, 0)?;
    out.tree.root = Some(top);
    out.tree.children = children.into_values().collect();
    out.tree.children.sort_by(|a, b| {
        sha(&a.encode_to_vec())
            .hash
            .cmp(&sha(&b.encode_to_vec()).hash)
    });
    Ok(out)
}

fn directory_of(
    source: &dyn TreeSource,
    digest: Digest,
    blob: &dyn Fn(&Digest, bool) -> Result<std::path::PathBuf>,
    out: &mut WireTree,
    children: &mut HashMap<String, re::Directory>,
    depth: usize,
) -> Result<re::Directory> {
    if depth > MAX_DEPTH {
        return Err(Error::Store("a folder nested too deep to share".into()));
    }
    let tree = source
        .tree(&digest)?
        .ok_or_else(|| Error::Store(format!("tree {} is not in the store", digest.short())))?;
    let mut dir = re::Directory::default();
    for e in tree.entries() {
        match e.kind {
            EntryKind::File | EntryKind::Exec => {
                let path = blob(&e.digest, e.kind == EntryKind::Exec)?;
                let d = sha_file(&path)?;
                out.blobs.push(LocalBlob {
                    digest: d.clone(),
                    path,
                });
                dir.files.push(re::FileNode {
                    name: e.name.clone(),
                    digest: Some(d),
                    is_executable: e.kind == EntryKind::Exec,
                    node_properties: None,
                });
            }
            EntryKind::Dir => {
                let child = directory_of(source, e.digest, blob, out, children, depth + 1)?;
                let d = sha(&child.encode_to_vec());
                children.insert(d.hash.clone(), child);
                dir.directories.push(re::DirectoryNode {
                    name: e.name.clone(),
                    digest: Some(d),
                });
            }
            EntryKind::Symlink => {
                let target = e.target.clone().unwrap_or_default();
                let target = String::from_utf8(target).map_err(|_| {
                    Error::Store(format!(
                        "the link `{}` has a target that is not UTF-8, which REAPI cannot carry",
                        e.name
                    ))
                })?;
                dir.symlinks.push(re::SymlinkNode {
                    name: e.name.clone(),
                    target,
                    node_properties: None,
                });
            }
        }
    }
    dir.files.sort_by(|a, b| a.name.cmp(&b.name));
    dir.directories.sort_by(|a, b| a.name.cmp(&b.name));
    dir.symlinks.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(dir)
}

/// Whether `name` is one plain path component: not empty, not `.` or `..`, no `/` or NUL.
pub(super) fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// What a fetched folder holds, level by level, once checked.
pub(super) struct Staged {
    /// Files to write: relative path, blob, executable bit.
    pub files: Vec<(std::path::PathBuf, re::Digest, bool)>,
    /// Folders to create, parents first.
    pub dirs: Vec<std::path::PathBuf>,
    /// Links to create: relative path and target.
    pub links: Vec<(std::path::PathBuf, String)>,
}

/// Checks a `Tree` a server sent and lists what it holds. Names must be plain, digests
/// well-formed, the files' sizes at most `max_blob` together (a folder a step may output),
/// children found by digest, and the whole bounded in entries and depth.
pub(super) fn stage_tree(tree: &re::Tree, max_blob: u64) -> std::result::Result<Staged, String> {
    let root = tree.root.as_ref().ok_or("a tree without a root folder")?;
    let children: HashMap<String, &re::Directory> = tree
        .children
        .iter()
        .map(|c| (sha(&c.encode_to_vec()).hash, c))
        .collect();
    let mut staged = Staged {
        files: Vec::new(),
        dirs: Vec::new(),
        links: Vec::new(),
    };
    let mut pending = vec![(std::path::PathBuf::new(), root, 0usize)];
    let mut entries = 0usize;
    let mut bytes = 0u64;
    let mut path_bytes = 0usize;
    while let Some((at, dir, depth)) = pending.pop() {
        if depth > MAX_DEPTH {
            return Err(format!("a tree nested deeper than {MAX_DEPTH} levels"));
        }
        entries += dir.files.len() + dir.directories.len() + dir.symlinks.len();
        if entries > MAX_TREE_ENTRIES {
            return Err("a tree of more than a million entries".into());
        }
        let mut seen = std::collections::HashSet::new();
        let names = dir
            .files
            .iter()
            .map(|f| &f.name)
            .chain(dir.directories.iter().map(|d| &d.name))
            .chain(dir.symlinks.iter().map(|l| &l.name));
        for name in names {
            let path = at.as_os_str().len() + 1 + name.len();
            path_bytes += path;
            if name.len() > MAX_NAME || path > MAX_PATH || path_bytes > MAX_PATH_BYTES {
                return Err(format!(
                    "a tree whose names or paths are longer than a file system holds (at {:?}…)",
                    name.chars().take(64).collect::<String>()
                ));
            }
            if !plain_name(name) {
                return Err(format!(
                    "a tree entry named {:?}",
                    name.chars().take(64).collect::<String>()
                ));
            }
            if !seen.insert(name) {
                return Err(format!("a tree with two entries named {name:?}"));
            }
        }
        for f in &dir.files {
            let d = f.digest.clone().ok_or("a file without a digest")?;
            bytes = bytes.saturating_add(check_digest(&d, max_blob)?);
            if bytes > max_blob {
                return Err(format!(
                    "a tree of more than {max_blob} bytes, the most a step may output"
                ));
            }
            staged.files.push((at.join(&f.name), d, f.is_executable));
        }
        for l in &dir.symlinks {
            if l.target.is_empty() || l.target.contains('\0') || l.target.len() > MAX_PATH {
                return Err(format!(
                    "the link {:?} has an empty, NUL or overlong target",
                    l.name
                ));
            }
            staged.links.push((at.join(&l.name), l.target.clone()));
        }
        for d in &dir.directories {
            let digest = d.digest.as_ref().ok_or("a folder without a digest")?;
            let child = children.get(&digest.hash).ok_or_else(|| {
                format!("a folder {} the tree does not hold", short(&digest.hash))
            })?;
            let path = at.join(&d.name);
            staged.dirs.push(path.clone());
            pending.push((path, child, depth + 1));
        }
    }
    Ok(staged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_digest_is_stable_and_per_key() {
        let a = action_of(&Digest::of(b"a"));
        assert_eq!(a.digest, action_of(&Digest::of(b"a")).digest);
        assert_ne!(a.digest, action_of(&Digest::of(b"b")).digest);
        assert_eq!(sha(&a.action), a.digest);
    }

    #[test]
    fn the_wire_encoding_is_pinned() {
        // As the code generated from the protos encodes them: a change would move every key.
        let a = action_of(&Digest::of(b"a"));
        assert_eq!(
            a.digest.hash,
            "26d85035ebab301183651899eb7f7145b097ab8af8f3d12981752e2b4e8c593e"
        );
        assert_eq!(a.digest.size_bytes, 138);
        let file = re::FileNode {
            name: "f".into(),
            digest: Some(sha(b"x")),
            is_executable: true,
            node_properties: None,
        };
        let dir = re::Directory {
            files: vec![file],
            directories: vec![re::DirectoryNode {
                name: "d".into(),
                digest: Some(sha(b"y")),
            }],
            symlinks: vec![re::SymlinkNode {
                name: "l".into(),
                target: "f".into(),
                node_properties: None,
            }],
            node_properties: None,
        };
        let tree = re::Tree {
            root: Some(dir.clone()),
            children: vec![dir],
        };
        assert_eq!(
            sha(&tree.encode_to_vec()).hash,
            "b5d74dbd65b6f0e98eb94c44c2bb14d186c3b522ee894340d421ee50920c3dd8"
        );
    }

    #[test]
    fn hostile_names_and_digests_are_refused() {
        for bad in ["", ".", "..", "a/b", "a\0"] {
            assert!(!plain_name(bad), "{bad:?}");
        }
        let good = sha(b"x");
        assert_eq!(check_digest(&good, 10), Ok(1));
        let huge = re::Digest {
            size_bytes: -1,
            ..good.clone()
        };
        assert!(check_digest(&huge, 10).is_err());
        let upper = re::Digest {
            hash: good.hash.to_uppercase(),
            ..good.clone()
        };
        assert!(check_digest(&upper, 10).is_err());
        let tree = re::Tree {
            root: Some(re::Directory {
                files: vec![re::FileNode {
                    name: "../escape".into(),
                    digest: Some(good),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            children: vec![],
        };
        let err = stage_tree(&tree, 10).err().unwrap();
        assert!(err.contains("../escape"), "{err}");
    }

    #[test]
    fn a_tree_larger_than_a_step_may_output_is_refused() {
        let file = |name: &str| re::FileNode {
            name: name.into(),
            digest: Some(re::Digest {
                size_bytes: 6,
                ..sha(b"x")
            }),
            ..Default::default()
        };
        let tree = re::Tree {
            root: Some(re::Directory {
                files: vec![file("a"), file("b")],
                ..Default::default()
            }),
            children: vec![],
        };
        assert!(stage_tree(&tree, 12).is_ok());
        let err = stage_tree(&tree, 11).err().unwrap_or_default();
        assert!(err.contains("more than 11 bytes"), "{err}");
    }

    #[test]
    fn a_folder_the_tree_lacks_is_refused() {
        let tree = re::Tree {
            root: Some(re::Directory {
                directories: vec![re::DirectoryNode {
                    name: "sub".into(),
                    digest: Some(sha(b"not a directory")),
                }],
                ..Default::default()
            }),
            children: vec![],
        };
        assert!(
            stage_tree(&tree, 10)
                .err()
                .unwrap()
                .contains("does not hold")
        );
    }

    #[test]
    fn a_small_tree_that_shares_children_cannot_list_paths_without_end() {
        // Each level holds two folders of long names, both the next level by digest: small on
        // the wire, 2^20 places once expanded.
        let mut level = re::Directory::default();
        let mut children = Vec::new();
        for _ in 0..20 {
            let digest = sha(&level.encode_to_vec());
            children.push(level);
            let folder = |c: char| re::DirectoryNode {
                name: c.to_string().repeat(200),
                digest: Some(digest.clone()),
            };
            level = re::Directory {
                directories: vec![folder('a'), folder('b')],
                ..Default::default()
            };
        }
        let tree = re::Tree {
            root: Some(level),
            children,
        };
        let err = stage_tree(&tree, 10).err().unwrap_or_default();
        assert!(err.contains("longer than a file system holds"), "{err}");
        let long = re::Tree {
            root: Some(re::Directory {
                symlinks: vec![re::SymlinkNode {
                    name: "x".repeat(256),
                    target: "t".into(),
                    node_properties: None,
                }],
                ..Default::default()
            }),
            children: vec![],
        };
        assert!(stage_tree(&long, 10).is_err());
    }
}
