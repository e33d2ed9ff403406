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
        if let Err(e) = self.launch() {
            panic!("{e}");
        }
    }

    /// Starts `dockerd` and waits until it answers; says why when it does not.
    fn launch(&mut self) -> Result<(), String> {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.root.join("dockerd.log"))
            .map_err(|e| format!("the daemon's log file: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("the log file: {e}"))?;
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
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| {
                format!("cannot start a second dockerd with `unshare --net` (run as root): {e}")
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.answers() {
            if Instant::now() > deadline {
                return Err(format!(
                    "the private dockerd never answered; its log:\n{}",
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
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
        self.count(&["-a", "--filter", &format!("label={label}")])
    }

    /// How many running containers of this daemon carry `label` (`key=value`).
    pub fn running(&self, label: &str) -> usize {
        self.count(&[
            "--filter",
            &format!("label={label}"),
            "--filter",
            "status=running",
        ])
    }

    /// How many containers `docker ps -q` with `filters` lists on this daemon.
    fn count(&self, filters: &[&str]) -> usize {
        let out = self.docker(&[&["ps", "-q"], filters].concat());
        assert!(
            out.status.success(),
            "docker ps: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).lines().count()
    }

    /// The states of this daemon's containers that carry `label`, one `id status` per line:
    /// what a failed wait shows.
    pub fn states(&self, label: &str) -> String {
        let filter = format!("label={label}");
        let out = self.docker(&[
            "ps",
            "-a",
            "--filter",
            &filter,
            "--format",
            "{{.ID}} {{.Status}}",
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
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
    /// until the guard kills them.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.killed = true;
        }
    }

    /// Stops the daemon, then unmounts and removes its folders. Never panics: it runs in
    /// `Drop`, maybe while a failed test unwinds.
    fn tear_down(&mut self) {
        if self.child.is_some() {
            // A paused daemon must run again to stop.
            self.signal(libc::SIGCONT);
        }
        if self.killed {
            // A crash leaves containerd's shims and the containers under them running; they
            // name this daemon's folder (a unique temporary path) on their command lines.
            self.killed = false;
            kill_processes_naming(&self.root);
            remove_cgroups(&self.root);
        }
        if let Some(mut child) = self.child.take() {
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
            if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                #[allow(unsafe_code)]
                // SAFETY: a signal to a child process this guard started and has not reaped.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
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
        // Whatever a failed restart left: containerd, its shims.
        kill_processes_naming(&self.root);
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

/// Kills with SIGKILL every process whose command line names `path`, with the processes
/// under it (a shim's container), until none has been seen for half a second (a dying
/// containerd may still start a shim), or for at most 10 s.
fn kill_processes_naming(path: &Path) {
    let needle = path.as_os_str().as_encoded_bytes();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut quiet_since = Instant::now();
    loop {
        let table = processes();
        let named: Vec<libc::pid_t> = table
            .iter()
            .filter(|p| p.cmdline.windows(needle.len()).any(|w| w == needle))
            .map(|p| p.pid)
            .collect();
        if Instant::now() > deadline {
            return;
        }
        if named.is_empty() {
            if quiet_since.elapsed() > Duration::from_millis(500) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        quiet_since = Instant::now();
        let mut doomed = named;
        let mut i = 0;
        while i < doomed.len() {
            let parent = doomed[i];
            doomed.extend(table.iter().filter(|p| p.ppid == parent).map(|p| p.pid));
            i += 1;
        }
        // Children first, so none is reparented away before it is found.
        for pid in doomed.into_iter().rev() {
            #[allow(unsafe_code)]
            // SAFETY: a signal to a process of this test's own private daemon.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A process, as `/proc` shows it.
struct Process {
    pid: libc::pid_t,
    ppid: libc::pid_t,
    cmdline: Vec<u8>,
}

fn processes() -> Vec<Process> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .filter_map(|p| {
            let pid: libc::pid_t = p.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (name) state ppid …`; the name may hold spaces and parentheses.
            let ppid = stat[stat.rfind(')')? + 1..]
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            Some(Process { pid, ppid, cmdline })
        })
        .collect()
}

/// Kills what is left in the cgroups of the daemon's containers (a container's process
/// that a crash caught half started has no shim above it), then removes those cgroups.
fn remove_cgroups(root: &Path) {
    let Ok(containers) = std::fs::read_dir(root.join("data/containers")) else {
        return;
    };
    let Ok(controllers) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    // Each controller of cgroup v1, and the unified hierarchy of v2.
    let mut hierarchies: Vec<PathBuf> = controllers.filter_map(|c| Some(c.ok()?.path())).collect();
    hierarchies.push(PathBuf::from("/sys/fs/cgroup"));
    let groups: Vec<PathBuf> = containers
        .filter_map(Result::ok)
        .flat_map(|c| {
            hierarchies
                .iter()
                .map(move |h| h.join("docker").join(c.file_name()))
        })
        .filter(|g| g.is_dir())
        .collect();
    for group in &groups {
        let procs = std::fs::read_to_string(group.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|p| p.parse::<libc::pid_t>().ok()) {
            #[allow(unsafe_code)]
            // SAFETY: a signal to a process in a container of this test's private daemon.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    for group in &groups {
        let _ = std::fs::remove_dir(group);
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
