//! The life of a step's container against the real daemon: one per step, removed at the end
//! whatever happens, killed on timeout and cancellation, reaped after a dead owner.

mod docker_support;

use std::time::{Duration, Instant};

use docker_support::{DaemonWatch, Harness, SETTINGS, host_dir, unique};
use tanto::__internal::backend::{
    ContainerSpec, LABEL_HOST, LABEL_PID, LABEL_RUN, LABEL_STEP, host_name,
};
use tanto::__internal::graph::StepSettings;
use tanto::Error;

#[tokio::test]
async fn one_container_per_step_with_labels() {
    let h = Harness::new().await;
    let ctx = h.ctx("labelled", SETTINGS);
    let a = ctx.container().with_env("X", "1");
    let b = ctx.container();
    a.sh("echo shared > /tmp/mark")
        .await
        .expect("first builder");
    let out = b.sh("cat /tmp/mark").await.expect("second builder");
    assert_eq!(
        out.stdout, "shared\n",
        "both builders use the step's one container"
    );
    assert_eq!(h.run.containers.len(), 1);
    let (id, step) = &h.run.containers.containers()[0];
    assert_eq!(step, "labelled");
    // Named for its run and step, as `docker ps` shows it.
    let named = std::process::Command::new("docker")
        .args(["inspect", "--format", "{{.Name}}", id])
        .output()
        .expect("docker inspect");
    let name = String::from_utf8_lossy(&named.stdout).trim().to_owned();
    let prefix = format!("/tanto-{}-labelled-", h.run.run_id);
    assert!(name.starts_with(&prefix), "{name}");
    assert!(name[prefix.len()..].parse::<u64>().is_ok(), "{name}");

    ctx.close().await.expect("close");
    ctx.close().await.expect("closing twice is fine");
    let after = ctx
        .container()
        .sh("true")
        .await
        .expect_err("the step has ended");
    assert!(after.to_string().contains("has ended"), "{after}");
    h.assert_clean().await;
}

#[tokio::test]
async fn a_mount_after_start_is_a_clear_error() {
    let h = Harness::new().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = host_dir(&tmp.path().join("src"), &[("a", "a", false)]);
    let ctx = h.ctx("late-mount", SETTINGS);
    let c = ctx.container();
    c.sh("true").await.expect("start");
    let err = c
        .with_mounted_dir("/late", &src)
        .sh("true")
        .await
        .expect_err("mounts are fixed once the container runs");
    let message = err.to_string();
    assert!(
        message.contains("cannot mount `/late` after its container started"),
        "{message}"
    );
    let err = c
        .with_image("tanto-test/rust:1.95")
        .sh("true")
        .await
        .expect_err("one image per step");
    assert!(err.to_string().contains("one container"), "{err}");

    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn cache_volume_persists_from_one_container_to_the_next() {
    let h = Harness::new().await;
    let volume = unique("tanto-test-cache");
    let first = h.ctx("writer", SETTINGS);
    let wrote = first
        .container()
        .with_cache("/cache", &volume)
        .sh("echo kept > /cache/file")
        .await;
    first.close().await.expect("close");

    let second = h.ctx("reader", SETTINGS);
    let out = second
        .container()
        .with_cache("/cache", &volume)
        .sh("cat /cache/file")
        .await;
    second.close().await.expect("close");
    // Removed before any assertion, so a failing test leaves no volume either.
    h.backend()
        .remove_volume(&volume)
        .await
        .expect("remove the volume");
    wrote.expect("write to the volume");
    assert_eq!(out.expect("read from the volume").stdout, "kept\n");
    h.assert_clean().await;
}

#[tokio::test]
async fn timeout_kills_the_step() {
    let h = Harness::new().await;
    let settings = StepSettings {
        timeout: Some(Duration::from_secs(1)),
        ..SETTINGS
    };
    let ctx = h.ctx("slow", settings);
    let started = Instant::now();
    // A line, then one without its end: both are what the error shows.
    let err = ctx
        .container()
        .sh("echo starting; printf 'half a line'; sleep 30")
        .await
        .expect_err("the step times out");
    let took = started.elapsed();
    assert!(
        matches!(&err, Error::Timeout { step, after, .. } if step == "slow" && *after == Duration::from_secs(1)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "timed out after 1s during `sh -c 'echo starting; printf '\\''half a line'\\''; sleep 30'` and was killed; raise the step's `timeout` if it needs longer; the last lines it printed:\nstarting\nhalf a line"
    );
    // Far below the 30 s the command asked for, with room for a loaded machine.
    assert!(took < Duration::from_secs(15), "took {took:?}");
    // The container is gone already, before close.
    assert!(h.run.containers.is_empty());
    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn cancellation_stops_a_command_promptly() {
    let h = Harness::new().await;
    let ctx = h.ctx("cancelled", SETTINGS);
    let c = ctx.container();
    c.sh("true").await.expect("start");
    let token = ctx.cancel_token().clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel();
    });
    let started = Instant::now();
    let err = c.sh("sleep 30").await.expect_err("cancelled");
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn a_dropped_step_future_or_a_panic_still_removes_the_container() {
    let mut h = Harness::new().await;

    // A future dropped in the middle of a command (the way a `select!` or abort drops it):
    // once the command has said it runs, whatever time that takes on this machine.
    let ctx = h.ctx("dropped", SETTINGS);
    let c = ctx.container();
    let mut command = Box::pin(c.sh("echo running; sleep 30"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !h.logs("dropped").iter().any(|(_, line)| line == "running") {
        assert!(Instant::now() < deadline, "the command never said it runs");
        tokio::select! {
            ended = &mut command => panic!("the command ended early: {ended:?}"),
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    assert_eq!(h.run.containers.len(), 1);
    drop(command);
    drop(c);
    drop(ctx);
    h.wait_until_clean().await;

    // A step body that panics.
    let ctx = h.ctx("panics", SETTINGS);
    let task = tokio::spawn(async move {
        ctx.container().sh("true").await.expect("start");
        panic!("the step's code panicked");
    });
    assert!(task.await.expect_err("the task panicked").is_panic());
    h.wait_until_clean().await;
}

#[tokio::test]
async fn remove_run_removes_everything_of_the_run() {
    let h = Harness::new().await;
    let a = h.ctx("a", SETTINGS);
    let b = h.ctx("b", SETTINGS);
    a.container().sh("true").await.expect("a");
    b.container().sh("true").await.expect("b");
    assert_eq!(h.run.containers.len(), 2);
    let removed = h.run.remove_run().await.expect("remove the run");
    assert_eq!(removed, 2);
    assert!(h.run.containers.is_empty());
    // The steps' own close after that finds nothing to do.
    a.close().await.expect("close a");
    b.close().await.expect("close b");
    h.assert_clean().await;
}

#[tokio::test]
async fn reaping_removes_containers_of_dead_owners_on_this_host_only() {
    let h = Harness::new().await;
    let image = h
        .run
        .resolve_image(docker_support::BUSYBOX, &|_| {})
        .await
        .expect("image");
    let dead_pid = {
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        child.wait().expect("wait");
        pid
    };
    let spec = |pid: u32, host: &str| ContainerSpec {
        image: image.clone(),
        labels: vec![
            (LABEL_HOST.to_owned(), host.to_owned()),
            (LABEL_PID.to_owned(), pid.to_string()),
            (LABEL_RUN.to_owned(), h.run.run_id.clone()),
            (LABEL_STEP.to_owned(), "orphan".to_owned()),
        ],
        mounts: vec![],
        network: false,
        memory: None,
        millicpus: None,
    };
    let backend = h.backend();
    let orphan = backend
        .start(&spec(dead_pid, host_name()))
        .await
        .expect("an orphan");
    let alive = backend
        .start(&spec(std::process::id(), host_name()))
        .await
        .expect("a live owner's");
    let elsewhere = backend
        .start(&spec(dead_pid, "some-other-host"))
        .await
        .expect("another host's");

    let reaped = backend.reap_orphans().await.expect("reap");
    assert!(reaped >= 1, "reaped {reaped}");
    let exists = |id: String| async move {
        backend
            .exec(
                &id,
                &tanto::__internal::backend::ExecSpec {
                    argv: vec!["true".into()],
                    env: vec![],
                    workdir: None,
                    user: None,
                    secret_env: vec![],
                },
            )
            .await
            .is_ok()
    };
    assert!(!exists(orphan).await, "the orphan was reaped");
    assert!(exists(alive).await, "a live owner's container stays");
    assert!(exists(elsewhere).await, "another host's container stays");

    let left = backend.remove_run(&h.run.run_id).await.expect("clean up");
    assert_eq!(left, 2);
    h.assert_clean().await;
}

#[tokio::test]
async fn limits_and_network_off_apply() {
    let h = Harness::new().await;
    let settings = StepSettings {
        network: false,
        memory: Some(64 << 20),
        millicpus: Some(500),
        ..SETTINGS
    };
    let ctx = h.ctx("limited", settings);
    let out = ctx
        .container()
        .sh("ls /sys/class/net; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes")
        .await
        .expect("inspect the limits");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"lo"), "only loopback: {lines:?}");
    assert_eq!(lines.last(), Some(&"67108864"), "{lines:?}");
    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn a_step_ends_by_its_keep_alive_even_with_commands_still_running() {
    let mut h = Harness::new().await;
    let watch = DaemonWatch::start().await;
    let ctx = h.ctx("busy", SETTINGS);
    // A process left running in the background, and a command still running in another task
    // (a step that failed or returned without waiting for it).
    (ctx.container())
        .sh("sleep 300 >/dev/null 2>&1 &")
        .await
        .expect("a background process");
    let running = ctx.container();
    let command = tokio::spawn(async move { running.sh("echo running; sleep 300").await });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !h.logs("busy").iter().any(|(_, line)| line == "running") {
        assert!(Instant::now() < deadline, "the command never said it runs");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (id, _) = h.run.containers.containers().remove(0);

    ctx.close().await.expect("close");
    h.assert_clean().await;
    let ended = tokio::time::timeout(Duration::from_secs(30), command)
        .await
        .expect("the command ends with its container")
        .expect("the command's task does not panic");
    assert!(ended.is_err(), "the command was cut short: {ended:?}");
    // Its PID 1 exited by itself and took the rest with it: nothing was killed by the daemon.
    let actions = watch.actions_of(&id).await;
    assert!(actions.iter().any(|a| a == "destroy"), "{actions:?}");
    assert!(!actions.iter().any(|a| a == "kill"), "{actions:?}");
}
