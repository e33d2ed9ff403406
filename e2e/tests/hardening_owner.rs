//! A container's keep-alive ends with its owner: a run killed with SIGKILL leaves nothing
//! running, even when no later run comes to reap it. On a private daemon, because every run
//! on the machine's daemon (other tests' too) reaps what dead runs left. And what a killed run
//! staged in the store (its linked views, its temporary files) goes with the next run.

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

/// The staging folders of processes under the store at `cache`, with what each holds besides
/// its lock.
fn staging_folders(cache: &std::path::Path) -> Vec<(std::path::PathBuf, usize)> {
    std::fs::read_dir(cache.join("tmp"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("proc-"))
        .map(|e| {
            let held = std::fs::read_dir(e.path()).unwrap().count() - 1;
            (e.path(), held)
        })
        .collect()
}

#[test]
fn a_killed_runs_staged_files_go_with_the_next_run() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("kept.txt"), "kept").unwrap();
    std::fs::create_dir(src.path().join("ignored")).unwrap();
    std::fs::write(src.path().join("ignored/left.txt"), "left out").unwrap();
    // A folder input that leaves a file out is mounted as a linked view, staged in the store.
    std::fs::write(src.path().join(".gitignore"), "ignored/\n").unwrap();
    let slow = |extra: &[&str]| {
        let mut cmd = fixture(cache.path());
        cmd.args(["slow", "--progress", "json"])
            .args(extra)
            .arg("--src")
            .arg(src.path());
        cmd
    };
    let mut child = slow(&[])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let event: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["event"] == "step_started" {
            break;
        }
    }
    // The view is made as the step's container is, after the step starts.
    let deadline = Instant::now() + Duration::from_secs(10);
    let staged = loop {
        let staged = staging_folders(cache.path());
        if staged.iter().any(|(_, held)| *held > 0) || Instant::now() > deadline {
            break staged;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(staged.len(), 1, "{staged:?}");
    assert!(staged[0].1 > 0, "the run staged nothing: {staged:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        staged[0].0.exists(),
        "nothing removes it before a run comes"
    );

    let out = support::output(&mut slow(&["--plan"]));
    assert!(out.status.success(), "{out:?}");
    assert!(
        !staged[0].0.exists(),
        "the killed run's folder is still there"
    );
    assert_eq!(
        staging_folders(cache.path()),
        [],
        "the plan's own folder went with it"
    );
}
