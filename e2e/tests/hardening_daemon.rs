//! A daemon that dies in the middle of a step, for real: a private `dockerd` killed with
//! SIGKILL while a step sleeps in it.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod hardening_support;
mod support;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use hardening_support::PrivateDaemon;
use serde_json::Value;
use support::fixture;

/// Starts `sleepy` on `daemon` and returns once its step's command runs: the child, its run
/// id, and the reader of the events still to come.
fn start_sleepy(
    daemon: &PrivateDaemon,
    cache: &Path,
) -> (Child, String, BufReader<std::process::ChildStdout>) {
    let mut child = fixture(cache)
        .env("DOCKER_HOST", daemon.host())
        .args(["sleepy", "--progress", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut run = None;
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 {
        let event: Value = serde_json::from_str(&line).unwrap();
        line.clear();
        if event["event"] == "run_started" {
            run = event["run_id"].as_str().map(str::to_owned);
        }
        if event["event"] == "step_started" {
            break;
        }
    }
    let run = run.unwrap_or_default();
    // Until the step's command runs in its container: the middle of the step.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !napping(daemon, &run) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, run, stdout)
}

/// Whether a container of run `run` runs the step's `sleep 60`.
fn napping(daemon: &PrivateDaemon, run: &str) -> bool {
    let ps = daemon.docker(&["ps", "-q", "--filter", &format!("label=tanto.run={run}")]);
    String::from_utf8_lossy(&ps.stdout).lines().any(|id| {
        let top = daemon.docker(&["top", id]);
        String::from_utf8_lossy(&top.stdout).contains("sleep 60")
    })
}

/// Every file under `dir`, if it exists.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

#[test]
fn a_daemon_killed_mid_step_exits_3_says_so_and_caches_nothing() {
    let mut daemon = PrivateDaemon::start();
    let cache = tempfile::tempdir().unwrap();
    let (mut child, run, mut stdout) = start_sleepy(&daemon, cache.path());
    assert!(napping(&daemon, &run), "the step's command never ran");

    daemon.kill();
    let killed = Instant::now();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        killed.elapsed() < Duration::from_secs(30),
        "the run took {:?} to notice",
        killed.elapsed()
    );
    assert_eq!(status.code(), Some(3), "{stderr}\n{rest}");

    let socket = daemon.host();
    assert!(
        stderr.contains(&format!("the Docker daemon at {socket} went away")),
        "{stderr}"
    );
    assert!(stderr.contains("during step `nap`"), "{stderr}");
    assert!(stderr.contains("start it again"), "{stderr}");
    assert!(stderr.contains("re-run"), "{stderr}");
    let failed: Vec<Value> = rest
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"] == "step_failed")
        .collect();
    assert_eq!(failed.len(), 1, "{rest}");
    assert_eq!(failed[0]["kind"], "daemon_lost", "{rest}");
    assert_eq!(
        files_under(&cache.path().join("ac")),
        Vec::<String>::new(),
        "a step the daemon's death ended is not a result"
    );
}
