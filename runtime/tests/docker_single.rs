//! A step's single command run as its container's own process (PID 1) against the real
//! daemon: no exec, right output and exit codes, a second command that still works, secrets
//! never in a container's configuration, and nothing left behind by a timeout or a cancel.

mod docker_support;

use std::time::Duration;

use docker_support::{DaemonWatch, Harness, SETTINGS, client};
use tanto::__internal::graph::StepSettings;
use tanto::{Error, Secret};

/// The id of the run's one container.
fn only_container(h: &Harness) -> String {
    let containers = h.run.containers.containers();
    assert_eq!(containers.len(), 1, "{containers:?}");
    containers[0].0.clone()
}

#[tokio::test]
async fn a_hinted_command_runs_as_pid_1_with_its_output_and_exit_code() {
    let mut h = Harness::new().await;
    let watch = DaemonWatch::start().await;
    let ctx = h.ctx("single", SETTINGS);
    ctx.expect_single_command();
    let c = ctx
        .container()
        .with_env("GREETING", "hello")
        .with_workdir("/tmp")
        .with_new_file("/in/name", "world")
        .allow_exit_codes([3]);
    let out = c
        .sh(r#"echo "$GREETING $(cat /in/name) from $(pwd) as pid $$"; echo oops >&2; echo made > /tmp/out; exit 3"#)
        .await
        .expect("the command runs");
    assert_eq!(out.exit_code, 3);
    assert_eq!(out.stdout, "hello world from /tmp as pid 1\n");
    assert_eq!(out.stderr, "oops\n");
    let id = only_container(&h);
    // Its files are read from the exited container.
    let file = c
        .file("/tmp/out")
        .await
        .expect("capture after the command exited");
    let read = std::fs::read_to_string(file.path()).expect("read the capture");
    assert_eq!(read, "made\n");
    let lines = h.logs("single");
    assert!(lines.iter().any(|(_, l)| l == "oops"), "{lines:?}");

    ctx.close().await.expect("close");
    h.assert_clean().await;
    let actions = watch.actions_of(&id).await;
    assert!(actions.iter().any(|a| a == "start"), "{actions:?}");
    assert!(actions.iter().any(|a| a == "destroy"), "{actions:?}");
    assert!(
        !actions.iter().any(|a| a.starts_with("exec_")),
        "no exec for a single command: {actions:?}"
    );
}

#[tokio::test]
async fn a_failing_single_command_fails_the_step_with_its_stderr() {
    let h = Harness::new().await;
    let ctx = h.ctx("single-fails", SETTINGS);
    ctx.expect_single_command();
    let err = ctx
        .container()
        .sh("echo broken >&2; exit 7")
        .await
        .expect_err("exit code 7 is not allowed");
    match err {
        Error::CommandFailed { code, tail, .. } => {
            assert_eq!(code, 7);
            assert!(tail.contains("broken"), "{tail}");
        }
        other => panic!("{other:?}"),
    }
    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn a_hinted_step_that_runs_two_commands_goes_on_and_leaves_nothing() {
    let h = Harness::new().await;
    let ctx = h.ctx("two", SETTINGS);
    ctx.expect_single_command();
    let c = ctx.container().with_new_file("/in/a", "copied");
    c.sh("cp /in/a /tmp/first && echo $$ > /tmp/pid")
        .await
        .expect("the first command");
    let first = only_container(&h);
    let out = c
        .sh("cat /tmp/first /tmp/pid && cat /proc/1/cmdline")
        .await
        .expect("a second command, in a keep-alive container with the first one's files");
    assert_eq!(out.stdout, "copied1\ncat\0", "{out:?}");
    let second = only_container(&h);
    assert_ne!(first, second, "the exited container was replaced");
    let docker = client().await;
    let image = docker
        .inspect_container(&second, None)
        .await
        .expect("inspect the keep-alive container")
        .image
        .expect("its image");
    assert!(
        docker.inspect_container(&first, None).await.is_err(),
        "the first container is gone"
    );

    ctx.close().await.expect("close");
    h.assert_clean().await;
    let gone = docker.inspect_image(&image).await;
    assert!(
        gone.is_err(),
        "the temporary image {image} is left: {gone:?}"
    );
}

#[tokio::test]
async fn secrets_never_reach_a_containers_configuration() {
    let h = Harness::new().await;
    let watch = DaemonWatch::start().await;
    let ctx = h.ctx("secret", SETTINGS);
    ctx.expect_single_command();
    let secret = Secret::for_test("token", "s3cr3t-value-for-pid1");
    let c = ctx.container().with_secret_env("TOKEN", &secret);
    let out = c
        .sh(r#"[ "$TOKEN" = s3cr3t-value-for-pid1 ] && echo set"#)
        .await
        .expect("the command sees its secret");
    assert_eq!(out.stdout, "set\n");
    let id = only_container(&h);
    let inspected = client()
        .await
        .inspect_container(&id, None)
        .await
        .expect("inspect");
    let config = serde_json::to_string(&inspected).expect("encode");
    assert!(!config.contains("s3cr3t-value-for-pid1"), "{config}");
    ctx.close().await.expect("close");
    h.assert_clean().await;
    // It ran as an exec in a keep-alive container.
    let actions = watch.actions_of(&id).await;
    assert!(
        actions.iter().any(|a| a.starts_with("exec_create")),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_timeout_or_a_cancel_of_a_single_command_leaves_nothing() {
    let h = Harness::new().await;
    let settings = StepSettings {
        timeout: Some(Duration::from_secs(1)),
        ..SETTINGS
    };
    let ctx = h.ctx("slow", settings);
    ctx.expect_single_command();
    let err = ctx
        .container()
        .sh("sleep 60")
        .await
        .expect_err("the step times out");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    ctx.close().await.expect("close");
    h.assert_clean().await;

    let ctx = h.ctx("cancelled", SETTINGS);
    ctx.expect_single_command();
    let token = ctx.cancel_token().clone();
    let c = ctx.container();
    let command = tokio::spawn(async move { c.sh("sleep 60").await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    token.cancel();
    let ended = tokio::time::timeout(Duration::from_secs(20), command)
        .await
        .expect("the command stops promptly")
        .expect("no panic");
    assert!(matches!(ended, Err(Error::Cancelled)), "{ended:?}");
    ctx.close().await.expect("close");
    h.assert_clean().await;
}
