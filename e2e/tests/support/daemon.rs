//! The daemon's own account of what a run did: a live `docker events` stream, watched from
//! before the run until a sentinel made after it.
//!
//! Asking afterwards with `docker events --since` reads the daemon's in-memory backlog, which
//! keeps only its last 256 events: other tests' containers can push a run's events out of it,
//! and a count of zero would then pass by accident. A live stream sees every event, and the
//! sentinel (a network created and removed once the run is over) says when it has seen them.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::output;

/// One event of the daemon.
#[derive(Debug, Clone)]
pub struct DaemonEvent {
    /// What it is about: `container`, `image`, `network`...
    pub kind: String,
    /// What happened: `create`, `start`, `die`, `load`, `exec_create: ...`...
    pub action: String,
    /// The object's id.
    pub id: String,
    /// When, in nanoseconds since the epoch.
    pub time_nano: u128,
    /// The object's attributes: a container's labels, name and image; a network's name.
    pub attributes: HashMap<String, String>,
}

impl DaemonEvent {
    /// Whether it is about a container that carries `tanto.run=<run_id>`.
    pub fn of_run(&self, run_id: &str) -> bool {
        self.kind == "container"
            && self.attributes.get("tanto.run").map(String::as_str) == Some(run_id)
    }

    fn parse(line: &str) -> Self {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("docker events gave a line that is not JSON ({e}): {line}"));
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let attributes = v["Actor"]["Attributes"]
            .as_object()
            .map(|a| a.iter().map(|(k, v)| (k.clone(), text(v))).collect())
            .unwrap_or_default();
        Self {
            kind: text(&v["Type"]),
            action: text(&v["Action"]),
            id: text(&v["Actor"]["ID"]),
            time_nano: v["timeNano"].as_u64().map_or(0, u128::from),
            attributes,
        }
    }
}

/// A live stream of the daemon's events; [`DaemonEvents::finish`] ends it.
pub struct DaemonEvents {
    child: Child,
    lines: Receiver<String>,
}

impl DaemonEvents {
    /// Starts watching every event of the daemon. `--since` the current instant covers the
    /// moment between the start of `docker events` and its subscription.
    pub fn watch() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("a clock after 1970");
        let since = format!("{}.{:09}", now.as_secs(), now.subsec_nanos());
        let mut child = Command::new("docker")
            .args(["events", "--since", &since, "--format", "{{json .}}"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run docker events: {e}"));
        let stdout = child.stdout.take().expect("docker events' stdout");
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// Every event the daemon emitted from the watch's start until this call, in order.
    pub fn finish(self) -> Vec<DaemonEvent> {
        static SENTINELS: AtomicUsize = AtomicUsize::new(0);
        let sentinel = format!(
            "tanto-test-sentinel-{}-{}",
            std::process::id(),
            SENTINELS.fetch_add(1, Ordering::Relaxed)
        );
        for args in [["network", "create"], ["network", "rm"]] {
            let out = output(Command::new("docker").args(args).arg(&sentinel));
            assert!(out.status.success(), "docker {args:?} {sentinel}: {out:?}");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!("docker events did not show the sentinel network {sentinel} within 30 s")
            });
            let event = DaemonEvent::parse(&line);
            let is_sentinel = event.kind == "network"
                && event.action == "create"
                && event.attributes.get("name") == Some(&sentinel);
            if is_sentinel {
                return seen;
            }
            seen.push(event);
        }
    }
}

impl Drop for DaemonEvents {
    /// Ends the stream, also when a test fails before it finishes the watch.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many containers of run `run_id` the daemon created, among `events`.
pub fn created(events: &[DaemonEvent], run_id: &str) -> usize {
    events
        .iter()
        .filter(|e| e.of_run(run_id) && e.action == "create")
        .count()
}

/// The largest number of containers of run `run_id` that were running at once, from the
/// daemon's own `start` and `die` events.
pub fn peak_containers(events: &[DaemonEvent], run_id: &str) -> usize {
    super::peak(
        events
            .iter()
            .filter(|e| e.of_run(run_id))
            .filter_map(|e| match e.action.as_str() {
                "start" => Some((e.time_nano, 1)),
                "die" => Some((e.time_nano, -1)),
                _ => None,
            })
            .collect(),
    )
}
