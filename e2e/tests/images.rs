//! Images and limits end to end: a missing image pulled from a real registry, an image
//! reached through `image_alias`, and a CPU limit the container runs under.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::Value;
use support::servers::{Server, Tag, docker, has_image};
use support::*;

/// The lines the steps of `events` logged.
fn logged(events: &[Value]) -> Vec<String> {
    of_kind(events, "step_log")
        .iter()
        .map(|e| e["line"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_missing_image_is_pulled_from_a_registry_and_runs() {
    let registry = Server::registry();
    let name = format!(
        "127.0.0.1:{}/tanto-test/pulled-{}:latest",
        registry.port,
        std::process::id()
    );
    let tag = Tag(name.clone());
    docker(&["tag", "tanto-test/busybox:latest", &tag.0]);
    let pushed = std::process::Command::new("docker")
        .args(["push", &tag.0])
        .output()
        .unwrap();
    assert!(
        pushed.status.success(),
        "docker push: {}\nregistry log:\n{}",
        String::from_utf8_lossy(&pushed.stderr),
        registry.log()
    );
    docker(&["rmi", &tag.0]);
    assert!(!has_image(&tag.0), "the daemon must pull it");

    let cache = tempfile::tempdir().unwrap();
    let out = output(
        fixture(cache.path())
            .args(["pull", "--progress", "json"])
            .env("TANTO_FIXTURE_PULL", &tag.0),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{stderr}\nregistry log:\n{}",
        registry.log()
    );
    let events = events(&out.stdout);
    assert_eq!(logged(&events), ["ran in the pulled image"], "{events:?}");
    assert!(has_image(&tag.0), "the pulled image is on the daemon now");
    assert_eq!(containers_of_run(&run_id(&events)), 0);
}

#[test]
fn an_image_alias_runs_a_step_in_the_alias_target() {
    // The step names `tanto-test/aliased:none`, which no daemon or registry has; the fixture
    // maps it to busybox with `image_alias`.
    assert!(!has_image("tanto-test/aliased:none"));
    let cache = tempfile::tempdir().unwrap();
    let out = output(fixture(cache.path()).args(["alias", "--progress", "json"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = events(&out.stdout);
    assert_eq!(logged(&events), ["ran through the alias"], "{events:?}");
    assert!(
        !has_image("tanto-test/aliased:none"),
        "nothing was pulled or tagged"
    );
    assert_eq!(containers_of_run(&run_id(&events)), 0);
}

#[test]
fn an_image_that_is_not_a_reference_is_refused_before_anything_runs() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(
        fixture(cache.path())
            .arg("pull")
            .env("TANTO_FIXTURE_PULL", "tanto-test/BusyBox:latest"),
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: step `from_registry`: its image `tanto-test/BusyBox:latest` (the alias of \
         `tanto-test/pulled:none`) is not an image reference: the repository name must be \
         lowercase (`BusyBox`)\n"
    );
    assert!(!cache.path().join("logs").exists(), "no run happened");
}

#[test]
fn cpus_limits_the_container_to_its_share() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(fixture(cache.path()).args(["limited", "--progress", "json"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `cpus = "0.5"`: half of each scheduling period, in microseconds.
    let events = events(&out.stdout);
    assert_eq!(logged(&events), ["50000 100000"], "{events:?}");
}
