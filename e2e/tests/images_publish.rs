//! Publishing an image: `image_steps::publish` pushes it to a real `docker-registry` with
//! htpasswd auth on 127.0.0.1, and it is pulled back by digest after the local copy is gone;
//! a registry that is down, never answers, or refuses the password, or a reference that goes
//! to Docker Hub, fails with exit code 1 and a message that names the registry and the cause
//! and never the password; a bad reference exits 2 before anything runs.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::servers::free_port;
use support::*;

const USER: &str = "tanto";
const PASSWORD: &str = "pw-9d41c7e3b2";

/// A `docker-registry` on 127.0.0.1 with htpasswd auth and a temporary storage folder, stopped
/// and removed on drop.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let htpasswd = dir.path().join("htpasswd");
        host::require("htpasswd", "apache2-utils");
        let made = output(
            Command::new("htpasswd")
                .args(["-Bbc"])
                .arg(&htpasswd)
                .args([USER, PASSWORD]),
        );
        assert!(made.status.success(), "htpasswd (apache2-utils): {made:?}");
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: tanto\n    path: {}\n",
                dir.path().join("data").display(),
                htpasswd.display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (Debian's package) must be installed");
        let registry = Self {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn docker(config: Option<&Path>, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("docker");
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    output(cmd.args(args))
}

/// Removes the images the fixture made for `msg` (it labels them with it).
fn remove_images_of(msg: &str) {
    let label = format!("label=org.example.msg={msg}");
    let ids = docker(None, &["images", "-q", "--no-trunc", "--filter", &label]);
    for id in String::from_utf8_lossy(&ids.stdout).lines() {
        docker(None, &["rmi", "-f", id]);
    }
}

/// Runs `pushed` for `msg` to `reference` with `password` in the environment.
fn push(cache: &Path, msg: &str, reference: &str, password: &str) -> std::process::Output {
    output(
        fixture(cache)
            .env("TANTO_TEST_REGISTRY_PW", password)
            .args(["pushed", "--msg", msg, "--reference", reference])
            .args([
                "--password",
                "env:TANTO_TEST_REGISTRY_PW",
                "--progress",
                "plain",
            ]),
    )
}

#[test]
fn a_published_image_is_pulled_back_by_its_digest() {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let msg = format!("published-{}", std::process::id());
    let reference = format!("{}/tanto-e2e/app:1", registry.host());
    let out = push(cache.path(), &msg, &reference, PASSWORD);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let digest = stdout
        .split('"')
        .find(|s| s.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("no digest in {stdout}"))
        .to_owned();
    assert_eq!(digest.len(), 71, "{digest}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    // The pushed reference stays a tag of the image, as after `docker push`; the local
    // image goes, so the pull must be real.
    let tags = docker(None, &["images", "-q", &reference]);
    assert!(!tags.stdout.is_empty(), "{tags:?}");
    remove_images_of(&msg);

    let config = tempfile::tempdir().unwrap();
    let mut login = Command::new("docker")
        .arg("--config")
        .arg(config.path())
        .args(["login", &registry.host(), "-u", USER, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = login.stdin.take().unwrap();
        stdin.write_all(PASSWORD.as_bytes()).unwrap();
    }
    let login = login.wait_with_output().unwrap();
    assert!(login.status.success(), "docker login: {login:?}");
    let by_digest = format!("{}/tanto-e2e/app@{digest}", registry.host());
    let pulled = docker(Some(config.path()), &["pull", &by_digest]);
    assert!(pulled.status.success(), "{pulled:?}");
    let ran = docker(None, &["run", "--rm", "--network", "none", &by_digest]);
    assert_eq!(String::from_utf8_lossy(&ran.stdout), msg, "{ran:?}");
    docker(None, &["rmi", "-f", &by_digest]);
}

#[test]
fn a_wrong_password_fails_naming_the_registry_and_not_the_password() {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let msg = format!("refused-{}", std::process::id());
    let reference = format!("{}/tanto-e2e/app:1", registry.host());
    let wrong = "not-the-pw-51f0";
    let out = push(cache.path(), &msg, &reference, wrong);
    remove_images_of(&msg);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("to registry {}", registry.host())),
        "{stderr}"
    );
    assert!(stderr.contains("unauthorized"), "{stderr}");
    assert!(
        stderr.contains(
            "(the registry refused user `tanto` with the password given: check both, and that \
             the user may push to "
        ),
        "{stderr}"
    );
    assert!(!stderr.contains(wrong), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(wrong));
}

#[test]
fn a_registry_that_is_down_fails_naming_it() {
    let cache = tempfile::tempdir().unwrap();
    let msg = format!("down-{}", std::process::id());
    let host = format!("127.0.0.1:{}", free_port());
    let out = push(
        cache.path(),
        &msg,
        &format!("{host}/tanto-e2e/app:1"),
        PASSWORD,
    );
    remove_images_of(&msg);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("to registry {host}")), "{stderr}");
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "(no registry answers at {host}, as the daemon sees it: start it, or check the host \
             and port of the reference)"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "the image stays tagged {host}/tanto-e2e/app:1 in the daemon, as after `docker tag`"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

#[test]
fn a_bad_reference_exits_2_before_anything_runs() {
    let cache = tempfile::tempdir().unwrap();
    let msg = format!("bad-reference-{}", std::process::id());
    let host = format!("127.0.0.1:{}", free_port());
    for (reference, why) in [
        (
            format!("{host}/tanto-e2e/app:"),
            "the tag after `:` is empty (leave out the `:` for `latest`)".to_owned(),
        ),
        (
            format!("{host}/Tanto-E2e/app:1"),
            "the repository name must be lowercase (`Tanto-E2e`)".to_owned(),
        ),
        (
            format!("{host}/tanto-e2e/app@sha256:{}", "0".repeat(64)),
            "a push target takes a tag, not a digest (the push returns the digest)".to_owned(),
        ),
    ] {
        let out = push(cache.path(), &msg, &reference, PASSWORD);
        let tagged = docker(None, &["images", "-q", &format!("{host}/tanto-e2e/app")]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("error: --reference: cannot push to `{reference}`: {why}\n")
        );
        assert!(tagged.stdout.is_empty(), "nothing was tagged: {tagged:?}");
    }
    assert!(!cache.path().join("logs").exists(), "no run happened");
    remove_images_of(&msg);
}

#[test]
fn a_reference_without_a_host_says_it_goes_to_docker_hub() {
    let cache = tempfile::tempdir().unwrap();
    let msg = format!("hub-{}", std::process::id());
    let reference = format!("tanto-e2e/{msg}:1");
    let out = push(cache.path(), &msg, &reference, PASSWORD);
    let _ = docker(None, &["rmi", &reference]);
    remove_images_of(&msg);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "(`{reference}` names no registry, so it goes to Docker Hub, which the daemon cannot reach: to push to a registry of your own, put its host first, `HOST:PORT/{reference}`)"
        )),
        "{stderr}"
    );
}

#[test]
fn a_registry_that_never_answers_says_so() {
    let cache = tempfile::tempdir().unwrap();
    let msg = format!("mute-{}", std::process::id());
    // The kernel takes the connections into the backlog; nothing ever answers them.
    let mute = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("127.0.0.1:{}", mute.local_addr().unwrap().port());
    let reference = format!("{host}/tanto-e2e/app:1");
    let out = push(cache.path(), &msg, &reference, PASSWORD);
    drop(mute);
    remove_images_of(&msg);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "(something at {host} took the connection but did not answer in time, as the daemon sees it: check that a registry listens there, and that it is not stuck)"
        )),
        "{stderr}"
    );
}
