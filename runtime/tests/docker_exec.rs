//! Commands in a step's container against the real daemon: output, exit codes, env, workdir,
//! user, and streamed log lines.

mod docker_support;

use std::time::{Duration, Instant};

use docker_support::{Harness, SETTINGS};
use tanto::__internal::graph::StepSettings;
use tanto::__internal::report::Stream;
use tanto::Error;

#[tokio::test]
async fn exec_returns_output_and_exit_code() {
    let h = Harness::new().await;
    let ctx = h.ctx("exec", SETTINGS);
    let out = ctx
        .container()
        .exec(["sh", "-c", "echo out; echo err >&2"])
        .await
        .expect("the command succeeds");
    assert_eq!(out.exit_code, 0);
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");

    let allowed = ctx
        .container()
        .allow_exit_codes([0, 3])
        .sh("exit 3")
        .await
        .expect("exit code 3 is allowed");
    assert_eq!(allowed.exit_code, 3);
    assert!(!allowed.success());

    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn unexpected_exit_code_carries_command_code_and_output_tail() {
    let h = Harness::new().await;
    let ctx = h.ctx("fails", SETTINGS);
    let script = "for i in $(seq 1 80); do echo line$i >&2; done; exit 7";
    let err = ctx
        .container()
        .sh(script)
        .await
        .expect_err("exit code 7 is not allowed");
    match &err {
        Error::CommandFailed {
            command,
            code,
            tail,
        } => {
            assert_eq!(*code, 7);
            assert!(command.starts_with("sh -c 'for i in"), "{command}");
            let lines: Vec<&str> = tail.lines().collect();
            assert_eq!(lines.len(), 50, "{tail}");
            assert_eq!(lines.first(), Some(&"line31"));
            assert_eq!(lines.last(), Some(&"line80"));
        }
        other => panic!("expected CommandFailed, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("exited with code 7"), "{message}");
    assert!(message.contains("line80"), "{message}");

    let missing = ctx
        .container()
        .exec(["no-such-program"])
        .await
        .expect_err("a missing program fails");
    assert!(
        matches!(
            missing,
            Error::CommandFailed {
                code: 126 | 127,
                ..
            }
        ),
        "{missing:?}"
    );

    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn env_workdir_and_user_take_effect() {
    let h = Harness::new().await;
    let settings = StepSettings {
        env: &[("FROM_STEP", "step"), ("OVERRIDDEN", "step")],
        workdir: Some("/tmp"),
        ..SETTINGS
    };
    let ctx = h.ctx("env", settings);
    let script = "echo $FROM_STEP $OVERRIDDEN $ADDED; pwd; id -u";
    let base = ctx.container();
    let out = base.sh(script).await.expect("run as the step says");
    assert_eq!(out.stdout, "step step\n/tmp\n0\n");

    let custom = base
        .with_env("OVERRIDDEN", "builder")
        .with_env("ADDED", "yes")
        .with_workdir("/home/tanto")
        .with_user("1000");
    let out = custom.sh(script).await.expect("run as the builder says");
    assert_eq!(out.stdout, "step builder yes\n/home/tanto\n1000\n");

    // Each builder keeps its own settings: the first is unchanged.
    let out = base.sh(script).await.expect("the base builder again");
    assert_eq!(out.stdout, "step step\n/tmp\n0\n");

    let named = base
        .with_user("nobody")
        .sh("id -un")
        .await
        .expect("by name");
    assert_eq!(named.stdout.trim(), "nobody");

    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn lines_stream_to_the_step_log_as_they_come() {
    let mut h = Harness::new().await;
    let ctx = h.ctx("stream", SETTINGS);
    let c = ctx.container();
    // Warm up, so the timing below measures the command only.
    c.sh("true").await.expect("start the container");
    let _ = h.logs("stream");

    let command = {
        let c = c.clone();
        tokio::spawn(async move {
            c.sh("echo first; sleep 3; printf 'partial'; echo tail >&2")
                .await
        })
    };
    // The first line arrives while the command still sleeps, whatever the machine's speed.
    let first = loop {
        if let Some(line) = h.logs("stream").into_iter().next() {
            break Some((line, command.is_finished()));
        }
        if command.is_finished() {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let ((stream, line), finished) = first.expect("a line before the command ends");
    assert_eq!((stream, line.as_str()), (Stream::Stdout, "first"));
    assert!(!finished, "the line came only once the command had ended");

    command
        .await
        .expect("the task runs")
        .expect("the command succeeds");
    let rest = h.logs("stream");
    assert!(
        rest.contains(&(Stream::Stdout, "partial".to_owned())),
        "{rest:?}"
    );
    assert!(
        rest.contains(&(Stream::Stderr, "tail".to_owned())),
        "{rest:?}"
    );

    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn a_step_runs_all_its_commands_in_one_container() {
    let h = Harness::new().await;
    let ctx = h.ctx("latency", SETTINGS);
    let c = ctx.container();
    let started = Instant::now();
    let first = c.exec(["hostname"]).await.expect("first command").stdout;
    let first_took = started.elapsed();
    let runs = 20;
    let started = Instant::now();
    for _ in 0..runs {
        let host = c.exec(["hostname"]).await.expect("a command").stdout;
        assert_eq!(
            host, first,
            "every command runs in the step's one container"
        );
    }
    let each = started.elapsed() / runs;
    assert_eq!(h.run.containers.len(), 1);
    let started = Instant::now();
    ctx.close().await.expect("close");
    // For information only: `cargo xtask bench` measures speed, against a baseline.
    eprintln!(
        "latency: first command (create + start + exec) {first_took:?}, later commands {each:?} each, close {:?}",
        started.elapsed()
    );
    h.assert_clean().await;
}
