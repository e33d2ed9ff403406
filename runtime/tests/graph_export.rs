//! The static shape of a pipeline, from `Plan::of`, exported as Mermaid and Graphviz DOT: a
//! diamond of steps plus a nested pipeline, none of them run.

use tanto::__internal::graph::{Arg, NodeKind};
use tanto::__internal::graph::{Pipeline as _, Plan};
use tanto::__internal::report::{to_dot, to_mermaid};
use tanto::prelude::*;

/// Fetches the dependencies.
#[step(image = "rust:1.95-slim")]
async fn fetch(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

#[step(image = "rust:1.95-slim")]
async fn lint(_ctx: &Ctx, src: Dir) -> Result<File> {
    let _ = src;
    unimplemented!("not run by this test")
}

#[step(image = "rust:1.95-slim")]
async fn build(_ctx: &Ctx, src: Dir, profile: String) -> Result<Dir> {
    let _ = profile;
    Ok(src)
}

#[step(image = "debian:bookworm-slim")]
async fn bundle(_ctx: &Ctx, report: File, bin: Dir) -> Result<File> {
    let _ = bin;
    Ok(report)
}

#[step(image = "debian:bookworm-slim", side_effect)]
async fn publish(_ctx: &Ctx, bundle: File, channel: String) -> Result<()> {
    let _ = (bundle, channel);
    Ok(())
}

/// Bundles and publishes a build.
#[pipeline]
fn release(report: File, bin: Dir, channel: String) -> File {
    let out = bundle(report, bin);
    publish(out, channel);
    out
}

/// The whole CI: a diamond from `fetch` to `release`.
#[pipeline]
fn ci(src: Dir, profile: String) -> File {
    let deps = fetch(src);
    let report = lint(deps);
    let bin = build(deps, profile);
    release(report, bin, "stable")
}

fn plan() -> Plan {
    ci::plan()
}

#[test]
fn labels_and_kinds() {
    let plan = plan();
    let labels: Vec<&str> = plan.nodes.iter().map(|n| &*n.label).collect();
    assert_eq!(
        labels,
        [
            "src",
            "profile",
            "fetch",
            "lint",
            "build",
            "release/channel",
            "release/bundle",
            "release/publish",
        ]
    );
    assert!(matches!(plan.nodes[0].kind, NodeKind::Input { .. }));
    assert!(matches!(plan.nodes[5].kind, NodeKind::Literal(ref v) if v == "stable"));
    let steps: Vec<&str> = plan.steps().map(|(_, info)| info.name).collect();
    assert_eq!(steps, ["fetch", "lint", "build", "bundle", "publish"]);
    assert_eq!(plan.pipeline.name, "ci");
    assert_eq!(
        plan.pipeline.doc,
        "The whole CI: a diamond from `fetch` to `release`."
    );
}

#[test]
fn edges_follow_the_data() {
    let plan = plan();
    let id = |label: &str| plan.find(label).expect(label).id;
    let deps = |label: &str| plan.find(label).expect(label).deps();
    assert_eq!(deps("fetch"), [id("src")]);
    assert_eq!(deps("lint"), [id("fetch")]);
    assert_eq!(deps("build"), [id("fetch"), id("profile")]);
    assert_eq!(deps("release/bundle"), [id("lint"), id("build")]);
    assert_eq!(
        deps("release/publish"),
        [id("release/bundle"), id("release/channel")]
    );
    assert_eq!(plan.outputs, [(id("release/bundle"), 0)]);
    let handle = |label: &str| Arg::Handle {
        node: id(label),
        part: 0,
    };
    assert_eq!(
        plan.find("build").expect("build").args,
        [handle("fetch"), handle("profile")]
    );
}

#[test]
fn mermaid() {
    let plan = plan();
    let text = to_mermaid(&plan);
    assert!(text.contains("n2[\"fetch\"]"), "{text}");
    assert!(text.contains("n0([\"src: Dir\"])"), "{text}");
    assert!(text.contains("n3 --> n6"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn dot() {
    let plan = plan();
    let text = to_dot(&plan);
    assert!(text.starts_with("digraph \"ci\" {"), "{text}");
    assert!(
        text.contains("n6 [label=\"release/bundle\", shape=box];"),
        "{text}"
    );
    assert!(
        text.contains("n5 [label=\"release/channel = \\\"stable\\\"\", shape=ellipse];"),
        "{text}"
    );
    assert!(text.contains("n4 -> n6;"), "{text}");
    insta::assert_snapshot!(text);
}

#[step(image = "rust:1.95-slim")]
async fn test(_ctx: &Ctx, src: Dir, toolchain: String) -> Result<()> {
    let _ = (src, toolchain);
    Ok(())
}

/// Tests each toolchain with a nested pipeline; publishes under `--ship`.
#[pipeline]
fn matrix(src: Dir, toolchains: Vec<String>, ship: bool) {
    for toolchain in &toolchains {
        each(src, toolchain);
    }
    tally(&toolchains);
    if ship {
        let out = bundle_one(src);
        publish(out, "stable");
    }
}

/// One toolchain, its pipeline's own choice.
#[pipeline]
fn each(src: Dir, toolchain: String) {
    for flavour in ["min"] {
        test(src, flavour);
    }
    if !toolchain.is_empty() {
        test(src, toolchain);
    }
}

#[step(image = "rust:1.95-slim")]
async fn tally(_ctx: &Ctx, toolchains: Vec<String>) -> Result<u64> {
    Ok(toolchains.len() as u64)
}

#[step(image = "rust:1.95-slim")]
async fn bundle_one(_ctx: &Ctx, src: Dir) -> Result<File> {
    let _ = src;
    unimplemented!("not run by this test")
}

#[test]
fn an_input_a_loop_or_a_branch_goes_by_chose_the_steps_it_added_and_draws_as_such() {
    let values = [
        ("toolchains".to_owned(), serde_json::json!(["1.80"])),
        ("ship".to_owned(), serde_json::json!(true)),
    ];
    let plan = Plan::with::<matrix>(&values.into_iter().collect()).expect("builds");
    let id = |label: &str| plan.find(label).expect(label).id;
    let chosen = |label: &str| plan.find(label).expect(label).chosen_by.clone();
    // The loop over `toolchains` chose the nested pipeline's steps, and its own branch on
    // the item (the input `toolchain` it was given as a literal) chose nothing more.
    assert_eq!(chosen("each[1.80]/test[min]"), [id("toolchains")]);
    assert_eq!(chosen("each[1.80]/test"), [id("toolchains")]);
    assert_eq!(chosen("bundle_one"), [id("ship")]);
    assert_eq!(chosen("publish"), [id("ship")]);
    // Not a dependency: its value is known before the run.
    assert_eq!(
        plan.find("publish").expect("publish").deps(),
        [id("bundle_one")]
    );
    let (ship, publish) = (id("ship").index(), id("publish").index());
    let mermaid = to_mermaid(&plan);
    assert!(
        mermaid.contains(&format!("\n    n{ship} -.-> n{publish}\n")),
        "{mermaid}"
    );
    let dot = to_dot(&plan);
    assert!(
        dot.contains(&format!("\n    n{ship} -> n{publish} [style=dashed];\n")),
        "{dot}"
    );
    // A step that takes an input's output is drawn as such, not as chosen by it.
    let src = id("src").index();
    assert!(!mermaid.contains(&format!("n{src} -.->")), "{mermaid}");
    // So is one that takes the value of an input the body loops over, which reaches it as a
    // literal: an edge, no dependency.
    let tally = plan.find("tally").expect("tally");
    assert_eq!(tally.reads, [id("toolchains")]);
    assert!(tally.deps().is_empty());
    let (toolchains, tally) = (id("toolchains").index(), tally.id.index());
    assert!(
        mermaid.contains(&format!("\n    n{toolchains} --> n{tally}\n")),
        "{mermaid}"
    );
    assert!(
        dot.contains(&format!("\n    n{toolchains} -> n{tally};\n")),
        "{dot}"
    );
}
