//! Plans built from the values of the inputs a body loops or branches on: a nested pipeline
//! that loops over its parameter gets a literal or its caller's input, and a step's output or a
//! collected list there is refused when the plan is built, before anything runs.

use tanto::__internal::graph::{InputValues, Plan};
use tanto::__internal::report::to_mermaid;
use tanto::prelude::*;

#[step(image = "tanto-test/busybox:latest")]
async fn levels(_ctx: &Ctx, src: Dir) -> Result<Vec<String>> {
    let _ = src;
    Ok(vec!["warn".to_owned()])
}

#[step(image = "tanto-test/busybox:latest")]
async fn level(_ctx: &Ctx, src: Dir, name: String) -> Result<String> {
    let _ = src;
    Ok(name)
}

#[step(image = "tanto-test/busybox:latest")]
async fn lint(_ctx: &Ctx, src: Dir, level: String) -> Result<()> {
    let _ = (src, level);
    Ok(())
}

/// Lints at each level it is given.
#[pipeline]
fn lints(src: Dir, levels: Vec<String>) {
    for level in &levels {
        lint(src, level);
    }
}

/// Gives `lints` the output of a step: only known when the pipeline runs.
#[pipeline]
fn from_output(src: Dir) {
    let found = levels(src);
    lints(src, found);
}

/// Gives `lints` the list a loop collected: only a step can take one.
#[pipeline]
fn from_list(src: Dir) {
    let mut found = Vec::new();
    for name in ["warn", "deny"] {
        found.push(level(src, name));
    }
    lints(src, found);
}

#[step(image = "tanto-test/busybox:latest")]
async fn join(_ctx: &Ctx, results: Vec<String>) -> Result<String> {
    Ok(results.join(","))
}

/// Joins what it is given.
#[pipeline]
fn joins(results: Vec<String>) -> String {
    join(results)
}

/// Gives `joins`, which only passes it on, the list a loop collected.
#[pipeline]
fn list_to_pipeline(src: Dir) -> String {
    let mut found = Vec::new();
    for name in ["warn", "deny"] {
        found.push(level(src, name));
    }
    joins(found)
}

/// Lints when asked, at the levels given.
#[pipeline]
fn maybe(src: Dir, levels: Vec<String>, strict: bool) {
    if strict {
        lints(src, levels);
    }
}

fn values(pairs: &[(&str, serde_json::Value)]) -> InputValues {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[test]
fn a_nested_loop_over_a_steps_output_is_refused_before_the_run() {
    let err = Plan::with::<from_output>(&InputValues::new())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with(
            "pipeline `lints` parameter `levels` chooses the steps of its pipeline, so its value must be known before the run, but it is given the output of step `levels`"
        ),
        "{err}"
    );
}

#[test]
fn a_collected_list_is_refused_where_a_pipeline_takes_it() {
    let err = Plan::with::<from_list>(&InputValues::new())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains(
            "pipeline `lints` parameter `levels` chooses the steps of its pipeline, so its value must be known before the run, but it is given a list of step outputs"
        ),
        "{err}"
    );
    let err = Plan::with::<list_to_pipeline>(&InputValues::new())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with(
            "pipeline `joins` parameter `results` is given a list of step outputs, which only a step can take"
        ),
        "{err}"
    );
}

#[test]
fn the_graph_is_drawn_for_the_values_given() {
    let off = Plan::with::<maybe>(&values(&[("levels", serde_json::json!(["warn"]))]));
    let off = off.map(|p| to_mermaid(&p)).unwrap_or_default();
    assert!(off.contains("strict: bool = false"), "{off}");
    assert!(!off.contains("lint"), "{off}");

    let on = Plan::with::<maybe>(&values(&[
        ("levels", serde_json::json!(["warn", "deny"])),
        ("strict", serde_json::json!(true)),
    ]));
    let on = on.map(|p| to_mermaid(&p)).unwrap_or_default();
    assert!(on.contains("strict: bool = true"), "{on}");
    assert!(on.contains("[\"lints/lint[warn]\"]"), "{on}");
    assert!(on.contains("[\"lints/lint[deny]\"]"), "{on}");
    // `levels` only reaches the nested pipeline, which loops over it: it shapes the graph too.
    assert!(
        on.contains("levels: Vec#lt;String#gt; = [#quot;warn#quot;,#quot;deny#quot;]"),
        "{on}"
    );
}
