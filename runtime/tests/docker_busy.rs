//! A daemon busy with a removal is not a daemon gone: a removal it takes longer than the
//! cleanup's bound to answer, while it answers pings, fails with what happened, and the
//! daemon still removes the container.

mod docker_support;

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tanto::__internal::backend::{Backend, DockerBackend};
use tanto::Error;

/// The daemon's own socket, from `DOCKER_HOST` or Docker's default.
fn daemon_socket() -> PathBuf {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"))
}

/// Serves `socket` in front of the daemon's, holding each `DELETE` request for `hold` before
/// passing it on: a daemon slow at removing, quick at everything else.
fn slow_delete_proxy(socket: &Path, hold: Duration) {
    let listener = UnixListener::bind(socket).expect("bind the proxy");
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(daemon) = UnixStream::connect(daemon_socket()) else {
                return;
            };
            let (mut from_client, mut to_client) = (client.try_clone().expect("clone"), client);
            let (mut to_daemon, mut from_daemon) = (daemon.try_clone().expect("clone"), daemon);
            std::thread::spawn(move || {
                let mut buf = vec![0; 64 << 10];
                while let Ok(n @ 1..) = from_client.read(&mut buf) {
                    if buf[..n].starts_with(b"DELETE ") {
                        std::thread::sleep(hold);
                    }
                    if to_daemon.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_daemon, &mut to_client);
            });
        }
    });
}

/// Removes the test's container however the test ends.
struct Created(String);

impl Drop for Created {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
    }
}

fn exists(id: &str) -> bool {
    Command::new("docker")
        .args(["inspect", "--format", "{{.Id}}", id])
        .output()
        .expect("docker inspect")
        .status
        .success()
}

#[tokio::test]
async fn a_removal_the_daemon_is_slow_at_is_not_the_daemon_gone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let socket = tmp.path().join("slow.sock");
    slow_delete_proxy(&socket, Duration::from_secs(13));
    let backend = DockerBackend::connect_to(&format!("unix://{}", socket.display()))
        .await
        .expect("connect through the proxy");
    let created = Command::new("docker")
        .args([
            "create",
            "--label",
            "tanto.test=busy",
            docker_support::BUSYBOX,
            "true",
        ])
        .output()
        .expect("docker create");
    assert!(created.status.success(), "{created:?}");
    let id = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    let _created = Created(id.clone());

    let err = backend
        .remove(&id)
        .await
        .expect_err("the removal outlasts the bound");
    assert!(!matches!(err, Error::DaemonLost { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "docker: remove container {id} took more than 8s, and the daemon, which answers otherwise, goes on with it"
        )
    );
    // The daemon still removes it, and answers the next request.
    let deadline = Instant::now() + Duration::from_secs(30);
    while exists(&id) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!exists(&id), "the daemon never removed the container");
    // A later cleanup request is still asked (a listing, through the same bound).
    let removed = backend
        .remove_labelled("tanto.test=busy-none")
        .await
        .expect("a later cleanup request is still asked");
    assert_eq!(removed, 0);
}
