//! Killing a writer with SIGKILL at random moments never leaves a torn store entry.
//!
//! The test re-runs its own binary as the writer (the ignored `crash_writer` test, which only
//! does work when `TANTO_CRASH_STORE` names a store), kills it after a random delay, and
//! verifies the store after every kill. The writer says on stdout what it has written, so the
//! test knows what must be there: a torn record reads as a miss, which only that knowledge
//! can tell from "not written yet".

mod cache_support;

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use tanto::__internal::Artifact;
use tanto::__internal::cache::{ActionResult, ArtifactKind, InputRecord, KeyRecord, Store};
use tanto::Digest;
use tanto::DirSelect;

const STORE_VAR: &str = "TANTO_CRASH_STORE";

/// How many distinct keys the writer records under.
const KEYS: u64 = 30;

/// The key the writer records for input `n`.
fn key_for(n: u64) -> KeyRecord {
    KeyRecord::new("crash::step", "code").input(
        "n",
        InputRecord {
            kind: ArtifactKind::Value,
            digest: Digest::of(&n.to_le_bytes()),
            upstream: None,
            value: None,
            items: None,
        },
    )
}

/// A small xorshift generator; the exact sequence does not matter, only that it varies.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Self(nanos ^ u64::from(std::process::id()) | 1)
    }

    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn write(root: &Path, rel: &str, content: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

/// The writer: ingests folders and files, records results and last keys, and hashes a host
/// folder with the stat cache, forever, until it is killed.
#[test]
#[ignore = "run by `killed_writers_never_leave_torn_entries` as a child process"]
fn crash_writer() {
    let Some(root) = std::env::var_os(STORE_VAR) else {
        return;
    };
    let root = Path::new(&root);
    let store = Store::open(root.join("store")).expect("opens");
    let host = root.join("host");
    let mut rng = Rng::new();
    for round in 0u64.. {
        let staging = store.temp_dir().expect("temp");
        let top = staging.path().join("out");
        for i in 0..(1 + rng.next(40)) {
            let shared = rng.next(50);
            let size = 1 + rng.next(200_000) as usize;
            let content = vec![(shared % 251) as u8; size];
            write(&top, &format!("d{}/f{i}", shared % 5), &content);
        }
        let dir = store.ingest_dir(&top).expect("ingests");
        let file_path = staging.path().join("file");
        std::fs::write(&file_path, format!("round {round}")).expect("write");
        let file = store
            .ingest_file(&file_path, round % 2 == 0)
            .expect("ingests");

        let n = rng.next(KEYS);
        let key = key_for(n);
        let outputs = [Artifact::Dir(dir), Artifact::File(file)];
        let result = ActionResult::new(key.clone(), &outputs, Duration::from_millis(1));
        store.record(&key.digest(), &result).expect("records");
        // Only once the rename is done: what this line claims is on disk.
        println!("recorded {n}");
        store.set_last_key("crash/step", &key).expect("last key");
        println!("last key {n}");

        write(&host, &format!("f{}", rng.next(20)), &round.to_le_bytes());
        store
            .hash_input_dir(&host, &DirSelect::DEFAULT)
            .expect("hashes");
    }
}

#[test]
fn killed_writers_never_leave_torn_entries() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut rng = Rng::new();
    let mut last_keys_seen = 0;
    let mut recorded = BTreeSet::new();
    for life in 0..12 {
        let mut child = Command::new(&exe)
            .args(["crash_writer", "--exact", "--ignored", "--nocapture", "-q"])
            .env(STORE_VAR, tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the writer");
        let stdout = child.stdout.take().expect("piped");
        // Read meanwhile, so a full pipe can never stall the writer.
        let (lines, said) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut heard = Vec::new();
        // Every other life is killed only after it has written something, however slow the
        // machine, so later lives always find work of earlier ones to check.
        if life % 2 == 1 {
            let line = said
                .recv_timeout(Duration::from_secs(120))
                .expect("the writer records something within two minutes");
            heard.push(line);
        }
        std::thread::sleep(Duration::from_millis(50 + rng.next(250)));
        assert!(
            child.try_wait().expect("poll").is_none(),
            "the writer stopped by itself; run it alone to see why"
        );
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        // The reader ends at the pipe's end, after everything the writer said.
        heard.extend(said.iter());
        let said = heard.join("\n");
        let claimed = |prefix: &str| -> BTreeSet<u64> {
            said.lines()
                .filter_map(|l| l.strip_prefix(prefix)?.parse().ok())
                .collect()
        };
        recorded.extend(claimed("recorded "));

        let store = Store::open(tmp.path().join("store")).expect("opens");
        let report = store.verify().expect("verifies");
        assert!(report.is_clean(), "torn entries: {:?}", report.problems);
        // Every record the writer finished, in this life or an earlier one, is whole: a hit
        // whose outputs are usable. A torn one would read as a miss and fail here.
        for n in &recorded {
            let hit = store
                .lookup(&key_for(*n).digest())
                .expect("lookup")
                .unwrap_or_else(|| panic!("the record of key {n} was written, yet it misses"));
            store.outputs(&hit).expect("a hit's outputs are usable");
        }
        // The last key is a whole one of the writer's keys (a torn file would read as none),
        // and is there once the writer said it wrote one.
        let last = store.last_key("crash/step").expect("reads the last key");
        match last {
            Some(key) => {
                assert!(
                    (0..KEYS).any(|n| key_for(n) == key),
                    "the last key is none of the writer's: {key:?}"
                );
                last_keys_seen += 1;
            }
            None => assert!(
                last_keys_seen == 0 && claimed("last key ").is_empty(),
                "a last key was written, yet none reads back"
            ),
        }
    }
    assert!(
        last_keys_seen > 0,
        "no writer lived long enough to record a last key"
    );
    let store = Store::open(tmp.path().join("store")).expect("opens");
    assert!(
        store.stats().expect("stats").entries > 0,
        "the writer got some work done"
    );
}

#[test]
fn as_an_unprivileged_user() {
    cache_support::rerun_as_unprivileged_user("as_an_unprivileged_user");
}
