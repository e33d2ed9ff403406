//! What a tanto process left on the daemon, by its pid label: for tests that end a process
//! (a signal, a closed terminal) and check that its containers and networks went with it.

use std::process::Command;
use std::time::{Duration, Instant};

/// How many containers (or, `network`, networks) carry `label`.
pub fn labelled(what: &str, label: &str) -> usize {
    let args: &[&str] = if what == "network" {
        &["network", "ls", "-q"]
    } else {
        &["ps", "-aq"]
    };
    let out = Command::new("docker")
        .args(args)
        .args(["--filter", &format!("label={label}")])
        .output()
        .expect("the docker CLI");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// Whether process `pid` is alive (a zombie is not).
pub fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat
                .rsplit(')')
                .next()?
                .split_whitespace()
                .next()?
                .to_owned();
            Some(state != "Z")
        })
        .unwrap_or(false)
}

/// Whether `done` holds within 30 s.
pub fn within_30s(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    true
}

/// Asserts that the process `pid` left no container and no network (within 30 s).
pub fn assert_nothing_left(pid: &str) {
    let label = format!("tanto.pid={pid}");
    assert!(
        within_30s(|| labelled("container", &label) == 0),
        "containers of {pid} left"
    );
    assert!(
        within_30s(|| labelled("network", &label) == 0),
        "networks of {pid} left"
    );
}
