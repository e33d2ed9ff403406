//! `cargo-steps` against the real daemon, with the shared `cargo-target` volume: a step's
//! result depends on its workspace alone, never on what another tree with a package of the
//! same name built there before.

mod support;

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use support::{events, fixture, of_kind, output};

/// Writes a crate `mtimepkg` whose one test is `test`, every file modified at `mtime`.
fn write_crate(dir: &Path, test: &str, mtime: SystemTime) {
    let files = [
        (
            "Cargo.toml",
            "[package]\nname = \"mtimepkg\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
        ),
        (
            "Cargo.lock",
            "version = 4\n\n[[package]]\nname = \"mtimepkg\"\nversion = \"0.1.0\"\n",
        ),
        ("src/lib.rs", test),
    ];
    fs::create_dir_all(dir.join("src")).expect("the crate's folder is made");
    for (name, text) in files {
        let path = dir.join(name);
        fs::write(&path, text).expect("the crate's file is written");
        let file = fs::File::options()
            .write(true)
            .open(&path)
            .expect("the file opens");
        file.set_modified(mtime).expect("the file's mtime is set");
    }
}

/// The outcome of each test of the run's one report, by name.
fn outcomes(events: &[Value]) -> Vec<(String, String)> {
    let reports = of_kind(events, "test_report");
    assert_eq!(reports.len(), 1, "{events:#?}");
    reports[0]["report"]["tests"]
        .as_array()
        .expect("a report has a list of tests")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default().to_owned(),
                t["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_tree_older_than_the_last_build_of_its_package_still_runs_its_own_tests() {
    let cache = tempfile::tempdir().expect("a temporary folder");
    let trees = tempfile::tempdir().expect("a temporary folder");
    let (x, y) = (trees.path().join("x"), trees.path().join("y"));
    // `y` was checked out an hour ago and fails; `x`, the same package, passes and is built
    // first, so the volume's build of `mtimepkg` is newer than every file of `y`.
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    write_crate(
        &y,
        "#[test]\nfn check() {\n    assert_eq!(1, 2, \"y must fail\");\n}\n",
        hour_ago,
    );
    write_crate(
        &x,
        "#[test]\nfn check() {\n    assert_eq!(1, 1);\n}\n",
        SystemTime::now(),
    );
    let run = |src: &Path| {
        output(
            fixture(cache.path())
                .args(["unsharded", "--progress", "json", "--src"])
                .arg(src),
        )
    };

    let out = run(&x);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        outcomes(&events(&out.stdout)),
        [("check".to_owned(), "passed".to_owned())]
    );

    let out = run(&y);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "y's test fails: {stderr}");
    let events = events(&out.stdout);
    assert_eq!(
        outcomes(&events),
        [("check".to_owned(), "failed".to_owned())]
    );
    assert!(
        of_kind(&events, "step_failed")[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("check")),
        "{events:#?}"
    );
}

/// Writes a workspace of one package `name`, with a binary of that name when `bin`, else a
/// library alone.
fn write_package(dir: &Path, name: &str, bin: bool) {
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n"
    );
    let lock = format!("version = 4\n\n[[package]]\nname = \"{name}\"\nversion = \"0.1.0\"\n");
    let (source, code) = if bin {
        ("src/main.rs", "//! A binary.\n\nfn main() {}\n")
    } else {
        (
            "src/lib.rs",
            "//! A library.\n\n/// One.\npub fn one() -> u8 {\n    1\n}\n",
        )
    };
    fs::create_dir_all(dir.join("src")).expect("the package's folder is made");
    for (file, text) in [
        ("Cargo.toml", manifest.as_str()),
        ("Cargo.lock", &lock),
        (source, code),
    ] {
        fs::write(dir.join(file), text).expect("the package's file is written");
    }
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("the output folder")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn build_and_doc_return_their_own_workspaces_outputs_only() {
    let cache = tempfile::tempdir().expect("a temporary folder");
    let trees = tempfile::tempdir().expect("a temporary folder");
    let (tool, lib) = (trees.path().join("tool"), trees.path().join("lib"));
    write_package(&tool, "cargostepstool", true);
    write_package(&lib, "cargostepslib", false);
    // Each pipeline runs over `tool` first, which leaves its binary and docs in the volume,
    // then over `lib`, whose outputs must not hold them.
    let outputs = |pipeline: &str, src: &Path| {
        let out = tempfile::tempdir().expect("a temporary folder");
        let run = output(
            fixture(cache.path())
                .args([pipeline, "--src"])
                .arg(src)
                .arg("--out")
                .arg(out.path()),
        );
        assert!(
            run.status.success(),
            "{pipeline}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        out
    };

    assert_eq!(names(outputs("built", &tool).path()), ["cargostepstool"]);
    assert_eq!(names(outputs("built", &lib).path()), Vec::<String>::new());

    assert!(names(outputs("documented", &tool).path()).contains(&"cargostepstool".to_owned()));
    let docs = outputs("documented", &lib);
    let listed = names(docs.path());
    assert!(listed.contains(&"cargostepslib".to_owned()), "{listed:?}");
    assert!(!listed.contains(&"cargostepstool".to_owned()), "{listed:?}");
    let crates = fs::read_to_string(docs.path().join("crates.js")).expect("crates.js");
    assert!(!crates.contains("cargostepstool"), "{crates}");
}
