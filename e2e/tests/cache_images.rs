//! The images steps made, which the daemon holds: `cache prune` removes those no kept result
//! names (replaced by a re-run, dropped with their results, or made by a step that then
//! failed), leaves one that is tagged or that a container uses, keeps them in mind when the
//! daemon cannot be reached, and `cache stats` counts them apart from the store's bytes.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::*;

/// The images, tags and containers a test made; all removed when it ends, passed or not.
struct Made {
    msg: String,
    tags: Vec<String>,
    containers: Vec<String>,
}

impl Made {
    fn new(name: &str) -> Self {
        Self {
            msg: format!("{name}-{}", std::process::id()),
            tags: Vec::new(),
            containers: Vec::new(),
        }
    }

    /// The ids of the images the fixture made for this test (it labels them with `msg`).
    fn images(&self) -> Vec<String> {
        let label = format!("label=org.example.msg={}", self.msg);
        docker(&["images", "-q", "--no-trunc", "--filter", &label])
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| drop(Command::new("docker").args(args).output());
        for container in &self.containers {
            quiet(&["rm", "-f", container]);
        }
        for tag in &self.tags {
            quiet(&["rmi", tag]);
        }
        let label = format!("label=org.example.msg={}", self.msg);
        let listed = Command::new("docker")
            .args(["images", "-q", "--no-trunc", "--filter", &label])
            .output();
        for id in listed.iter().flat_map(|o| o.stdout.split(|b| *b == b'\n')) {
            if let Ok(id) = std::str::from_utf8(id)
                && !id.is_empty()
            {
                quiet(&["rmi", "-f", id]);
            }
        }
    }
}

fn docker(args: &[&str]) -> String {
    let out = output(Command::new("docker").args(args));
    assert!(out.status.success(), "docker {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs `imaged --msg MSG` and `args` with JSON progress, asserts it succeeded.
fn imaged(cache: &Path, made: &Made, args: &[&str]) -> Vec<serde_json::Value> {
    // The snapshot's files carry their times to the second: a second later, a re-run makes
    // another image.
    std::thread::sleep(Duration::from_millis(1100));
    let out = output(
        fixture(cache)
            .args(["imaged", "--msg", &made.msg, "--progress", "json"])
            .args(args),
    );
    assert!(out.status.success(), "{out:?}");
    events(&out.stdout)
}

/// Runs `cache ARGS`, asserts it succeeded, and returns what it printed.
fn cache_cmd(cache: &Path, args: &[&str], docker_host: Option<&str>) -> String {
    let mut cmd = fixture(cache);
    if let Some(host) = docker_host {
        cmd.env("DOCKER_HOST", host);
    }
    let out = output(cmd.arg("cache").args(args));
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn prune_removes_the_image_of_a_step_that_failed_after_making_it() {
    let cache = tempfile::tempdir().unwrap();
    let made = Made::new("failed");
    let out = output(fixture(cache.path()).args([
        "fails_after_image",
        "--msg",
        &made.msg,
        "--progress",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        made.images().len(),
        1,
        "the step made its image, then failed"
    );

    let stats = cache_cmd(cache.path(), &["stats"], None);
    assert!(stats.contains("unused images   1, "), "{stats}");
    let pruned = cache_cmd(
        cache.path(),
        &["prune", "--max-age", "30d", "--grace", "0s"],
        None,
    );
    assert!(
        pruned.contains("removed 1 image from the Docker daemon ("),
        "{pruned}"
    );
    assert!(made.images().is_empty(), "{:?}", made.images());
}

#[test]
fn prune_removes_the_image_a_rerun_replaced_and_then_every_image_it_dropped() {
    let cache = tempfile::tempdir().unwrap();
    let made = Made::new("reclaimed");
    imaged(cache.path(), &made, &[]);
    let first = made.images();
    assert_eq!(first.len(), 1, "{first:?}");
    imaged(cache.path(), &made, &["--no-cache", "package"]);
    let current: Vec<String> = made
        .images()
        .into_iter()
        .filter(|i| *i != first[0])
        .collect();
    assert_eq!(
        current.len(),
        1,
        "the re-run made another image: {current:?}"
    );

    let stats = cache_cmd(cache.path(), &["stats"], None);
    assert!(
        stats.contains("images          1 in the Docker daemon, "),
        "{stats}"
    );
    assert!(stats.contains("unused images   1, "), "{stats}");
    assert!(stats.contains("`cache prune` removes them"), "{stats}");

    // Nothing is old enough to drop: only the replaced result's image goes.
    let pruned = cache_cmd(
        cache.path(),
        &["prune", "--max-age", "30d", "--grace", "0s"],
        None,
    );
    assert!(pruned.contains("removed 0 cached results"), "{pruned}");
    assert!(
        pruned.contains("removed 1 image from the Docker daemon ("),
        "{pruned}"
    );
    assert_eq!(made.images(), current, "the current result's image stays");
    let again = imaged(cache.path(), &made, &[]);
    assert_eq!(of_kind(&again, "step_cached").len(), 2, "{again:?}");
    let stats = cache_cmd(cache.path(), &["stats"], None);
    assert!(
        stats.contains("images          1 in the Docker daemon, "),
        "{stats}"
    );
    assert!(!stats.contains("unused images"), "{stats}");

    // Every result dropped: every image the results made goes with them.
    let pruned = cache_cmd(
        cache.path(),
        &["prune", "--max-size", "1", "--grace", "0s"],
        None,
    );
    // `package`'s, and `read_back`'s from each image.
    assert!(pruned.contains("removed 3 cached results"), "{pruned}");
    assert!(
        pruned.contains("removed 1 image from the Docker daemon ("),
        "{pruned}"
    );
    assert!(made.images().is_empty(), "{pruned}");
    let stats = cache_cmd(cache.path(), &["stats"], None);
    assert!(stats.contains("images          0\n"), "{stats}");
}

#[test]
fn a_prune_that_cannot_reach_the_daemon_leaves_the_images_to_the_next() {
    let cache = tempfile::tempdir().unwrap();
    let made = Made::new("unreached");
    imaged(cache.path(), &made, &[]);
    assert_eq!(made.images().len(), 1);
    let nowhere = Some("unix:///nonexistent/docker.sock");

    let stats = cache_cmd(cache.path(), &["stats"], nowhere);
    assert!(
        stats.contains("images          1 made by cached results; not counted in the daemon ("),
        "{stats}"
    );
    let pruned = cache_cmd(
        cache.path(),
        &["prune", "--max-size", "0", "--grace", "0s"],
        nowhere,
    );
    assert!(pruned.contains("removed 2 cached results"), "{pruned}");
    assert!(
        pruned.contains("1 image no cached result names was not removed from the daemon (")
            && pruned.contains("the next prune removes it"),
        "{pruned}"
    );
    assert_eq!(made.images().len(), 1);

    let pruned = cache_cmd(
        cache.path(),
        &["prune", "--max-size", "0", "--grace", "0s"],
        None,
    );
    assert!(
        pruned.contains("removed 1 image from the Docker daemon ("),
        "{pruned}"
    );
    assert!(made.images().is_empty());
}

#[test]
fn a_prune_leaves_an_image_that_is_tagged_or_that_a_container_uses() {
    let cache = tempfile::tempdir().unwrap();
    let mut made = Made::new("held");
    imaged(cache.path(), &made, &[]);
    let tagged = made.images();
    imaged(cache.path(), &made, &["--no-cache", "package"]);
    let used: Vec<String> = made
        .images()
        .into_iter()
        .filter(|i| !tagged.contains(i))
        .collect();
    imaged(cache.path(), &made, &["--no-cache", "package"]);
    assert_eq!(made.images().len(), 3);
    let tag = format!("tanto-e2e-kept:{}", made.msg);
    docker(&["tag", &tagged[0], &tag]);
    made.tags.push(tag.clone());
    let container = docker(&["create", "--network", "none", &used[0]]);
    made.containers.push(container.clone());

    let pruned = cache_cmd(
        cache.path(),
        &["prune", "--max-age", "30d", "--grace", "0s"],
        None,
    );
    assert!(
        pruned.contains("removed 0 images from the Docker daemon"),
        "{pruned}"
    );
    assert!(
        pruned.contains(&format!(
            "left image {}: it is tagged {tag}, so it is yours now (`docker rmi {tag}` removes it)",
            tagged[0]
        )),
        "{pruned}"
    );
    assert!(
        pruned.contains(&format!("left image {}: ", used[0]))
            && pruned.contains("; the next prune tries again"),
        "{pruned}"
    );
    assert_eq!(made.images().len(), 3);

    // The container gone, the next prune removes its image; the tagged one is the user's.
    docker(&["rm", &container]);
    let pruned = cache_cmd(
        cache.path(),
        &["prune", "--max-age", "30d", "--grace", "0s"],
        None,
    );
    assert!(
        pruned.contains("removed 1 image from the Docker daemon"),
        "{pruned}"
    );
    assert!(!pruned.contains("left image"), "{pruned}");
    let left = made.images();
    assert!(
        left.len() == 2 && left.contains(&tagged[0]) && !left.contains(&used[0]),
        "the tagged image and the current result's stay: {left:?}"
    );
}

#[test]
fn an_image_another_stores_prune_removed_is_a_miss_with_a_reason() {
    let (ours, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let made = Made::new("shared-id");
    // A snapshot of copies alone is reproducible: both stores record the same image.
    for cache in [&ours, &theirs] {
        let out = output(fixture(cache.path()).args(["layered", "--msg", &made.msg]));
        assert!(out.status.success(), "{out:?}");
    }
    assert_eq!(made.images().len(), 1);
    let pruned = cache_cmd(
        theirs.path(),
        &["prune", "--max-size", "0", "--grace", "0s"],
        None,
    );
    assert!(
        pruned.contains("removed 1 image from the Docker daemon"),
        "{pruned}"
    );
    let plan = output(fixture(ours.path()).args(["layered", "--msg", &made.msg, "--plan"]));
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains("is no longer in the daemon (removed or pruned)"),
        "{text}"
    );
    let out =
        output(fixture(ours.path()).args(["layered", "--msg", &made.msg, "--progress", "json"]));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        steps(&events(&out.stdout), "step_started"),
        ["layer"],
        "the image made again is the same, so `cat_back` stays cached"
    );
}
