//! What a fetched folder whose digest is not the recorded one leaves in the store: nothing.

use super::ingest_dir_checked;
use crate::cache::store::Store;
use crate::digest::Digest;

/// Every file under `dir`, or none when it does not exist.
fn files_under(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() && !path.is_symlink() {
                1 + files_under(&path)
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn a_folder_that_is_not_the_one_recorded_leaves_nothing_in_the_store() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = Store::open(tmp.path().join("store")).expect("opens");
    let before = files_under(&tmp.path().join("store"));
    let top = tmp.path().join("dir");
    std::fs::create_dir(&top).expect("mkdir");
    std::fs::write(top.join("evil"), b"not what the record names").expect("write");
    std::os::unix::fs::symlink("/etc/passwd", top.join("passwd")).expect("link");
    let recorded = Digest::of(b"the folder the record names");
    let fetched = ingest_dir_checked(&store, &top, recorded).expect("hashes");
    assert_ne!(fetched, recorded);
    assert_eq!(
        files_under(&tmp.path().join("store")),
        before,
        "nothing of a refused folder is kept"
    );
    // The folder the record names is ingested.
    let ingested = ingest_dir_checked(&store, &top, fetched).expect("ingests");
    assert_eq!(ingested, fetched);
    assert!(files_under(&tmp.path().join("store")) > before);
}
