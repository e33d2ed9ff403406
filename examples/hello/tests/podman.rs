//! `hello` on Podman 4.3's Docker-compatible socket, as root and rootless: four steps run in
//! containers, the next run is fully cached, and no container is left behind.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

#[path = "../../../e2e/tests/support/host.rs"]
mod host;
#[path = "../../../e2e/tests/support/podman.rs"]
mod podman;

use std::path::Path;

use podman::Podman;
use serde_json::Value;

/// Runs `hello ci` on `podman` over `src` with the store at `cache`; its events.
fn hello(podman: &Podman, cache: &Path, src: &Path, out: &Path) -> Vec<Value> {
    let run = podman
        .command(Path::new(env!("CARGO_BIN_EXE_hello")), cache)
        .args(["ci", "--progress", "json", "--src"])
        .arg(src)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}\npodman's log:\n{}",
        String::from_utf8_lossy(&run.stderr),
        podman.log()
    );
    String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// How many events of `kind` there are.
fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["event"] == kind).count()
}

/// Runs `hello` twice on `podman`: four steps in containers, then four cached, and no
/// container left after either run.
fn hello_runs_then_is_cached(podman: &Podman) {
    podman.load("tanto-test/busybox:latest");
    let work = podman.work_dir();
    let (cache, src, out) = (work.join("cache"), work.join("src"), work.join("out"));
    std::fs::create_dir_all(src.join("src")).unwrap();
    std::fs::create_dir(&cache).unwrap();
    std::fs::write(src.join("README"), "hello\nworld\n").unwrap();
    std::fs::write(src.join("src/main.rs"), "fn main() {}\n").unwrap();
    podman.hand_over(&work);

    let first = hello(podman, &cache, &src, &out);
    assert_eq!(count(&first, "step_finished"), 4, "{first:?}");
    assert_eq!(
        std::fs::read_to_string(out.join("summary.txt")).unwrap(),
        "files: 2\nlines: 3\n"
    );
    assert_eq!(podman.containers(), 0, "the first run left a container");
    let second = hello(podman, &cache, &src, &out);
    assert_eq!(count(&second, "step_cached"), 4, "{second:?}");
    assert_eq!(count(&second, "step_started"), 0, "{second:?}");
    assert_eq!(podman.containers(), 0);
}

#[test]
fn hello_on_rootful_podman() {
    let podman = Podman::rootful();
    hello_runs_then_is_cached(&podman);
    podman.stop();
}

#[test]
fn hello_on_rootless_podman() {
    let podman = Podman::rootless();
    hello_runs_then_is_cached(&podman);
    podman.stop();
}
