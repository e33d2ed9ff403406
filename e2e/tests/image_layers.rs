//! Layering without a container: a step that only copies host files onto a base image and
//! snapshots gets its image from a loaded layer; the daemon creates and starts no container
//! for it, the image runs, and the same files on the same base give the same image (id and
//! content digest) whatever their times on the host, while other bytes give another.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::Command;

use support::daemon::DaemonEvents;
use support::*;

fn docker(args: &[&str]) -> String {
    let out = output(Command::new("docker").args(args));
    assert!(out.status.success(), "docker {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A folder with two files and a tool script beside it, under `root`.
fn inputs(root: &Path, greeting: &str) {
    let tree = root.join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("a.txt"), greeting).unwrap();
    std::fs::write(tree.join("sub/b.txt"), "b\n").unwrap();
    let tool = root.join("tool");
    std::fs::write(
        &tool,
        "#!/bin/sh\necho \"tool ran: $(cat \"$TREE/a.txt\")\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

/// Runs `bundled` on the inputs under `root` with a fresh store, and returns the run's id.
fn bundle(root: &Path, name: &str) -> String {
    let cache = tempfile::tempdir().unwrap();
    let events = bundle_in(cache.path(), root, name);
    assert_eq!(of_kind(&events, "step_finished").len(), 1, "{events:?}");
    run_id(&events)
}

/// Runs `bundled` on the inputs under `root` with the store `cache`, and returns its events.
fn bundle_in(cache: &Path, root: &Path, name: &str) -> Vec<serde_json::Value> {
    let out = output(
        fixture(cache)
            .args(["bundled", "--progress", "json", "--name", name, "--tree"])
            .arg(root.join("tree"))
            .arg("--tool")
            .arg(root.join("tool")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    events(&out.stdout)
}

/// The ids of the images labelled `org.example.bundle=name`.
fn images_of(name: &str) -> Vec<String> {
    let label = format!("label=org.example.bundle={name}");
    docker(&["images", "-q", "--no-trunc", "--filter", &label])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// What `stat -c format paths` prints in a container of image `id`.
fn stat(id: &str, format: &str, paths: &[&str]) -> String {
    let mut args = vec![
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "stat",
        id,
        "-c",
    ];
    args.push(format);
    args.extend(paths);
    docker(&args)
}

#[test]
fn files_on_a_base_make_an_image_without_any_container_the_same_bytes_the_same_image() {
    let name = format!("layers-{}", std::process::id());
    let root = tempfile::tempdir().unwrap();
    inputs(root.path(), "first\n");

    let daemon = DaemonEvents::watch();
    let run = bundle(root.path(), &name);
    let made = images_of(&name);
    assert_eq!(made.len(), 1, "{made:?}");
    let id = &made[0];
    // No container of the run was created, let alone started: the image was loaded.
    let seen = daemon.finish();
    let of_run: Vec<_> = seen.iter().filter(|e| e.of_run(&run)).collect();
    assert!(of_run.is_empty(), "{of_run:?}");
    let loads: Vec<_> = seen
        .iter()
        .filter(|e| e.kind == "image" && e.action == "load" && e.id == *id)
        .collect();
    assert_eq!(loads.len(), 1, "{seen:?}");

    // The image runs the tool, which reads the folder: files, executable bit and env are there.
    let ran = docker(&["run", "--rm", "--network", "none", id]);
    assert_eq!(ran, "tool ran: first");
    // Every entry the layer added carries the time 0, the folders above them too.
    let times = stat(
        id,
        "%Y %a %n",
        &[
            "/srv",
            "/srv/tree",
            "/srv/tree/a.txt",
            "/srv/tree/sub/b.txt",
            "/usr/local/bin/tool",
        ],
    );
    assert_eq!(
        times,
        "0 755 /srv\n0 755 /srv/tree\n0 644 /srv/tree/a.txt\n0 644 /srv/tree/sub/b.txt\n0 755 /usr/local/bin/tool"
    );
    let created = docker(&["image", "inspect", id, "--format", "{{.Created}}"]);
    assert!(created.starts_with("1970-01-01T00:00:00"), "{created}");

    // The same bytes with other times, from another store: the same image, id included.
    let again = tempfile::tempdir().unwrap();
    inputs(again.path(), "first\n");
    let touched = output(
        Command::new("touch")
            .args(["-d", "2001-02-03 04:05:06"])
            .arg(again.path().join("tree/a.txt"))
            .arg(again.path().join("tool")),
    );
    assert!(touched.status.success(), "{touched:?}");
    bundle(again.path(), &name);
    assert_eq!(images_of(&name), made);

    // Other bytes: another image.
    let other = tempfile::tempdir().unwrap();
    inputs(other.path(), "second\n");
    bundle(other.path(), &name);
    let both = images_of(&name);
    assert_eq!(both.len(), 2, "{both:?}");
    let second = both.iter().find(|i| *i != id).unwrap();
    assert_eq!(
        docker(&["run", "--rm", "--network", "none", second]),
        "tool ran: second"
    );
    for image in both {
        docker(&["rmi", &image]);
    }
}

#[test]
fn a_tool_made_executable_is_another_input() {
    let name = format!("layers-mode-{}", std::process::id());
    let root = tempfile::tempdir().unwrap();
    inputs(root.path(), "first\n");
    let tool = root.path().join("tool");
    let mode = |m| std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(m));
    mode(0o644).unwrap();
    let cache = tempfile::tempdir().unwrap();

    let first = bundle_in(cache.path(), root.path(), &name);
    assert_eq!(of_kind(&first, "step_finished").len(), 1, "{first:?}");
    let made = images_of(&name);
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(stat(&made[0], "%a", &["/usr/local/bin/tool"]), "644");

    // The same bytes, now executable: the step runs again, and its image has the new mode.
    mode(0o755).unwrap();
    let second = bundle_in(cache.path(), root.path(), &name);
    assert!(steps(&second, "step_cached").is_empty(), "{second:?}");
    assert_eq!(of_kind(&second, "step_finished").len(), 1, "{second:?}");
    let both = images_of(&name);
    assert_eq!(both.len(), 2, "{both:?}");
    let executable = both.iter().find(|i| **i != made[0]).unwrap();
    assert_eq!(stat(executable, "%a", &["/usr/local/bin/tool"]), "755");

    // And back: the first result is cached again.
    mode(0o644).unwrap();
    let third = bundle_in(cache.path(), root.path(), &name);
    assert_eq!(steps(&third, "step_cached"), ["bundle"], "{third:?}");
    for image in both {
        docker(&["rmi", &image]);
    }
}
