//! A step whose code panics fails like any other: the run goes on to its end, its container is
//! removed, and the next run says the last one failed. A step that runs past its timeout says
//! what it was doing then: the command cut short and its last lines, or its own code.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use support::*;

#[test]
fn a_panicking_step_is_remembered_as_failed_and_leaves_no_container() {
    let cache = tempfile::tempdir().unwrap();
    let run = || output(fixture(cache.path()).args(["panicky", "--progress", "json"]));
    let first = run();
    assert_eq!(first.status.code(), Some(1), "{first:?}");
    let first = events(&first.stdout);
    assert_eq!(
        containers_of_run(&run_id(&first)),
        0,
        "the container is removed"
    );
    let failed = of_kind(&first, "step_failed");
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("step `blows_up` panicked: a bug in the step's own code"),
        "{failed:?}"
    );
    let again = events(&run().stdout);
    let reason = of_kind(&again, "step_started")[0]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.starts_with("the last run failed (at 20"),
        "a panic is a failure of the step, remembered like one: {reason}"
    );
}

#[test]
fn a_timeout_names_the_command_it_cut_short_and_its_last_lines() {
    let cache = tempfile::tempdir().unwrap();
    let raise = "raise the step's `timeout` if it needs longer";
    for (pipeline, error) in [
        (
            "late",
            format!(
                "timed out after 1s during `sh -c 'echo waiting for the lock; printf '\\''still waiting'\\''; sleep 30'` and was killed; {raise}; the last lines it printed:\nwaiting for the lock\nstill waiting"
            ),
        ),
        // The command had ended: the step's own code was running.
        (
            "dawdling",
            format!("timed out after 1s and was killed; {raise}"),
        ),
    ] {
        let out = output(fixture(cache.path()).args([pipeline, "--progress", "json"]));
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let events = events(&out.stdout);
        let failed = of_kind(&events, "step_failed");
        assert_eq!(failed[0]["kind"], "timeout", "{failed:?}");
        assert_eq!(failed[0]["error"], error.as_str(), "{pipeline}");
        assert_eq!(containers_of_run(&run_id(&events)), 0);
        // The half line is in the step's log too, not only in the error.
        let log = std::fs::read_to_string(failed[0]["log_path"].as_str().unwrap()).unwrap();
        if pipeline == "late" {
            assert!(log.contains("still waiting"), "{log}");
        }
    }
}
