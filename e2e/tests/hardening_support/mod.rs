//! A private Docker daemon for the hardening tests: a second `dockerd` with its own socket,
//! data and state folders, its own network namespace, and the busybox test image, which a test may
//! pause, kill or leave alone without touching the machine's daemon or another test's runs.
//! Whatever the test does to it, dropping the guard stops it and removes its folders.

#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The test image every private daemon gets.
pub const BUSYBOX: &str = "tanto-test/busybox:latest";

/// A second `dockerd`, removed with all it holds when dropped.
pub struct PrivateDaemon {
    root: PathBuf,
    child: Option<Child>,
    /// Whether the test killed it, so the guard must restart it to clean up its containers.
    killed: bool,
}

impl PrivateDaemon {
    /// Starts a daemon under a fresh folder of `/tmp` and loads the busybox test image into
    /// it; panics, saying why, when it cannot.
    pub fn start() -> Self {
        let root = tempfile::Builder::new()
            .prefix("tanto-dockerd-")
            .tempdir_in("/tmp")
            .expect("a folder for a private daemon")
            .keep();
        let mut daemon = Self {
            root,
            child: None,
            killed: false,
        };
        daemon.spawn();
        daemon.load(BUSYBOX);
        daemon
    }

    /// `unix://` and the path of the daemon's socket: what `DOCKER_HOST` names.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    fn socket(&self) -> PathBuf {
        self.root.join("d.sock")
    }

    fn spawn(&mut self) {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.root.join("dockerd.log"))
            .expect("the daemon's log file");
        let _ = std::fs::remove_file(self.socket());
        // In a network namespace of its own: a daemon started with `--bridge=none` deletes
        // the host's `docker0`, which the machine's daemon needs. Its containers run without a
        // network, and its socket is a file, which the namespace does not hide.
        let child = Command::new("unshare")
            .args(["--net", "dockerd"])
            .arg("--host")
            .arg(self.host())
            .arg("--data-root")
            .arg(self.root.join("data"))
            .arg("--exec-root")
            .arg(self.root.join("exec"))
            .arg("--pidfile")
            .arg(self.root.join("dockerd.pid"))
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip-masq=false",
                "--ip-forward=false",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start a second dockerd with `unshare --net` (run as root): {e}")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "the private dockerd never answered; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn answers(&self) -> bool {
        self.socket().exists()
            && Command::new("docker")
                .args([
                    "-H",
                    &self.host(),
                    "version",
                    "--format",
                    "{{.Server.Version}}",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    }

    /// The daemon's own log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("dockerd.log")).unwrap_or_default()
    }

    /// Copies `image` from the machine's daemon into this one.
    pub fn load(&self, image: &str) {
        let mut save = Command::new("docker")
            .args(["save", image])
            .stdout(Stdio::piped())
            .spawn()
            .expect("docker save");
        let saved = save.stdout.take().expect("the saved image");
        let loaded = Command::new("docker")
            .args(["-H", &self.host(), "load", "-q"])
            .stdin(saved)
            .output()
            .expect("docker load");
        assert!(
            save.wait().expect("docker save").success(),
            "docker save {image}"
        );
        assert!(
            loaded.status.success(),
            "docker load {image}: {}",
            String::from_utf8_lossy(&loaded.stderr)
        );
    }

    /// Runs the `docker` client against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .args(["-H", &self.host()])
            .args(args)
            .output()
            .expect("run the docker client")
    }

    /// How many containers (running or not) of this daemon carry `label` (`key=value`).
    pub fn containers(&self, label: &str) -> usize {
        let out = self.docker(&["ps", "-aq", "--filter", &format!("label={label}")]);
        assert!(
            out.status.success(),
            "docker ps: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).lines().count()
    }

    /// Sends `signal` to the daemon.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = self.child.as_ref().expect("the daemon runs").id();
        #[allow(unsafe_code)]
        // SAFETY: a signal to a child process this guard started and has not reaped yet.
        unsafe {
            libc::kill(libc::pid_t::try_from(pid).expect("a pid"), signal);
        }
    }

    /// Kills the daemon with SIGKILL, the way a crash does; its containers keep running
    /// until the guard restarts it to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.killed = true;
        }
    }

    /// Stops the daemon, then unmounts and removes its folders.
    fn tear_down(&mut self) {
        if self.child.is_some() {
            // A paused daemon must run again to stop.
            self.signal(libc::SIGCONT);
        }
        if self.killed {
            // A daemon that starts again without live-restore stops the containers its crash
            // left running, with their shims and mounts.
            self.killed = false;
            self.spawn();
        }
        if self.child.is_some() {
            let out = self.docker(&["ps", "-aq"]);
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_owned)
                .collect();
            if !ids.is_empty() {
                let mut rm = vec!["rm", "-f", "-v"];
                rm.extend(ids.iter().map(String::as_str));
                let _ = self.docker(&rm);
            }
            self.signal(libc::SIGTERM);
            let mut child = self.child.take().expect("the daemon runs");
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        unmount_under(&self.root);
        if let Err(e) = std::fs::remove_dir_all(&self.root) {
            let _ = writeln!(
                std::io::stderr(),
                "could not remove {}: {e}",
                self.root.display()
            );
        }
    }
}

impl Drop for PrivateDaemon {
    fn drop(&mut self) {
        self.tear_down();
    }
}

/// Unmounts everything mounted at or below `root`, deepest first (the daemon bind-mounts its
/// data folder onto itself, and a crash leaves container file systems mounted).
fn unmount_under(root: &Path) {
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<PathBuf> = table
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|p| p.starts_with(root))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for point in points {
        let Ok(c) = std::ffi::CString::new(point.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        #[allow(unsafe_code)]
        // SAFETY: a valid NUL-terminated path; MNT_DETACH only detaches that mount.
        unsafe {
            libc::umount2(c.as_ptr(), libc::MNT_DETACH);
        }
    }
}
