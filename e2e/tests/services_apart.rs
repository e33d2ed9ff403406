//! Services are per binding unless shared: two steps that bind one PostgreSQL definition each
//! get their own (and see only their own tables), one step binding a definition under two
//! names gets two containers, and a shared service whose starting step timed out before it was
//! ready is started again for the step still waiting, with no name conflict.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Command, Output};

use support::daemon::{DaemonEvent, DaemonEvents};
use support::*;

/// Runs `pipeline` with JSON progress, `args` after it, and the store at `cache`.
fn run(cache: &std::path::Path, pipeline: &str, args: &[&str]) -> (Output, Vec<serde_json::Value>) {
    let out = output(
        fixture(cache)
            .args([pipeline, "--progress", "json"])
            .args(args),
    );
    let events = events(&out.stdout);
    (out, events)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The step notes about services: `starting …` and `joining …`.
fn service_notes(events: &[serde_json::Value]) -> Vec<String> {
    of_kind(events, "step_note")
        .iter()
        .filter_map(|n| n["message"].as_str())
        .filter(|m| m.starts_with("starting ") || m.starts_with("joining "))
        .map(str::to_owned)
        .collect()
}

/// How many service containers run `run_id` created, among the daemon's `events`.
fn service_creations(events: &[DaemonEvent], run_id: &str) -> usize {
    events
        .iter()
        .filter(|e| e.of_run(run_id) && e.action == "create")
        .filter(|e| e.attributes.contains_key("tanto.service"))
        .count()
}

/// Asserts that run `run` left no container and no network.
fn assert_nothing_left(run: &str) {
    assert_eq!(containers_of_run(run), 0, "containers of {run}");
    let out = output(Command::new("docker").args([
        "network",
        "ls",
        "-q",
        "--filter",
        &format!("label=tanto.run={run}"),
    ]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "",
        "networks of {run}"
    );
}

#[test]
fn two_steps_binding_one_definition_do_not_see_each_others_tables() {
    let cache = tempfile::tempdir().unwrap();
    let daemon = DaemonEvents::watch();
    let (out, events) = run(cache.path(), "pg_apart", &["-j", "2"]);
    // Each step made `items` and, 3 s later, fails unless it holds only its own row.
    assert!(out.status.success(), "{}{events:?}", stderr(&out));
    assert_eq!(peak_overlap(&events), 2, "both steps ran at once");
    let run_id = run_id(&events);
    assert_eq!(service_creations(&daemon.finish(), &run_id), 2);
    let notes = service_notes(&events);
    assert_eq!(
        notes,
        [
            "starting service `db` (tanto-test/postgres:15)",
            "starting service `db` (tanto-test/postgres:15)"
        ],
        "{events:?}"
    );
    assert_nothing_left(&run_id);
}

#[test]
fn one_step_binding_one_definition_under_two_names_gets_two_containers() {
    let cache = tempfile::tempdir().unwrap();
    let daemon = DaemonEvents::watch();
    let (out, events) = run(cache.path(), "svc_two_names", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run_id = run_id(&events);
    assert_eq!(service_creations(&daemon.finish(), &run_id), 2);
    let notes = service_notes(&events);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes.iter().all(|n| n.starts_with("starting service `")),
        "{notes:?}"
    );
    assert_nothing_left(&run_id);
}

#[test]
fn a_shared_service_whose_starter_timed_out_is_started_again_for_the_other_step() {
    let cache = tempfile::tempdir().unwrap();
    let (out, events) = run(cache.path(), "svc_started_by_timed_out", &["--keep-going"]);
    let all = format!("{}{events:?}", stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(!all.contains("Conflict"), "{all}");
    assert_eq!(steps(&events, "step_finished"), ["slow_patient"], "{all}");
    let failed = of_kind(&events, "step_failed");
    assert_eq!(failed.len(), 1, "{all}");
    assert_eq!(failed[0]["step"], "slow_impatient", "{all}");
    assert_eq!(failed[0]["kind"], "timeout", "{all}");
    let notes = service_notes(&events);
    assert_eq!(
        notes,
        [
            "starting shared service `slow` (tanto-test/busybox:latest)",
            "starting shared service `slow` (tanto-test/busybox:latest)"
        ],
        "{all}"
    );
    assert_nothing_left(&run_id(&events));
}
