//! A container's keep-alive ends with its owner: a run killed with SIGKILL leaves nothing
//! running, even when no later run comes to reap it. On a private daemon, because every run
//! on the machine's daemon (other tests' too) reaps what dead runs left.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod hardening_support;
mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hardening_support::PrivateDaemon;
use serde_json::Value;
use support::fixture;

#[test]
fn a_killed_runs_containers_end_by_themselves() {
    let daemon = PrivateDaemon::start();
    let cache = tempfile::tempdir().unwrap();
    let mut child = fixture(cache.path())
        .env("DOCKER_HOST", daemon.host())
        .args(["sleepy", "--progress", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut run = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let event: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["event"] == "run_started" {
            run = event["run_id"].as_str().map(str::to_owned);
        }
        if event["event"] == "step_started" {
            break;
        }
    }
    let run = run.unwrap();
    let containers_of_run = |run: &str| daemon.containers(&format!("tanto.run={run}"));
    // Killed once its keep-alive runs: a container created but never started has no
    // keep-alive yet, and is reaping's to remove (`backend/lease.rs`), not this test's.
    let deadline = Instant::now() + Duration::from_secs(20);
    while daemon.running(&format!("tanto.run={run}")) == 0 {
        assert!(
            Instant::now() < deadline,
            "the step's container never ran: {}",
            daemon.states(&format!("tanto.run={run}"))
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    child.kill().unwrap();
    child.wait().unwrap();
    // No other run starts: the container must end on its own.
    let killed = Instant::now();
    while containers_of_run(&run) > 0 {
        assert!(
            killed.elapsed() < Duration::from_secs(15),
            "the container of a SIGKILLed run is still there after {:?}: {}",
            killed.elapsed(),
            daemon.states(&format!("tanto.run={run}"))
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
