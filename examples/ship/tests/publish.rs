//! `ship publish` against a real `docker-registry` with htpasswd auth on 127.0.0.1: the image
//! is pushed, pulled back by the digest the run prints once the local copy is gone, and
//! serves.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "ship-pw-4be1a0";

/// A `docker-registry` with user `ship`, stopped on drop; its storage is a temporary folder.
struct Registry {
    child: Child,
    host: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let htpasswd = dir.path().join("htpasswd");
        let made = Command::new("htpasswd")
            .arg("-Bbc")
            .arg(&htpasswd)
            .args(["ship", PASSWORD])
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `htpasswd` ({e}): install it with `apt-get install apache2-utils` \
                     (`cargo xtask test` does, as root or with CI set)"
                )
            });
        assert!(made.status.success(), "htpasswd (apache2-utils): {made:?}");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: ship\n    path: {}\n",
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
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            host: format!("127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn docker(config: &Path, args: &[&str]) -> String {
    let out = Command::new("docker")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "docker {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn publish_pushes_an_image_that_pulls_back_by_digest_and_serves() {
    let registry = Registry::start();
    let cache = tempfile::tempdir().unwrap();
    let config = tempfile::tempdir().unwrap();
    let service = Path::new(env!("CARGO_MANIFEST_DIR")).join("service");
    // `ship publish` of the service to the registry, with `extra` flags.
    let publish = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_ship"))
            .env("TANTO_CACHE_DIR", cache.path())
            .env("SHIP_TEST_PW", PASSWORD)
            .env_remove("CI")
            .env_remove("GITHUB_ACTIONS")
            .args(["publish", "--src"])
            .arg(&service)
            .args([
                "--registry",
                &registry.host,
                "--password",
                "env:SHIP_TEST_PW",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = publish(&[]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let digest = stdout
        .split('"')
        .find(|s| s.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("no digest in {stdout}"))
        .to_owned();
    assert!(!String::from_utf8_lossy(&out.stderr).contains(PASSWORD));
    // `ship` and `image-steps` both call `tanto_build::digests()`: the plan keys every step by
    // the code it uses, with no note saying otherwise.
    let plan = publish(&["--plan"]);
    let plan = String::from_utf8_lossy(&plan.stdout);
    assert!(plan.contains(" a side effect: never cached"), "{plan}");
    assert!(!plan.contains("note on"), "{plan}");
    // The push reads the image `smoke` returns: it waits for the smoke test.
    let graph = publish(&["--graph", "mermaid"]);
    let graph = String::from_utf8_lossy(&graph.stdout);
    let node = |label: &str| {
        let shape = format!("[\"{label}\"]");
        let line = graph.lines().find(|l| l.trim_end().ends_with(&shape));
        let id = line.and_then(|l| l.trim().strip_suffix(shape.as_str()));
        id.unwrap_or_else(|| panic!("no node `{label}` in {graph}"))
            .to_owned()
    };
    let edge = format!("{} --> {}", node("smoke"), node("publish"));
    assert!(graph.lines().any(|l| l.trim() == edge), "{graph}");

    // The local copy goes (by the tag the push left, with the image), so the pull is real.
    let pushed = format!("{}/ship/hello-service:latest", registry.host);
    docker(config.path(), &["rmi", "-f", &pushed]);
    let mut login = Command::new("docker")
        .arg("--config")
        .arg(config.path())
        .args(["login", &registry.host, "-u", "ship", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    login
        .stdin
        .take()
        .unwrap()
        .write_all(PASSWORD.as_bytes())
        .unwrap();
    let login = login.wait_with_output().unwrap();
    assert!(login.status.success(), "docker login: {login:?}");
    let by_digest = format!("{}/ship/hello-service@{digest}", registry.host);
    docker(config.path(), &["pull", &by_digest]);
    let page = docker(
        config.path(),
        &[
            "run",
            "--rm",
            "--entrypoint",
            "sh",
            &by_digest,
            "-c",
            "/app/hello-service & sleep 0.5; wget -qO- http://127.0.0.1:8080/",
        ],
    );
    docker(config.path(), &["rmi", "-f", &by_digest]);
    assert_eq!(page, "hello from ship");
}
