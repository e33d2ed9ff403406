//! Ignore rules for the walk: `.ignore`, `.gitignore` and `.git/info/exclude`, with the
//! precedence of the `ignore` crate's walker, each file matched as its `gitignore` engine
//! matches it (`rule_file.rs`).
//!
//! Each folder that has rules adds a link to a chain its sub-folders share; folders without
//! rules add nothing. An entry is matched against the chain from its own folder up to the
//! walk's root, then against the rules of the folders above the root (whose files the walk
//! never lists, so only patterns naming the entry's own path can apply). Within each kind
//! of file the deepest match wins; across kinds `.ignore` beats `.gitignore`, which beats
//! `info/exclude`. A whitelist (`!pattern`) match keeps the entry. Unreadable rule files and
//! bad patterns are skipped, as git does.

use std::io::BufRead as _;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cache::rule_file::RuleFile;

/// The three kinds of rule file of one folder, strongest first.
struct Level {
    kinds: [RuleFile; 3],
}

impl Level {
    /// The rules of the folder `dir`; `git` is whether it holds a `.git`.
    fn read(dir: &Path, ignore: bool, gitignore: bool, git: bool) -> Option<Self> {
        let file = |wanted: bool, base: &Path, name: &str| {
            if wanted {
                RuleFile::read(&base.join(name))
            } else {
                RuleFile::empty()
            }
        };
        let exclude = match git.then(|| git_common_dir(dir)).flatten() {
            Some(common) => RuleFile::read(&common.join("info/exclude")),
            None => RuleFile::empty(),
        };
        let level = Level {
            kinds: [
                file(ignore, dir, ".ignore"),
                file(gitignore, dir, ".gitignore"),
                exclude,
            ],
        };
        (!level.kinds.iter().all(RuleFile::is_empty)).then_some(level)
    }
}

/// Where `dir/.git`'s `info/exclude` lives: in `.git` itself, or for a worktree (a `.git`
/// file) in the common folder its `gitdir` names; `None` when that cannot be read. As the
/// `ignore` crate does it, environment variables aside.
fn git_common_dir(dir: &Path) -> Option<PathBuf> {
    let git = dir.join(".git");
    let meta = std::fs::metadata(&git).ok()?;
    if !meta.is_file() {
        return Some(git);
    }
    let first_line = |path: &Path| {
        let file = std::fs::File::open(path).ok()?;
        std::io::BufReader::new(file).lines().next()?.ok()
    };
    let line = first_line(&git)?;
    let real = PathBuf::from(line.strip_prefix("gitdir: ")?);
    let common = first_line(&real.join("commondir"))?;
    Some(if common.starts_with('.') {
        real.join(common)
    } else {
        PathBuf::from(common)
    })
}

/// The rules in force in one folder of the walk: its own and its ancestors' up to the root.
pub(crate) struct Chain {
    level: Level,
    /// Where this folder's part of a relative path ends: the length of its path relative to
    /// the root plus its `/`, or 0 for the root.
    prefix: usize,
    parent: Option<Arc<Chain>>,
}

/// All the rules a walk applies.
pub(crate) struct Rules {
    ignore: bool,
    gitignore: bool,
    /// The rules of the folders above the root, nearest first, each with where the path
    /// relative to its folder starts in the root's absolute path.
    above: Vec<(usize, Level)>,
    /// The root's absolute path, to which a path is joined for the rules above it.
    root: Vec<u8>,
}

impl Rules {
    /// The rules of a walk from `root` (canonical): rule files of the kinds asked for, in
    /// `root`'s folders and above it.
    pub(crate) fn new(root: &Path, ignore: bool, gitignore: bool) -> Self {
        let mut above = Vec::new();
        if ignore || gitignore {
            for dir in root.ancestors().skip(1) {
                let git = gitignore && std::fs::metadata(dir.join(".git")).is_ok();
                let len = dir.as_os_str().len();
                // Past the folder's path and the `/` after it (`/` itself ends in one).
                let start = if dir.as_os_str().as_bytes().ends_with(b"/") {
                    len
                } else {
                    len + 1
                };
                above.extend(Level::read(dir, ignore, gitignore, git).map(|l| (start, l)));
            }
        }
        let mut root = root.as_os_str().as_bytes().to_vec();
        if !root.ends_with(b"/") {
            root.push(b'/');
        }
        Self {
            ignore,
            gitignore,
            above,
            root,
        }
    }

    /// Whether any rule file is read at all.
    pub(crate) fn enabled(&self) -> bool {
        self.ignore || self.gitignore
    }

    /// The chain of the folder at `rel` (its path from the root, "" for the root, whose
    /// absolute path is `abs`) whose listing holds the names `has`: `.ignore`, `.gitignore`
    /// and `.git`. The parent's chain when it adds no rule.
    pub(crate) fn enter(
        &self,
        parent: Option<&Arc<Chain>>,
        abs: &Path,
        rel: &[u8],
        has: [bool; 3],
    ) -> Option<Arc<Chain>> {
        let [ignore, gitignore, git] = has;
        let level = if ignore || gitignore || git && self.gitignore {
            Level::read(
                abs,
                self.ignore && ignore,
                self.gitignore && gitignore,
                self.gitignore && git,
            )
        } else {
            None
        };
        match level {
            Some(level) => Some(Arc::new(Chain {
                level,
                prefix: if rel.is_empty() { 0 } else { rel.len() + 1 },
                parent: parent.cloned(),
            })),
            None => parent.cloned(),
        }
    }

    /// Whether the entry at `rel` (from the root) is ignored in a folder with `chain`;
    /// `scratch` is a buffer for the absolute path the rules above the root need.
    pub(crate) fn ignores(
        &self,
        chain: Option<&Arc<Chain>>,
        rel: &[u8],
        is_dir: bool,
        scratch: &mut Vec<u8>,
    ) -> bool {
        if chain.is_none() && self.above.is_empty() {
            return false;
        }
        let mut found: [Option<bool>; 3] = [None; 3];
        let mut note = |level: &Level, path: &[u8]| {
            let path = Path::new(std::ffi::OsStr::from_bytes(path));
            for (slot, rules) in found.iter_mut().zip(&level.kinds) {
                if slot.is_none() {
                    *slot = rules.matched(path, is_dir);
                }
            }
        };
        let mut link = chain;
        while let Some(c) = link {
            note(&c.level, &rel[c.prefix..]);
            link = c.parent.as_ref();
        }
        if !self.above.is_empty() {
            scratch.clear();
            scratch.extend_from_slice(&self.root);
            scratch.extend_from_slice(rel);
            for (start, level) in &self.above {
                note(level, &scratch[*start..]);
            }
        }
        found.into_iter().flatten().next().unwrap_or(false)
    }
}
