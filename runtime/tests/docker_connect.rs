//! Reaching the daemon and resolving images: actionable errors, quickly.

mod docker_support;
mod rerun;

use std::time::{Duration, Instant};

use docker_support::{Harness, SETTINGS, docker};
use tanto::__internal::backend::{Backend, DockerBackend};
use tanto::__internal::graph::StepSettings;
use tanto::Error;

fn assert_unreachable(err: &Error, endpoint: &str) {
    assert!(
        matches!(err, Error::DaemonUnreachable { endpoint: e, .. } if e == endpoint),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(endpoint), "{message}");
    assert!(message.contains("is the daemon running?"), "{message}");
    assert!(message.contains("DOCKER_HOST"), "{message}");
}

#[tokio::test]
async fn missing_socket_is_unreachable_at_once() {
    let started = Instant::now();
    let err = DockerBackend::connect_to("unix:///nonexistent.sock")
        .await
        .expect_err("no daemon there");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_unreachable(&err, "unix:///nonexistent.sock");
}

#[tokio::test]
async fn closed_tcp_port_is_unreachable_at_once() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let started = Instant::now();
    let err = DockerBackend::connect_to(&endpoint)
        .await
        .expect_err("nothing listens");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_unreachable(&err, &endpoint);
}

#[tokio::test]
async fn silent_daemon_is_unreachable_within_two_seconds() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("tcp://{}", listener.local_addr().expect("addr"));
    let started = Instant::now();
    let err = DockerBackend::connect_to(&endpoint)
        .await
        .expect_err("no answer");
    let took = started.elapsed();
    // The 2 s limit, plus room for a loaded machine: far from hanging.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_unreachable(&err, &endpoint);
    assert!(err.to_string().contains("no answer within 2s"), "{err}");
    drop(listener);
}

/// `connect` reads `DOCKER_HOST`; the variable is set for a child copy of this test binary,
/// since changing the environment of a running multi-threaded test is unsound.
#[tokio::test]
async fn docker_host_variable_is_honoured() {
    if rerun::is_child() {
        let err = DockerBackend::connect()
            .await
            .expect_err("DOCKER_HOST points nowhere");
        assert_unreachable(&err, "unix:///nonexistent.sock");
        return;
    }
    rerun::in_child(
        "docker_host_variable_is_honoured",
        &[("DOCKER_HOST", "unix:///nonexistent.sock")],
    );
}

#[tokio::test]
async fn unsupported_host_scheme_says_what_works() {
    let err = DockerBackend::connect_to("ssh://somewhere")
        .await
        .expect_err("not supported");
    assert!(err.to_string().contains("unix://"), "{err}");
}

#[tokio::test]
async fn negotiates_the_api_version_and_resolves_image_ids() {
    let backend = docker().await;
    let version = backend.api_version();
    assert!(version.starts_with("1."), "{version}");
    let id = backend
        .resolve_image(docker_support::BUSYBOX, &|_| {})
        .await
        .expect("the test image exists; run `cargo xtask images`");
    assert!(id.as_str().starts_with("sha256:"), "{id}");
    assert_eq!(id.as_str().len(), 71, "{id}");
}

#[tokio::test]
async fn missing_image_without_registry_is_a_clear_error() {
    let backend = docker().await;
    let lines = std::sync::Mutex::new(Vec::new());
    let progress = |line: &str| lines.lock().expect("lock").push(line.to_owned());
    // A registry on a closed local port: refused at once, whatever the network.
    let image = "localhost:1/tanto-test/missing:never";
    let err = backend
        .resolve_image(image, &progress)
        .await
        .expect_err("nothing to pull from");
    assert!(
        matches!(&err, Error::ImageUnavailable { image: i, .. } if i == image),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(image), "{message}");
    assert!(
        message.ends_with(&format!("; build or load it locally, map it to one this machine has (`tanto::cli().image_alias(\"{image}\", \"LOCAL\")`, or `Ctx::standalone_with_aliases` in a test), or check that its registry is reachable")),
        "{message}"
    );
    // Only a `tanto-test/` image is said to come from this project's `cargo xtask images`.
    assert!(!message.contains("cargo xtask images"), "{message}");
    let lines = lines.lock().expect("lock");
    assert_eq!(
        lines.first().map(String::as_str),
        Some("pull started"),
        "pull progress is reported: {lines:?}"
    );
}

#[tokio::test]
async fn a_step_with_a_missing_image_fails_before_running() {
    let h = Harness::new().await;
    let settings = StepSettings {
        image: Some("localhost:1/tanto-test/missing:never"),
        ..SETTINGS
    };
    let ctx = h.ctx("no-image", settings);
    let err = ctx.container().sh("true").await.expect_err("no image");
    assert!(matches!(err, Error::ImageUnavailable { .. }), "{err:?}");
    ctx.close().await.expect("close");
    h.assert_clean().await;
}
