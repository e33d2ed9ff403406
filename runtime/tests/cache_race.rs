//! Two processes racing to write the same objects into one store: the same blobs, tree,
//! checkout, action record and last key, over and over, from a common start.

mod rerun;

use std::path::Path;
use std::time::{Duration, Instant};

use tanto::__internal::Artifact;
use tanto::__internal::cache::{ActionResult, ArtifactKind, InputRecord, KeyRecord, Store};
use tanto::Digest;

const ROOT_VAR: &str = "TANTO_TEST_RACE_ROOT";
const ROUNDS: usize = 60;

/// The files every writer ingests: the same bytes, so the same objects.
const FILES: [(&str, &[u8]); 3] = [
    ("bin/app", b"the same binary"),
    ("lib/a.txt", b"shared"),
    ("lib/b.txt", b"shared too"),
];

/// The one key both writers record under.
fn key() -> KeyRecord {
    KeyRecord::new("race::step", "code").input(
        "src",
        InputRecord {
            kind: ArtifactKind::Value,
            digest: Digest::of(b"one input"),
            upstream: None,
            value: None,
            items: None,
        },
    )
}

/// The writer: waits for the common start, then ingests the same folder and records the
/// same result `ROUNDS` times.
#[test]
#[ignore = "run by `two_processes_writing_the_same_objects_leave_one_sound_copy`"]
fn race_writer() {
    let Some(root) = std::env::var_os(ROOT_VAR) else {
        return;
    };
    let root = Path::new(&root);
    let store = Store::open(root.join("store")).expect("opens");
    let go = root.join("go");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !go.exists() {
        assert!(Instant::now() < deadline, "no start signal");
        std::thread::sleep(Duration::from_millis(1));
    }
    let key = key();
    for _ in 0..ROUNDS {
        let staging = store.temp_dir().expect("temp");
        let top = staging.path().join("out");
        for (rel, content) in FILES {
            let path = top.join(rel);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(path, content).expect("write");
        }
        let dir = store
            .ingest_dir(&top)
            .expect("ingests beside the other writer");
        let result = ActionResult::new(key.clone(), &[Artifact::Dir(dir)], Duration::ZERO);
        store.record(&key.digest(), &result).expect("records");
        store.set_last_key("race/step", &key).expect("last key");
        let hit = store.lookup(&key.digest()).expect("lookup").expect("a hit");
        store.outputs(&hit).expect("usable outputs");
    }
}

#[test]
fn two_processes_writing_the_same_objects_leave_one_sound_copy() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().to_str().expect("a UTF-8 temporary path");
    let writers: Vec<_> = (0..2)
        .map(|_| {
            rerun::command("race_writer", &[(ROOT_VAR, root)])
                .arg("--ignored")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn a writer")
        })
        .collect();
    std::fs::write(tmp.path().join("go"), "").expect("the start signal");
    for writer in writers {
        let out = writer.wait_with_output().expect("a writer ends");
        rerun::assert_ran_alone("race_writer", &out);
    }

    let store = Store::open(tmp.path().join("store")).expect("opens");
    let report = store.verify().expect("verifies");
    assert!(report.is_clean(), "{:?}", report.problems);
    let stats = store.stats().expect("stats");
    assert_eq!(stats.entries, 1, "{stats:?}");
    assert_eq!(stats.blobs, 3, "one copy of each content: {stats:?}");
    assert_eq!(stats.checkouts, 1, "{stats:?}");
    let hit = store
        .lookup(&key().digest())
        .expect("lookup")
        .expect("a hit");
    let Artifact::Dir(dir) = &store.outputs(&hit).expect("outputs")[0] else {
        panic!("a folder output");
    };
    for (rel, content) in FILES {
        assert_eq!(std::fs::read(dir.path().join(rel)).expect("read"), content);
    }
    assert_eq!(store.last_key("race/step").expect("reads"), Some(key()));
}
