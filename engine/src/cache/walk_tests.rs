//! The walk keeps exactly what the `ignore` crate's walker, configured as tanto configured
//! it before this walk replaced it, keeps.

use std::collections::BTreeSet;

use ignore::WalkBuilder;

use super::*;
use crate::artifact::DirSelect;

/// Records the path of every leaf.
struct Paths(Mutex<BTreeSet<PathBuf>>);

impl Leaves for Paths {
    type Local = ();

    fn leaf(
        &self,
        _local: &mut (),
        _dir: &Dir,
        _name: &CStr,
        entry: Leaf,
        path: &dyn Fn() -> PathBuf,
    ) -> Result<Option<TreeEntry>> {
        self.0.lock().unwrap().insert(path());
        Ok(Some(TreeEntry::symlink(entry.name, Vec::new())))
    }
}

/// (folders, leaves) the walk keeps, by path.
fn ours(root: &Path, select: &DirSelect) -> (BTreeSet<PathBuf>, BTreeSet<PathBuf>) {
    let paths = Paths(Mutex::new(BTreeSet::new()));
    let selection = Selection::new(select).unwrap();
    let folders = walk(root, &selection, select.gitignore, &paths).unwrap();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for (id, f) in folders.iter().enumerate() {
        let path = if id == 0 {
            root.to_owned()
        } else {
            dirs[f.parent].join(&f.name)
        };
        dirs.push(path);
    }
    (dirs.into_iter().collect(), paths.0.into_inner().unwrap())
}

/// The same, by the `ignore` crate's walker with the settings tanto used with it.
fn reference(root: &Path, select: &DirSelect) -> (BTreeSet<PathBuf>, BTreeSet<PathBuf>) {
    let selection = Selection::new(select).unwrap();
    let mut walk = WalkBuilder::new(root);
    walk.standard_filters(false)
        .hidden(false)
        .follow_links(false);
    if select.gitignore {
        walk.ignore(true)
            .git_ignore(true)
            .git_exclude(true)
            .parents(true)
            .require_git(false);
    }
    let skip_git = select.gitignore;
    let filter_root = root.to_owned();
    walk.filter_entry(move |e| {
        if e.depth() == 0 {
            return true;
        }
        if skip_git && e.file_name() == ".git" {
            return false;
        }
        let rel = e.path().strip_prefix(&filter_root).unwrap();
        let is_dir = e.file_type().is_some_and(|t| t.is_dir());
        selection.is_empty() || !selection.prunes(rel, is_dir)
    });
    let include = Selection::new(select).unwrap().include;
    let (mut dirs, mut leaves) = (BTreeSet::new(), BTreeSet::new());
    for entry in walk.build() {
        let entry = entry.unwrap();
        if entry.file_type().is_some_and(|t| t.is_dir()) {
            dirs.insert(entry.path().to_owned());
            continue;
        }
        let rel = entry.path().strip_prefix(root).unwrap();
        if include.as_ref().is_none_or(|i| i.is_match(rel)) {
            leaves.insert(entry.path().to_owned());
        }
    }
    (dirs, leaves)
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_walk_keeps_what_the_ignore_walker_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let above = tmp.path();
    write(above, ".gitignore", "*.log\nsecret/\nroot/pinned.txt\n");
    write(above, ".ignore", "*.bak\n");
    let root = &above.join("root");
    write(
        root,
        ".gitignore",
        "build/\n*.tmp\n!keep.tmp\n/top-only.txt\nempty-dir-only/\n",
    );
    write(root, ".ignore", "by-ignore\n!*.bak\n");
    write(root, ".git/info/exclude", "by-exclude.txt\n");
    write(root, ".git/HEAD", "ref: refs/heads/main\n");
    for rel in [
        "a.txt",
        "a.log",
        "a.bak",
        "keep.tmp",
        "x.tmp",
        "top-only.txt",
        "pinned.txt",
        "by-exclude.txt",
        "by-ignore",
        ".hidden",
        "build/out.o",
        "src/top-only.txt",
        "src/main.rs",
        "src/lib.rs",
        "src/x.tmp",
        "src/gen/g.txt",
        "src/secret/s.txt",
        "src/a.log",
        "docs/a.log",
        "docs/b.log",
        "target/debug/app",
        "target/debug/deps/x.rlib",
        "deep/1/2/3/4/5/f.txt",
        "nested/by-exclude.txt",
        "empty-dir-only",
    ] {
        write(root, rel, rel);
    }
    write(root, "src/.gitignore", "!x.tmp\ngen/\n*.rs\n!main.rs\n");
    write(root, "docs/.ignore", "!a.log\n");
    write(root, "nested/.gitignore", "!/by-exclude.txt\n");
    std::fs::create_dir_all(root.join("empty/inner")).unwrap();
    std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
    std::os::unix::fs::symlink("src", root.join("src-link")).unwrap();

    let root = &std::fs::canonicalize(root).unwrap();
    let selects = [
        DirSelect::DEFAULT,
        DirSelect::ALL,
        DirSelect {
            exclude: &["target"],
            ..DirSelect::DEFAULT
        },
        DirSelect {
            exclude: &["**/*.tmp", "deep/1"],
            ..DirSelect::ALL
        },
        DirSelect {
            include: &["src/**", "*.txt"],
            ..DirSelect::DEFAULT
        },
        DirSelect {
            include: &["deep/*/2/**", "link"],
            exclude: &["target/**"],
            ..DirSelect::DEFAULT
        },
    ];
    for select in selects {
        let (dirs, leaves) = ours(root, &select);
        let (want_dirs, want_leaves) = reference(root, &select);
        assert_eq!(leaves, want_leaves, "{select:?}");
        assert_eq!(dirs, want_dirs, "{select:?}");
    }
    // The fixture exercises what it means to.
    let (_, leaves) = ours(root, &DirSelect::DEFAULT);
    for kept in [
        "keep.tmp",
        "src/x.tmp",
        "docs/a.log",
        "src/main.rs",
        "a.bak",
    ] {
        assert!(leaves.contains(&root.join(kept)), "{kept} kept");
    }
    for gone in [
        "x.tmp",
        "a.log",
        "docs/b.log",
        "by-exclude.txt",
        "src/lib.rs",
    ] {
        assert!(!leaves.contains(&root.join(gone)), "{gone} ignored");
    }
}

#[test]
fn a_tree_as_deep_as_the_limit_is_walked_and_a_deeper_one_refused() {
    use crate::cache::tree::MAX_DEPTH;
    let tmp = tempfile::tempdir().unwrap();
    let mut rel = PathBuf::new();
    for _ in 0..MAX_DEPTH {
        rel.push("d");
    }
    std::fs::create_dir_all(tmp.path().join(&rel)).unwrap();
    std::fs::write(tmp.path().join(&rel).join("f"), "x").unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let (dirs, leaves) = ours(&root, &DirSelect::ALL);
    assert_eq!(dirs.len(), MAX_DEPTH + 1);
    assert_eq!(leaves.len(), 1);

    // One more level, as a container or a user's folder may hold (1000 levels overflowed the
    // stack of a later walk over the tree).
    std::fs::create_dir(tmp.path().join(&rel).join("deeper")).unwrap();
    let selection = Selection::new(&DirSelect::ALL).unwrap();
    let paths = Paths(Mutex::new(BTreeSet::new()));
    let Err(err) = walk(&root, &selection, false, &paths) else {
        panic!("a folder deeper than the limit was walked");
    };
    assert_eq!(
        err.to_string(),
        format!(
            "folder d/d/d/d/…/deeper in {} is more than 256 levels down, and tanto keeps \
             folders at most 256 levels deep: flatten it, or leave it out",
            root.display()
        )
    );
}

#[test]
fn a_name_that_is_not_utf8_is_refused_by_path_unless_excluded() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    let bad = root
        .join("sub")
        .join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    std::fs::write(&bad, "x").unwrap();

    let selection = Selection::new(&DirSelect::ALL).unwrap();
    let paths = Paths(Mutex::new(BTreeSet::new()));
    let Err(err) = walk(&root, &selection, false, &paths) else {
        panic!("a name that is not UTF-8 was walked");
    };
    let err = err.to_string();
    assert!(
        err.contains(&format!("path {} is not UTF-8", bad.display())),
        "{err}"
    );
    assert!(
        err.contains("tanto keys files by their UTF-8 names: rename it, or leave it out"),
        "{err}"
    );

    let (_, leaves) = ours(
        &root,
        &DirSelect {
            exclude: &["sub"],
            ..DirSelect::ALL
        },
    );
    assert!(leaves.is_empty(), "{leaves:?}");
}
