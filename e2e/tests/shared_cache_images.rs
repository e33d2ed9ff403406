//! Image outputs through the shared cache, against a real BuildGrid: run A shares an image
//! as a `docker save` tarball; run B, on a daemon without it, is fully cached without loading
//! it, and loads it only when a step that runs or `--out` needs it; a tarball of another
//! image is never loaded, and the step that made it runs here instead.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::buildgrid::BuildGrid;
use support::remote_cache::{count, fixture, ok, run_id};
use support::{of_kind, output, started_reason};

fn docker(args: &[&str]) -> String {
    let out = output(Command::new("docker").args(args));
    assert!(out.status.success(), "docker {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The ids of the images the fixture made for `msg` (it labels them with it).
fn images_of(msg: &str) -> Vec<String> {
    let label = format!("label=org.example.msg={msg}");
    docker(&["images", "-q", "--no-trunc", "--filter", &label])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Removes the images made for its message when the test ends, however it ends.
struct Made(String);

impl Drop for Made {
    fn drop(&mut self) {
        for id in images_of(&self.0) {
            let _ = output(Command::new("docker").args(["rmi", "-f", &id]));
        }
    }
}

/// Runs the `imaged` pipeline (an image and a step that runs from it) for `msg`.
fn imaged(cache: &Path, url: &str, msg: &str, extra: &[&str]) -> Output {
    pipeline("imaged", cache, url, msg, extra)
}

fn pipeline(name: &str, cache: &Path, url: &str, msg: &str, extra: &[&str]) -> Output {
    output(
        fixture(cache)
            .env("TANTO_REMOTE_CACHE", url)
            .env_remove("TANTO_REMOTE_UPLOAD")
            .args([name, "--msg", msg, "--progress", "json"])
            .args(extra),
    )
}

fn started(events: &[serde_json::Value]) -> Vec<String> {
    of_kind(events, "step_started")
        .iter()
        .filter_map(|e| e["step"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn an_image_is_shared_and_loaded_only_when_a_step_or_out_needs_it() {
    let server = BuildGrid::start("");
    let url = server.url();
    let msg = format!("shared-image-{}", std::process::id());
    let made = Made(msg.clone());
    let (store_a, store_b) = (
        tempfile::tempdir().expect("a temporary folder"),
        tempfile::tempdir().expect("a temporary folder"),
    );

    let (ev, stderr) = ok(&imaged(store_a.path(), &url, &made.0, &["--remote-upload"]));
    assert_eq!(started(&ev).len(), 2, "{stderr}");
    assert_eq!(count(&stderr, "result"), 2, "{stderr}");
    let built = images_of(&msg);
    assert_eq!(built.len(), 1, "{built:?}");
    // Machine B's daemon does not have it.
    docker(&["rmi", &built[0]]);

    let daemon = support::daemon::DaemonEvents::watch();
    let (ev, stderr) = ok(&imaged(store_b.path(), &url, &msg, &[]));
    assert_eq!(started(&ev), Vec::<String>::new(), "{stderr}");
    assert_eq!(of_kind(&ev, "step_cached").len(), 2, "{stderr}");
    assert_eq!(support::daemon::created(&daemon.finish(), &run_id(&ev)), 0);
    assert_eq!(count(&stderr, "blob"), 0, "{stderr}");
    assert!(
        images_of(&msg).is_empty(),
        "loaded though nothing needed it"
    );

    // A step that runs from the image: it is fetched, loaded as the same image, and used.
    let (ev, stderr) = ok(&imaged(
        store_b.path(),
        &url,
        &msg,
        &["--no-cache", "read_back"],
    ));
    assert_eq!(started(&ev), ["read_back"], "{stderr}");
    assert_eq!(count(&stderr, "blob"), 1, "{stderr}");
    assert_eq!(images_of(&msg), built);
    let read = of_kind(&ev, "step_finished")
        .iter()
        .any(|e| e["step"] == "read_back");
    assert!(read, "{stderr}");

    // `--out`, with the image gone again: loaded, then written as a tarball.
    docker(&["rmi", &built[0]]);
    let dest = tempfile::tempdir().expect("a temporary folder");
    let dest_arg = dest.path().to_str().expect("a UTF-8 path");
    let (ev, stderr) = ok(&imaged(store_b.path(), &url, &msg, &["--out", dest_arg]));
    assert_eq!(started(&ev), Vec::<String>::new(), "{stderr}");
    assert_eq!(count(&stderr, "blob"), 1, "{stderr}");
    assert_eq!(images_of(&msg), built);
    assert!(dest.path().join("package.tar").is_file(), "{stderr}");
    drop(made);
    assert!(images_of(&msg).is_empty());
}

#[test]
fn a_tarball_of_another_image_is_never_loaded_and_the_step_runs_here() {
    // `layered` makes the same image id from the same files, so a step run again here makes
    // what the record names.
    let layered = |cache: &Path, url: &str, msg: &str, extra: &[&str]| {
        pipeline("layered", cache, url, msg, extra)
    };
    let server = BuildGrid::start("");
    let url = server.url();
    let msg = format!("swapped-image-{}", std::process::id());
    let made = Made(msg.clone());
    let (store_a, store_b) = (
        tempfile::tempdir().expect("a temporary folder"),
        tempfile::tempdir().expect("a temporary folder"),
    );
    ok(&layered(
        store_a.path(),
        &url,
        &made.0,
        &["--remote-upload"],
    ));
    let built = images_of(&msg);
    assert_eq!(built.len(), 1, "{built:?}");
    docker(&["rmi", &built[0]]);

    // The server now answers with busybox's tarball (saved by id: no tag) for the image.
    let other = tempfile::tempdir().expect("a temporary folder");
    let tarball = other.path().join("other.tar");
    let busybox = docker(&[
        "image",
        "inspect",
        "tanto-test/busybox:latest",
        "--format",
        "{{.Id}}",
    ]);
    docker(&[
        "save",
        "-o",
        tarball.to_str().expect("a UTF-8 path"),
        &busybox,
    ]);
    server.swap_image_output(&tarball);

    let (ev, stderr) = ok(&layered(
        store_b.path(),
        &url,
        &msg,
        &["--no-cache", "cat_back"],
    ));
    // `layer`, a remote hit, runs here after all: the shared image is refused.
    assert_eq!(started(&ev), ["layer", "cat_back"], "{stderr}");
    let rerun = started_reason(&ev, "layer");
    assert!(
        rerun.starts_with("runs here after all") && rerun.contains("another image"),
        "{rerun} {stderr}"
    );
    let read = of_kind(&ev, "step_finished")
        .iter()
        .any(|e| e["step"] == "cat_back");
    assert!(read, "{stderr}");
    // The image made here is the one A made; busybox's tarball was refused before loading.
    assert_eq!(images_of(&msg), built);
}
