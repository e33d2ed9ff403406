//! A `docker_socket` step that starts a tanto run of its own: the nested run's containers go
//! when the step ends, whether it fails or the outer run is interrupted.
//!
//! The outer step runs the host's `fixture` binary, mounted into the Rust image (Debian and
//! glibc, like the host), against the machine's daemon through the mounted socket; the nested
//! run's step prints a marker and sleeps for ten minutes.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::fixture;

/// What the nested run does: a step that says it is up, then sleeps.
const NESTED: &str = "/nested/fixture shaped --progress json --script 'echo nested-up; sleep 600' > /tmp/events 2>&1";

/// A folder holding a copy of the `fixture` binary, for the outer step to mount.
fn nested_bin() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_fixture"), dir.path().join("fixture")).unwrap();
    dir
}

fn docker_ids(filter: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--no-trunc", "--filter", filter])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Starts the outer run of `script` and returns it with the ids of the nested run's
/// containers once there is one, or killed and with none after two minutes.
fn start(cache: &std::path::Path, bin: &std::path::Path, script: &str) -> (Child, Vec<String>) {
    let mut child = fixture(cache)
        .args(["nested", "--progress", "json", "--script", script, "--bin"])
        .arg(bin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut run = None;
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        let event: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["event"] == "run_started" {
            run = event["run_id"].as_str().map(str::to_owned);
        }
        if event["event"] == "step_started" {
            break;
        }
    }
    let run = run.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let nested = loop {
        let nested = nested_of(&run);
        if !nested.is_empty() || Instant::now() > deadline {
            break nested;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if nested.is_empty() {
        let _ = child.kill();
    }
    (child, nested)
}

/// The containers of the runs started inside the containers of outer run `run`.
fn nested_of(run: &str) -> Vec<String> {
    // A nested run labels its containers with its host name: the outer container's.
    for outer in docker_ids(&format!("label=tanto.run={run}")) {
        let nested = docker_ids(&format!("label=tanto.host={}", &outer[..12]));
        if let Some(first) = nested.first() {
            let parent = Command::new("docker")
                .args(["inspect", "--format"])
                .arg("{{index .Config.Labels \"tanto.parent.step\"}}")
                .arg(first)
                .output()
                .unwrap();
            if !parent.status.success() {
                // Gone between the listing and now.
                continue;
            }
            assert_eq!(
                String::from_utf8_lossy(&parent.stdout).trim(),
                outer,
                "a nested run's container names the step it ran in"
            );
            return nested;
        }
    }
    Vec::new()
}

fn left(ids: &[String]) -> Vec<String> {
    ids.iter()
        .flat_map(|id| docker_ids(&format!("id={id}")))
        .collect()
}

#[test]
fn a_failing_steps_nested_containers_go_with_it() {
    let cache = tempfile::tempdir().unwrap();
    let bin = nested_bin();
    let script = format!(
        "{NESTED} & until grep -q nested-up /tmp/events; do sleep 0.2; done; sleep 2; echo giving up >&2; exit 1"
    );
    let (child, nested) = start(cache.path(), bin.path(), &script);
    let out = child.wait_with_output().unwrap();
    assert!(!nested.is_empty(), "no nested container appeared");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        left(&nested),
        Vec::<String>::new(),
        "the nested run's containers outlived the failed step"
    );
}

#[test]
fn an_interrupted_runs_nested_containers_go_with_it() {
    let cache = tempfile::tempdir().unwrap();
    let bin = nested_bin();
    let (child, nested) = start(cache.path(), bin.path(), NESTED);
    assert!(!nested.is_empty(), "no nested container appeared");
    #[allow(unsafe_code)]
    // SAFETY: a signal to our own child process.
    unsafe {
        libc::kill(libc::pid_t::try_from(child.id()).unwrap(), libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        left(&nested),
        Vec::<String>::new(),
        "the nested run's containers outlived the interrupted run"
    );
}
