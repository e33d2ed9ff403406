//! `--out` against outputs a container shaped to escape it: links from an earlier export, a
//! file captured over a link, and a file that must keep the name it was captured by.

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
fn an_export_replaces_whatever_an_earlier_one_left_under_a_name() {
    let cache = tempfile::tempdir().unwrap();
    let project = tempfile::tempdir().unwrap();
    let dist = project.path().join("dist");

    // A folder, then a file of the same name; then a link where the file was.
    export(
        cache.path(),
        "shaped",
        "mkdir -p x/y && echo 1 > x/y/z",
        &dist,
    );
    export(cache.path(), "shaped", "echo 2 > x", &dist);
    assert_eq!(std::fs::read_to_string(dist.join("x")).unwrap(), "2\n");
    export(cache.path(), "shaped", "ln -s /etc x", &dist);
    let link = std::fs::read_link(dist.join("x")).unwrap();
    assert_eq!(link, Path::new("/etc"));
    assert_eq!(tree(&dist), ["x"]);
}
