//! Podman, which the README names beside Docker: a failing step on Podman 4.3's
//! Docker-compatible socket, as root and rootless, reports its failure like on Docker and
//! leaves no container behind; a step that binds a service is refused there, since Podman
//! ignores the links that name services. (`hello` runs there in
//! `examples/hello/tests/podman.rs`.)

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use support::podman::Podman;
use support::*;

/// Runs the failing `silent` pipeline twice on `podman`, and checks what a failure must be.
fn a_failure_is_reported_and_cleaned_up(podman: &Podman) {
    podman.load("tanto-test/busybox:latest");
    let cache = podman.work_dir().join("cache");
    std::fs::create_dir(&cache).unwrap();
    podman.hand_over(&cache);
    for attempt in 1..=2 {
        let out = output(
            podman
                .command(std::path::Path::new(env!("CARGO_BIN_EXE_fixture")), &cache)
                .args(["silent", "--progress", "json"]),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "run {attempt}: {stderr}\n{}",
            podman.log()
        );
        let events = events(&out.stdout);
        let failed = of_kind(&events, "step_failed");
        assert_eq!(failed.len(), 1, "{events:?}");
        assert_eq!(
            failed[0]["error"],
            "command `sh -c 'exit 3'` exited with code 3 and printed nothing"
        );
        assert_eq!(failed[0]["kind"], "command_failed");
        // A failure is never cached: the second run starts the step again.
        assert_eq!(of_kind(&events, "step_started").len(), 1, "{events:?}");
        assert_eq!(podman.containers(), 0, "run {attempt} left a container");
    }
}

#[test]
fn a_failing_step_on_rootful_podman_exits_1_and_leaves_nothing() {
    let podman = Podman::rootful();
    a_failure_is_reported_and_cleaned_up(&podman);
    podman.stop();
}

#[test]
fn a_failing_step_on_rootless_podman_exits_1_and_leaves_nothing() {
    let podman = Podman::rootless();
    a_failure_is_reported_and_cleaned_up(&podman);
    podman.stop();
}

#[test]
fn a_step_that_binds_a_service_on_podman_is_refused_and_leaves_nothing() {
    let podman = Podman::rootful();
    podman.load("tanto-test/busybox:latest");
    let cache = podman.work_dir().join("cache");
    std::fs::create_dir(&cache).unwrap();
    podman.hand_over(&cache);
    let out = output(
        podman
            .command(std::path::Path::new(env!("CARGO_BIN_EXE_fixture")), &cache)
            .args(["svc_consumer_fails", "--progress", "json"]),
    );
    assert_eq!(out.status.code(), Some(1), "{}", podman.log());
    let events = events(&out.stdout);
    let failed = of_kind(&events, "step_failed");
    assert_eq!(failed.len(), 1, "{events:?}");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains(
            "is Podman, whose Docker-compatible API ignores the container links by which a step \
             reaches its services by name; run steps that bind services on Docker"
        ),
        "{error}"
    );
    assert_eq!(
        podman.containers(),
        0,
        "the service and the step are removed"
    );
    podman.stop();
}
