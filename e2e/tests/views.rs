//! How a step's container is shown a host folder, end to end.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::Value;
use support::*;

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
