//! A prune never removes what a live run uses: runs hold a shared lease on the store, and a
//! prune sweeps only once it holds the store alone.

mod cache_support;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tanto::__internal::Artifact;
use tanto::__internal::cache::{
    ActionResult, ArtifactKind, InputRecord, KeyRecord, PruneOptions, Store, StoreStats,
};
use tanto::Digest;

const STORE_VAR: &str = "TANTO_LEASE_STORE";

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("store")).expect("opens");
    (dir, store)
}

/// Records one result with a folder output, so a prune of everything has work to do.
fn fill(store: &Store) {
    let staging = store.temp_dir().expect("staging");
    let top = staging.path().join("out");
    std::fs::create_dir_all(top.join("sub")).expect("mkdir");
    std::fs::write(top.join("a.txt"), b"a").expect("write");
    std::fs::write(top.join("sub/b.txt"), b"b").expect("write");
    let dir = store.ingest_dir(&top).expect("ingests");
    let key = KeyRecord::new("lease::step", "code").input(
        "n",
        InputRecord {
            kind: ArtifactKind::Value,
            digest: Digest::of(b"1"),
            upstream: None,
            value: None,
            items: None,
        },
    );
    let result = ActionResult::new(key.clone(), &[Artifact::Dir(dir)], Duration::ZERO);
    store.record(&key.digest(), &result).expect("records");
}

/// Prune everything, without a grace period, waiting at most `wait` for runs to end.
fn prune_all(store: &Store, wait: Duration) -> tanto::Result<()> {
    let options = PruneOptions {
        max_bytes: Some(0),
        grace: Duration::ZERO,
        wait,
        ..PruneOptions::default()
    };
    store.prune_with(&options).map(drop)
}

fn assert_untouched(store: &Store, before: StoreStats) {
    assert_eq!(store.stats().expect("stats"), before, "nothing was removed");
}

#[test]
fn as_an_unprivileged_user() {
    cache_support::rerun_as_unprivileged_user("as_an_unprivileged_user");
}

#[test]
fn a_folder_or_a_link_in_the_lock_files_place_is_named_with_what_to_do() {
    let (tmp, store) = store();
    let lock = tmp.path().join("store/lease.lock");
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::write(&elsewhere, "kept").expect("write");
    for place in ["folder", "link"] {
        let _ = std::fs::remove_file(&lock);
        let _ = std::fs::remove_dir(&lock);
        if place == "folder" {
            std::fs::create_dir(&lock).expect("mkdir");
        } else {
            std::os::unix::fs::symlink(&elsewhere, &lock).expect("symlink");
        }
        let err = store.lease().map(drop).expect_err(place).to_string();
        assert!(
            err.starts_with(&format!("cache: {} is not a file (", lock.display()))
                && err.ends_with(
                    "): the store keeps its lock there; remove what is in its place, or set \
                     TANTO_CACHE_DIR to another folder"
                ),
            "{place}: {err}"
        );
    }
    assert_eq!(std::fs::read_to_string(&elsewhere).expect("read"), "kept");
}

#[test]
fn a_lease_held_by_another_thread_keeps_prune_from_removing() {
    let (_tmp, store) = store();
    fill(&store);
    let before = store.stats().expect("stats");
    assert!(before.blobs > 0 && before.checkouts > 0);

    let (leased, release) = (mpsc::channel(), mpsc::channel::<()>());
    let holder = {
        let store = store.clone();
        std::thread::spawn(move || {
            let lease = store.lease().expect("leases");
            leased.0.send(()).expect("signal");
            let _ = release.1.recv();
            drop(lease);
        })
    };
    leased.1.recv().expect("the lease is held");

    let err = prune_all(&store, Duration::from_millis(300)).expect_err("the store is in use");
    let message = err.to_string();
    assert!(
        message.contains("another tanto run is using the store at")
            && message.contains(&store.root().display().to_string()),
        "{message}"
    );
    assert_untouched(&store, before);

    release.0.send(()).expect("release");
    holder.join().expect("holder");
    prune_all(&store, Duration::from_millis(300)).expect("prunes once the run has ended");
    let after = store.stats().expect("stats");
    assert_eq!(
        (after.entries, after.blobs, after.checkouts),
        (0, 0, 0),
        "{after:?}"
    );
}

#[test]
fn prune_waits_for_a_lease_that_ends_in_time() {
    let (_tmp, store) = store();
    fill(&store);
    let lease = store.lease().expect("leases");
    let start = Instant::now();
    let holder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        drop(lease);
    });
    prune_all(&store, Duration::from_secs(30)).expect("prunes after the wait");
    assert!(start.elapsed() >= Duration::from_millis(400), "it waited");
    holder.join().expect("holder");
    assert_eq!(store.stats().expect("stats").entries, 0);
}

/// The other process: leases the store named by `TANTO_LEASE_STORE`, says so on stdout, and
/// holds the lease until its stdin closes.
#[test]
#[ignore = "run by `a_lease_held_by_another_process_keeps_prune_from_removing`"]
fn lease_holder() {
    let Some(root) = std::env::var_os(STORE_VAR) else {
        return;
    };
    let store = Store::open(Path::new(&root)).expect("opens");
    let lease = store.lease().expect("leases");
    println!("leased");
    std::io::stdout().flush().expect("flush");
    let _ = std::io::stdin().read_line(&mut String::new());
    drop(lease);
}

#[test]
fn a_lease_held_by_another_process_keeps_prune_from_removing() {
    let (_tmp, store) = store();
    fill(&store);
    let before = store.stats().expect("stats");
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args(["--ignored", "--exact", "lease_holder", "--nocapture"])
        .env(STORE_VAR, store.root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the holder");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let held = lines.any(|l| l.is_ok_and(|l| l.trim() == "leased"));
    assert!(held, "the holder took its lease");

    let err = prune_all(&store, Duration::from_millis(300)).expect_err("the store is in use");
    assert!(err.to_string().contains("another tanto run"), "{err}");
    assert_untouched(&store, before);

    drop(child.stdin.take());
    assert!(child.wait().expect("reap").success());
    prune_all(&store, Duration::from_millis(300)).expect("prunes once the run has ended");
    assert_eq!(store.stats().expect("stats").entries, 0);
}

#[test]
fn a_prune_that_waits_for_its_own_process_says_so() {
    let (_tmp, store) = store();
    fill(&store);
    let before = store.stats().expect("stats");
    let _lease = store.lease().expect("leases");
    let err = prune_all(&store, Duration::from_millis(200)).expect_err("it waits in vain");
    assert!(
        err.to_string().contains("this process holds 1 lease"),
        "{err}"
    );
    assert_untouched(&store, before);
}
