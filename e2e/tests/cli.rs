//! The CLI and scheduler end to end, with steps in real containers.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

#[test]
fn containers_run_up_to_jobs_at_once_and_never_more() {
    for jobs in ["2", "3"] {
        let cache = tempfile::tempdir().unwrap();
        let daemon = daemon::DaemonEvents::watch();
        // Six steps with six keys: six containers, `-j` of them at a time.
        let out = output(fixture(cache.path()).args(["spread", "-j", jobs, "--progress", "json"]));
        assert!(out.status.success(), "{out:?}");
        let events = events(&out.stdout);
        assert_eq!(of_kind(&events, "step_finished").len(), 6);
        let want: usize = jobs.parse().unwrap();
        assert_eq!(peak_overlap(&events), want, "events, with -j {jobs}");
        let run = run_id(&events);
        assert_eq!(
            daemon::peak_containers(&daemon.finish(), &run),
            want,
            "the daemon, with -j {jobs}"
        );
        assert_eq!(containers_of_run(&run), 0);
    }
}

#[test]
fn fail_fast_cancels_the_rest_exits_1_and_leaves_no_containers() {
    let cache = tempfile::tempdir().unwrap();
    // `-j 3` starts all three at once whatever the machine's CPU count, so the naps are running
    // when `broken` fails and fail-fast has something to cancel.
    let out = output(fixture(cache.path()).args(["failing", "-j", "3", "--progress", "json"]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = events(&out.stdout);
    let failed = of_kind(&events, "step_failed");
    assert_eq!(failed.len(), 1);
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains("exit 3") && error.contains("code 3"),
        "{error}"
    );
    assert_eq!(
        failed[0]["kind"], "command_failed",
        "the failure keeps its kind"
    );
    assert!(
        error.ends_with("the last lines it printed:\nchecking\nsomething broke\ngiving up"),
        "the output's tail is in the error: {error}"
    );
    assert_eq!(
        of_kind(&events, "step_started").len(),
        3,
        "all three steps started"
    );
    assert_eq!(
        of_kind(&events, "step_finished").len(),
        0,
        "the naps were cancelled"
    );
    assert_eq!(of_kind(&events, "step_skipped").len(), 2);
    assert_eq!(containers_of_run(&run_id(&events)), 0);
}

#[test]
fn keep_going_completes_the_independent_branches() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(fixture(cache.path()).args(["failing", "--keep-going", "--progress", "json"]));
    assert_eq!(out.status.code(), Some(1));
    let events = events(&out.stdout);
    assert_eq!(of_kind(&events, "step_failed").len(), 1);
    assert_eq!(of_kind(&events, "step_finished").len(), 2);
    let finished = of_kind(&events, "run_finished");
    assert_eq!(finished[0]["ran"], 2);
    assert_eq!(finished[0]["failed"], 1);
    assert_eq!(containers_of_run(&run_id(&events)), 0);
}

/// A field's name and the check of its type.
type Field = (&'static str, fn(&Value) -> bool);

/// The fields each event kind must carry, as documented in docs/events.md.
fn schema(kind: &str) -> &'static [Field] {
    const STR: fn(&Value) -> bool = Value::is_string;
    const INT: fn(&Value) -> bool = Value::is_u64;
    const BOOL: fn(&Value) -> bool = Value::is_boolean;
    const STR_OR_NULL: fn(&Value) -> bool = |v| v.is_string() || v.is_null();
    match kind {
        "run_started" => &[("run_id", STR), ("pipeline", STR), ("steps", INT)],
        "step_started" => &[("step", STR), ("reason", STR), ("shared_with", STR_OR_NULL)],
        "step_note" => &[("step", STR), ("message", STR)],
        "step_log" => &[("step", STR), ("stream", STR), ("line", STR)],
        "step_cached" => &[("step", STR)],
        "step_finished" => &[("step", STR), ("duration_ms", INT)],
        "step_failed" => &[
            ("step", STR),
            ("duration_ms", INT),
            ("error", STR),
            ("kind", STR),
            ("log_path", STR_OR_NULL),
        ],
        "step_skipped" => &[("step", STR), ("reason", STR), ("stopped", BOOL)],
        "run_finished" => &[
            ("ran", INT),
            ("shared", INT),
            ("cached", INT),
            ("failed", INT),
            ("skipped", INT),
            ("stopped", INT),
            ("duration_ms", INT),
        ],
        other => panic!("undocumented event kind `{other}`"),
    }
}

#[test]
fn json_events_match_the_schema() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(fixture(cache.path()).args(["failing", "--keep-going", "--progress", "json"]));
    let events = events(&out.stdout);
    assert_eq!(events.first().unwrap()["event"], "run_started");
    assert_eq!(events.last().unwrap()["event"], "run_finished");
    for event in &events {
        assert!(event["ts_us"].is_u64(), "{event}");
        let kind = event["event"].as_str().expect("an `event` field");
        for (field, check) in schema(kind) {
            assert!(check(&event[field]), "`{field}` of {event}");
        }
    }
    let logs = of_kind(&events, "step_log");
    assert!(
        logs.iter()
            .any(|e| e["line"] == "something broke" && e["stream"] == "stderr"),
        "{logs:?}"
    );
    let failed = of_kind(&events, "step_failed");
    let log_path = failed[0]["log_path"].as_str().expect("a log path");
    let log = std::fs::read_to_string(log_path).expect("the full log is kept on disk");
    assert!(log.contains("something broke"), "{log}");
}

#[test]
fn plain_output_has_no_escape_codes() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(
        fixture(cache.path())
            .args(["failing", "--keep-going"])
            .env("CI", "true"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains('\u{1b}') && !stderr.contains('\u{1b}'),
        "{stdout}\n{stderr}"
    );
    // Progress is for people: it goes to stderr, and stdout carries only outputs (none here).
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("[broken] something broke"), "{stderr}");
    assert!(stderr.contains("[nap] done in"), "{stderr}");
    assert!(
        stderr.contains("STEP") && stderr.contains("FAILED"),
        "the summary table: {stderr}"
    );
    let failure = stderr
        .split("step `broken` failed: ")
        .nth(1)
        .expect("the failure after the table");
    assert!(failure.contains("exited with code 3"), "{failure}");
    assert!(
        failure.contains("the last lines it printed:\nchecking\nsomething broke\ngiving up\n"),
        "the last lines of its stdout and stderr, in the order it printed them: {failure}"
    );
    assert!(failure.contains("full log: "), "{failure}");
}

#[test]
fn github_actions_gets_groups_and_an_error_line() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(
        fixture(cache.path())
            .args(["failing", "--keep-going", "--progress", "plain"])
            .env("GITHUB_ACTIONS", "true"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("::group::broken (failed after"), "{stderr}");
    assert!(stderr.contains("::endgroup::"), "{stderr}");
    assert!(
        stderr.contains("::error title=step broken failed::"),
        "{stderr}"
    );
}

#[test]
fn graph_and_list_run_nothing_and_need_no_daemon() {
    let cache = tempfile::tempdir().unwrap();
    // A dead daemon address: anything that tried to run a step would fail.
    let dead = "unix:///nonexistent/tanto-test.sock";
    let out = output(
        fixture(cache.path())
            .args(["cutoff", "--graph", "mermaid"])
            .env("DOCKER_HOST", dead),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("flowchart TD") && text.contains("names") && text.contains("-->"),
        "{text}"
    );
    let out = output(fixture(cache.path()).arg("--list").env("DOCKER_HOST", dead));
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for name in [
        "wide",
        "failing",
        "sleepy",
        "cutoff",
        "- names",
        "- shout",
        "--src <Dir>  (only `src/**`, `Cargo.*`; not `src/fixtures/**`)",
    ] {
        assert!(text.contains(name), "`{name}` in {text}");
    }
    assert!(!cache.path().join("logs").exists(), "no run happened");
}

#[test]
fn unknown_pipeline_or_flag_exits_2_with_a_suggestion() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(fixture(cache.path()).arg("wdie"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wide"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = output(fixture(cache.path()).args(["wide", "--keep-gonig"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--keep-going"));
    let out = output(fixture(cache.path()).args(["wide", "--no-cache", "nope"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no step `nope`"));
}

/// The JSON events a run still has to print, one a line.
type Events = std::io::Lines<BufReader<std::process::ChildStdout>>;

/// Spawns `sleepy` and returns once its step has started, with the child, its run id and the
/// rest of its events.
fn start_sleepy(cache: &std::path::Path) -> (std::process::Child, String, Events) {
    let mut child = fixture(cache)
        .args(["sleepy", "--progress", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the fixture");
    let stdout = child.stdout.take().expect("stdout");
    let mut run = None;
    let mut events = BufReader::new(stdout).lines();
    for line in events.by_ref() {
        let event: Value = serde_json::from_str(&line.expect("a line")).expect("JSON");
        if event["event"] == "run_started" {
            run = event["run_id"].as_str().map(str::to_owned);
        }
        if event["event"] == "step_started" {
            break;
        }
    }
    let run = run.expect("a run id");
    // The container is created by the step's first exec, just after `step_started`.
    let deadline = Instant::now() + Duration::from_secs(20);
    while containers_of_run(&run) == 0 {
        assert!(
            Instant::now() < deadline,
            "the step's container never appeared"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, run, events)
}

/// Sends `signal` to a running `sleepy` and asserts it exits 130 with nothing left behind: no
/// container, no linked view or staging in the store.
fn interrupt_leaves_nothing(signal: libc::c_int) {
    let cache = tempfile::tempdir().unwrap();
    let (mut child, run, events) = start_sleepy(cache.path());
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    #[allow(unsafe_code)]
    // SAFETY: sending a signal to our own child process, which has not been reaped.
    unsafe {
        libc::kill(pid, signal);
    }
    // The interruption is told as an event of the run, before the run's end.
    let kinds: Vec<Value> = events
        .map(|line| serde_json::from_str(&line.expect("a line")).expect("JSON"))
        .collect();
    let note = kinds
        .iter()
        .position(|e| e["event"] == "run_note")
        .unwrap_or_else(|| panic!("no run_note: {kinds:?}"));
    assert_eq!(
        kinds[note]["message"],
        "interrupted; stopping steps and removing their containers (again to exit at once)"
    );
    let finished = kinds.iter().position(|e| e["event"] == "run_finished");
    assert!(finished.is_some_and(|f| f > note), "{kinds:?}");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert_eq!(containers_of_run(&run), 0);
    let staging: Vec<_> = std::fs::read_dir(cache.path().join("tmp"))
        .unwrap()
        .collect();
    assert!(staging.is_empty(), "{staging:?}");
}

#[test]
fn sigint_exits_130_and_leaves_no_containers() {
    interrupt_leaves_nothing(libc::SIGINT);
}

#[test]
fn sigterm_exits_130_and_leaves_no_containers() {
    interrupt_leaves_nothing(libc::SIGTERM);
}

#[test]
fn leftovers_of_a_killed_run_are_reaped_by_the_next() {
    let cache = tempfile::tempdir().unwrap();
    let (mut child, run, _events) = start_sleepy(cache.path());
    assert!(containers_of_run(&run) > 0, "the step's container is up");
    child.kill().unwrap();
    child.wait().unwrap();
    // The container's keep-alive ends with its killed owner (AutoRemove takes it away); the
    // next run reaps whatever is left either way. Nothing of the killed run may remain.
    let out = output(fixture(cache.path()).args(["sleepy", "--plan"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while containers_of_run(&run) > 0 {
        assert!(
            Instant::now() < deadline,
            "the killed run's container is still there after the next run and 30 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_bad_glob_or_dir_view_exits_2_saying_what_is_wrong() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let out = output(
        fixture(cache.path())
            .args(["bad_glob", "--src"])
            .arg(src.path()),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--src: invalid glob `src/[`"), "{stderr}");

    let out = output(
        fixture(cache.path())
            .args(["selected", "--src"])
            .arg(src.path())
            .env("TANTO_DIR_VIEW", "copies"),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "TANTO_DIR_VIEW=`copies` is not known; use `linked` (the default) or `masks`"
        ),
        "{stderr}"
    );
}

#[test]
fn trace_is_a_chrome_trace_of_the_steps_in_order() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a.txt"), "one\n").unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let trace = out_dir.path().join("run.trace.json");
    let traced = |cache: &std::path::Path| -> Value {
        let out = output(
            fixture(cache)
                .args(["cutoff", "--trace"])
                .arg(&trace)
                .arg("--src")
                .arg(src.path()),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&std::fs::read(&trace).unwrap()).unwrap()
    };
    // `names` feeds `shout`: two spans, one after the other, each with a time and a length.
    let first = traced(cache.path());
    let events = first["traceEvents"].as_array().unwrap();
    let span = |name: &str| -> (u64, u64) {
        let e = events
            .iter()
            .find(|e| e["name"] == name && e["ph"] == "X")
            .unwrap_or_else(|| panic!("no span of `{name}` in {events:?}"));
        assert_eq!(e["args"]["status"], "done", "{e}");
        (e["ts"].as_u64().unwrap(), e["dur"].as_u64().unwrap())
    };
    let (names_ts, names_dur) = span("names");
    let (shout_ts, shout_dur) = span("shout");
    assert!(names_dur > 0 && shout_dur > 0, "{events:?}");
    assert!(
        shout_ts >= names_ts + names_dur,
        "`shout` starts after `names` ends: {events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["ph"] == "M" && e["name"] == "process_name"),
        "{events:?}"
    );
    // Cached steps are instants.
    let second = traced(cache.path());
    let instants: Vec<&Value> = second["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "i")
        .map(|e| &e["name"])
        .collect();
    assert_eq!(instants, ["names", "shout"], "{second}");
}

/// How many commands ran as execs in the containers of run `run_id`.
fn execs(events: &[daemon::DaemonEvent], run_id: &str) -> usize {
    events
        .iter()
        .filter(|e| e.of_run(run_id) && e.action.starts_with("exec_create"))
        .count()
}

#[test]
fn a_step_takes_the_one_command_hint_of_a_step_of_the_same_code_that_ended_in_its_run() {
    let cache = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let daemon = daemon::DaemonEvents::watch();
        let out = output(
            fixture(cache.path())
                .args(["relay", "--progress", "json"])
                .args(extra),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let events = events(&out.stdout);
        assert_eq!(of_kind(&events, "step_finished").len(), 3);
        let run = run_id(&events);
        let seen = daemon.finish();
        assert_eq!(daemon::created(&seen, &run), 3, "one container per step");
        assert_eq!(containers_of_run(&run), 0);
        (execs(&seen, &run), out.stdout)
    };
    // An empty store: the first `hop` has no hint and runs its command as an exec in a
    // keep-alive container; the two after it take its hint and run theirs as PID 1.
    let (first, stdout) = run(&[]);
    assert_eq!(first, 1, "only the first step of the code ran an exec");
    assert!(
        String::from_utf8_lossy(&stdout).contains("go+++"),
        "each step saw the last one's output"
    );
    // Each label has its own hint now.
    let (again, _) = run(&["--no-cache"]);
    assert_eq!(again, 0, "every step ran its command as PID 1");
}
