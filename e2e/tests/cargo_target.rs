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
