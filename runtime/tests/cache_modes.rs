//! Captured folders keep whatever modes their container gave them: read-only folders (a Go
//! module cache, a Nix tree) must ingest, and no staging may stay behind, for any user.

mod cache_support;

use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use tanto::__internal::cache::{StatCache, Store, hash_dir_with};
use tanto::DirSelect;

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

/// What is left in the store's staging area.
fn staging_left(store: &Store) -> Vec<std::path::PathBuf> {
    store.staged()
}

#[test]
fn as_an_unprivileged_user() {
    cache_support::rerun_as_unprivileged_user("as_an_unprivileged_user");
}

#[test]
fn read_only_folders_ingest_and_leave_no_staging() {
    let (_tmp, store) = store();
    let staging = store.temp_dir().expect("temp dir");
    let top = staging.path().join("out");
    write(&top, "pkg/mod/golang.org/x@v1/go.mod", b"module x\n");
    write(&top, "pkg/mod/golang.org/x@v1/x.go", b"package x\n");
    write(&top, "secret/key", b"private\n");
    write(&top, "README", b"hi\n");
    let expected = hash_dir_with(&top, &DirSelect::ALL, &StatCache::in_memory())
        .expect("hashes")
        .digest;
    chmod(&top.join("pkg/mod/golang.org/x@v1/go.mod"), 0o444);
    chmod(&top.join("secret/key"), 0o400);
    for dir in [
        "pkg/mod/golang.org/x@v1",
        "pkg/mod/golang.org",
        "pkg/mod",
        "pkg",
    ] {
        chmod(&top.join(dir), 0o555);
    }
    chmod(&top.join("secret"), 0o500);
    chmod(&top, 0o555);

    let dir = store.ingest_dir(&top).expect("a read-only folder ingests");
    assert_eq!(dir.digest(), expected, "folder modes are not content");
    assert_eq!(
        std::fs::read(dir.path().join("pkg/mod/golang.org/x@v1/x.go")).expect("read"),
        b"package x\n"
    );
    assert_eq!(
        std::fs::read(dir.path().join("secret/key")).expect("read"),
        b"private\n"
    );
    let mode = std::fs::metadata(dir.path().join("pkg/mod"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o555, "checkout folders are read-only");
    assert!(!top.exists(), "the staged folder was moved in");
    drop(staging);
    assert_eq!(staging_left(&store), Vec::<std::path::PathBuf>::new());
    assert!(store.verify().expect("verifies").is_clean());
}

#[test]
fn a_failed_ingest_of_a_read_only_folder_leaves_no_staging() {
    let (_tmp, store) = store();
    let staging = store.temp_dir().expect("temp dir");
    let top = staging.path().join("out");
    write(&top, "sub/ok.txt", b"ok");
    // A name that is not UTF-8 cannot enter a tree, so ingestion fails.
    let bad = top
        .join("sub")
        .join(std::ffi::OsStr::from_bytes(b"bad-\xff"));
    std::fs::write(&bad, b"x").expect("write");
    chmod(&top.join("sub"), 0o555);
    chmod(&top, 0o555);

    let err = store.ingest_dir(&top).expect_err("a non-UTF-8 name fails");
    assert!(err.to_string().contains("UTF-8"), "{err}");
    drop(staging);
    assert_eq!(staging_left(&store), Vec::<std::path::PathBuf>::new());
}

#[test]
fn an_unreadable_file_ingests() {
    let (_tmp, store) = store();
    let staging = store.temp_dir().expect("temp dir");
    let path = staging.path().join("tool");
    std::fs::write(&path, b"#!/bin/sh\n").expect("write");
    chmod(&path, 0o111);
    let file = store.ingest_file(&path, true).expect("ingests");
    assert_eq!(file.read().expect("read"), b"#!/bin/sh\n");
    drop(staging);
    assert_eq!(staging_left(&store), Vec::<std::path::PathBuf>::new());
}
