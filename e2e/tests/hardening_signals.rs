//! Signals end a run in bounded time: SIGTERM and SIGHUP like Ctrl-C, a first signal cleans
//! up without waiting on a daemon that stopped answering, and a second one exits at once.
//! A daemon that stops answering is a private `dockerd` stopped with SIGSTOP.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod hardening_support;
mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use hardening_support::PrivateDaemon;
use serde_json::Value;
use support::fixture;

/// Where a test runs its pipelines: the machine's daemon, or a private one.
fn docker(daemon: Option<&PrivateDaemon>, args: &[&str]) -> Output {
    match daemon {
        Some(d) => d.docker(args),
        None => std::process::Command::new("docker")
            .args(args)
            .output()
            .unwrap(),
    }
}

fn containers_of_run(daemon: Option<&PrivateDaemon>, run: &str) -> usize {
    let out = docker(
        daemon,
        &["ps", "-aq", "--filter", &format!("label=tanto.run={run}")],
    );
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// Starts `sleepy` and returns once its step's `sleep 60` runs, with the run's id.
fn start_sleepy(daemon: Option<&PrivateDaemon>, cache: &std::path::Path) -> (Child, String) {
    let mut cmd = fixture(cache);
    if let Some(d) = daemon {
        cmd.env("DOCKER_HOST", d.host());
    }
    let mut child = cmd
        .args(["sleepy", "--progress", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut run = String::new();
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 {
        let event: Value = serde_json::from_str(&line).unwrap();
        line.clear();
        if event["event"] == "run_started" {
            run = event["run_id"].as_str().unwrap().to_owned();
        }
        if event["event"] == "step_started" {
            break;
        }
    }
    // Drain the rest, so the run never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let ps = docker(
            daemon,
            &["ps", "-q", "--filter", &format!("label=tanto.run={run}")],
        );
        let napping = String::from_utf8_lossy(&ps.stdout).lines().any(|id| {
            String::from_utf8_lossy(&docker(daemon, &["top", id]).stdout).contains("sleep 60")
        });
        if napping {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, run)
}

fn signal(child: &Child, signal: libc::c_int) {
    #[allow(unsafe_code)]
    // SAFETY: a signal to our own child process.
    unsafe {
        libc::kill(libc::pid_t::try_from(child.id()).unwrap(), signal);
    }
}

/// Waits up to `limit` for `child` to exit; kills it and panics when it does not.
fn wait_within(mut child: Child, limit: Duration, what: &str) -> (ExitStatus, String) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return (status, stderr);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: the run was still there after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `sleepy --plan` on `daemon` (every run reaps what dead runs left), then waits up to
/// 15 s for run `run` to have no container.
fn next_run_reaps(daemon: &PrivateDaemon, run: &str) {
    let cache = tempfile::tempdir().unwrap();
    let out = fixture(cache.path())
        .env("DOCKER_HOST", daemon.host())
        .args(["sleepy", "--plan"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while containers_of_run(Some(daemon), run) > 0 {
        assert!(Instant::now() < deadline, "run {run} left containers");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigterm_and_sighup_exit_130_and_leave_nothing() {
    for (name, sig) in [("SIGTERM", libc::SIGTERM), ("SIGHUP", libc::SIGHUP)] {
        let cache = tempfile::tempdir().unwrap();
        let (child, run) = start_sleepy(None, cache.path());
        signal(&child, sig);
        let (status, stderr) = wait_within(child, Duration::from_secs(30), name);
        assert_eq!(status.code(), Some(130), "{name}: {status:?} {stderr}");
        assert_eq!(containers_of_run(None, &run), 0, "{name} left containers");
    }
}

#[test]
fn one_signal_ends_the_run_in_bounded_time_when_the_daemon_stops_answering() {
    let daemon = PrivateDaemon::start();
    let cache = tempfile::tempdir().unwrap();
    let (child, run) = start_sleepy(Some(&daemon), cache.path());
    daemon.signal(libc::SIGSTOP);
    let interrupted = Instant::now();
    signal(&child, libc::SIGINT);
    let (status, stderr) = wait_within(child, Duration::from_secs(40), "one SIGINT");
    daemon.signal(libc::SIGCONT);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        interrupted.elapsed() < Duration::from_secs(11),
        "{:?}",
        interrupted.elapsed()
    );
    assert!(stderr.contains("the next run"), "{stderr}");
    next_run_reaps(&daemon, &run);
}

#[test]
fn a_second_signal_during_cleanup_exits_at_once() {
    let daemon = PrivateDaemon::start();
    let cache = tempfile::tempdir().unwrap();
    let (child, run) = start_sleepy(Some(&daemon), cache.path());
    // Cleanup that cannot finish: the daemon stops answering before the first signal.
    daemon.signal(libc::SIGSTOP);
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_secs(1));
    let second = Instant::now();
    signal(&child, libc::SIGINT);
    let (status, stderr) = wait_within(child, Duration::from_secs(5), "a second SIGINT");
    let took = second.elapsed();
    daemon.signal(libc::SIGCONT);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        took < Duration::from_secs(3),
        "exited {took:?} after the second signal"
    );
    assert!(
        stderr.contains(
            "tanto: interrupted again; exiting now: the steps' containers end with tanto; \
             services and the run's network stay up until the next run removes them"
        ),
        "{stderr}"
    );
    next_run_reaps(&daemon, &run);
}

/// A daemon that answers `/_ping` and `/version` and never anything else, on a socket in
/// `dir`: what a daemon that hangs while a run resolves its images looks like. Each request
/// it holds is sent on the channel.
fn hanging_daemon(dir: &std::path::Path) -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::Write;
    use std::os::unix::net::UnixListener;
    let socket = dir.join("docker.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let (held, requests) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let held = held.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut head = String::new();
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 2 {
                        head.push_str(&line);
                        line.clear();
                    }
                    let Some(path) = head.split_whitespace().nth(1).map(str::to_owned) else {
                        return;
                    };
                    let body = if path.ends_with("/_ping") {
                        "OK".to_owned()
                    } else if path.ends_with("/version") {
                        r#"{"ApiVersion":"1.41","Version":"20.10.24","MinAPIVersion":"1.12"}"#
                            .to_owned()
                    } else {
                        let _ = held.send(path);
                        std::thread::sleep(Duration::from_secs(600));
                        return;
                    };
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("unix://{}", socket.display()), requests)
}

#[test]
fn a_signal_before_the_steps_start_ends_the_run_at_once_when_the_daemon_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let (host, requests) = hanging_daemon(dir.path());
    let cache = tempfile::tempdir().unwrap();
    let child = fixture(cache.path())
        .env("DOCKER_HOST", &host)
        .args(["sleepy", "--progress", "plain"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The run is waiting on the daemon for the step's image (and for the reaping of what
    // dead runs left, beside it).
    while !requests
        .recv_timeout(Duration::from_secs(30))
        .unwrap()
        .contains("/images/tanto-test/busybox")
    {}
    let interrupted = Instant::now();
    signal(&child, libc::SIGINT);
    let (status, stderr) = wait_within(child, Duration::from_secs(10), "SIGINT while resolving");
    assert!(
        interrupted.elapsed() < Duration::from_secs(3),
        "{:?}",
        interrupted.elapsed()
    );
    assert_eq!(status.code(), Some(130), "{status:?} {stderr}");
    assert_eq!(
        stderr,
        "tanto: interrupted before any step started; nothing ran\n"
    );
}

/// The name of the file `--out` is writing in `out`, beside its place, once there is one.
fn part_in(out: &std::path::Path) -> Option<String> {
    let entries = std::fs::read_dir(out).ok()?.flatten();
    let names = entries.map(|e| e.file_name().to_string_lossy().into_owned());
    names.into_iter().find(|n| n.starts_with(".tanto-part-"))
}

#[test]
fn ctrl_c_while_out_writes_ends_the_copy_and_keeps_every_file_whole() {
    let cache = tempfile::tempdir().unwrap();
    let dist = tempfile::tempdir().unwrap();
    let out = dist.path().join("out");
    // 320 MiB, five of the copy's 64 MiB strides between two looks at the signal.
    let script = "dd if=/dev/zero of=/big bs=1048576 count=320 2>/dev/null";
    let args = ["captured_file", "--script", script, "--path", "/big"];
    let filled = fixture(cache.path()).args(args).output().unwrap();
    assert!(filled.status.success(), "{filled:?}");
    let child = fixture(cache.path())
        .args(args)
        .args(["--progress", "plain", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while part_in(&out).is_none() {
        assert!(Instant::now() < deadline, "--out never started its copy");
        std::thread::sleep(Duration::from_millis(1));
    }
    // Held while the signal comes, so the copy cannot finish first.
    signal(&child, libc::SIGSTOP);
    signal(&child, libc::SIGINT);
    signal(&child, libc::SIGCONT);
    let (status, stderr) = wait_within(child, Duration::from_secs(10), "SIGINT during --out");
    assert_eq!(status.code(), Some(130), "{status:?} {stderr}");
    assert!(
        stderr.ends_with(&format!(
            "tanto: interrupted: --out stopped before every output was in {}; each file there is as it was or whole\n",
            out.display()
        )),
        "{stderr}"
    );
    // Nothing cut short under its own name, and nothing left beside it.
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0, "{stderr}");
}
