//! Matrices end to end: the `matrix` fixture loops over a 3-item const and a 2-item
//! `--toolchains` list (six labelled cells), fans the cells into one step taking `Vec<String>`,
//! and publishes only under `--release`; `--graph`, `--plan` and `--list` read the same flags.

// A test fails loudly on any error, which is what `unwrap` does.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use support::*;

const CELLS: [&str; 6] = [
    "cell[1.80,default]",
    "cell[1.80,serde]",
    "cell[1.80,full]",
    "cell[1.81,default]",
    "cell[1.81,serde]",
    "cell[1.81,full]",
];

/// A source tree with an input for some of the cells.
fn source() -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    for (toolchain, feature, text) in [("1.80", "serde", "derive"), ("1.81", "full", "everything")]
    {
        std::fs::create_dir_all(src.path().join(toolchain)).unwrap();
        std::fs::write(
            src.path().join(toolchain).join(format!("{feature}.txt")),
            text,
        )
        .unwrap();
    }
    src
}

/// Runs `matrix` over `src` with `extra` flags, asserts it succeeded, and returns its events
/// and its output, the joined results.
fn run(cache: &Path, src: &Path, extra: &[&str]) -> (Vec<Value>, String) {
    let out_dir = tempfile::tempdir().unwrap();
    let out = output(
        fixture(cache)
            .args(["matrix", "--toolchains", "1.80,1.81", "--progress", "json"])
            .args(extra)
            .arg("--src")
            .arg(src)
            .arg("--out")
            .arg(out_dir.path()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(out_dir.path().join("join_cells.json")).unwrap();
    let joined: String = serde_json::from_str(&text).unwrap();
    (events(&out.stdout), joined)
}

/// The labels of the events of kind `kind`.
fn steps(events: &[Value], kind: &str) -> BTreeSet<String> {
    of_kind(events, kind)
        .iter()
        .map(|e| e["step"].as_str().unwrap().to_owned())
        .collect()
}

fn set(labels: &[&str]) -> BTreeSet<String> {
    labels.iter().map(|l| (*l).to_owned()).collect()
}

#[test]
fn six_labelled_cells_fan_into_one_step_in_loop_order() {
    let cache = tempfile::tempdir().unwrap();
    let src = source();
    let (events, joined) = run(cache.path(), src.path(), &[]);
    let inputs: Vec<String> = CELLS
        .iter()
        .map(|c| c.replace("cell", "cell_input"))
        .collect();
    let mut want: BTreeSet<String> = set(&CELLS);
    want.extend(inputs);
    want.insert("join_cells".to_owned());
    assert_eq!(steps(&events, "step_finished"), want);
    assert_eq!(of_kind(&events, "run_started")[0]["steps"], 13);
    assert_eq!(
        joined,
        "1.80/default: none\n1.80/serde: derive\n1.80/full: none\n\
         1.81/default: none\n1.81/serde: none\n1.81/full: everything",
        "each cell's value, in the order the loops made them"
    );
    assert!(
        steps(&events, "step_started")
            .iter()
            .all(|s| s != "publish_results"),
        "nothing is published without --release"
    );
}

#[test]
fn editing_one_cells_input_reruns_that_cell_and_the_fan_in_only() {
    let cache = tempfile::tempdir().unwrap();
    let src = source();
    run(cache.path(), src.path(), &[]);

    std::fs::write(src.path().join("1.81/full.txt"), "less").unwrap();
    let (events, joined) = run(cache.path(), src.path(), &[]);
    let started = steps(&events, "step_started");
    let cells: BTreeSet<&str> = started
        .iter()
        .map(String::as_str)
        .filter(|s| s.starts_with("cell["))
        .collect();
    assert_eq!(cells, BTreeSet::from(["cell[1.81,full]"]), "{started:?}");
    assert!(started.contains("join_cells"), "{started:?}");
    let cached = steps(&events, "step_cached");
    for cell in CELLS.iter().filter(|c| **c != "cell[1.81,full]") {
        assert!(cached.contains(*cell), "{cell} stays cached: {cached:?}");
    }
    // The inputs read `src`, which changed, so they ran; all but one gave the same value.
    let reran: Vec<&str> = started
        .iter()
        .map(String::as_str)
        .filter(|s| s.starts_with("cell_input["))
        .collect();
    assert_eq!(reran.len(), 6, "{started:?}");
    assert!(joined.ends_with("1.81/full: less"), "{joined}");
    // The cell says what the value it was given was and is.
    let reason = of_kind(&events, "step_started")
        .into_iter()
        .find(|e| e["step"] == "cell[1.81,full]")
        .map(|e| e["reason"].clone());
    assert_eq!(
        reason.unwrap(),
        "input `input` from step `cell_input[1.81,full]` changed from \"everything\" to \"less\""
    );

    let (events, _) = run(cache.path(), src.path(), &[]);
    assert_eq!(of_kind(&events, "step_started").len(), 0, "nothing changed");
    assert_eq!(of_kind(&events, "step_cached").len(), 13);

    // A step fn's name forces each of its cells, and only them.
    let (events, _) = run(cache.path(), src.path(), &["--no-cache", "cell"]);
    let forced: Vec<&Value> = of_kind(&events, "step_started");
    let labels: Vec<&str> = forced.iter().filter_map(|e| e["step"].as_str()).collect();
    assert_eq!(labels, CELLS, "{events:?}");
    assert!(
        forced.iter().all(|e| e["reason"] == "forced to run"),
        "{forced:?}"
    );
}

#[test]
fn release_adds_the_publish_step_which_runs_after_the_fan_in() {
    let cache = tempfile::tempdir().unwrap();
    let src = source();
    run(cache.path(), src.path(), &[]);
    let (events, _) = run(cache.path(), src.path(), &["--release"]);
    assert_eq!(steps(&events, "step_started"), set(&["publish_results"]));
    assert_eq!(of_kind(&events, "run_started")[0]["steps"], 14);
}

/// `matrix --graph FORMAT` with `extra` flags, with no Docker daemon to reach: the graph is
/// known before anything runs.
fn graph(format: &str, extra: &[&str]) -> String {
    let cache = tempfile::tempdir().unwrap();
    let out = output(
        fixture(cache.path())
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .args(["matrix", "--graph", format])
            .args(extra),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn graph_shows_the_cells_and_publish_only_with_release() {
    let plain = graph("mermaid", &["--toolchains", "1.80,1.81"]);
    for cell in CELLS {
        assert!(plain.contains(&format!("[\"{cell}\"]")), "{cell}: {plain}");
    }
    assert!(plain.contains("[\"join_cells\"]"), "{plain}");
    assert!(!plain.contains("publish_results"), "{plain}");
    assert!(
        plain.contains("([\"release: bool = false\"])"),
        "the graph says the value it was drawn for: {plain}"
    );
    assert!(
        plain.contains(
            "([\"toolchains: Vec#lt;String#gt; = [#quot;1.80#quot;,#quot;1.81#quot;]\"])"
        ),
        "{plain}"
    );

    let release = graph("mermaid", &["--toolchains", "1.80,1.81", "--release"]);
    assert!(release.contains("[\"publish_results\"]"), "{release}");
    assert!(
        release.contains("([\"release: bool = true\"])"),
        "{release}"
    );
    let node = |text: &str, label: &str| {
        let line = text
            .lines()
            .find(|l| l.ends_with(&format!("[\"{label}\"]")))
            .unwrap_or_else(|| panic!("no {label} in {text}"));
        line.trim().split('[').next().unwrap().to_owned()
    };
    let edge = format!(
        "{} --> {}",
        node(&release, "join_cells"),
        node(&release, "publish_results")
    );
    assert!(release.contains(&edge), "{edge}: {release}");
    // The fan-in has an edge from each cell.
    let join = node(&release, "join_cells");
    for cell in CELLS {
        let edge = format!("{} --> {join}", node(&release, cell));
        assert!(release.contains(&edge), "{edge}: {release}");
    }
    // A dotted arrow from each input a loop or a branch went by to the steps it chose.
    let input = |name: &str| {
        let line = (release.lines())
            .find(|l| l.contains(&format!("([\"{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {release}"));
        line.trim().split('(').next().unwrap().to_owned()
    };
    for cell in CELLS {
        let edge = format!("{} -.-> {}", input("toolchains"), node(&release, cell));
        assert!(release.contains(&edge), "{edge}: {release}");
    }
    let edge = format!(
        "{} -.-> {}",
        input("release"),
        node(&release, "publish_results")
    );
    assert!(release.contains(&edge), "{edge}: {release}");
    // Each cell, each cell's `cell_input` step, and `publish_results`.
    assert_eq!(
        release.matches(" -.-> ").count(),
        2 * CELLS.len() + 1,
        "{release}"
    );

    let dot = graph(
        "dot",
        &["--toolchains", "1.80", "--toolchains", "1.81", "--release"],
    );
    assert!(
        dot.contains("label=\"cell[1.81,full]\", shape=box"),
        "{dot}"
    );
    assert!(
        dot.contains("label=\"publish_results\", shape=box"),
        "{dot}"
    );

    let one = graph("mermaid", &["--toolchains", "nightly"]);
    assert!(one.contains("[\"cell[nightly,full]\"]"), "{one}");
    assert!(!one.contains("1.80"), "{one}");
}

#[test]
fn plan_explains_each_cell_for_the_flags_given() {
    let cache = tempfile::tempdir().unwrap();
    let src = source();
    run(cache.path(), src.path(), &[]);
    let out = output(
        fixture(cache.path())
            .args([
                "matrix",
                "--toolchains",
                "1.80,1.81",
                "--release",
                "--plan",
                "--src",
            ])
            .arg(src.path()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for cell in CELLS {
        assert!(
            text.lines()
                .any(|l| l.starts_with("cached") && l.contains(cell)),
            "{cell}: {text}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("run") && l.contains("publish_results")),
        "{text}"
    );
    assert!(text.contains("1 of 14 steps would run"), "{text}");

    // With every cell's input to run again, the side effect still says why it runs at all.
    std::fs::write(src.path().join("new.txt"), "new").unwrap();
    let plan = |flags: &[&str]| {
        let out = output(
            fixture(cache.path())
                .args(["matrix", "--toolchains", "1.80"])
                .args(flags)
                .arg("--src")
                .arg(src.path()),
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let text = plan(&["--release", "--plan"]);
    let publish = text
        .lines()
        .find(|l| l.contains("publish_results"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        publish.starts_with("run ")
            && publish.ends_with(" a side effect: never cached; upstream `join_cells` will run"),
        "{text}"
    );

    // Three cells where the last run had six: the fan-in runs whatever they make, no `maybe`.
    let text = plan(&["--plan"]);
    let join =
        (text.lines().find(|l| l.contains(" join_cells "))).unwrap_or_else(|| panic!("{text}"));
    assert!(
        join.starts_with("run ")
            && join.contains(" input `results` changed from 6 to 3 items; upstream `cell"),
        "{text}"
    );

    // The key of a step that takes what steps that will run make is not known: `--plan STEP`
    // shows the parts that are, and says which input is not, with no digest made up for it.
    let text = plan(&["--plan", "join_cells"]);
    let detail: Vec<&str> = text
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with(' '))
        .collect();
    assert_eq!(
        detail.first().map(|l| l.trim()),
        Some("key not known yet: it depends on what steps that will run make"),
        "{text}"
    );
    assert_eq!(
        detail.last().map(|l| l.trim()),
        Some(
            "input `results` not known yet: made by `cell[1.80,default]`, `cell[1.80,serde]` and `cell[1.80,full]`, which will run"
        ),
        "{text}"
    );
    assert!(
        detail.iter().any(|l| l.trim().starts_with("image sha256:")),
        "{text}"
    );
    assert_eq!(
        detail.iter().filter(|l| l.contains("`results`")).count(),
        1,
        "{text}"
    );
}

#[test]
fn list_names_the_flags_that_change_the_graph() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(fixture(cache.path()).arg("--list"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let section: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("matrix "))
        .take_while(|l| l.starts_with("matrix ") || l.starts_with(' '))
        .collect();
    assert_eq!(
        section[1..],
        [
            "    --src <Dir>",
            "    --toolchains <Vec<String>>  (changes the graph)",
            "    --release  (changes the graph)",
            "    (its steps depend on --toolchains: add `--graph mermaid` to a run's flags to see them)",
        ],
        "{text}"
    );
}

#[test]
fn a_list_flag_that_does_not_parse_is_a_usage_error_naming_it() {
    let cache = tempfile::tempdir().unwrap();
    let out =
        output(fixture(cache.path()).args(["matrix", "--toolchains", "[1.80", "--graph", "dot"]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--toolchains: `[1.80` is not a JSON array"),
        "{stderr}"
    );
}
