//! Real servers that tests start for themselves: a TCP proxy to the daemon (`socat`) and an
//! image registry (`docker-registry`). Each is stopped, and its files removed, when dropped.
//! A missing program fails the test with the command that installs it; nothing is skipped.

use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::host::require;

/// A port on 127.0.0.1 that nothing listened on a moment ago, and that this process has not
/// handed out before: the kernel may give a port it just freed to the next bind, and the tests
/// of one binary start their servers side by side, where two on one port would connect each
/// test to whichever server bound it.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().expect("its address").port();
        if GIVEN
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(port)
        {
            return port;
        }
    }
}

/// A server process of this test, killed and reaped when dropped.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub port: u16,
    /// Its files, removed after it stops.
    dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts `cmd` and waits, for at most a minute however loaded the machine, until it
    /// accepts connections on `port`.
    pub fn start(mut cmd: Command, port: u16, dir: Option<tempfile::TempDir>) -> Self {
        let log = dir
            .as_ref()
            .map(|d| d.path().join("server.log"))
            .map(|p| std::fs::File::create(p).expect("the server's log"));
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        match log {
            Some(log) => cmd.stderr(log),
            None => cmd.stderr(Stdio::inherit()),
        };
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let mut server = Self { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{cmd:?} exited ({status}) before it listened");
            }
            assert!(
                Instant::now() < deadline,
                "{cmd:?} never listened on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// A TCP endpoint on 127.0.0.1 that forwards each connection to the local daemon's Unix
    /// socket: a daemon that tanto reaches over TCP, as it would a remote one.
    pub fn docker_over_tcp() -> Self {
        require("socat", "socat");
        let socket = std::env::var("DOCKER_HOST")
            .ok()
            .and_then(|h| h.strip_prefix("unix://").map(str::to_owned))
            .unwrap_or_else(|| "/var/run/docker.sock".to_owned());
        let port = free_port();
        let mut cmd = Command::new("socat");
        cmd.arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr"))
            .arg(format!("UNIX-CONNECT:{socket}"));
        Self::start(cmd, port, None)
    }

    /// Debian's distribution registry on 127.0.0.1, storing into a temporary folder. The
    /// daemon pushes to and pulls from a loopback registry without TLS.
    pub fn registry() -> Self {
        require("docker-registry", "docker-registry");
        let dir = tempfile::tempdir().expect("the registry's folder");
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .expect("write the registry's configuration");
        let mut cmd = Command::new("docker-registry");
        cmd.arg("serve").arg(&config);
        Self::start(cmd, port, Some(dir))
    }

    /// The server's folder, if it has one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }

    /// The server's log, if it keeps one.
    pub fn log(&self) -> String {
        self.dir
            .as_ref()
            .and_then(|d| std::fs::read_to_string(d.path().join("server.log")).ok())
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the docker CLI with `args` against the local daemon; its stdout, or a panic with its
/// stderr.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether the local daemon has image `reference`.
pub fn has_image(reference: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", reference])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// An image tag on the local daemon, removed when dropped.
pub struct Tag(pub String);

impl Drop for Tag {
    fn drop(&mut self) {
        if has_image(&self.0) {
            let _ = Command::new("docker")
                .args(["rmi", &self.0])
                .stdout(Stdio::null())
                .status();
        }
    }
}

/// The device of the file system that holds `path`.
pub fn device(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .dev()
}
