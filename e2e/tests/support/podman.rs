//! A Podman service that a test starts for itself, as root or rootless, with its storage in a
//! temporary folder: the images it needs loaded from Docker, and everything (the service, the
//! rootless pause process, the storage) gone when dropped.
//!
//! Shared by `e2e/tests/podman.rs` and `examples/hello/tests/podman.rs` (through `#[path]`),
//! so it depends on nothing of the e2e support but `host.rs`, which hello includes too.
#![allow(dead_code, unreachable_pub)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::host::{is_root, require};

/// The unprivileged user that rootless Podman runs as when the tests run as root.
pub const USER: &str = "tanto-test";

/// A running `podman system service` on a socket of its own.
pub struct Podman {
    service: Child,
    /// Runs as this user, through `runuser`; `None`: as this process's user.
    user: Option<&'static str>,
    /// Everything of this service: configuration, storage, runtime folder, the user's work.
    dir: PathBuf,
    /// The service's Docker-compatible API socket.
    pub socket: PathBuf,
}

/// The OCI runtime settings for this host's cgroups: none where they are all cgroup v2
/// (Podman's default, crun, runs there), and runc with cgroupfs on a hybrid host (v1
/// controllers with a cgroup v2 tree beside them), where crun refuses every container.
fn runtime() -> String {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        return String::new();
    }
    require("runc", "runc");
    "runtime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n".to_owned()
}

impl Podman {
    /// Podman as root. Needs root; says so otherwise.
    pub fn rootful() -> Self {
        assert!(
            is_root(),
            "rootful Podman needs root: run the suite as root (as CI does), or with sudo"
        );
        Self::start(None)
    }

    /// Rootless Podman: as the plain user `tanto-test` when this process is root, otherwise
    /// as this process's own (unprivileged) user.
    pub fn rootless() -> Self {
        require("newuidmap", "uidmap");
        if !is_root() {
            return Self::start(None);
        }
        let known = Command::new("id")
            .arg(USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            known,
            "rootless Podman runs as the user `{USER}`, who is missing: run \
             `useradd -m {USER}` (`cargo xtask test` does)"
        );
        Self::start(Some(USER))
    }

    /// Starts the service as `user` (or as this process) in a new folder of its own.
    fn start(user: Option<&'static str>) -> Self {
        require("podman", "podman");
        let dir = tempfile::Builder::new()
            .prefix("tanto-podman-")
            .tempdir()
            .expect("a folder for Podman")
            .keep();
        for sub in ["run", "work", "bin"] {
            std::fs::create_dir(dir.join(sub)).expect("mkdir");
        }
        // Without `default_ulimits` every container fails on setrlimit here; file locks live
        // in the storage folder, where shared-memory ones would stay in /dev/shm.
        let mut conf =
            "[containers]\ndefault_ulimits = []\n\n[engine]\nlock_type = \"file\"\n".to_owned();
        conf.push_str(&runtime());
        std::fs::write(dir.join("containers.conf"), conf).expect("write containers.conf");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        if let Some(user) = user {
            let status = Command::new("chown")
                .args(["-R", &format!("{user}:{user}")])
                .arg(&dir)
                .status()
                .expect("chown");
            assert!(status.success(), "chown {} to {user}", dir.display());
        }
        let socket = dir.join("podman.sock");
        let log = std::fs::File::create(dir.join("service.log")).expect("the service's log");
        let mut service = Self::podman_command(user, &dir);
        service
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let service = service.spawn().expect("start podman system service");
        let podman = Self {
            service,
            user,
            dir,
            socket,
        };
        podman.wait_until_it_answers();
        podman
    }

    /// `podman` with this service's storage, configuration and runtime folder, as its user.
    fn podman_command(user: Option<&str>, dir: &Path) -> Command {
        let mut cmd = Self::as_user(user, dir, Path::new("podman"));
        cmd.arg("--root")
            .arg(dir.join("storage"))
            .arg("--runroot")
            .arg(dir.join("runroot"));
        cmd
    }

    /// `program` as `user` (or as this process), with the environment Podman's clients need.
    /// `setpriv` execs the program in its own process, so the child's pid is the program's,
    /// and stopping the child stops the program.
    fn as_user(user: Option<&str>, dir: &Path, program: &Path) -> Command {
        let mut cmd = match user {
            Some(user) => {
                let mut cmd = Command::new("setpriv");
                cmd.arg(format!("--reuid={user}"))
                    .arg(format!("--regid={user}"))
                    .args(["--init-groups", "--"])
                    .arg(program);
                cmd
            }
            None => Command::new(program),
        };
        cmd.env("CONTAINERS_CONF", dir.join("containers.conf"))
            .env("XDG_RUNTIME_DIR", dir.join("run"));
        if let Some(user) = user {
            cmd.env("HOME", format!("/home/{user}")).env("USER", user);
        }
        cmd
    }

    /// Returns once the service answers the Docker API, for at most two minutes.
    fn wait_until_it_answers(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let answers = self.socket.exists()
                && self
                    .docker(&["version", "--format", "{{.Server.APIVersion}}"])
                    .status
                    .success();
            if answers {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "podman system service never answered; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The service's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("service.log")).unwrap_or_default()
    }

    /// Runs the docker CLI against this service.
    pub fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker")
            .arg("--host")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args)
            .output()
            .expect("the docker CLI")
    }

    /// Loads `image` from the local Docker daemon into this service's storage.
    pub fn load(&self, image: &str) {
        let mut save = Command::new("docker")
            .args(["save", image])
            .stdout(Stdio::piped())
            .spawn()
            .expect("docker save");
        let loaded = Self::podman_command(self.user, &self.dir)
            .arg("load")
            .stdin(save.stdout.take().expect("piped"))
            .output()
            .expect("podman load");
        assert!(
            save.wait().expect("docker save ends").success(),
            "docker save {image}"
        );
        assert!(
            loaded.status.success(),
            "podman load of {image}: {}",
            String::from_utf8_lossy(&loaded.stderr)
        );
    }

    /// A folder the service's user owns, for stores and sources.
    pub fn work_dir(&self) -> PathBuf {
        self.dir.join("work")
    }

    /// Gives the files under `path` to the service's user.
    pub fn hand_over(&self, path: &Path) {
        if let Some(user) = self.user {
            let status = Command::new("chown")
                .args(["-R", &format!("{user}:{user}")])
                .arg(path)
                .status()
                .expect("chown");
            assert!(status.success());
        }
    }

    /// A command running the binary `exe` as the service's user against this service, with
    /// its store in `cache`. The binary is copied where that user can run it.
    pub fn command(&self, exe: &Path, cache: &Path) -> Command {
        let copy = self
            .dir
            .join("bin")
            .join(exe.file_name().expect("a binary"));
        if !copy.exists() {
            // Copied by `cp`, not by this process: a file this process holds open for writing
            // is inherited by what its other threads fork meanwhile, and executing it then
            // fails with "Text file busy" until those children exec.
            let status = Command::new("cp")
                .arg(exe)
                .arg(&copy)
                .status()
                .expect("run cp");
            assert!(status.success(), "cp {} failed", exe.display());
            std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let mut cmd = Self::as_user(self.user, &self.dir, &copy);
        cmd.env("DOCKER_HOST", format!("unix://{}", self.socket.display()))
            .env("TANTO_CACHE_DIR", cache)
            .env_remove("CI")
            .env_remove("GITHUB_ACTIONS");
        cmd
    }

    /// How many containers (running or not) the service has.
    pub fn containers(&self) -> usize {
        let out = self.docker(&["ps", "-aq"]);
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).lines().count()
    }
}

/// The pids of the processes whose command line names `dir`: what the service started.
fn processes_in(dir: &Path) -> Vec<u32> {
    let needle = dir.as_os_str().as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| cmd.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}

/// The mount points under `dir` in this process's mount namespace, deepest first.
fn mounts_in(dir: &Path) -> Vec<String> {
    let prefix = dir.display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<String> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&prefix))
        .map(str::to_owned)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    points
}

impl Podman {
    /// Stops the service and removes everything it made, then asserts that nothing is left:
    /// no process it started, no mount, no file.
    pub fn stop(mut self) {
        let left = self.shut_down();
        assert!(left.is_empty(), "Podman left behind: {left:?}");
    }

    /// Stops the service, ends what it left running, unmounts and removes its folder; what
    /// was left behind until then, in words.
    fn shut_down(&mut self) -> Vec<String> {
        let mut left = Vec::new();
        // SIGTERM: the service removes its socket and exits; SIGKILL if it does not.
        let _ = Command::new("kill")
            .arg(self.service.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.service.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(self.service.try_wait(), Ok(None)) {
            left.push("a service that ignored SIGTERM".to_owned());
            let _ = self.service.kill();
        }
        let _ = self.service.wait();
        let rootless = self.user.is_some() || !is_root();
        if rootless {
            // Rootless storage belongs to the user's subordinate ids: remove it from inside
            // the user namespace that owns it.
            let _ = Self::podman_command(self.user, &self.dir)
                .args(["unshare", "rm", "-rf"])
                .arg(self.dir.join("storage"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            // Rootless Podman keeps a pause process holding that namespace: it ends with us.
            let pause = self.dir.join("run/libpod/tmp/pause.pid");
            if let Some(pid) = std::fs::read_to_string(pause)
                .ok()
                .and_then(|p| p.trim().parse::<u32>().ok())
            {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
        // Each exec's conmon outlives its exec by five minutes, as Docker keeps an exec's exit
        // code (a shorter `exit_command_delay` loses the code tanto reads): end them with the
        // service, which is all they serve.
        for pid in processes_in(&self.dir) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        // Rootful Podman bind-mounts its storage folders onto themselves.
        for point in mounts_in(&self.dir) {
            let _ = Command::new("umount").arg(&point).status();
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            left.push(format!("{}: {e}", self.dir.display()));
        }
        left
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // After `stop`, or on a failing test: clean up as well as can be, quietly.
        if self.dir.exists() {
            let _ = self.shut_down();
        }
    }
}
