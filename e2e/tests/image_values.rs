//! Images as values: a step snapshots its container, another starts from the image, a second
//! run is fully cached, `--out` writes a tarball `docker load` accepts, and an image the
//! daemon lost is a cache miss with a reason, never an error; the same files snapshotted again
//! make the same content digest, so the steps downstream stay cached.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use support::*;

/// Runs `args` on the fixture with JSON progress and asserts it succeeded.
fn run(cache: &std::path::Path, args: &[&str]) -> Vec<serde_json::Value> {
    let out = output(fixture(cache).args(args).args(["--progress", "json"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    events(&out.stdout)
}

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

/// Removes the images the fixture made for `msg`: the cache's images are the daemon's.
fn remove_images_of(msg: &str) {
    for id in images_of(msg) {
        docker(&["rmi", "-f", &id]);
    }
}

#[test]
fn a_step_runs_from_the_image_another_step_made_and_a_rerun_is_cached() {
    let cache = tempfile::tempdir().unwrap();
    let msg = format!("cached-{}", std::process::id());
    let first = run(cache.path(), &["image_read", "--msg", &msg]);
    assert_eq!(of_kind(&first, "step_finished").len(), 2, "{first:?}");
    let out = output(
        fixture(cache.path())
            .args(["image_read", "--msg", &msg])
            .args(["--progress", "plain"]),
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("hello {msg}")), "{stdout}");

    let second = run(cache.path(), &["image_read", "--msg", &msg]);
    assert_eq!(of_kind(&second, "step_cached").len(), 2, "{second:?}");
    assert_eq!(containers_of_run(&run_id(&second)), 0);
    assert!(of_kind(&second, "step_started").is_empty(), "{second:?}");
    remove_images_of(&msg);
}

#[test]
fn out_never_removes_a_folder_with_content_where_the_tarball_goes() {
    let cache = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let theirs = out_dir.path().join("package.tar");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("keep"), "mine").unwrap();
    let msg = format!("in-the-way-{}", std::process::id());
    let out = output(
        fixture(cache.path())
            .args(["imaged", "--msg", &msg, "--progress", "plain", "--out"])
            .arg(out_dir.path()),
    );
    remove_images_of(&msg);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: --out: `{}` is a folder with content where an output puts a file; it was \
             left as it is",
            theirs.display()
        )),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(theirs.join("keep")).unwrap(),
        "mine"
    );
    let left: Vec<_> = std::fs::read_dir(out_dir.path()).unwrap().collect();
    assert_eq!(
        left.len(),
        1,
        "no temporary file is left beside it: {left:?}"
    );
}

#[test]
fn out_writes_a_tarball_that_docker_loads_and_runs() {
    let cache = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let msg = format!("exported-{}", std::process::id());
    let out = output(
        fixture(cache.path())
            .args(["imaged", "--msg", &msg, "--progress", "plain", "--out"])
            .arg(out_dir.path()),
    );
    assert!(out.status.success(), "{out:?}");
    let tar = out_dir.path().join("package.tar");
    assert!(tar.is_file(), "no {}: {out:?}", tar.display());
    // Readable by all, as every file `--out` writes.
    let mode = std::os::unix::fs::PermissionsExt::mode(&tar.metadata().unwrap().permissions());
    assert_eq!(mode & 0o777, 0o644);
    // The run leaves no tag behind: the tarball names the image, the daemon does not.
    assert!(docker(&["images", "-q", "package:latest"]).is_empty());
    // Exporting keeps the image: the step's cached result still stands.
    assert_eq!(images_of(&msg).len(), 1);

    let loaded = docker(&["load", "-i", tar.to_str().unwrap()]);
    assert!(loaded.contains("package:latest"), "{loaded}");
    // Same configuration and layers, so the same id as the image the step made.
    let loaded_id = docker(&["image", "inspect", "package:latest", "--format", "{{.Id}}"]);
    // Without `--out`, the output line names the image by the id `docker run` takes.
    let shown =
        output(fixture(cache.path()).args(["imaged", "--msg", &msg, "--progress", "plain"]));
    let stdout = String::from_utf8_lossy(&shown.stdout);
    let line = format!("output package: image {loaded_id} (content ");
    assert!(stdout.contains(&line), "{stdout}");
    let stderr = String::from_utf8_lossy(&shown.stderr);
    assert!(
        stderr.contains("`--out DIR` writes each image above to DIR as a tarball"),
        "{stderr}"
    );
    assert_eq!(vec![loaded_id], images_of(&msg));
    let printed = docker(&["run", "--rm", "--network", "none", "package:latest"]);
    assert_eq!(printed, msg);
    let config = docker(&[
        "image",
        "inspect",
        "package:latest",
        "--format",
        "{{json .Config.ExposedPorts}} {{.Config.WorkingDir}} {{index .Config.Labels \"tanto.run\"}}|",
    ]);
    assert_eq!(config, r#"{"8080/tcp":{}} /srv |"#);
    // Nothing of the container the step committed: no id, no host name, no labels naming the
    // host, its boot or the process that ran the step.
    let record = docker(&[
        "image",
        "inspect",
        "package:latest",
        "--format",
        "{{.Container}}|{{.ContainerConfig.Hostname}}|{{json .ContainerConfig.Labels}}|{{.Config.Hostname}}",
    ]);
    assert_eq!(record, "||null|");
    let tarball = std::fs::read(&tar).unwrap();
    for name in ["tanto.owner\":\"", "tanto.host\":\"", "tanto.pid\":\""] {
        // Kept blank: `"tanto.owner":""`, never with a value.
        let valued = tarball
            .windows(name.len() + 1)
            .any(|w| w.starts_with(name.as_bytes()) && w[name.len()] != b'"');
        assert!(!valued, "{name} with a value in the tarball");
    }
    docker(&["rmi", "package:latest"]);
    remove_images_of(&msg);
}

#[test]
fn an_image_the_daemon_lost_is_a_miss_with_a_reason() {
    let cache = tempfile::tempdir().unwrap();
    let msg = format!("pruned-{}", std::process::id());
    run(cache.path(), &["imaged", "--msg", &msg]);
    let made = images_of(&msg);
    assert_eq!(made.len(), 1, "{made:?}");
    docker(&["rmi", &made[0]]);

    let out = output(fixture(cache.path()).args(["imaged", "--msg", &msg, "--plan"]));
    assert!(out.status.success(), "{out:?}");
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains("is no longer in the daemon (removed or pruned)"),
        "{plan}"
    );
    // The layer's files carry their times to the second: made again within the same second,
    // the image would have the same content, and `read_back` would rightly stay cached.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = run(cache.path(), &["imaged", "--msg", &msg]);
    assert_eq!(of_kind(&again, "step_finished").len(), 2, "{again:?}");
    remove_images_of(&msg);
}

#[test]
fn the_same_files_snapshotted_again_keep_downstream_steps_cached() {
    let cache = tempfile::tempdir().unwrap();
    let msg = format!("layered-{}", std::process::id());
    let first = run(cache.path(), &["layered", "--msg", &msg, "--salt", "a"]);
    assert_eq!(of_kind(&first, "step_finished").len(), 2, "{first:?}");
    // A copy made a second later would carry another time, were it not pinned.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // Another key for `layer`, so it runs again and loads its layer again: the same content,
    // so `cat_back` is cached, and (no creation time in it) the same image.
    let second = run(cache.path(), &["layered", "--msg", &msg, "--salt", "b"]);
    let started: Vec<_> = of_kind(&second, "step_started")
        .iter()
        .map(|e| e["step"].clone())
        .collect();
    let cached: Vec<_> = of_kind(&second, "step_cached")
        .iter()
        .map(|e| e["step"].clone())
        .collect();
    assert_eq!(started, ["layer"], "{second:?}");
    assert_eq!(cached, ["cat_back"], "{second:?}");
    assert_eq!(images_of(&msg).len(), 1);
    remove_images_of(&msg);
}
