//! Secrets in a real container: in the command's environment but not the container's
//! configuration, in a file of mode 0400 on an in-memory file system, and never captured.

mod docker_support;

use docker_support::{Harness, SETTINGS};
use tanto::{Error, Secret};

#[tokio::test]
async fn a_secret_file_is_private_in_memory_and_never_captured() {
    let h = Harness::new().await;
    let ctx = h.ctx("secret", SETTINGS);
    let token = Secret::for_test("token", "pa55-w0rd-42");
    let c = ctx
        .container()
        .with_secret_env("TOKEN", &token)
        .with_secret_file("/run/secrets/token", &token)
        .with_user("1000");
    let out = c
        .sh("echo \"$TOKEN\"; stat -c '%a %u' /run/secrets/token; grep ' /run/secrets ' /proc/mounts | cut -d' ' -f3; cat /run/secrets/token")
        .await
        .expect("the commands run");
    assert_eq!(out.stdout, "pa55-w0rd-42\n400 1000\ntmpfs\npa55-w0rd-42");

    // The value is given to each command, never to the container's configuration.
    let id = h
        .run
        .containers
        .containers()
        .into_iter()
        .find(|(_, step)| step == "secret")
        .map(|(id, _)| id)
        .expect("the step's container is up");
    // What `docker inspect` prints, read over the API: the test needs no docker CLI, so it
    // also runs inside `cargo xtask ci`'s container.
    let docker = bollard::Docker::connect_with_local_defaults()
        .expect("the daemon's address")
        .negotiate_version()
        .await
        .expect("the daemon answers");
    let inspect = docker
        .inspect_container(&id, None)
        .await
        .expect("the container is inspected");
    let inspected = serde_json::to_string(&inspect).expect("inspect is JSON");
    assert!(inspected.contains("\"Id\""), "{inspected}");
    assert!(!inspected.contains("pa55-w0rd-42"), "{inspected}");

    // Any spelling of a folder that holds it: read without `.` parts and repeated slashes.
    for (path, read) in [
        ("/run", "/run"),
        ("/run/secrets", "/run/secrets"),
        ("/run/secrets/token", "/run/secrets/token"),
        ("//run/./secrets/", "/run/secrets"),
    ] {
        let err = c
            .dir(path)
            .await
            .expect_err("a folder holding a secret is not captured");
        assert!(
            matches!(&err, Error::Usage(m) if m.contains(&format!("cannot capture `{read}`: it holds the secret file `/run/secrets/token`"))),
            "{path}: {err}"
        );
    }
    // The root holds it too, and is never captured.
    let err = c.dir("/").await.expect_err("the root is not captured");
    assert!(
        matches!(&err, Error::Usage(m) if m.contains("cannot capture `/`, the container's root folder")),
        "{err}"
    );
    c.sh("mkdir -p /tmp/out && echo ok > /tmp/out/x")
        .await
        .expect("write");
    c.dir("/tmp/out")
        .await
        .expect("a folder without secrets is captured");
    ctx.close().await.expect("close");
    h.assert_clean().await;
}

#[tokio::test]
async fn a_secret_file_needs_a_folder_of_its_own() {
    let h = Harness::new().await;
    let ctx = h.ctx("secret-root", SETTINGS);
    let token = Secret::for_test("token", "x");
    let err = ctx
        .container()
        .with_secret_file("/token", &token)
        .sh("true")
        .await
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "step `secret-root`: secret file `/token` needs a folder of its own: use a path such as `/run/secrets/token`"
    );
    ctx.close().await.expect("close");
    h.assert_clean().await;
}
