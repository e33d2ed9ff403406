//! The store: ingest and checkouts, the action cache, damage detection, concurrency, pruning.

mod cache_support;
mod rerun;
mod store_support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use store_support::{ingest, key, record, store, write};
use tanto::__internal::Artifact;
use tanto::__internal::cache::{ActionResult, Store, hash_dir};
use tanto::Digest;

fn blob_files(store: &Store) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for shard in std::fs::read_dir(store.root().join("blobs"))
        .expect("blobs")
        .flatten()
    {
        for f in std::fs::read_dir(shard.path()).expect("shard").flatten() {
            out.push(f.path());
        }
    }
    out
}

/// Where the store keeps the object named `hex` of the kind `folder` (`ac`, `trees`).
fn object(store: &Store, folder: &str, hex: &str) -> PathBuf {
    store.root().join(folder).join(&hex[..2]).join(hex)
}

#[test]
fn ingest_makes_a_read_only_checkout_with_the_same_digest() {
    let (_tmp, store) = store();
    let staging = store.temp_dir().expect("temp dir");
    let top = staging.path().join("out");
    write(&top, "bin/tool", b"#!/bin/sh\necho hi\n");
    std::fs::set_permissions(top.join("bin/tool"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    write(&top, "lib/a.txt", b"same");
    write(&top, "lib/b.txt", b"same");
    std::fs::create_dir_all(top.join("empty")).expect("mkdir");
    std::os::unix::fs::symlink("lib/a.txt", top.join("link")).expect("symlink");
    let expected = tanto::__internal::cache::hash_dir_with(
        &top,
        &tanto::DirSelect::ALL,
        &tanto::__internal::cache::StatCache::in_memory(),
    )
    .expect("hashes")
    .digest;

    let dir = store.ingest_dir(&top).expect("ingests");
    assert_eq!(dir.digest(), expected);
    assert!(!top.exists(), "the staged folder was moved in");
    assert!(dir.path().starts_with(store.root()));
    assert_eq!(
        std::fs::read(dir.path().join("bin/tool")).expect("read"),
        b"#!/bin/sh\necho hi\n"
    );
    let mode = |p: &str| {
        std::fs::symlink_metadata(dir.path().join(p))
            .expect("stat")
            .permissions()
            .mode()
    };
    assert_eq!(mode("bin/tool") & 0o777, 0o555);
    assert_eq!(mode("lib/a.txt") & 0o777, 0o444);
    assert_eq!(mode("lib") & 0o222, 0, "folders are read-only too");
    assert_eq!(
        std::fs::read_link(dir.path().join("link")).expect("link"),
        Path::new("lib/a.txt")
    );
    assert!(dir.path().join("empty").is_dir());
    assert_eq!(
        tanto::__internal::cache::hash_dir_with(
            dir.path(),
            &tanto::DirSelect::ALL,
            &tanto::__internal::cache::StatCache::in_memory()
        )
        .expect("hashes")
        .digest,
        expected
    );
    assert_eq!(blob_files(&store).len(), 2, "equal files share one blob");

    // Asking again reuses the checkout; a missing checkout is rebuilt from blobs.
    assert_eq!(store.dir(dir.digest()).expect("dir"), dir);
    let file = store.file(Digest::of(b"same")).expect("file");
    assert_eq!(file.read().expect("read"), b"same");
    assert!(store.verify().expect("verifies").is_clean());
}

#[test]
fn results_round_trip_and_missing_outputs_are_misses() {
    let (_tmp, store) = store();
    let out = ingest(&store, &[("a.txt", b"a"), ("sub/b.txt", b"b")]);
    let staged = store.temp_dir().expect("temp").keep().join("f");
    std::fs::write(&staged, b"file output").expect("write");
    let file = store.ingest_file(&staged, true).expect("ingests");
    assert!(file.is_executable());
    let outputs = [
        Artifact::Dir(out.clone()),
        Artifact::File(file.clone()),
        Artifact::Value(serde_json::json!({"ok": true})),
    ];
    let k = key("ci::build", b"1");
    assert!(store.lookup(&k.digest()).expect("lookup").is_none());
    record(&store, &k, &outputs);

    let hit = store.lookup(&k.digest()).expect("lookup").expect("a hit");
    assert_eq!(hit.key, k);
    assert_eq!(store.outputs(&hit).expect("outputs"), outputs);
    assert!(
        store
            .lookup(&key("ci::build", b"2").digest())
            .expect("lookup")
            .is_none()
    );

    // A record may not be filed under another key.
    let wrong = ActionResult::new(k.clone(), &outputs, Duration::ZERO);
    assert!(store.record(&Digest::of(b"other"), &wrong).is_err());

    // The folder's checkout and one of its blobs vanish: the result is a miss.
    let blob = blob_files(&store)
        .into_iter()
        .find(|p| std::fs::read(p).is_ok_and(|b| b == b"b"))
        .expect("blob of b.txt");
    std::fs::remove_file(blob).expect("rm");
    make_writable(out.path());
    std::fs::remove_dir_all(out.path()).expect("rm checkout");
    assert!(store.lookup(&k.digest()).expect("lookup").is_none());
}

#[test]
fn last_keys_round_trip() {
    let (_tmp, store) = store();
    assert!(store.last_key("ci/build").expect("reads").is_none());
    let k = key("ci::build", b"1");
    store.set_last_key("ci/build", &k).expect("writes");
    assert_eq!(store.last_key("ci/build").expect("reads"), Some(k));
}

fn make_writable(path: &Path) {
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                make_writable(&e.path());
            }
        }
    }
}

#[test]
fn a_corrupted_blob_is_detected_and_discarded() {
    let (_tmp, store) = store();
    let out = ingest(&store, &[("a.txt", b"aaaa"), ("b.txt", b"bbbb")]);
    let k = key("ci::build", b"1");
    record(&store, &k, &[Artifact::Dir(out.clone())]);
    let blob = blob_files(&store)
        .into_iter()
        .find(|p| std::fs::read(p).is_ok_and(|b| b == b"aaaa"))
        .expect("blob");
    std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::write(&blob, b"AAAA").expect("corrupt it, same size");

    let report = store.verify().expect("verifies");
    assert_eq!(
        report.problems.len(),
        3,
        "the blob, the checkout sharing its inode, and the record that names the folder: {:?}",
        report.problems
    );
    assert!(report.problems[0].contains("blob"), "{:?}", report.problems);
    assert_eq!(
        report.problems[2],
        format!(
            "action record {} names an output that is no longer in the store",
            k.digest().to_hex()
        )
    );
    assert!(!blob.exists());
    assert!(store.lookup(&k.digest()).expect("lookup").is_none());
    assert!(store.verify().expect("verifies").is_clean());

    // Running the step again heals the store.
    let again = ingest(&store, &[("a.txt", b"aaaa"), ("b.txt", b"bbbb")]);
    assert_eq!(again.digest(), out.digest());
    record(&store, &k, &[Artifact::Dir(again)]);
    assert!(store.lookup(&k.digest()).expect("lookup").is_some());
}

#[test]
fn a_truncated_record_or_tree_is_a_miss() {
    let (_tmp, store) = store();
    let out = ingest(&store, &[("a.txt", b"a")]);
    let k = key("ci::build", b"1");
    record(&store, &k, &[Artifact::Value(serde_json::json!(1))]);
    let hex = k.digest().to_hex();
    let path = object(&store, "ac", &hex);
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&path, &bytes[..bytes.len() - 7]).expect("truncate");
    assert!(store.lookup(&k.digest()).expect("lookup").is_none());
    assert!(!path.exists(), "the damaged record was discarded");

    let tree_hex = out.digest().to_hex();
    let tree = object(&store, "trees", &tree_hex);
    std::fs::write(&tree, b"tanto-tree-1\n").expect("damage");
    assert!(store.tree(&out.digest()).expect("reads").is_none());
    assert!(!tree.exists());
}

#[test]
fn a_record_or_tree_that_is_a_folder_or_huge_is_a_miss_and_discarded() {
    let (_tmp, store) = store();
    let k = key("ci::build", b"1");
    let hex = k.digest().to_hex();
    let path = object(&store, "ac", &hex);
    record(&store, &k, &[Artifact::Value(serde_json::json!(1))]);
    std::fs::remove_file(&path).expect("removes");
    std::fs::create_dir_all(path.join("inside")).expect("a folder in its place");
    // Once a miss, the step runs and records anew: the store mends itself.
    assert!(
        store
            .lookup(&k.digest())
            .expect("a miss, not an error")
            .is_none()
    );
    assert!(!path.exists(), "the folder was discarded");
    record(&store, &k, &[Artifact::Value(serde_json::json!(1))]);
    assert!(store.lookup(&k.digest()).expect("lookup").is_some());
    // A sparse 50 GiB record is not read into memory.
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(50 << 30).expect("grows");
    assert!(store.lookup(&k.digest()).expect("a miss").is_none());
    assert!(!path.exists());

    let out = ingest(&store, &[("a.txt", b"a")]);
    let tree_hex = out.digest().to_hex();
    let tree = object(&store, "trees", &tree_hex);
    std::fs::remove_file(&tree).expect("removes");
    std::fs::create_dir(&tree).expect("a folder in its place");
    assert!(store.tree(&out.digest()).expect("a miss").is_none());
    assert!(!tree.exists());
}

#[test]
fn concurrent_writers_leave_a_clean_store() {
    let (_tmp, store) = store();
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let store = &store;
            s.spawn(move || {
                for i in 0..10u8 {
                    let shared = format!("shared {i}");
                    let own = format!("thread {t} item {i}");
                    let out = ingest(
                        store,
                        &[
                            ("shared.txt", shared.as_bytes()),
                            ("own.txt", own.as_bytes()),
                        ],
                    );
                    let same = ingest(store, &[("x/only-shared.txt", shared.as_bytes())]);
                    let k = key("ci::step", own.as_bytes());
                    record(
                        store,
                        &k,
                        &[Artifact::Dir(out), Artifact::Dir(same.clone())],
                    );
                    let common = key("ci::common", shared.as_bytes());
                    record(store, &common, &[Artifact::Dir(same)]);
                    assert!(store.lookup(&k.digest()).expect("lookup").is_some());
                }
            });
        }
    });
    let report = store.verify().expect("verifies");
    assert!(report.is_clean(), "{:?}", report.problems);
    let stats = store.stats().expect("stats");
    assert_eq!(stats.entries, 40 + 10);
    assert_eq!(stats.blobs, 40 + 10);
    for t in 0..4u8 {
        for i in 0..10u8 {
            let k = key("ci::step", format!("thread {t} item {i}").as_bytes());
            assert!(store.lookup(&k.digest()).expect("lookup").is_some());
        }
    }
}

#[test]
fn host_inputs_keep_their_trees_for_explanations() {
    let (_tmp, store) = store();
    let src = tempfile::tempdir().expect("tempdir");
    write(src.path(), "src/main.rs", b"fn main() {}");
    let hashed = store
        .hash_input_dir(src.path(), &tanto::DirSelect::DEFAULT)
        .expect("hashes");
    assert_eq!(hashed.digest, hash_dir(src.path()).expect("hashes"));
    assert!(store.tree(&hashed.digest).expect("reads").is_some());
    assert_eq!(
        store.stats().expect("stats").blobs,
        0,
        "trees only, no file contents"
    );
}

/// `open_default` reads `TANTO_CACHE_DIR`; the variable is set for a child copy of this test
/// binary, since changing the environment of a running multi-threaded test is unsound.
#[test]
fn open_default_honours_tanto_cache_dir() {
    const WANT: &str = "TANTO_TEST_WANT_ROOT";
    if rerun::is_child() {
        let want = std::env::var_os(WANT).expect("the parent names the root");
        let store = Store::open_default().expect("opens");
        assert_eq!(store.root(), Path::new(&want));
        assert!(Path::new(&want).join("blobs").is_dir());
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("c");
    let root = root.to_str().expect("a UTF-8 temporary path");
    rerun::in_child(
        "open_default_honours_tanto_cache_dir",
        &[("TANTO_CACHE_DIR", root), (WANT, root)],
    );
    assert!(dir.path().join("c/blobs").is_dir(), "the child opened it");
}

/// Without `TANTO_CACHE_DIR`, the store is `tanto` in the user's cache folder:
/// `$XDG_CACHE_HOME` when it is an absolute path, else `$HOME/.cache`. Each case runs in a
/// child copy of this test binary, with its own environment.
#[cfg(not(target_os = "macos"))]
#[test]
fn default_root_is_in_the_user_cache_folder() {
    const WANT: &str = "TANTO_TEST_WANT_ROOT";
    let name = "default_root_is_in_the_user_cache_folder";
    if rerun::is_child() {
        let want = std::env::var_os(WANT).expect("the parent names the root");
        assert_eq!(Store::default_root().expect("a root"), PathBuf::from(want));
        return;
    }
    for (xdg, want) in [
        (Some("/xdg/cache"), "/xdg/cache/tanto"),
        (Some("xdg/cache"), "/home/someone/.cache/tanto"),
        (None, "/home/someone/.cache/tanto"),
    ] {
        let mut child = rerun::command(name, &[("HOME", "/home/someone"), (WANT, want)]);
        child.env_remove("TANTO_CACHE_DIR");
        match xdg {
            Some(dir) => child.env("XDG_CACHE_HOME", dir),
            None => child.env_remove("XDG_CACHE_HOME"),
        };
        let out = child.output().expect("run the child");
        rerun::assert_ran_alone(name, &out);
    }
}

#[test]
fn as_an_unprivileged_user() {
    cache_support::rerun_as_unprivileged_user("as_an_unprivileged_user");
}

#[test]
fn a_single_command_hint_holds_for_the_code_that_left_it_only() {
    let (_dir, store) = store();
    assert_eq!(store.single_command("build", "c0de").expect("read"), None);
    store
        .set_single_command("build", "c0de", true)
        .expect("remember");
    assert_eq!(
        store.single_command("build", "c0de").expect("read"),
        Some(true)
    );
    assert_eq!(
        store.single_command("build", "ed17").expect("read"),
        None,
        "an edit of the step's code forgets the hint"
    );
    assert_eq!(store.single_command("test", "c0de").expect("read"), None);
    store
        .set_single_command("build", "c0de", false)
        .expect("remember");
    assert_eq!(
        store.single_command("build", "c0de").expect("read"),
        Some(false),
        "a step that ran several commands is known to"
    );
    store
        .set_single_command("build", "ed17", true)
        .expect("remember");
    assert_eq!(store.single_command("build", "c0de").expect("read"), None);
    assert_eq!(
        store.single_command("build", "ed17").expect("read"),
        Some(true)
    );
}

#[test]
fn looking_only_hashes_a_folder_without_writing_its_trees_or_stat_cache() {
    let (tmp, _) = store();
    let src = tmp.path().join("src");
    write(&src, "a/b.txt", b"b");
    write(&src, "c.txt", b"c");
    let store = Store::open(tmp.path().join("looked"))
        .expect("store")
        .looking_only(true);
    let hashed = store
        .hash_input_dir(&src, &tanto::DirSelect::ALL)
        .expect("hash");
    let trees = std::fs::read_dir(store.root().join("trees")).expect("trees");
    assert_eq!(trees.count(), 0, "no tree written");
    assert!(
        !store.root().join("statcache").exists(),
        "no stat cache saved"
    );
    let top = store
        .tree(&hashed.digest)
        .expect("read")
        .expect("kept in memory");
    assert_eq!(top.entries().len(), 2, "{top:?}");
}
