//! Pruning the store: least recently used results first, what they alone reach after them,
//! and nothing kept that the size asked for cannot hold.

mod cache_support;
mod store_support;

use std::time::Duration;

use store_support::{ingest, key, last_used, record, store};
use tanto::__internal::Artifact;
use tanto::__internal::cache::{ArtifactKind, InputRecord, KeyRecord, PruneOptions};

#[test]
fn prune_by_size_removes_least_recently_used_first() {
    let (_tmp, store) = store();
    let mut keys = Vec::new();
    for (name, hours_ago) in [("a", 3), ("b", 2), ("c", 1)] {
        let content = vec![name.as_bytes()[0]; 10_000];
        let out = ingest(&store, &[("data", content.as_slice())]);
        let k = key("ci::step", name.as_bytes());
        record(&store, &k, &[Artifact::Dir(out)]);
        last_used(&store, &k, Duration::from_secs(hours_ago * 3600));
        keys.push(k);
    }
    // `a` is used again, so `b` is now the least recently used.
    assert!(store.lookup(&keys[0].digest()).expect("lookup").is_some());
    let before = store.stats().expect("stats");
    assert!(before.bytes > 30_000);

    let report = store
        .prune_with(&PruneOptions {
            max_bytes: Some(25_000),
            max_age: None,
            grace: Duration::ZERO,
            ..PruneOptions::default()
        })
        .expect("prunes");
    assert_eq!(report.records, 1);
    assert_eq!(report.blobs, 1);
    assert!(store.lookup(&keys[1].digest()).expect("lookup").is_none());
    assert!(store.lookup(&keys[0].digest()).expect("lookup").is_some());
    assert!(store.lookup(&keys[2].digest()).expect("lookup").is_some());
    let after = store.stats().expect("stats");
    assert!(after.bytes <= 25_000, "{after:?}");
    assert!(store.verify().expect("verifies").is_clean());
}

#[test]
fn prune_by_age_and_grace_for_fresh_objects() {
    let (_tmp, store) = store();
    let old = ingest(&store, &[("old", b"old")]);
    let k_old = key("ci::step", b"old");
    record(&store, &k_old, &[Artifact::Dir(old)]);
    last_used(&store, &k_old, Duration::from_secs(2 * 3600));
    let new = ingest(&store, &[("new", b"new")]);
    let k_new = key("ci::step", b"new");
    record(&store, &k_new, &[Artifact::Dir(new)]);

    // With the default grace period, the old result's record goes but its fresh blobs stay.
    let report = store
        .prune(None, Some(Duration::from_secs(3600)))
        .expect("prunes");
    assert_eq!((report.records, report.blobs), (1, 0));
    assert!(store.lookup(&k_old.digest()).expect("lookup").is_none());
    assert!(store.lookup(&k_new.digest()).expect("lookup").is_some());

    let report = store
        .prune_with(&PruneOptions {
            grace: Duration::ZERO,
            ..PruneOptions::default()
        })
        .expect("prunes");
    assert_eq!((report.records, report.blobs, report.checkouts), (0, 1, 1));
    assert_eq!(store.stats().expect("stats").blobs, 1);
    assert!(store.lookup(&k_new.digest()).expect("lookup").is_some());
}

#[test]
fn a_prune_to_nothing_leaves_nothing_that_explains_misses_or_holds_old_outputs() {
    let (_tmp, store) = store();
    // A result whose folder output is checked out, which the step downstream took as its
    // input: its last key keeps that tree to explain its next miss.
    let out = ingest(&store, &[("data", &[7u8; 10_000][..])]);
    let k = key("ci::make", b"x");
    record(&store, &k, &[Artifact::Dir(out.clone())]);
    let last = KeyRecord::new("ci::take", "code").input(
        "made",
        InputRecord {
            kind: ArtifactKind::Dir,
            digest: out.digest(),
            upstream: Some("make".into()),
            value: None,
            items: None,
        },
    );
    store.set_last_key("ci/take", &last).expect("sets");
    let before = store.stats().expect("stats");
    assert!(before.trees >= 1 && before.checkouts >= 1, "{before:?}");

    // Past its record's age, the output's checkout goes; its tree stays to explain a miss.
    let report = store
        .prune_with(&PruneOptions {
            max_age: Some(Duration::ZERO),
            grace: Duration::ZERO,
            ..PruneOptions::default()
        })
        .expect("prunes");
    assert_eq!((report.records, report.checkouts), (1, 1), "{report:?}");
    assert!(!out.path().exists(), "the checkout is gone");
    assert!(store.tree(&out.digest()).expect("reads").is_some());

    // A size the trees do not fit in takes them too.
    store
        .prune_with(&PruneOptions {
            max_bytes: Some(0),
            grace: Duration::ZERO,
            ..PruneOptions::default()
        })
        .expect("prunes");
    let after = store.stats().expect("stats");
    assert_eq!(
        (
            after.entries,
            after.blobs,
            after.trees,
            after.checkouts,
            after.bytes
        ),
        (0, 0, 0, 0, 0),
        "{after:?}"
    );
}

#[test]
fn as_an_unprivileged_user() {
    cache_support::rerun_as_unprivileged_user("as_an_unprivileged_user");
}
