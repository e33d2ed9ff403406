//! Caching end to end: early cutoff, a source edited mid-step, the store's commands, and one
//! run for identical steps in flight.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::Value;
use support::*;

use support::events as events_of;

#[test]
fn an_unchanged_upstream_output_keeps_dependents_cached() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a.txt"), "one\n").unwrap();
    std::fs::write(src.path().join("b.txt"), "two\n").unwrap();
    let first = run_ok(cache.path(), "cutoff", src.path());
    assert_eq!(of_kind(&first, "step_finished").len(), 2);
    std::fs::write(src.path().join("a.txt"), "changed content, same name\n").unwrap();
    let second = run_ok(cache.path(), "cutoff", src.path());
    let started = of_kind(&second, "step_started");
    assert_eq!(started.len(), 1, "{second:?}");
    assert_eq!(started[0]["step"], "names");
    assert!(
        started[0]["reason"].as_str().unwrap().contains("a.txt"),
        "{:?}",
        started[0]
    );
    let cached: Vec<_> = of_kind(&second, "step_cached")
        .iter()
        .map(|e| e["step"].clone())
        .collect();
    assert_eq!(cached, vec![Value::from("shout")]);
}

#[test]
fn a_source_edited_during_a_step_is_not_cached_under_the_old_key() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a.txt"), "one\n").unwrap();
    let mut child = fixture(cache.path())
        .args(["slow", "--progress", "json", "--src"])
        .arg(src.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut events = Vec::new();
    let mut edited = false;
    for line in BufReader::new(stdout).lines() {
        let event: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["event"] == "step_started" && !edited {
            std::fs::write(src.path().join("b.txt"), "two\n").unwrap();
            edited = true;
        }
        events.push(event);
    }
    assert!(child.wait().unwrap().success());
    // tanto's own word, apart from the step's output.
    let warned = of_kind(&events, "step_note").iter().any(|e| {
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("changed while")
    });
    assert!(warned, "{events:?}");
    // The edit happened before the step could see all of it: the next run must run again.
    let out = output(
        fixture(cache.path())
            .args(["slow", "--progress", "json", "--src"])
            .arg(src.path()),
    );
    let again = events_of(&out.stdout);
    assert_eq!(of_kind(&again, "step_started").len(), 1, "{again:?}");
}

#[test]
fn cache_commands_report_verify_and_prune() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a.txt"), "one\n").unwrap();
    let out = output(
        fixture(cache.path())
            .args(["cutoff", "--src"])
            .arg(src.path()),
    );
    assert!(out.status.success());
    let stats = output(fixture(cache.path()).args(["cache", "stats"]));
    let text = String::from_utf8_lossy(&stats.stdout);
    assert!(text.contains("cached results  2"), "{text}");
    let verify = output(fixture(cache.path()).args(["cache", "verify"]));
    assert!(String::from_utf8_lossy(&verify.stdout).contains("the cache is sound"));
    let prune = output(fixture(cache.path()).args(["cache", "prune", "--max-size", "0"]));
    assert!(
        prune.status.success(),
        "{}",
        String::from_utf8_lossy(&prune.stderr)
    );
    let out = output(
        fixture(cache.path())
            .args(["cutoff", "--progress", "json", "--src"])
            .arg(src.path()),
    );
    assert_eq!(
        of_kind(&events_of(&out.stdout), "step_started").len(),
        2,
        "pruned to nothing, both run again"
    );
    let usage = output(fixture(cache.path()).args(["cache", "prune"]));
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn identical_steps_in_flight_run_once() {
    let cache = tempfile::tempdir().unwrap();
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // `wide` calls `nap(1)` six times: one key.
    let out = output(fixture(cache.path()).args(["wide", "-j", "6", "--progress", "json"]));
    assert!(out.status.success());
    let events = events_of(&out.stdout);
    assert_eq!(of_kind(&events, "step_finished").len(), 6);
    let started = of_kind(&events, "step_started");
    let (shared, own): (Vec<&&Value>, Vec<&&Value>) =
        started.iter().partition(|e| e["shared_with"].is_string());
    assert_eq!((shared.len(), own.len()), (5, 1), "{events:?}");
    assert!(
        shared.iter().all(|e| e["shared_with"] == own[0]["step"]),
        "each shares the one run: {events:?}"
    );
    let finished = of_kind(&events, "run_finished");
    assert_eq!(finished[0]["ran"], 1);
    assert_eq!(finished[0]["shared"], 5);
    // People see the same count.
    let out = output(fixture(cache.path()).args(["wide", "--no-cache", "--progress", "plain"]));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("tanto: 1 ran, 5 shared, 0 cached, 0 failed"),
        "{text}"
    );
    assert!(text.contains("shares the run of `nap"), "{text}");
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let created = output(std::process::Command::new("docker").args([
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        "event=create",
        "--filter",
        &format!("label=tanto.run={}", run_id(&events)),
        "--format",
        "{{.ID}}",
    ]));
    let count = String::from_utf8_lossy(&created.stdout).lines().count();
    assert_eq!(count, 1, "one container for six identical steps");
}
