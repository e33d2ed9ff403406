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

/// Runs the fixture's `args` on `podman` with its store in `cache`, plain progress.
fn run_on(podman: &Podman, cache: &std::path::Path, args: &[&str]) -> std::process::Output {
    output(
        podman
            .command(std::path::Path::new(env!("CARGO_BIN_EXE_fixture")), cache)
            .args(args),
    )
}

/// The configuration of the one image on `podman` labelled `org.example.msg=msg`.
fn image_config(podman: &Podman, msg: &str) -> serde_json::Value {
    let label = format!("label=org.example.msg={msg}");
    let ids = podman.docker(&["images", "-q", "--no-trunc", "--filter", &label]);
    let ids = String::from_utf8_lossy(&ids.stdout).trim().to_owned();
    assert_eq!(ids.lines().count(), 1, "images labelled {msg}: {ids}");
    let out = podman.docker(&["image", "inspect", "--format", "{{json .Config}}", &ids]);
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn snapshots_on_podman_are_images_a_later_step_runs_from() {
    let podman = Podman::rootful();
    podman.load("tanto-test/busybox:latest");
    let cache = podman.work_dir().join("cache");
    std::fs::create_dir(&cache).unwrap();
    podman.hand_over(&cache);
    let succeeded = |out: &std::process::Output, what: &str| {
        assert!(
            out.status.success(),
            "{what}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            podman.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // After a command: the container's commit, loaded again under tanto's configuration.
    let out = run_on(
        &podman,
        &cache,
        &["image_read", "--msg", "committed", "--progress", "plain"],
    );
    let stdout = succeeded(&out, "image_read");
    assert!(stdout.contains("hello committed"), "{stdout}");
    // The image is configured as the step asked, whatever the container ran as.
    let config = image_config(&podman, "committed");
    assert_eq!(config["Entrypoint"], serde_json::json!(["cat"]), "{config}");
    assert_eq!(config["Cmd"], serde_json::json!(["/srv/msg"]), "{config}");
    assert_eq!(config["WorkingDir"], "/srv", "{config}");
    assert!(
        (config["Env"].as_array().unwrap()).contains(&serde_json::json!("GREETING=hello")),
        "{config}"
    );
    assert!(config["ExposedPorts"].get("8080/tcp").is_some(), "{config}");
    for (key, value) in config["Labels"].as_object().unwrap() {
        if key.starts_with("tanto.") {
            assert_eq!(value, "", "{key}: the label of the container is kept blank");
        }
    }
    // Again with another message: the step's one command now runs as its container's own
    // process, and the snapshot is the commit of a container that has exited.
    let out = run_on(
        &podman,
        &cache,
        &["image_read", "--msg", "exited", "--progress", "plain"],
    );
    let stdout = succeeded(&out, "image_read of an exited container");
    assert!(stdout.contains("hello exited"), "{stdout}");
    // Copies alone: the base plus a layer of them, loaded without a container.
    let out = run_on(
        &podman,
        &cache,
        &["layered", "--msg", "copied", "--progress", "plain"],
    );
    let stdout = succeeded(&out, "layered");
    assert!(stdout.contains("copied"), "{stdout}");
    let config = image_config(&podman, "copied");
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["cat", "/srv/app/msg"]),
        "{config}"
    );
    // Run again, both are cached: the daemon has each image by the id tanto recorded.
    let out = run_on(
        &podman,
        &cache,
        &["image_read", "--msg", "committed", "--progress", "json"],
    );
    succeeded(&out, "image_read again");
    let again = events(&out.stdout);
    assert_eq!(of_kind(&again, "step_cached").len(), 2, "{again:?}");
    // The same copies made again (another key) are the same image: the step that runs
    // from it stays cached.
    let out = run_on(
        &podman,
        &cache,
        &[
            "layered",
            "--msg",
            "copied",
            "--salt",
            "b",
            "--progress",
            "json",
        ],
    );
    succeeded(&out, "layered again");
    let again = events(&out.stdout);
    let started: Vec<_> = of_kind(&again, "step_started")
        .iter()
        .map(|e| e["step"].clone())
        .collect();
    assert_eq!(started, ["layer"], "{again:?}");
    assert_eq!(of_kind(&again, "step_cached").len(), 1, "{again:?}");
    assert_eq!(podman.containers(), 0, "a snapshot left a container");
    podman.stop();
}

/// Podman reports a container whose process has ended as `stopped` until its cleanup runs
/// (a few hundred milliseconds), then as `exited`: a run whose readiness check reads the
/// state in that window, which bollard's typed inspect cannot read, failed with a JSON error.
/// About every other run did, so the test runs it four times.
#[test]
fn a_service_that_exits_on_podman_is_reported_with_its_exit_code_and_log() {
    let podman = Podman::rootful();
    podman.load("tanto-test/busybox:latest");
    let cache = podman.work_dir().join("cache");
    std::fs::create_dir(&cache).unwrap();
    podman.hand_over(&cache);
    for attempt in 1..=4 {
        let out = run_on(&podman, &cache, &["svc_exits", "--progress", "json"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "run {attempt}: {}",
            podman.log()
        );
        let events = events(&out.stdout);
        let failed = of_kind(&events, "step_failed");
        assert_eq!(failed.len(), 1, "run {attempt}: {events:?}");
        let error = failed[0]["error"].as_str().unwrap();
        assert!(
            error.contains("service `svc`")
                && error.contains("exited with code 7 before it was ready"),
            "run {attempt}: {error}"
        );
        assert!(error.contains("giving up"), "run {attempt}: {error}");
        assert_eq!(
            podman.containers(),
            0,
            "run {attempt}: the service is removed"
        );
    }
    podman.stop();
}
