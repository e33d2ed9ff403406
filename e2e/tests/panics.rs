//! A step whose code panics fails like any other: the run goes on to its end, its container is
//! removed, and the next run says the last one failed.

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
