//! The cache's rules end to end: what is cached (with early cutoff, and once for identical
//! steps in flight), what never is (failures, timeouts, side effects, a source edited while a
//! step read it), what `--no-cache` forces, and how the store's commands report damage.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use serde_json::Value;
use support::*;

use support::events as events_of;

/// Runs `args` with `--progress json` and the store at `cache`; the exit code and events.
fn run(cache: &Path, args: &[&str]) -> (Option<i32>, Vec<Value>) {
    let out = output(fixture(cache).args(args).args(["--progress", "json"]));
    (out.status.code(), events_of(&out.stdout))
}

/// What `cache stats` says about the store at `cache`.
fn stats(cache: &Path) -> String {
    let out = output(fixture(cache).args(["cache", "stats"]));
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_failed_or_timed_out_step_is_never_cached() {
    for (pipeline, step, kind) in [
        ("silent", "mute", "command_failed"),
        ("late", "overdue", "timeout"),
    ] {
        let cache = tempfile::tempdir().unwrap();
        for attempt in 1..=2 {
            let (code, events) = run(cache.path(), &[pipeline]);
            assert_eq!(code, Some(1), "{pipeline}, run {attempt}: {events:?}");
            assert_eq!(steps(&events, "step_started"), [step], "run {attempt}");
            let failed = of_kind(&events, "step_failed");
            assert_eq!(failed[0]["kind"], kind, "{events:?}");
            assert!(steps(&events, "step_cached").is_empty(), "{events:?}");
            assert_eq!(containers_of_run(&run_id(&events)), 0);
        }
        assert!(
            stats(cache.path()).starts_with("cached results  0\n"),
            "{pipeline}: {}",
            stats(cache.path())
        );
    }
}

#[test]
fn a_side_effect_always_runs_and_is_never_merged_with_its_twin() {
    let cache = tempfile::tempdir().unwrap();
    for attempt in 1..=2 {
        // `effects` calls `announce(7)` twice: one key, which would otherwise run once.
        let (code, events) = run(cache.path(), &["effects", "-j", "2"]);
        assert_eq!(code, Some(0), "{events:?}");
        let started = of_kind(&events, "step_started");
        assert_eq!(started.len(), 2, "run {attempt}: {events:?}");
        assert!(
            started.iter().all(|e| e["shared_with"].is_null()
                && e["reason"] == "a side effect: never cached"),
            "{events:?}"
        );
        let said: Vec<&str> = of_kind(&events, "step_log")
            .iter()
            .map(|e| e["line"].as_str().unwrap())
            .collect();
        assert_eq!(said, ["announced 7", "announced 7"], "each ran its own");
        let finished = &of_kind(&events, "run_finished")[0];
        assert_eq!(
            (&finished["ran"], &finished["shared"]),
            (&2.into(), &0.into())
        );
    }
    assert!(stats(cache.path()).starts_with("cached results  0\n"));
}

#[test]
fn no_cache_with_a_step_forces_exactly_that_step() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a.txt"), "one\n").unwrap();
    let src_arg = src.path().to_str().unwrap();
    let (code, first) = run(cache.path(), &["cutoff", "--src", src_arg]);
    assert_eq!(code, Some(0), "{first:?}");
    assert_eq!(steps(&first, "step_finished").len(), 2);

    for (forced, cached) in [("names", "shout"), ("shout", "names")] {
        let (code, events) = run(
            cache.path(),
            &["cutoff", "--src", src_arg, "--no-cache", forced],
        );
        assert_eq!(code, Some(0), "{events:?}");
        let started = of_kind(&events, "step_started");
        assert_eq!(started.len(), 1, "--no-cache {forced}: {events:?}");
        assert_eq!(started[0]["step"], forced);
        assert_eq!(started[0]["reason"], "forced to run");
        // `names` makes the same output again, so `shout` after it stays cached.
        assert_eq!(steps(&events, "step_cached"), [cached], "{events:?}");
    }
    let (_, all) = run(cache.path(), &["cutoff", "--src", src_arg, "--no-cache"]);
    assert_eq!(steps(&all, "step_started"), ["names", "shout"]);
}

#[test]
fn cache_verify_reports_a_damaged_blob_and_the_step_runs_again() {
    let cache = tempfile::tempdir().unwrap();
    let (code, first) = run(cache.path(), &["stored", "--text", "hello"]);
    assert_eq!(code, Some(0), "{first:?}");
    let blobs: Vec<_> = files_under(&cache.path().join("blobs"));
    assert_eq!(blobs.len(), 1, "the one output file: {blobs:?}");
    let blob = &blobs[0];
    assert_eq!(std::fs::read_to_string(blob).unwrap(), "HELLO");
    let records = files_under(&cache.path().join("ac"));
    assert_eq!(records.len(), 1, "{records:?}");
    damage(blob);

    // The result that names the blob goes with it: it could never be a hit again.
    let verify = output(fixture(cache.path()).args(["cache", "verify"]));
    assert_eq!(verify.status.code(), Some(1), "damage found: {verify:?}");
    assert_eq!(
        String::from_utf8_lossy(&verify.stdout),
        format!(
            "removed: blob {} is damaged\n\
             removed: action record {} names an output that is no longer in the store\n\
             the damaged entries above were removed; the steps they served will run again\n",
            blob.file_name().unwrap().to_str().unwrap(),
            records[0].file_name().unwrap().to_str().unwrap()
        )
    );
    assert!(!records[0].exists());
    let again = output(fixture(cache.path()).args(["cache", "verify"]));
    assert!(
        again.status.success()
            && String::from_utf8_lossy(&again.stdout).starts_with("the cache is sound: "),
        "{again:?}"
    );

    let (code, events) = run(cache.path(), &["stored", "--text", "hello"]);
    assert_eq!(code, Some(0), "{events:?}");
    assert_eq!(steps(&events, "step_started"), ["saved"], "{events:?}");
    assert_eq!(std::fs::read_to_string(blob).unwrap(), "HELLO", "restored");
}

#[test]
fn a_run_names_the_output_it_found_damaged() {
    let cache = tempfile::tempdir().unwrap();
    assert_eq!(run(cache.path(), &["stored", "--text", "hi"]).0, Some(0));
    let blobs = files_under(&cache.path().join("blobs"));
    damage(&blobs[0]);
    let (code, events) = run(cache.path(), &["stored", "--text", "hi"]);
    assert_eq!(code, Some(0), "{events:?}");
    let blob = &blobs[0].file_name().unwrap().to_str().unwrap()[..12];
    let reason = format!(
        "its cached result's file `out.txt` ({blob}) is no longer in the store (damaged or removed)"
    );
    assert_eq!(of_kind(&events, "step_started")[0]["reason"], *reason);

    // A result another pipeline left: this step has no last key here, and the reason is
    // still the output lost, not a first run.
    damage(&blobs[0]);
    std::fs::remove_dir_all(cache.path().join("last")).unwrap();
    let (code, events) = run(cache.path(), &["stored", "--text", "hi"]);
    assert_eq!(code, Some(0), "{events:?}");
    assert_eq!(of_kind(&events, "step_started")[0]["reason"], *reason);
}

#[test]
fn a_changed_flag_value_says_what_it_was_and_is() {
    let cache = tempfile::tempdir().unwrap();
    let reason = |text: &str| {
        let (code, events) = run(cache.path(), &["stored", "--text", text]);
        assert_eq!(code, Some(0), "{events:?}");
        let started = of_kind(&events, "step_started");
        assert_eq!(started.len(), 1, "{events:?}");
        started[0]["reason"].as_str().unwrap().to_owned()
    };
    assert_eq!(reason("hello"), "first run: no previous result");
    assert_eq!(
        reason("hello again"),
        "input `text` changed from \"hello\" to \"hello again\""
    );
    // `--plan STEP` shows it among the parts of the key.
    let plan = output(fixture(cache.path()).args(["stored", "--text", "hi", "--plan", "saved"]));
    let plan = String::from_utf8_lossy(&plan.stdout).into_owned();
    let line = plan.lines().map(str::trim_start);
    let mut line = line.filter(|l| l.starts_with("input `text` value "));
    assert!(line.next().unwrap().ends_with(" = \"hi\""), "{plan}");
    // A value too long to show is named only.
    assert_eq!(reason(&"long ".repeat(20)), "input `text` changed");
}

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
fn a_miss_is_explained_against_the_key_last_used_whether_it_ran_or_was_cached() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let src_arg = src.path().to_str().unwrap();
    let names_reason = |pipeline: &str| {
        let (code, events) = run(cache.path(), &[pipeline, "--src", src_arg]);
        assert_eq!(code, Some(0), "{events:?}");
        of_kind(&events, "step_started")
            .iter()
            .find(|e| e["step"] == "names")
            .map(|e| e["reason"].as_str().unwrap().to_owned())
    };
    let write = |name: &str| std::fs::write(src.path().join(name), "x\n").unwrap();
    write("a.txt");
    assert_eq!(
        names_reason("cutoff").as_deref(),
        Some("first run: no previous result")
    );
    // Another pipeline finds `names` cached; its next miss is explained all the same.
    assert_eq!(names_reason("names_only"), None);
    write("b.txt");
    assert_eq!(
        names_reason("names_only").as_deref(),
        Some("input `src` changed: added b.txt")
    );
    // A change undone is a hit, and the next miss is explained against it, not the change.
    std::fs::remove_file(src.path().join("b.txt")).unwrap();
    assert_eq!(names_reason("names_only"), None);
    write("c.txt");
    assert_eq!(
        names_reason("names_only").as_deref(),
        Some("input `src` changed: added c.txt")
    );
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
    let daemon = support::daemon::DaemonEvents::watch();
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
    let count = support::daemon::created(&daemon.finish(), &run_id(&events));
    assert_eq!(count, 1, "one container for six identical steps");
}

#[test]
fn runs_racing_to_store_the_same_output_leave_one_sound_copy() {
    let cache = tempfile::tempdir().unwrap();
    // Three processes, one key: each runs the step and writes the same blob and record.
    let children: Vec<_> = (0..3)
        .map(|_| {
            fixture(cache.path())
                .args(["stored", "--text", "raced", "--progress", "json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let verify = output(fixture(cache.path()).args(["cache", "verify"]));
    assert!(
        String::from_utf8_lossy(&verify.stdout)
            .starts_with("the cache is sound: 1 cached results, 3 records of last runs, 1 blobs, "),
        "{verify:?}"
    );
    let stats = stats(cache.path());
    assert!(
        stats.starts_with("cached results  1\nblobs           1\n"),
        "{stats}"
    );
    let (code, events) = run(cache.path(), &["stored", "--text", "raced"]);
    assert_eq!(code, Some(0));
    assert_eq!(steps(&events, "step_cached"), ["saved"], "{events:?}");
}

#[test]
fn a_file_bound_under_another_name_or_made_executable_is_a_miss_that_says_so() {
    use std::os::unix::fs::PermissionsExt as _;
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    std::fs::write(&a, "same").unwrap();
    std::fs::write(&b, "same").unwrap();
    let out = dir.path().join("out");
    let ran = |file: &Path| {
        let (code, events) = run(
            cache.path(),
            &[
                "named_file",
                "--notes",
                file.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert_eq!(code, Some(0), "{events:?}");
        let started = of_kind(&events, "step_started");
        let reason = started
            .first()
            .map(|e| e["reason"].as_str().unwrap().to_owned());
        let output = std::fs::read_to_string(out.join("file_name.json")).unwrap();
        (reason, output)
    };
    assert_eq!(ran(&a).1, r#""a.txt same""#);
    // The same bytes under another name: the step can read the name, so it runs again.
    let (reason, output) = ran(&b);
    assert_eq!(
        reason.as_deref(),
        Some("input `notes` renamed from `a.txt` to `b.txt`")
    );
    assert_eq!(output, r#""b.txt same""#);
    assert_eq!(ran(&b).0, None, "cached under its name");
    std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(ran(&b).0.as_deref(), Some("input `notes` made executable"));
}
