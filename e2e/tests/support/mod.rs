//! Shared helpers for the end-to-end tests: run a pipeline binary, read its JSON events, and
//! ask the real daemon what containers a run left.

#![allow(dead_code, unreachable_pub)]

pub mod buildgrid;
pub mod daemon;
pub mod host;
pub mod keys;
pub mod leftovers;
pub mod podman;
pub mod remote_cache;
pub mod servers;
pub mod tmux;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// A command for the fixture binary with its own cache folder and no CI detection.
pub fn fixture(cache: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fixture"));
    cmd.env("TANTO_CACHE_DIR", cache)
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS");
    cmd
}

/// Runs `cmd`, panicking with its output if it could not start.
pub fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Each line of `stdout` parsed as JSON; panics on a line that is not.
pub fn events(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// Runs `pipeline --src SRC --progress json` with the store at `cache`, asserts it succeeded,
/// and returns its events.
pub fn run_ok(cache: &Path, pipeline: &str, src: &Path) -> Vec<Value> {
    let out = output(
        fixture(cache)
            .args([pipeline, "--progress", "json", "--src"])
            .arg(src),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    events(&out.stdout)
}

/// The events of kind `kind`.
pub fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// Why step `step` started, from its `step_started` event in `events` (empty if it did not).
pub fn started_reason(events: &[Value], step: &str) -> String {
    of_kind(events, "step_started")
        .into_iter()
        .find(|e| e["step"] == step)
        .and_then(|e| e["reason"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The labels of the steps of `events` with event kind `kind`, in order.
pub fn steps(events: &[Value], kind: &str) -> Vec<String> {
    of_kind(events, kind)
        .iter()
        .map(|e| {
            e["step"]
                .as_str()
                .expect("a step event names its step")
                .to_owned()
        })
        .collect()
}

/// The run id from a `run_started` event.
pub fn run_id(events: &[Value]) -> String {
    of_kind(events, "run_started")
        .first()
        .and_then(|e| e["run_id"].as_str())
        .unwrap_or_else(|| panic!("no run_started event in {events:?}"))
        .to_owned()
}

/// How many containers (running or not) carry `tanto.run=<run_id>`.
pub fn containers_of_run(run_id: &str) -> usize {
    let out = output(Command::new("docker").args([
        "ps",
        "-aq",
        "--filter",
        &format!("label=tanto.run={run_id}"),
    ]));
    assert!(
        out.status.success(),
        "docker ps failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// The largest number of steps running at once, from the events' timestamps.
pub fn peak_overlap(events: &[Value]) -> usize {
    let mut edges: Vec<(u128, i32)> = Vec::new();
    for e in events {
        let ts = e["ts_us"].as_u64().expect("ts_us").into();
        match e["event"].as_str() {
            Some("step_started") => edges.push((ts, 1)),
            Some("step_finished" | "step_failed") => edges.push((ts, -1)),
            _ => {}
        }
    }
    peak(edges)
}

/// The largest sum of `(time, +1 or -1)` edges at any time: how many things were running at
/// once. An end at the very instant of a start comes first, so the two were not running together.
pub fn peak(mut edges: Vec<(u128, i32)>) -> usize {
    edges.sort();
    let (mut now, mut peak) = (0, 0);
    for (_, d) in edges {
        now += d;
        peak = peak.max(now);
    }
    usize::try_from(peak).unwrap_or(0)
}

/// Every file under `dir`, none when it is missing.
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// Overwrites the read-only store file `path` with as many other bytes: only its digest can
/// tell.
pub fn damage(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let len = std::fs::metadata(path).expect("the file to damage").len();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let len = usize::try_from(len).expect("a size that fits");
    std::fs::write(path, vec![b'#'; len]).expect("overwrite the file");
}
