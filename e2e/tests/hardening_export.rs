//! `--out` against outputs a container shaped to escape it: links from an earlier export, a
//! file captured over a link, a file that must keep the name it was captured by, and a user's
//! folder in the way of an output, which is never removed; and captures spelled to confuse:
//! `X/.`, `..` and the container's root.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::{events, fixture, of_kind, output};

/// Runs `pipeline --script SCRIPT --out OUT` with the store at `cache`; asserts it succeeded.
fn export(cache: &Path, pipeline: &str, script: &str, out: &Path) -> Vec<serde_json::Value> {
    let out = output(
        fixture(cache)
            .args([pipeline, "--progress", "json", "--script", script, "--out"])
            .arg(out),
    );
    assert!(
        out.status.success(),
        "{pipeline} --script {script:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    events(&out.stdout)
}

/// Every path under `root`, relative, sorted, without following links.
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn a_second_export_never_writes_through_a_link_the_first_one_left() {
    let cache = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join(".git/hooks")).unwrap();
    let dist = project.path().join("dist");

    export(cache.path(), "shaped", "ln -s ../.git/hooks hooks", &dist);
    let hooks = dist.join("hooks");
    assert!(
        std::fs::symlink_metadata(&hooks)
            .unwrap()
            .file_type()
            .is_symlink(),
        "a link in an output is exported as a link"
    );

    let script = "mkdir hooks && printf '#!/bin/sh\\necho pwned\\n' > hooks/pre-commit && chmod +x hooks/pre-commit";
    export(cache.path(), "shaped", script, &dist);
    assert!(
        !project.path().join(".git/hooks/pre-commit").exists(),
        "the export wrote a hook outside --out, through the link of the first export"
    );
    assert!(
        std::fs::symlink_metadata(&hooks).unwrap().is_dir(),
        "`hooks` is a real folder now"
    );
    let hook = std::fs::metadata(hooks.join("pre-commit")).unwrap();
    assert_eq!(hook.permissions().mode() & 0o100, 0o100, "still executable");
    let outside: Vec<String> = tree(project.path())
        .into_iter()
        .filter(|p| !p.starts_with("dist"))
        .collect();
    assert_eq!(outside, [".git", ".git/hooks"], "nothing new beside dist");
}

#[test]
fn a_file_output_keeps_its_name_and_never_writes_through_a_link() {
    let cache = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let victim = project.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    let dist = project.path().join("dist");

    export(
        cache.path(),
        "shaped",
        "ln -s ../victim.txt notes.txt",
        &dist,
    );
    export(cache.path(), "shaped_file", "echo new > notes.txt", &dist);
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "precious\n",
        "the file output was written through the link into a file outside --out"
    );
    assert_eq!(
        tree(&dist),
        ["notes.txt"],
        "a file is exported by the name it was captured from"
    );
    let notes = dist.join("notes.txt");
    assert!(std::fs::symlink_metadata(&notes).unwrap().is_file());
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "new\n");

    // From the cache, the file keeps its name.
    std::fs::remove_dir_all(&dist).unwrap();
    let events = export(cache.path(), "shaped_file", "echo new > notes.txt", &dist);
    assert_eq!(of_kind(&events, "step_cached").len(), 1, "{events:?}");
    assert_eq!(tree(&dist), ["notes.txt"]);
}

#[test]
fn an_export_replaces_files_and_links_but_never_a_folder_with_content() {
    let cache = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let dist = project.path().join("dist");

    // A folder, then a file of the same name: refused, and the folder is left as it was
    // (tanto cannot tell an earlier export from the user's own folder).
    export(
        cache.path(),
        "shaped",
        "mkdir -p x/y && echo 1 > x/y/z",
        &dist,
    );
    let refused = output(
        fixture(cache.path())
            .args([
                "shaped",
                "--progress",
                "plain",
                "--script",
                "echo 2 > x",
                "--out",
            ])
            .arg(&dist),
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is a folder with content where an output puts a file"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(dist.join("x/y/z")).unwrap(), "1\n");
    // Once it is moved away, the file; then a link where the file was.
    std::fs::remove_dir_all(dist.join("x")).unwrap();
    export(cache.path(), "shaped", "echo 2 > x", &dist);
    assert_eq!(std::fs::read_to_string(dist.join("x")).unwrap(), "2\n");
    export(cache.path(), "shaped", "ln -s /etc x", &dist);
    let link = std::fs::read_link(dist.join("x")).unwrap();
    assert_eq!(link, Path::new("/etc"));
    assert_eq!(tree(&dist), ["x"]);
}

/// Runs `pipeline` (`captured` or `captured_file`) capturing `path` after `script`, and
/// returns what it said, having checked that the step failed.
fn failed_capture(cache: &Path, pipeline: &str, path: &str, script: &str) -> String {
    let out = output(
        fixture(cache)
            .args([pipeline, "--progress", "plain", "--path", path])
            .args(["--script", script]),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{path}: {stderr}");
    stderr
}

#[test]
fn a_capture_spelled_with_dots_takes_the_folder_named_and_what_cannot_be_kept_is_refused() {
    let cache = tempfile::tempdir().unwrap();
    let run = |path: &str, out: Option<&Path>| {
        let mut cmd = fixture(cache.path());
        cmd.args(["captured", "--progress", "plain", "--path", path]);
        cmd.args(["--script", "mkdir -p /o/inner && echo x > /o/inner/f"]);
        if let Some(out) = out {
            cmd.arg("--out").arg(out);
        }
        output(&mut cmd)
    };
    // The archive of `/o/.` holds `/o`'s content with no folder around it: captured as `/o`.
    for path in ["/o/.", "//o//", "/o/./"] {
        let dist = tempfile::tempdir().unwrap();
        let out = run(path, Some(dist.path()));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{path}: {stderr}");
        assert_eq!(tree(dist.path()), ["inner", "inner/f"], "{path}");
    }
    for (path, said) in [
        (
            "/",
            "cannot capture `/`, the container's root folder: capture a folder under it",
        ),
        (
            "/o/..",
            "cannot capture `/o/..`: name it without `..`, whose end the container's links decide",
        ),
    ] {
        let out = run(path, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{path}: {stderr}");
        assert!(stderr.contains(said), "{path}: {stderr}");
    }
    // What cannot be kept is named by its path in the container, not tanto's staging folder.
    let bad_name = "mkdir -p /o/in && touch \"/o/in/bad$(printf '\\377')name\"";
    let stderr = failed_capture(cache.path(), "captured", "/o", bad_name);
    assert!(stderr.contains("path /o/in/bad"), "{stderr}");
    let staging = cache.path().join("tmp");
    assert!(!stderr.contains(&staging.display().to_string()), "{stderr}");
    // A folder 1000 levels deep is refused with the limit, not a crash (it overflowed the
    // stack).
    let deep =
        "mkdir /o && cd /o && i=0; while [ $i -lt 1000 ]; do mkdir d && cd d; i=$((i+1)); done";
    let stderr = failed_capture(cache.path(), "captured", "/o", deep);
    assert!(
        stderr.contains(
            "folder d/d/d/d/…/d in /o is more than 256 levels down, and tanto keeps folders at \
             most 256 levels deep: flatten it, or leave it out"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains(&staging.display().to_string()), "{stderr}");
}

#[test]
fn two_outputs_that_write_one_path_are_refused_before_anything_is_written() {
    let cache = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let dist = project.path().join("dist");
    let run = |first: &str, second: &str| {
        output(
            fixture(cache.path())
                .args(["shaped_twice", "--progress", "plain", "--first", first])
                .args(["--second", second, "--out"])
                .arg(&dist),
        )
    };
    let out = run("mkdir x && echo 1 > x/f", "mkdir x && echo 2 > x/f");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: --out: outputs `shape_dir` and `shape_dir-2` both write `x/f`, and one would replace the other; nothing was written"),
        "{stderr}"
    );
    assert!(!dist.join("x").exists(), "{:?}", tree(&dist));
    // Folders they share are merged.
    let out = run("mkdir x && echo 1 > x/a", "mkdir x && echo 2 > x/b");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(tree(&dist), ["x", "x/a", "x/b"]);
}

#[test]
fn an_export_never_removes_a_folder_with_content_to_write_a_file() {
    let cache = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    // `stored` exports the file `out.txt`; a folder of the user's is in its place.
    let theirs = out_dir.path().join("out.txt");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("precious"), "keep").unwrap();
    let run = || {
        output(
            fixture(cache.path())
                .args(["stored", "--text", "hi", "--progress", "plain", "--out"])
                .arg(out_dir.path()),
        )
    };
    let out = run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: --out: `{}` is a folder with content where an output puts a file; it was left as it is: move or remove it, or export to another folder",
            theirs.display()
        )),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(theirs.join("precious")).unwrap(),
        "keep"
    );
    // Moved away, the export goes through.
    std::fs::remove_dir_all(&theirs).unwrap();
    let out = run();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "HI");
}

#[test]
fn a_capture_of_a_fifo_a_link_a_device_or_the_kernels_files_says_what_it_is() {
    let cache = tempfile::tempdir().unwrap();
    for (script, path, said) in [
        (
            "mkfifo /pipe",
            "/pipe",
            "`/pipe` in its container is a fifo or a device file, which has no content to capture",
        ),
        (
            "echo x > /real && ln -s /real /link",
            "/link",
            "`/link` in its container is a symbolic link; capture the file it points to, `/real`",
        ),
        (
            "true",
            "/dev/zero",
            "cannot capture `/dev/zero`: `/dev` is the container's own device folder, a tmpfs, which the daemon does not copy out; copy what you need to a file first",
        ),
        (
            "true",
            "/proc/self/status",
            "cannot capture `/proc/self/status`: `/proc` and `/sys` are the kernel's views, which the daemon does not copy out; copy what you need to a file first",
        ),
    ] {
        let stderr = failed_capture(cache.path(), "captured_file", path, script);
        assert!(stderr.contains(said), "{path}: {stderr}");
        assert!(!stderr.contains("top-level entry"), "{path}: {stderr}");
        // Said once, as what it is: not also warned about as a file of a folder.
        assert!(!stderr.contains("WARN"), "{path}: {stderr}");
    }
    // A folder's capture of a link says so too (it said to use `file`, which refuses links).
    let stderr = failed_capture(
        cache.path(),
        "captured",
        "/l",
        "mkdir /real && ln -s /real /l",
    );
    assert!(
        stderr.contains(
            "`/l` in its container is a symbolic link; capture the folder it points to, `/real`"
        ),
        "{stderr}"
    );
}
