//! What is already in the store is checked before it is reused: a blob or checkout found by
//! its name but damaged (edited, truncated, re-moded, swapped for a link) is replaced.

mod cache_support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use tanto::__internal::cache::{StatCache, Store, hash_dir_with};
use tanto::{Digest, Dir, DirSelect};

fn write(root: &Path, rel: &str, content: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("store")).expect("opens");
    (dir, store)
}

/// The output every test ingests: two plain files and an executable.
fn ingest(store: &Store) -> Dir {
    let staging = store.temp_dir().expect("temp dir");
    let top = staging.path().join("out");
    write(&top, "a.txt", b"aaaa");
    write(&top, "b.txt", b"bbbb");
    write(&top, "bin/tool", b"#!/bin/sh\n");
    chmod(&top.join("bin/tool"), 0o755);
    store.ingest_dir(&top).expect("ingests")
}

fn blob(store: &Store, content: &[u8], executable: bool) -> PathBuf {
    let hex = Digest::of(content).to_hex();
    let name = if executable {
        format!("{hex}.x")
    } else {
        hex.clone()
    };
    store.root().join("blobs").join(&hex[..2]).join(name)
}

fn digest_of(path: &Path) -> Digest {
    hash_dir_with(path, &DirSelect::ALL, &StatCache::in_memory())
        .expect("hashes")
        .digest
}

/// Makes a checkout's folders writable so a test can damage it.
fn unlock(path: &Path) {
    chmod(path, 0o755);
    for e in std::fs::read_dir(path).expect("read").flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            unlock(&e.path());
        }
    }
}

#[test]
fn as_an_unprivileged_user() {
    cache_support::rerun_as_unprivileged_user("as_an_unprivileged_user");
}

#[test]
fn damaged_blobs_are_replaced_on_ingest_not_reused() {
    let (_tmp, store) = store();
    let first = ingest(&store);
    // Same size, other bytes; truncated; the executable bit lost.
    let a = blob(&store, b"aaaa", false);
    chmod(&a, 0o644);
    std::fs::write(&a, b"AAAA").expect("damage a");
    let b = blob(&store, b"bbbb", false);
    chmod(&b, 0o644);
    std::fs::write(&b, b"bb").expect("truncate b");
    chmod(&b, 0o444);
    let tool = blob(&store, b"#!/bin/sh\n", true);
    chmod(&tool, 0o444);

    let again = ingest(&store);
    assert_eq!(again.digest(), first.digest());
    assert_eq!(std::fs::read(&a).expect("read a"), b"aaaa");
    assert_eq!(std::fs::read(&b).expect("read b"), b"bbbb");
    assert_ne!(
        std::fs::metadata(&tool).expect("stat").permissions().mode() & 0o111,
        0
    );
    assert_eq!(
        std::fs::read(again.path().join("a.txt")).expect("read"),
        b"aaaa"
    );
    assert_eq!(
        digest_of(again.path()),
        again.digest(),
        "the checkout is sound"
    );
    assert!(store.verify().expect("verifies").is_clean());

    // A file output is checked the same way.
    chmod(&a, 0o644);
    std::fs::write(&a, b"AAAA").expect("damage a");
    let staging = store.temp_dir().expect("temp dir");
    std::fs::write(staging.path().join("a"), b"aaaa").expect("write");
    let file = store
        .ingest_file(&staging.path().join("a"), false)
        .expect("ingests");
    assert_eq!(file.read().expect("read"), b"aaaa");
}

#[test]
fn a_damaged_checkout_is_rebuilt_not_reused() {
    let (_tmp, store) = store();
    let dir = ingest(&store);
    // The blobs stay sound; the checkout gets a new file in place of one and an extra one.
    unlock(dir.path());
    std::fs::remove_file(dir.path().join("a.txt")).expect("rm");
    std::fs::write(dir.path().join("a.txt"), b"evil").expect("write");
    std::fs::write(dir.path().join("extra"), b"x").expect("write");

    let again = store.dir(dir.digest()).expect("checks out");
    assert_eq!(
        std::fs::read(again.path().join("a.txt")).expect("read"),
        b"aaaa"
    );
    assert!(!again.path().join("extra").exists());
    assert_eq!(digest_of(again.path()), dir.digest());

    // Ingesting the same output again checks the checkout too.
    unlock(again.path());
    std::fs::remove_file(again.path().join("b.txt")).expect("rm");
    let third = ingest(&store);
    assert_eq!(
        std::fs::read(third.path().join("b.txt")).expect("read"),
        b"bbbb"
    );
    assert!(store.verify().expect("verifies").is_clean());
}

#[test]
fn a_checkout_swapped_for_a_link_is_replaced_and_its_target_untouched() {
    let (tmp, store) = store();
    let dir = ingest(&store);
    // A copy elsewhere with the very same content, and the checkout replaced by a link to it.
    let elsewhere = tmp.path().join("elsewhere");
    tanto::__internal::cache::copy_tree(dir.path(), &elsewhere).expect("copies");
    assert_eq!(digest_of(&elsewhere), dir.digest());
    unlock(dir.path());
    std::fs::remove_dir_all(dir.path()).expect("rm");
    std::os::unix::fs::symlink(&elsewhere, dir.path()).expect("link");

    let again = store.dir(dir.digest()).expect("checks out");
    let meta = std::fs::symlink_metadata(again.path()).expect("stat");
    assert!(meta.is_dir(), "a real folder, not the link");
    assert_eq!(digest_of(again.path()), dir.digest());
    let mode = std::fs::metadata(&elsewhere)
        .expect("stat")
        .permissions()
        .mode();
    assert_ne!(mode & 0o200, 0, "the link's target was not made read-only");
    assert!(elsewhere.join("a.txt").exists(), "nor removed");
}

#[test]
fn verify_reports_a_checkout_swapped_for_a_link() {
    let (tmp, store) = store();
    let dir = ingest(&store);
    let elsewhere = tmp.path().join("elsewhere");
    tanto::__internal::cache::copy_tree(dir.path(), &elsewhere).expect("copies");
    unlock(dir.path());
    std::fs::remove_dir_all(dir.path()).expect("rm");
    std::os::unix::fs::symlink(&elsewhere, dir.path()).expect("link");

    let report = store.verify().expect("verifies");
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].starts_with("checkout"),
        "{:?}",
        report.problems
    );
    assert!(
        std::fs::symlink_metadata(dir.path()).is_err(),
        "the link is gone"
    );
    assert!(elsewhere.join("a.txt").exists(), "its target is untouched");
}
