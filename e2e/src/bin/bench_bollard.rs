//! The floor under a step: one container created, started, waited for and removed with bollard
//! directly, as `docker run --rm IMAGE true` does, with no network like a tanto step.
//!
//! `bench_bollard [IMAGE]` connects (negotiating the API version), runs `true` once and prints
//! `ms=` for the container's life, so the caller can time the whole process too.

use std::time::Instant;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{RemoveContainerOptions, WaitContainerOptions};
use futures_util::StreamExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let image = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tanto-test/busybox:latest".into());
    let docker = Docker::connect_with_local_defaults()
        .map_err(|e| format!("cannot reach Docker: {e}"))?
        .negotiate_version()
        .await
        .map_err(|e| format!("cannot negotiate the API version: {e}"))?;
    let started = Instant::now();
    let body = ContainerCreateBody {
        image: Some(image),
        cmd: Some(vec!["true".into()]),
        network_disabled: Some(true),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = docker
        .create_container(None, body)
        .await
        .map_err(|e| format!("create: {e}"))?
        .id;
    docker
        .start_container(&id, None)
        .await
        .map_err(|e| format!("start: {e}"))?;
    let mut wait = docker.wait_container(&id, None::<WaitContainerOptions>);
    while let Some(status) = wait.next().await {
        status.map_err(|e| format!("wait: {e}"))?;
    }
    let remove = RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    docker
        .remove_container(&id, Some(remove))
        .await
        .map_err(|e| format!("remove: {e}"))?;
    println!("ms={:.3}", started.elapsed().as_secs_f64() * 1e3);
    Ok(())
}
