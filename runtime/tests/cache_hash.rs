//! Folder hashing: what changes a digest, what does not, ignore rules, globs, the stat cache.

mod cache_support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

use tanto::__internal::cache::{HashedDir, StatCache, Trees, diff_trees, hash_dir, hash_dir_with};
use tanto::Digest;
use tanto::DirSelect;

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "Cargo.toml", "[package]\nname = \"p\"\n");
    write(dir.path(), "src/main.rs", "fn main() {}\n");
    write(dir.path(), "src/lib/mod.rs", "pub fn f() {}\n");
    write(dir.path(), "README.md", "# p\n");
    dir
}

fn hash(root: &Path, filter: &DirSelect) -> HashedDir {
    hash_dir_with(root, filter, &StatCache::in_memory()).expect("hashes")
}

fn digest(root: &Path) -> Digest {
    hash_dir(root).expect("hashes")
}

#[test]
fn modification_times_do_not_count() {
    let dir = project();
    let before = digest(dir.path());
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for rel in ["Cargo.toml", "src/main.rs", "src/lib/mod.rs", "README.md"] {
        let f = std::fs::File::options()
            .write(true)
            .open(dir.path().join(rel))
            .expect("open");
        f.set_modified(old).expect("set mtime");
    }
    assert_eq!(digest(dir.path()), before);
}

#[test]
fn a_copy_elsewhere_has_the_same_digest() {
    let a = project();
    let b = tempfile::tempdir().expect("tempdir");
    let copy = b.path().join("deep/er/copy");
    tanto::__internal::cache::copy_tree(a.path(), &copy).expect("copies");
    assert_eq!(digest(a.path()), digest(&copy));
}

#[test]
fn one_changed_file_changes_the_digest_and_the_diff_names_it() {
    let dir = project();
    let before = hash(dir.path(), &DirSelect::DEFAULT);
    write(
        dir.path(),
        "src/main.rs",
        "fn main() { println!(\"hi\"); }\n",
    );
    let after = hash(dir.path(), &DirSelect::DEFAULT);
    assert_ne!(before.digest, after.digest);

    let mut trees: Trees = before.trees.clone();
    trees.extend(after.trees.clone());
    let diff = diff_trees(before.digest, after.digest, &trees);
    assert_eq!(diff.modified, ["src/main.rs"]);
    assert!(diff.added.is_empty() && diff.removed.is_empty());

    write(dir.path(), "src/new.rs", "");
    std::fs::remove_file(dir.path().join("README.md")).expect("rm");
    let third = hash(dir.path(), &DirSelect::DEFAULT);
    trees.extend(third.trees.clone());
    let diff = diff_trees(after.digest, third.digest, &trees);
    assert_eq!(diff.added, ["src/new.rs"]);
    assert_eq!(diff.removed, ["README.md"]);
}

#[test]
fn the_executable_bit_and_symlinks_count() {
    let dir = project();
    let plain = digest(dir.path());
    let script = dir.path().join("src/main.rs");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let exec = digest(dir.path());
    assert_ne!(plain, exec, "the executable bit must count");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    assert_eq!(
        digest(dir.path()),
        exec,
        "only executable or not counts, not the mode"
    );

    std::os::unix::fs::symlink("README.md", dir.path().join("link")).expect("symlink");
    let linked = digest(dir.path());
    assert_ne!(linked, exec);
    std::fs::remove_file(dir.path().join("link")).expect("rm");
    std::os::unix::fs::symlink("Cargo.toml", dir.path().join("link")).expect("symlink");
    assert_ne!(digest(dir.path()), linked, "the link target counts");
    std::fs::remove_file(dir.path().join("link")).expect("rm");
    write(dir.path(), "link", "README.md");
    assert_ne!(digest(dir.path()), linked, "a file is not a symlink");
}

#[test]
fn ignore_files_are_honoured_and_hidden_files_kept() {
    let dir = project();
    write(dir.path(), ".gitignore", "target/\n*.log\n");
    write(dir.path(), ".ignore", "secret.txt\n");
    write(dir.path(), ".env", "A=1\n");
    let base = hash(dir.path(), &DirSelect::DEFAULT);
    assert!(base.root().expect("root").get(".env").is_some());

    write(dir.path(), "target/debug/p", "binary");
    write(dir.path(), "build.log", "log");
    write(dir.path(), "src/secret.txt", "s");
    write(dir.path(), ".git/HEAD", "ref: refs/heads/main\n");
    assert_eq!(hash(dir.path(), &DirSelect::DEFAULT).digest, base.digest);

    write(dir.path(), ".env", "A=2\n");
    assert_ne!(hash(dir.path(), &DirSelect::DEFAULT).digest, base.digest);

    let all = hash(dir.path(), &DirSelect::ALL);
    let root = all.root().expect("root");
    assert!(root.get("target").is_some() && root.get(".git").is_some());
}

#[test]
fn include_and_exclude_globs() {
    let dir = project();
    write(dir.path(), "src/gen/big.rs", "// generated\n");
    write(dir.path(), "docs/guide.md", "guide");
    let only_rust = DirSelect {
        include: &["**/*.rs"],
        exclude: &["src/gen"],
        gitignore: true,
    };
    let hashed = hash(dir.path(), &only_rust);
    let root = hashed.root().expect("root");
    let names: Vec<_> = root.entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["src"],
        "files outside the globs and empty folders are dropped"
    );
    assert_eq!(hashed.stats.files, 2);

    let before = hashed.digest;
    write(dir.path(), "docs/other.md", "x");
    write(dir.path(), "src/gen/more.rs", "x");
    assert_eq!(hash(dir.path(), &only_rust).digest, before);
    write(dir.path(), "src/lib/extra.rs", "x");
    assert_ne!(hash(dir.path(), &only_rust).digest, before);

    let no_lib = DirSelect {
        exclude: &["src/lib/**"],
        ..DirSelect::DEFAULT
    };
    let hashed = hash(dir.path(), &no_lib);
    let src = hashed.root().and_then(|r| r.get("src")).expect("src");
    let src = hashed.trees.get(&src.digest).expect("src tree");
    assert!(src.get("lib").is_none(), "`dir/**` skips the folder itself");

    let bad = DirSelect {
        include: &["src/["],
        ..DirSelect::DEFAULT
    };
    let err = hash_dir_with(dir.path(), &bad, &StatCache::in_memory()).expect_err("bad glob");
    assert!(err.to_string().contains("invalid glob `src/[`"), "{err}");
}

#[test]
fn a_warm_rehash_reads_no_file_contents() {
    let dir = project();
    for i in 0..200 {
        write(
            dir.path(),
            &format!("many/{}/f{i}.txt", i % 7),
            &format!("file {i}"),
        );
    }
    // Files written less than the racy window ago are not remembered.
    std::thread::sleep(StatCache::DEFAULT_RACY_WINDOW + Duration::from_millis(100));
    let store = tempfile::tempdir().expect("tempdir");
    let file = store.path().join("statcache");

    let cache = StatCache::load(&file);
    let cold = hash_dir_with(dir.path(), &DirSelect::DEFAULT, &cache).expect("hashes");
    assert_eq!(cold.stats.files_read, 204);
    cache.save().expect("saves");

    let cache = StatCache::load(&file);
    assert_eq!(cache.len(), 204);
    let warm = hash_dir_with(dir.path(), &DirSelect::DEFAULT, &cache).expect("hashes");
    assert_eq!(warm.digest, cold.digest);
    assert_eq!(warm.stats.files_read, 0, "a warm re-hash only stats files");
    assert_eq!(warm.stats.files, 204);

    // Same size, new content: the mtime and ctime change, so the file is read again.
    write(dir.path(), "many/0/f0.txt", "file X");
    let changed = hash_dir_with(dir.path(), &DirSelect::DEFAULT, &cache).expect("hashes");
    assert_eq!(changed.stats.files_read, 1);
    assert_ne!(changed.digest, cold.digest);
}

#[test]
fn files_changed_just_before_hashing_are_not_remembered() {
    let dir = project();
    // An hour's window: the files were written well within it, however slow the machine
    // (the default second is not a bound a loaded machine keeps between write and hash).
    let cache = StatCache::in_memory().with_racy_window(Duration::from_secs(3600));
    hash_dir_with(dir.path(), &DirSelect::DEFAULT, &cache).expect("hashes");
    assert!(cache.is_empty(), "{} files remembered", cache.len());
    let again = hash_dir_with(dir.path(), &DirSelect::DEFAULT, &cache).expect("hashes");
    assert_eq!(
        again.stats.files_read, 4,
        "racily clean files are always re-read"
    );

    // The window alone decides: without one, the same files are remembered at once.
    let cache = StatCache::in_memory().with_racy_window(Duration::ZERO);
    hash_dir_with(dir.path(), &DirSelect::DEFAULT, &cache).expect("hashes");
    assert_eq!(cache.len(), 4);
    let again = hash_dir_with(dir.path(), &DirSelect::DEFAULT, &cache).expect("hashes");
    assert_eq!(again.stats.files_read, 0);
}

#[test]
fn hashing_a_file_or_a_missing_folder_is_an_error() {
    let dir = project();
    let err = hash_dir(&dir.path().join("README.md")).expect_err("not a folder");
    assert!(err.to_string().contains("is not a folder"), "{err}");
    assert!(hash_dir(&dir.path().join("nope")).is_err());
}

/// A folder the globs leave out is pruned: never listed, entered or stat'ed. Under `target/`
/// lie a name that is not UTF-8 (an error wherever the walk lists it), a FIFO and a folder
/// nobody may read (an error for the unprivileged re-run, wherever the walk enters it).
#[test]
fn excluded_folders_are_never_entered() {
    use std::os::unix::ffi::OsStrExt as _;
    let dir = project();
    let clean = dir.path().to_owned();
    let with_target = tempfile::tempdir().expect("tempdir");
    let root = with_target.path();
    for rel in ["Cargo.toml", "src/main.rs", "src/lib/mod.rs", "README.md"] {
        let text = std::fs::read_to_string(clean.join(rel)).expect("read");
        write(root, rel, &text);
    }
    write(root, "target/debug/app", "binary");
    let odd = std::ffi::OsStr::from_bytes(b"bad-\xff-name");
    std::fs::write(root.join("target/debug").join(odd), "x").expect("odd name");
    let fifo = root.join("target/debug/pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", fifo.display());
    let locked = root.join("target/locked");
    write(root, "target/locked/inner.rs", "fn f() {}\n");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");

    // The sensors work: a walk that enters `target/` fails.
    let err = hash_dir_with(root, &DirSelect::DEFAULT, &StatCache::in_memory());
    assert!(err.is_err(), "a walk into target/ must meet the odd name");

    let excluded = DirSelect {
        exclude: &["target"],
        ..DirSelect::DEFAULT
    };
    let below = DirSelect {
        exclude: &["target/**"],
        ..DirSelect::DEFAULT
    };
    let included = DirSelect {
        include: &["src/**", "*.toml", "*.md"],
        ..DirSelect::DEFAULT
    };
    for select in [excluded, below, included] {
        let hashed = hash_dir_with(root, &select, &StatCache::in_memory())
            .unwrap_or_else(|e| panic!("{select:?} must not enter target/: {e}"));
        assert_eq!(hashed.digest, hash(&clean, &select).digest, "{select:?}");
        assert_eq!(hashed.stats.files, 4, "{select:?}");
    }
    if std::fs::read_dir(&locked).is_err() {
        let only_locked = DirSelect {
            exclude: &["target/debug"],
            ..DirSelect::DEFAULT
        };
        let err = hash_dir_with(root, &only_locked, &StatCache::in_memory());
        assert!(
            err.is_err(),
            "a walk into target/locked must fail unprivileged"
        );
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn as_an_unprivileged_user() {
    cache_support::rerun_as_unprivileged_user("as_an_unprivileged_user");
}
