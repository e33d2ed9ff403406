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
        text.contains("n5 [label=\"\\\"stable\\\"\", shape=ellipse];"),
        "{text}"
    );
    assert!(text.contains("n4 -> n6;"), "{text}");
    insta::assert_snapshot!(text);
}
