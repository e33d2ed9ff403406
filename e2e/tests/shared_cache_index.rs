//! The pipeline's index on a real BuildGrid: a run that writes to the shared cache leaves
//! the results it shared and found under one action, and a run on an empty store reads its
//! hits from there, in one call. The index only saves calls: a step whose key it lacks is
//! asked for on its own, and runs when the server has nothing either. A run that fails keeps
//! the entries of the steps it did not reach.

mod support;

use std::path::Path;

use support::buildgrid::BuildGrid;
use support::of_kind;
use support::remote_cache::{count, ok, run, sources};

/// The steps that ran, by label.
fn started(events: &[serde_json::Value]) -> Vec<String> {
    of_kind(events, "step_started")
        .iter()
        .filter_map(|e| e["step"].as_str().map(str::to_owned))
        .collect()
}

/// How many hits the summary line says came from the index: none when it says nothing.
fn from_index(stderr: &str) -> u64 {
    if stderr.contains(" from the pipeline's index)") {
        count(stderr, "from the pipeline's index")
    } else {
        0
    }
}

#[test]
fn an_empty_store_reads_its_hits_from_the_index_but_a_folders_from_the_server() {
    let server = BuildGrid::start("");
    let url = server.url();
    let src = sources();
    let store = || tempfile::tempdir().expect("a temporary folder");

    // Run A shares every step, and the index of `shared` with them.
    let (ev, stderr) = ok(&run(
        store().path(),
        &url,
        &["shared", "--pause", "0", "--remote-upload"],
        src.path(),
    ));
    assert_eq!(started(&ev).len(), 3, "{stderr}");
    assert_eq!(from_index(&stderr), 0, "no index before run A: {stderr}");

    // A second machine: the value and the file come from the index; `bundle`'s folder is
    // asked for alone, since the server checks the files a folder names and the CAS would
    // check only its tree.
    let (ev, stderr) = ok(&run(
        store().path(),
        &url,
        &["shared", "--pause", "0"],
        src.path(),
    ));
    assert!(started(&ev).is_empty(), "{stderr}");
    assert_eq!(count(&stderr, "hit"), 3, "{stderr}");
    assert_eq!(from_index(&stderr), 2, "{stderr}");

    // Another flag's value, under the same index: `bundle`'s key is on neither, so it runs;
    // it makes the same folder, so its dependents' keys are the index's.
    let (ev, stderr) = ok(&run(
        store().path(),
        &url,
        &["shared", "--pause", "1"],
        src.path(),
    ));
    assert_eq!(started(&ev), ["bundle"], "{stderr}");
    assert_eq!(count(&stderr, "hit"), 2, "{stderr}");
    assert_eq!(from_index(&stderr), 2, "{stderr}");
}

#[test]
fn a_run_that_writes_indexes_its_hits_too_and_a_stale_entry_is_asked_for_alone() {
    let server = BuildGrid::start("");
    let url = server.url();
    let src = tempfile::tempdir().expect("a source folder");
    let grid_in = |store: &Path, note: &str, upload: bool| {
        std::fs::write(src.path().join("note.txt"), note).expect("write note.txt");
        let mut args = vec!["grid", "--ns", "1,2"];
        if upload {
            args.push("--remote-upload");
        }
        ok(&run(store, &url, &args, src.path()))
    };
    let grid = |note: &str, upload: bool| {
        let store = tempfile::tempdir().expect("a temporary folder");
        grid_in(store.path(), note, upload)
    };

    let (ev, stderr) = grid("first", true);
    assert_eq!(started(&ev).len(), 5, "{stderr}");

    // Another source: the four cells run; they print what they printed, so `join_cells` is
    // the index's. This run writes, and indexes its cells and its hit.
    let (ev, stderr) = grid("second", true);
    assert_eq!(started(&ev).len(), 4, "{stderr}");
    assert!(!started(&ev).contains(&"join_cells".to_owned()), "{stderr}");
    assert_eq!(from_index(&stderr), 1, "{stderr}");
    assert_eq!(count(&stderr, "result"), 4, "{stderr}");
    let (ev, stderr) = grid("second", false);
    assert!(started(&ev).is_empty(), "{stderr}");
    assert_eq!(from_index(&stderr), 5, "{stderr}");

    // The first source's cells left the index but not the server: each is asked for alone.
    let (ev, stderr) = grid("first", false);
    assert!(started(&ev).is_empty(), "{stderr}");
    assert_eq!(count(&stderr, "hit"), 5, "{stderr}");
    assert_eq!(from_index(&stderr), 1, "{stderr}");

    // A machine whose store keeps its results: a local hit the index held stays in the index
    // it writes, so the next empty store still reads all five from it.
    let warm = tempfile::tempdir().expect("a temporary folder");
    let (_, stderr) = grid_in(warm.path(), "third", true);
    assert!(
        stderr.contains("the pipeline's index written (5 results)"),
        "{stderr}"
    );
    let (ev, stderr) = grid_in(warm.path(), "fourth", true);
    assert_eq!(
        started(&ev).len(),
        4,
        "`join_cells` is a local hit: {stderr}"
    );
    assert_eq!(count(&stderr, "hit"), 0, "{stderr}");
    assert!(
        stderr.contains("the pipeline's index written (5 results)"),
        "{stderr}"
    );
    let (ev, stderr) = grid("fourth", false);
    assert!(started(&ev).is_empty(), "{stderr}");
    assert_eq!(from_index(&stderr), 5, "{stderr}");
}

#[test]
fn an_index_belongs_to_one_pipeline_and_a_changed_source_misses_it() {
    let server = BuildGrid::start("");
    let url = server.url();
    let src = sources();
    ok(&run(
        tempfile::tempdir().expect("a temporary folder").path(),
        &url,
        &["shared", "--pause", "0", "--remote-upload"],
        src.path(),
    ));

    // Another pipeline calling the same step with the same inputs: a hit, asked for alone.
    let (ev, stderr) = ok(&run(
        tempfile::tempdir().expect("a temporary folder").path(),
        &url,
        &["shared_dir"],
        src.path(),
    ));
    assert!(started(&ev).is_empty(), "{stderr}");
    assert_eq!(count(&stderr, "hit"), 1, "{stderr}");
    assert_eq!(from_index(&stderr), 0, "{stderr}");

    // An edited source: every key moved, so nothing comes from the index or the server.
    std::fs::write(src.path().join("readme.txt"), "edited\n").expect("edit readme.txt");
    let (ev, stderr) = ok(&run(
        tempfile::tempdir().expect("a temporary folder").path(),
        &url,
        &["shared", "--pause", "0"],
        src.path(),
    ));
    assert_eq!(started(&ev).len(), 3, "{stderr}");
    assert_eq!(count(&stderr, "hit"), 0, "{stderr}");
}

#[test]
fn a_run_that_stops_at_a_failure_keeps_the_entries_it_did_not_reach() {
    let server = BuildGrid::start("");
    let url = server.url();
    let src = tempfile::tempdir().expect("a source folder");
    std::fs::write(src.path().join("note.txt"), "first").expect("write note.txt");
    let grid_with = |upload: bool, how: &[&str]| {
        let store = tempfile::tempdir().expect("a temporary folder");
        let mut args = vec!["grid", "--ns", "1,2"];
        args.extend(how);
        if upload {
            args.push("--remote-upload");
        }
        run(store.path(), &url, &args, src.path())
    };
    let grid = |upload: bool| grid_with(upload, &["--keep-going"]);
    // A writing run that fails, and the index it writes, of `entries` results.
    let fails_writing = |how: &[&str], entries: usize| {
        let failed = grid_with(true, how);
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert_eq!(failed.status.code(), Some(1), "{stderr}");
        let written = format!("the pipeline's index written ({entries} results)");
        assert!(stderr.contains(&written), "{stderr}");
    };
    let (_, stderr) = ok(&grid(true));
    assert!(
        stderr.contains("the pipeline's index written (5 results)"),
        "{stderr}"
    );

    // A failing cell: every key changes with the source, three cells are shared, and
    // `join_cells` is never reached. The index keeps the five it held besides the three.
    let fail = src.path().join("fail-2-serde");
    std::fs::write(&fail, "").expect("write the failure's file");
    fails_writing(&["--keep-going"], 8);

    // Another note, and a run that stops at the failure (no `--keep-going`); one step at a
    // time, the failing cell comes last, so three are shared before it: they join the eight.
    std::fs::write(src.path().join("note.txt"), "second").expect("write note.txt");
    fails_writing(&["-j", "1"], 11);

    // The source as it was: a new machine reads all five from the index.
    std::fs::write(src.path().join("note.txt"), "first").expect("write note.txt");
    std::fs::remove_file(&fail).expect("remove the failure's file");
    let (ev, stderr) = ok(&grid(false));
    assert!(started(&ev).is_empty(), "{stderr}");
    assert_eq!(from_index(&stderr), 5, "{stderr}");
}
