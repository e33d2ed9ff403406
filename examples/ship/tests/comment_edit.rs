//! Early cutoff through `ship` itself: changing a comment in the service's source rebuilds
//! the binary, which comes out byte-identical, so the image and the smoke test stay cached;
//! and a run with nothing changed is fully cached without the daemon creating a container.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

/// Runs `release --src SRC --progress json` with the store at `cache`; asserts it succeeded.
fn release(cache: &Path, src: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_ship"))
        .env("TANTO_CACHE_DIR", cache)
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .args(["release", "--progress", "json", "--src"])
        .arg(src)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    out
}

/// The `step` of each event of kind `kind`, in order.
fn steps(out: &Output, kind: &str) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == kind)
        .map(|e| e["step"].as_str().unwrap().to_owned())
        .collect()
}

fn run_id(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    let started = text
        .lines()
        .find(|l| l.contains("\"run_started\""))
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(started).unwrap();
    event["run_id"].as_str().unwrap().to_owned()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A copy of the service's sources in a folder of its own, which the test may edit.
fn service_copy() -> tempfile::TempDir {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("service");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    for file in ["Cargo.toml", "src/main.rs"] {
        std::fs::copy(from.join(file), dir.path().join(file)).unwrap();
    }
    dir
}

#[test]
fn a_comment_edit_rebuilds_the_binary_only_and_an_unchanged_run_creates_no_container() {
    let cache = tempfile::tempdir().unwrap();
    let src = service_copy();
    let first = release(cache.path(), src.path());
    assert_eq!(
        steps(&first, "step_finished"),
        ["build", "package", "smoke"],
        "{first:?}"
    );

    // The same number of lines, so even panic locations could not move.
    let main = src.path().join("src/main.rs");
    let text = std::fs::read_to_string(&main).unwrap();
    let edited = text.replacen(
        "//! A tiny HTTP service on std alone",
        "//! A tiny HTTP service, on std alone (edited)",
        1,
    );
    assert_ne!(
        edited, text,
        "the service's first comment changed; update this test"
    );
    std::fs::write(&main, edited).unwrap();
    let second = release(cache.path(), src.path());
    assert_eq!(steps(&second, "step_started"), ["build"], "{second:?}");
    assert_eq!(
        steps(&second, "step_cached"),
        ["package", "smoke"],
        "{second:?}"
    );

    let since = now();
    let third = release(cache.path(), src.path());
    assert_eq!(steps(&third, "step_started"), Vec::<String>::new());
    assert_eq!(steps(&third, "step_cached").len(), 3, "{third:?}");
    let created = Command::new("docker")
        .args(["events", "--since", &since.to_string()])
        .args(["--until", &(now() + 1).to_string()])
        .args(["--filter", "type=container", "--filter", "event=create"])
        .args(["--filter", &format!("label=tanto.run={}", run_id(&third))])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    assert_eq!(String::from_utf8_lossy(&created.stdout).trim(), "");
}
