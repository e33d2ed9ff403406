//! Row 9: a fully cached `hello` run through Podman's Docker-compatible socket (as root),
//! against the same run on Docker. The row starts its own `podman system service` with its
//! storage under `target/bench`, as the e2e tests do, and removes it all when done; without
//! Podman or root it is skipped with a note.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::measure::{self, Samples, duration};
use super::report::{Line, Row, Target};
use super::tanto_run::{self, Run};
use super::{Bench, settle};
use crate::daemon::is_root;

const TITLE: &str = "Podman";

/// Measures row 9.
pub(crate) fn run(b: &Bench) -> Result<Row, String> {
    let workload = "`hello ci --src` (four busybox steps in a diamond) over a two-file folder, \
                    fully cached (a warm store, the same source), through Podman's \
                    Docker-compatible socket as root (`podman system service`, its storage \
                    under `target/bench`, a `containers.conf` with `default_ulimits = []` as the \
                    e2e tests use), against the same run on Docker with a store of its own."
        .to_owned();
    let has_podman = Command::new("podman")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_podman || !is_root() {
        let why = if has_podman {
            "the bench does not run as root"
        } else {
            "`podman` is not installed (`apt-get install podman`)"
        };
        return Ok(Row {
            id: 9,
            title: TITLE,
            workload,
            lines: Vec::new(),
            notes: vec![format!("Skipped in this run: {why}.")],
        });
    }
    let podman = Service::start(&b.work.join("podman"))?;
    b.say("  loading tanto-test/busybox into Podman");
    podman.load(super::workload::IMAGE)?;
    let src = b.fresh_dir("hello-src")?;
    std::fs::create_dir(src.join("src")).map_err(|e| e.to_string())?;
    std::fs::write(src.join("README"), "hello\nworld\n").map_err(|e| e.to_string())?;
    std::fs::write(src.join("src/main.rs"), "fn main() {}\n").map_err(|e| e.to_string())?;
    settle();
    let host = format!("unix://{}", podman.socket.display());
    let src_arg = src.to_string_lossy().into_owned();
    let args = ["ci", "--src", &src_arg];
    let (p_store, d_store) = (b.fresh_dir("hello-podman")?, b.fresh_dir("hello-docker")?);
    let on_podman =
        || tanto_run::run_with(&b.bins.hello, &args, &p_store, &[("DOCKER_HOST", &host)]);
    let on_docker = || tanto_run::run_with(&b.bins.hello, &args, &d_store, &[("DOCKER_HOST", "")]);
    b.say("  cold runs, to fill the stores");
    let cold = on_podman()?;
    on_docker()?;
    let reps = b.reps(9);
    let (mut p, mut d) = (Samples::default(), Samples::default());
    let mut profile = Vec::new();
    for i in 0..reps {
        b.say(&format!("  repetition {}/{reps}", i + 1));
        let run = on_podman()?;
        cached(&run, "Podman")?;
        p.push(run.wall_ms);
        profile.push(run);
        let run = on_docker()?;
        cached(&run, "Docker")?;
        d.push(run.wall_ms);
    }
    let left = podman.containers()?;
    podman.stop()?;
    if left > 0 {
        return Err(format!("the runs on Podman left {left} container(s)"));
    }
    let median = |i: usize| {
        let mut s = Samples::default();
        for r in &profile {
            s.push(r.phases()[i]);
        }
        s.median()
    };
    let notes = vec![
        format!(
            "Where the cached Podman run's time goes (medians of the JSON events' timestamps): \
             {} from process start to `run_started` (CLI, store, connecting, reaping, resolving \
             the image, hashing `--src`), {} from there to `run_finished` (four key lookups), \
             {} to exit. The cold run that filled the store took {}.",
            duration(median(0)),
            duration(median(1) + median(2) + median(3)),
            duration(median(4)),
            duration(cold.wall_ms),
        ),
        "Podman answers `GET /version`, which bollard's version negotiation asks, only after \
         asking its OCI runtime and conmon for their versions: 0.4 s to 0.9 s per run on this \
         machine, where `/_ping` answers in about a millisecond. tanto reads the API version \
         from the `Api-Version` header of one `/_ping` (Docker and Podman both send it), and \
         asks `/version` only when a daemon leaves it out."
            .to_owned(),
    ];
    Ok(Row {
        id: 9,
        title: TITLE,
        workload,
        lines: vec![
            Line::versus(
                "`hello`, fully cached, on Podman",
                &p,
                "the same run on Docker",
                &d,
                Target::None,
            ),
            Line::alone("`hello`, fully cached, on Podman", &p, 100.0),
        ],
        notes,
    })
}

/// Fails unless `run` was fully cached.
fn cached(run: &Run, on: &str) -> Result<(), String> {
    match run.counts()? {
        (0, 4, 0, 0) => Ok(()),
        counts => Err(format!(
            "`hello ci` on {on} was not fully cached: (ran, cached, failed, skipped) = {counts:?}"
        )),
    }
}

/// A `podman system service` of the bench's own, on a socket in `dir`.
struct Service {
    child: Child,
    dir: PathBuf,
    socket: PathBuf,
}

impl Service {
    fn start(dir: &Path) -> Result<Self, String> {
        if dir.exists() {
            unmount_under(dir);
            std::fs::remove_dir_all(dir).map_err(|e| format!("remove {}: {e}", dir.display()))?;
        }
        std::fs::create_dir_all(dir.join("run"))
            .map_err(|e| format!("create {}: {e}", dir.display()))?;
        // Without `default_ulimits` every container fails on setrlimit here. On a host with
        // hybrid cgroups (v1 controllers, a v2 tree beside them) crun, Podman's default
        // runtime, refuses every container: runc runs them.
        let mut conf =
            "[containers]\ndefault_ulimits = []\n\n[engine]\nlock_type = \"file\"\n".to_owned();
        if !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            conf.push_str("runtime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n");
        }
        std::fs::write(dir.join("containers.conf"), conf)
            .map_err(|e| format!("write containers.conf: {e}"))?;
        let socket = dir.join("podman.sock");
        let log = std::fs::File::create(dir.join("service.log"))
            .map_err(|e| format!("create the service's log: {e}"))?;
        let child = podman(dir)
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start `podman system service`: {e}"))?;
        let service = Self {
            child,
            dir: dir.to_path_buf(),
            socket,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while !(service.socket.exists() && service.docker(&["version"]).is_ok()) {
            if Instant::now() > deadline {
                return Err(format!(
                    "podman system service never answered; see {}",
                    dir.join("service.log").display()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(service)
    }

    fn docker(&self, args: &[&str]) -> Result<String, String> {
        measure::run(
            Command::new("docker")
                .arg("--host")
                .arg(format!("unix://{}", self.socket.display()))
                .args(args),
        )
    }

    fn load(&self, image: &str) -> Result<(), String> {
        let script = format!(
            "docker save {image} | CONTAINERS_CONF={conf} XDG_RUNTIME_DIR={run} podman --root {root} --runroot {runroot} load",
            conf = self.dir.join("containers.conf").display(),
            run = self.dir.join("run").display(),
            root = self.dir.join("storage").display(),
            runroot = self.dir.join("runroot").display(),
        );
        measure::run(Command::new("sh").args(["-c", &script])).map(drop)
    }

    fn containers(&self) -> Result<usize, String> {
        Ok(self.docker(&["ps", "-aq"])?.lines().count())
    }

    /// Stops the service, ends the processes it started (each exec's conmon outlives it),
    /// unmounts and removes its folder.
    fn stop(mut self) -> Result<(), String> {
        self.shut_down();
        std::fs::remove_dir_all(&self.dir)
            .map_err(|e| format!("remove {}: {e}", self.dir.display()))
    }

    fn shut_down(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        for pid in processes_naming(&self.dir) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        unmount_under(&self.dir);
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if self.dir.exists() {
            self.shut_down();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `podman` with the service's storage, configuration and runtime folder in `dir`.
fn podman(dir: &Path) -> Command {
    let mut cmd = Command::new("podman");
    cmd.env("CONTAINERS_CONF", dir.join("containers.conf"))
        .env("XDG_RUNTIME_DIR", dir.join("run"))
        .arg("--root")
        .arg(dir.join("storage"))
        .arg("--runroot")
        .arg(dir.join("runroot"));
    cmd
}

/// The pids of the processes whose command line names `dir`: what the service started.
fn processes_naming(dir: &Path) -> Vec<u32> {
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

/// Unmounts what is mounted under `dir`, deepest first: rootful Podman bind-mounts its
/// storage folders onto themselves.
fn unmount_under(dir: &Path) {
    let prefix = dir.display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        let _ = Command::new("umount").arg(point).status();
    }
}
