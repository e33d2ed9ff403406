//! What a bad service says: its failure's `kind` (a readiness timeout is `timeout`, a missing
//! image `image_unavailable`), a readiness probe's last exit code and output, a probe the image
//! lacks (at once, not at the timeout), no image at all, and a service bound as `localhost`.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use support::*;

/// Runs `pipeline` with JSON progress; its exit code and its one failure's error and kind.
fn failed(pipeline: &str) -> (Option<i32>, String, String) {
    let cache = tempfile::tempdir().unwrap();
    let out = output(fixture(cache.path()).args([pipeline, "--progress", "json"]));
    let events = events(&out.stdout);
    let failed = of_kind(&events, "step_failed");
    assert_eq!(failed.len(), 1, "{pipeline}: {out:?}");
    assert_eq!(containers_of_run(&run_id(&events)), 0, "{pipeline}: left");
    let field = |f: &str| failed[0][f].as_str().unwrap().to_owned();
    (out.status.code(), field("error"), field("kind"))
}

#[test]
fn a_readiness_timeout_is_a_timeout_and_a_missing_image_is_image_unavailable() {
    let (code, err, kind) = failed("svc_never");
    assert_eq!((code, kind.as_str()), (Some(1), "timeout"), "{err}");
    assert!(err.contains("was not ready after 3s"), "{err}");
    let (code, err, kind) = failed("svc_missing");
    assert_eq!(
        (code, kind.as_str()),
        (Some(2), "image_unavailable"),
        "{err}"
    );
    assert!(err.contains("service `svc`"), "{err}");
    assert!(err.contains("tanto-test/no-such-image:1"), "{err}");
}

#[test]
fn a_failing_probe_s_last_exit_code_and_output_are_in_the_timeout_error() {
    let (_, err, kind) = failed("svc_probe_fails");
    assert_eq!(kind, "timeout", "{err}");
    assert!(
        err.contains(
            "`sh -c echo no socket yet; exit 3` never exited with 0 (its last run exited with 3: no socket yet)"
        ),
        "{err}"
    );
}

#[test]
fn a_probe_the_image_lacks_fails_at_once_saying_so() {
    let started = Instant::now();
    let (_, err, kind) = failed("svc_probe_missing");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "waited the 30 s timeout"
    );
    assert_eq!(kind, "other", "{err}");
    assert!(
        err.contains("its readiness probe `pg_isready -h 127.0.0.1` cannot run in its container"),
        "{err}"
    );
    assert!(err.contains("127"), "{err}");
}

#[test]
fn no_image_and_localhost_are_refused_naming_the_service() {
    let (code, err, _) = failed("svc_no_image");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("service `svc` has no image"), "{err}");
    assert!(!err.contains("inspect image"), "{err}");
    let (code, err, _) = failed("svc_localhost");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("service name `localhost` names the step's own container"),
        "{err}"
    );
}
