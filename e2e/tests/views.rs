//! How a step's container is shown a host folder, end to end: only what the `Dir` selects,
//! through a linked view, through masks where hard links cannot reach the store, and as an
//! upload when the daemon is reached over TCP.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use serde_json::Value;
use support::servers::{Server, device};
use support::*;

/// The lines the step of `events` logged.
fn logged(events: &[Value]) -> Vec<String> {
    of_kind(events, "step_log")
        .iter()
        .map(|e| e["line"].as_str().unwrap().to_owned())
        .collect()
}

/// A folder for the `view` pipeline in `parent`: one selected file, one that `.gitignore`
/// leaves out and a folder that the pipeline's `exclude` leaves out.
fn viewed_project(parent: &Path) -> tempfile::TempDir {
    let src = tempfile::tempdir_in(parent).unwrap();
    std::fs::write(src.path().join("kept.txt"), "kept\n").unwrap();
    std::fs::write(src.path().join(".gitignore"), "*.log\n").unwrap();
    std::fs::write(src.path().join("debug.log"), "log\n").unwrap();
    std::fs::create_dir(src.path().join("secret")).unwrap();
    std::fs::write(src.path().join("secret/key.txt"), "hidden\n").unwrap();
    src
}

/// Runs `view` over `src` with the store at `cache` and `env`; its events and stderr.
fn view(cache: &Path, src: &Path, env: &[(&str, &str)]) -> (Vec<Value>, String) {
    let out = output(
        fixture(cache)
            .args(["view", "--progress", "json", "--src"])
            .arg(src)
            .envs(env.iter().copied()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let events = events(&out.stdout);
    assert_eq!(containers_of_run(&run_id(&events)), 0);
    (events, stderr)
}

/// What the step sees when only the selected entries reach it, through `mounts` mounts.
fn selected_only(mounts: usize) -> Vec<String> {
    [
        format!("mounts {mounts}"),
        "./.gitignore".into(),
        "./kept.txt".into(),
        "*.log".into(),
        "kept".into(),
    ]
    .into()
}

#[test]
fn the_linked_view_shows_only_the_selection_in_one_mount() {
    // The store and the folder on one file system: hard links reach.
    let shm = Path::new("/dev/shm");
    let cache = tempfile::tempdir_in(shm).unwrap();
    let src = viewed_project(shm);
    let (events, _) = view(cache.path(), src.path(), &[]);
    assert_eq!(logged(&events), selected_only(1));
}

#[test]
fn across_file_systems_the_linked_view_falls_back_to_masks() {
    let cache = tempfile::tempdir().unwrap();
    let src = viewed_project(Path::new("/dev/shm"));
    assert_ne!(
        device(cache.path()),
        device(src.path()),
        "this test needs /dev/shm on another file system than {}",
        cache.path().display()
    );
    let (events, stderr) = view(cache.path(), src.path(), &[("TANTO_LOG", "tanto=debug")]);
    assert!(
        stderr.contains("no linked view; masking what the folder leaves out")
            && stderr.contains("cross-device"),
        "{stderr}"
    );
    // The folder itself, an empty file over `debug.log` and an empty folder over `secret`:
    // their names show, their contents do not.
    assert_eq!(
        logged(&events),
        [
            "mounts 3",
            "./.gitignore",
            "./debug.log",
            "./kept.txt",
            "./secret",
            "*.log",
            "kept"
        ]
    );
    let staging: Vec<_> = std::fs::read_dir(cache.path().join("tmp"))
        .unwrap()
        .collect();
    assert!(staging.is_empty(), "{staging:?}");
}

#[test]
fn a_daemon_reached_over_tcp_gets_an_upload_of_the_selection() {
    let proxy = Server::docker_over_tcp();
    let cache = tempfile::tempdir().unwrap();
    let src = viewed_project(&std::env::temp_dir());
    let host = format!("tcp://127.0.0.1:{}", proxy.port);
    // The same daemon over a Unix socket would bind mount: the endpoint alone decides.
    let (local, _) = view(cache.path(), src.path(), &[]);
    assert_eq!(logged(&local), selected_only(1));
    let cache = tempfile::tempdir().unwrap();
    let (remote, _) = view(cache.path(), src.path(), &[("DOCKER_HOST", &host)]);
    assert_eq!(
        logged(&remote),
        selected_only(0),
        "no mount at /src: a copy"
    );
}

#[test]
fn a_dir_input_keys_and_shows_only_the_files_it_selects() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let path = src.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("Cargo.toml", "manifest\n");
    write("src/lib.rs", "library\n");
    write("src/fixtures/big.txt", "fixture\n");
    write("src/debug.log", "log\n");
    write(".gitignore", "*.log\n");
    write("docs/guide.md", "guide\n");
    let run = || run_ok(cache.path(), "selected", src.path());
    let logged = |events: &[Value]| -> Vec<String> {
        of_kind(events, "step_log")
            .iter()
            .map(|e| e["line"].as_str().unwrap().to_owned())
            .collect()
    };

    // The step reads the selected files and nothing else: not the excluded fixtures, not the
    // files outside `include`, not what `.gitignore` leaves out.
    let first = run();
    assert_eq!(logged(&first), ["manifest", "library"]);
    // The run's linked view of `src` (hard links in the store) is gone with the run.
    let staging: Vec<_> = std::fs::read_dir(cache.path().join("tmp"))
        .unwrap()
        .collect();
    assert!(staging.is_empty(), "{staging:?}");

    // Edits to what is left out keep the step cached; an edit to a selected file re-runs it.
    write("src/fixtures/big.txt", "another fixture\n");
    write("docs/guide.md", "another guide\n");
    write("src/debug.log", "another log\n");
    let second = run();
    assert_eq!(of_kind(&second, "step_cached").len(), 1, "{second:?}");
    write("src/lib.rs", "changed library\n");
    let third = run();
    let started = of_kind(&third, "step_started");
    assert_eq!(started.len(), 1, "{third:?}");
    assert!(
        started[0]["reason"]
            .as_str()
            .unwrap()
            .contains("src/lib.rs"),
        "{:?}",
        started[0]
    );
    assert_eq!(logged(&third), ["manifest", "changed library"]);
}
