//! What `--plan` says and keeps: each step's verdict (a step that waits on one that will run
//! may run, when its own parts are unchanged), as text or as JSON for tools, and a store it
//! neither changes nor makes.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use serde_json::Value;
use support::*;

/// Runs `args` with `--progress json` and the store at `cache`; the exit code and events.
fn run(cache: &Path, args: &[&str]) -> (Option<i32>, Vec<Value>) {
    let out = output(fixture(cache).args(args).args(["--progress", "json"]));
    (out.status.code(), events(&out.stdout))
}

#[test]
fn a_step_waiting_on_one_that_will_run_may_run_and_early_cutoff_keeps_it_cached() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a.txt"), "one\n").unwrap();
    run_ok(cache.path(), "cutoff", src.path());
    // `names` lists the names: a new content reruns it, and it makes what it made.
    std::fs::write(src.path().join("a.txt"), "changed content, same name\n").unwrap();
    let plan = output(
        fixture(cache.path())
            .args(["cutoff", "--plan", "--src"])
            .arg(src.path()),
    );
    assert_eq!(
        String::from_utf8_lossy(&plan.stdout),
        "run     names  input `src` changed: modified a.txt\n\
         maybe   shout  upstream `names` will run\n\
         note on `names`, `shout`: code keyed by the step's own tokens only: its crate's build script does not call `tanto_build::digests()`, so the items the step uses are not covered\n\
         \n\
         1 of 2 steps would run, and 1 more may, if what they take from those changes\n"
    );
    let second = run_ok(cache.path(), "cutoff", src.path());
    assert_eq!(of_kind(&second, "step_cached")[0]["step"], "shout");
}

#[test]
fn the_plan_is_json_for_tools_and_graph_with_plan_is_refused() {
    let cache = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("a.txt"), "one\n").unwrap();
    let out = output(
        fixture(cache.path())
            .args(["cutoff", "--plan", "--progress", "json", "--src"])
            .arg(src.path()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["pipeline"], "cutoff");
    assert_eq!(plan["would_run"], 2);
    assert_eq!(plan["steps"][0]["step"], "names");
    assert_eq!(plan["steps"][0]["cached"], false);
    assert_eq!(plan["may_run"], 0);
    assert_eq!(plan["steps"][0]["reason"], "first run: no previous result");
    // A first run waits on its upstream, and runs whatever it makes.
    assert_eq!(
        plan["steps"][1]["reason"],
        "first run: no previous result; upstream `names` will run"
    );
    assert_eq!(plan["steps"][1]["may_run"], false);

    let out = output(fixture(cache.path()).args(["cutoff", "--plan", "--graph", "dot"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the argument '--plan [<STEP>...]' cannot be used with '--graph <FORMAT>'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn plan_changes_nothing_in_the_store() {
    let cache = tempfile::tempdir().unwrap();
    let (code, first) = run(cache.path(), &["stored", "--text", "hello"]);
    assert_eq!(code, Some(0), "{first:?}");
    let records = files_under(&cache.path().join("ac"));
    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    let plan = || output(fixture(cache.path()).args(["stored", "--text", "hello", "--plan"]));

    // A hit is not marked as used: the record keeps its old time, which prune goes by.
    let long_ago = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1 << 30);
    let opened = std::fs::File::open(record).unwrap();
    opened.set_modified(long_ago).unwrap();
    let out = plan();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cached"),
        "{out:?}"
    );
    let modified = std::fs::metadata(record).unwrap().modified().unwrap();
    assert_eq!(modified, long_ago, "--plan marked the record as used");

    // A damaged record is said to be damaged and left for `cache verify` or a run.
    damage(record);
    let damaged = std::fs::read(record).unwrap();
    let out = plan();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a damaged cache entry, left as it is"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(record).unwrap(), damaged, "--plan removed it");
    let verify = output(fixture(cache.path()).args(["cache", "verify"]));
    assert_eq!(verify.status.code(), Some(1), "{verify:?}");
}

#[test]
fn plan_makes_no_store_where_there_is_none() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("never-used");
    let tmp = root.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = output(
        fixture(&missing)
            .env("TMPDIR", &tmp)
            .args(["stored", "--text", "hello", "--plan"]),
    );
    assert!(out.status.success(), "{out:?}");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("first run: no previous result"), "{shown}");
    assert!(!missing.exists(), "--plan made a store");
    // The empty store that stood in for it is gone with the run.
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
