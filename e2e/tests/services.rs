//! Services against the real daemon: a step talks to a real PostgreSQL, two consumers share one
//! shared instance, bad services fail naming themselves, and no ending (success, failure, Ctrl-C,
//! kill -9 and the next run) leaves a container or a network behind.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::daemon::{DaemonEvent, DaemonEvents};
use support::*;

/// The ids of the containers or (`what` = `network`) networks that carry `label`.
fn labelled(what: &str, label: &str) -> Vec<String> {
    let args: &[&str] = if what == "network" {
        &["network", "ls", "-q"]
    } else {
        &["ps", "-aq"]
    };
    let out = output(
        Command::new("docker")
            .args(args)
            .args(["--filter", &format!("label={label}")]),
    );
    assert!(out.status.success(), "docker failed: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Asserts that run `run` left no container and no network.
fn assert_nothing_left(run: &str) {
    let label = format!("tanto.run={run}");
    assert_eq!(
        labelled("container", &label),
        Vec::<String>::new(),
        "containers of {run}"
    );
    assert_eq!(
        labelled("network", &label),
        Vec::<String>::new(),
        "networks of {run}"
    );
}

/// Runs `pipeline` with JSON progress and the store at `cache`.
fn run(cache: &std::path::Path, pipeline: &str) -> (Output, Vec<serde_json::Value>) {
    let out = output(fixture(cache).args([pipeline, "--progress", "json"]));
    let events = events(&out.stdout);
    (out, events)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The error of the run's failed step.
fn failure(events: &[serde_json::Value]) -> String {
    let failed = of_kind(events, "step_failed");
    assert_eq!(failed.len(), 1, "{events:?}");
    failed[0]["error"].as_str().unwrap().to_owned()
}

#[test]
fn a_step_writes_and_reads_a_real_postgresql() {
    let cache = tempfile::tempdir().unwrap();
    let (out, events) = run(cache.path(), "pg");
    assert!(out.status.success(), "{}", stderr(&out));
    // What psql read back from the table, as the step's log shows it.
    let logs = of_kind(&events, "step_log");
    assert!(
        logs.iter().any(|e| e["line"] == "item-1,item-2,item-3"),
        "{logs:?}"
    );
    let run_id = run_id(&events);
    // The service's own log, in the run's log folder.
    let log = cache
        .path()
        .join("logs")
        .join(&run_id)
        .join("service-db.log");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("database system is ready"), "{log}");
    assert_nothing_left(&run_id);
}

#[test]
fn a_service_returned_by_one_step_is_bound_by_the_next() {
    let cache = tempfile::tempdir().unwrap();
    let (out, events) = run(cache.path(), "pg_wired");
    assert!(out.status.success(), "{}", stderr(&out));
    let logs = of_kind(&events, "step_log");
    assert!(logs.iter().any(|e| e["line"] == "2"), "{logs:?}");
    assert_nothing_left(&run_id(&events));
}

fn docker(args: &[&str]) {
    let out = output(Command::new("docker").args(args));
    assert!(out.status.success(), "docker {args:?}: {out:?}");
}

#[test]
fn a_service_inputs_image_id_is_in_its_consumers_key() {
    let image = "tanto-test/service-key:1";
    let cache = tempfile::tempdir().unwrap();
    let started = |events: &[serde_json::Value]| {
        of_kind(events, "step_started")
            .iter()
            .filter(|e| e["step"] == "bind_given")
            .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    docker(&["tag", "tanto-test/busybox:latest", image]);
    let (out, first) = run(cache.path(), "svc_keyed");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(started(&first).len(), 1);
    let (_, again) = run(cache.path(), "svc_keyed");
    assert_eq!(started(&again), Vec::<String>::new(), "same image: cached");
    // Another image under the same tag: the consumer runs again, and says why.
    docker(&["tag", "tanto-test/postgres:15", image]);
    let (out, retagged) = run(cache.path(), "svc_keyed");
    docker(&["rmi", image]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reasons = started(&retagged);
    assert_eq!(reasons.len(), 1, "{retagged:?}");
    assert!(reasons[0].contains("input.svc.image"), "{reasons:?}");
    for events in [&first, &retagged] {
        assert_nothing_left(&run_id(events));
    }
}

#[test]
fn concurrent_consumers_share_one_shared_instance() {
    let cache = tempfile::tempdir().unwrap();
    let daemon = DaemonEvents::watch();
    let (out, events) = run(cache.path(), "pg_shared");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(peak_overlap(&events), 2, "both consumers ran at once");
    let run_id = run_id(&events);
    assert_eq!(service_creations(&daemon.finish(), &run_id), 1);
    // Each consumer's log says which of the two started it and which joined it, and whose.
    let mut said = notes_starting_with(
        &events,
        &[
            "starting shared service `db`",
            "joining shared service `db`",
        ],
    );
    said.sort();
    assert_eq!(said, ["joining", "starting"], "{events:?}");
    let starter = of_kind(&events, "step_note")
        .into_iter()
        .find(|n| {
            n["message"]
                .as_str()
                .unwrap()
                .starts_with("starting shared")
        })
        .map(|n| n["step"].as_str().unwrap().to_owned())
        .unwrap();
    let joined = format!("which step `{starter}` started");
    assert!(
        of_kind(&events, "step_note")
            .iter()
            .any(|n| n["message"].as_str().unwrap().ends_with(&joined)),
        "{events:?}"
    );
    assert_nothing_left(&run_id);
}

#[test]
fn a_service_that_stopped_is_started_again_for_the_next_consumer() {
    let cache = tempfile::tempdir().unwrap();
    let daemon = DaemonEvents::watch();
    let (out, events) = run(cache.path(), "svc_restarted");
    assert!(out.status.success(), "{}", stderr(&out));
    let run_id = run_id(&events);
    assert_eq!(service_creations(&daemon.finish(), &run_id), 2);
    let said = notes_starting_with(
        &events,
        &[
            "starting shared service `svc`",
            "joining shared service `svc`",
        ],
    );
    assert_eq!(said, ["starting", "starting"], "{events:?}");
    assert_nothing_left(&run_id);
}

/// The first word of each step note that starts with one of `prefixes`, in order.
fn notes_starting_with(events: &[serde_json::Value], prefixes: &[&str]) -> Vec<String> {
    of_kind(events, "step_note")
        .iter()
        .filter_map(|n| n["message"].as_str())
        .filter(|m| prefixes.iter().any(|p| m.starts_with(p)))
        .filter_map(|m| m.split(' ').next().map(str::to_owned))
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

#[test]
fn a_never_ready_service_fails_within_its_timeout_with_its_log_tail() {
    let cache = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (out, events) = run(cache.path(), "svc_never");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(20));
    let err = failure(&events);
    assert!(err.contains("service `svc`"), "{err}");
    assert!(
        err.contains("was not ready after 3s: port 5432 never accepted connections"),
        "{err}"
    );
    assert!(err.contains("warming up forever"), "{err}");
    assert_nothing_left(&run_id(&events));
}

#[test]
fn a_hanging_probe_ends_at_the_timeout_and_a_long_log_line_is_cut() {
    let cache = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (out, events) = run(cache.path(), "svc_probe_hangs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(30));
    let err = failure(&events);
    assert!(
        err.contains("was not ready after 3s: `sleep 600` never exited with 0"),
        "{err}"
    );
    assert!(err.contains(&format!("{}…", "x".repeat(100))), "{err}");
    assert!(err.len() < 4096, "{} bytes", err.len());
    assert_nothing_left(&run_id(&events));
}

#[test]
fn bad_services_fail_naming_the_service_and_leave_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let cases = [
        ("svc_exits", "exited with code 7 before it was ready"),
        ("svc_exits", "giving up"),
        ("svc_twice", "service `db` is bound twice"),
    ];
    for (pipeline, expected) in cases {
        let (out, events) = run(cache.path(), pipeline);
        assert_eq!(out.status.code(), Some(1), "{pipeline}: {}", stderr(&out));
        let err = failure(&events);
        assert!(err.contains("service `"), "{pipeline}: {err}");
        assert!(err.contains(expected), "{pipeline}: {err}");
        assert_nothing_left(&run_id(&events));
    }
}

#[test]
fn a_failed_consumers_log_shows_its_services_log() {
    let cache = tempfile::tempdir().unwrap();
    let (out, events) = run(cache.path(), "svc_consumer_fails");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let run_id = run_id(&events);
    // A note a line, so the plain view shows each as a line of its own.
    let notes: Vec<&str> = of_kind(&events, "step_note")
        .iter()
        .filter_map(|n| n["message"].as_str())
        .collect();
    let at = notes
        .iter()
        .position(|m| *m == "service `greeter`: its last log lines:")
        .unwrap_or_else(|| panic!("{notes:?}"));
    assert_eq!(
        notes.get(at + 1),
        Some(&"  service says hello"),
        "{notes:?}"
    );
    assert!(!notes.iter().any(|m| m.contains("exited")), "{notes:?}");
    let plain = output(fixture(cache.path()).args(["svc_consumer_fails", "--progress", "plain"]));
    assert!(
        String::from_utf8_lossy(&plain.stderr)
            .lines()
            .any(|l| l == "[bind_then_fail] tanto:   service says hello"),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let log = cache.path().join("logs").join(&run_id);
    let step_log = std::fs::read_to_string(log.join("bind_then_fail.log")).unwrap();
    assert!(step_log.contains("service says hello"), "{step_log}");
    let service_log = std::fs::read_to_string(log.join("service-greeter.log")).unwrap();
    assert_eq!(service_log, "service says hello\n");
    assert_nothing_left(&run_id);
}

/// Starts `svc_hold` and returns it with its run id once its service container is up.
#[test]
fn a_service_that_dies_during_the_step_is_named_in_its_failure() {
    let cache = tempfile::tempdir().unwrap();
    let (out, events) = run(cache.path(), "svc_dies");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let notes: Vec<&str> = of_kind(&events, "step_note")
        .iter()
        .filter_map(|n| n["message"].as_str())
        .collect();
    assert!(
        notes.contains(&"service `fleeting` exited with code 5 during the step"),
        "{notes:?}"
    );
    assert!(notes.contains(&"  going"), "{notes:?}");
    assert_nothing_left(&run_id(&events));
}

fn start_holding(cache: &std::path::Path) -> (std::process::Child, String) {
    let mut child = fixture(cache)
        .args(["svc_hold", "--progress", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let run = loop {
        let line = lines.next().unwrap().unwrap();
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        if event["event"] == "run_started" {
            break event["run_id"].as_str().unwrap().to_owned();
        }
    };
    // Keep reading, so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let deadline = Instant::now() + Duration::from_secs(30);
    let label = format!("tanto.run={run}");
    while labelled("container", &label).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the service and its consumer never came up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, run)
}

#[test]
fn ctrl_c_leaves_no_service_or_network() {
    let cache = tempfile::tempdir().unwrap();
    let (mut child, run) = start_holding(cache.path());
    assert_eq!(labelled("network", &format!("tanto.run={run}")).len(), 1);
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    #[allow(unsafe_code)]
    // SAFETY: sending a signal to our own child process.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_nothing_left(&run);
}

#[test]
fn a_killed_runs_service_and_network_are_reaped_by_the_next_run() {
    let cache = tempfile::tempdir().unwrap();
    let (mut child, killed) = start_holding(cache.path());
    child.kill().unwrap();
    child.wait().unwrap();
    let label = format!("tanto.run={killed}");
    assert_eq!(
        labelled("network", &label).len(),
        1,
        "kill -9 leaves the network"
    );
    // Any run reaps what dead runs left before it starts.
    let (out, _) = run(cache.path(), "svc_twice");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_nothing_left(&killed);
}
