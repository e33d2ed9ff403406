//! The floor under a step: one container created, started, waited for and removed with bollard
//! directly, as `docker run --rm IMAGE true` does, with no network like a tanto step.
//!
//! `bench_bollard [IMAGE]` connects (negotiating the API version), runs `true` once and prints
//! `ms=` for the container's life, so the caller can time the whole process too, and each
//! request's share (`create=`, `start=`, `run=`, `remove=`).
//!
//! `bench_bollard --as-step[=END] [IMAGE]` does what a tanto step does instead, for the
//! profile of row 1: a container whose PID 1 is the keep-alive (`cat` on an attached stdin),
//! `true` run in it as an exec, and the container ended as END says:
//!
//! - `release` (the default, what a step does): its stdin closed, so `cat` exits and
//!   `AutoRemove` removes it; the removal waited for (`wait` with condition `removed`);
//! - `kill`: PID 1 killed with `SIGKILL`, the automatic removal waited for the same way;
//! - `force`: the running container removed by force (`DELETE ?force=true`).

use std::time::Instant;

use bollard::Docker;
use bollard::errors::Error;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, KillContainerOptionsBuilder, RemoveContainerOptions,
    WaitContainerOptions, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let end = match args.first().map(String::as_str) {
        Some("--as-step" | "--as-step=release") => Some(End::Release),
        Some("--as-step=kill") => Some(End::Kill),
        Some("--as-step=force") => Some(End::Force),
        Some(flag) if flag.starts_with("--") => {
            return Err(format!(
                "unknown flag `{flag}`; expected `--as-step[=release|kill|force]`"
            ));
        }
        _ => None,
    };
    let as_step = end.is_some();
    if as_step {
        args.remove(0);
    }
    let image = args
        .into_iter()
        .next()
        .unwrap_or_else(|| "tanto-test/busybox:latest".into());
    let docker = Docker::connect_with_local_defaults()
        .map_err(|e| format!("cannot reach Docker: {e}"))?
        .negotiate_version()
        .await
        .map_err(|e| format!("cannot negotiate the API version: {e}"))?;
    let started = Instant::now();
    let mut lap = Instant::now();
    let mut laps = Vec::new();
    let mut mark = |name: &'static str| {
        laps.push((name, lap.elapsed().as_secs_f64() * 1e3));
        lap = Instant::now();
    };
    let no_network = HostConfig {
        network_mode: Some("none".into()),
        auto_remove: as_step.then_some(true),
        ..Default::default()
    };
    let body = if as_step {
        ContainerCreateBody {
            image: Some(image),
            entrypoint: Some(vec!["cat".into()]),
            cmd: Some(vec![]),
            open_stdin: Some(true),
            stdin_once: Some(true),
            attach_stdin: Some(true),
            network_disabled: Some(true),
            host_config: Some(no_network),
            ..Default::default()
        }
    } else {
        ContainerCreateBody {
            image: Some(image),
            cmd: Some(vec!["true".into()]),
            network_disabled: Some(true),
            host_config: Some(no_network),
            ..Default::default()
        }
    };
    let id = docker
        .create_container(None, body)
        .await
        .map_err(|e| format!("create: {e}"))?
        .id;
    let lease = if as_step {
        let options = AttachContainerOptionsBuilder::default()
            .stdin(true)
            .stream(true)
            .build();
        let attached = docker
            .attach_container(&id, Some(options))
            .await
            .map_err(|e| format!("attach: {e}"))?;
        Some(attached)
    } else {
        None
    };
    mark("create");
    docker
        .start_container(&id, None)
        .await
        .map_err(|e| format!("start: {e}"))?;
    mark("start");
    if as_step {
        let options = CreateExecOptions::<String> {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(vec!["true".into()]),
            ..Default::default()
        };
        let exec = docker
            .create_exec(&id, options)
            .await
            .map_err(|e| format!("create exec: {e}"))?;
        let start = StartExecOptions {
            detach: false,
            tty: false,
            output_capacity: Some(64 * 1024),
        };
        let started = docker
            .start_exec(&exec.id, Some(start))
            .await
            .map_err(|e| format!("start exec: {e}"))?;
        if let StartExecResults::Attached { mut output, .. } = started {
            while output.next().await.is_some() {}
        }
        let code = docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| format!("inspect exec: {e}"))?
            .exit_code;
        if code != Some(0) {
            return Err(format!("`true` exited with {code:?}"));
        }
    } else {
        let mut wait = docker.wait_container(&id, None::<WaitContainerOptions>);
        while let Some(status) = wait.next().await {
            status.map_err(|e| format!("wait: {e}"))?;
        }
    }
    mark("run");
    match end {
        Some(End::Release) => {
            drop(lease);
            removed(&docker, &id).await?;
        }
        Some(End::Kill) => {
            let options = KillContainerOptionsBuilder::default()
                .signal("SIGKILL")
                .build();
            docker
                .kill_container(&id, Some(options))
                .await
                .map_err(|e| format!("kill: {e}"))?;
            removed(&docker, &id).await?;
            drop(lease);
        }
        Some(End::Force) | None => {
            let remove = RemoveContainerOptions {
                force: true,
                ..Default::default()
            };
            docker
                .remove_container(&id, Some(remove))
                .await
                .map_err(|e| format!("remove: {e}"))?;
            drop(lease);
        }
    }
    mark("remove");
    let mut line = String::new();
    for (name, ms) in laps {
        line.push_str(&format!("{name}={ms:.3} "));
    }
    println!("{line}ms={:.3}", started.elapsed().as_secs_f64() * 1e3);
    Ok(())
}

/// How `--as-step` ends its container.
#[derive(Clone, Copy)]
enum End {
    Release,
    Kill,
    Force,
}

/// Waits until container `id`, which removes itself, is gone.
async fn removed(docker: &Docker, id: &str) -> Result<(), String> {
    let options = WaitContainerOptionsBuilder::default()
        .condition("removed")
        .build();
    let mut wait = docker.wait_container(id, Some(options));
    while let Some(status) = wait.next().await {
        match status {
            // Gone before the wait began, or ended with a code of its own: either way removed.
            Ok(_)
            | Err(
                Error::DockerContainerWaitError { .. }
                | Error::DockerResponseServerError {
                    status_code: 404, ..
                },
            ) => {}
            Err(e) => return Err(format!("wait: {e}")),
        }
    }
    Ok(())
}
