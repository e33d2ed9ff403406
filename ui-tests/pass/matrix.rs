//! Loops and branches over values known before the run: a const, an input list, a range and
//! a slice literal unroll into labelled steps, nested loops make the cross product, collected
//! handles fan into a `Vec<T>` parameter, and `if`/`match` on inputs choose the steps.
use serde::{Deserialize, Serialize};
use tanto::__internal::graph::{Arg, InputValues, Plan};
use tanto::prelude::*;

const FEATURES: [&str; 3] = ["default", "serde", "full"];

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Profile {
    Dev,
    Release,
}

#[step]
async fn test(_ctx: &Ctx, src: Dir, toolchain: String, feature: String) -> Result<String> {
    let _ = src;
    Ok(format!("{toolchain} {feature}"))
}

#[step]
async fn shard(_ctx: &Ctx, n: u32) -> Result<u64> {
    Ok(u64::from(n))
}

#[step]
async fn summary(_ctx: &Ctx, results: Vec<String>) -> Result<String> {
    Ok(results.join("\n"))
}

#[step]
async fn total(_ctx: &Ctx, counts: Vec<u64>, again: Vec<u64>) -> Result<u64> {
    Ok(counts.iter().chain(&again).sum())
}

#[step]
async fn publish(_ctx: &Ctx, summary: String, profile: Profile) -> Result<()> {
    let _ = (summary, profile);
    Ok(())
}

#[step]
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

/// Counts in `count` shards.
#[pipeline]
fn shards(count: u32) {
    for n in 0..count {
        shard(n);
    }
}

/// Lints with one toolchain.
#[pipeline]
fn per_toolchain(src: Dir, toolchain: String) {
    lint(src, toolchain);
}

/// Tests every toolchain with every feature, counts in shards, and publishes when asked.
#[pipeline]
fn matrix(
    src: Dir,
    toolchains: Vec<String>,
    release: bool,
    profile: Profile,
    channel: Option<String>,
) -> String {
    let mut results = Vec::new();
    for toolchain in &toolchains {
        for feature in FEATURES {
            results.push(test(src, toolchain, feature));
        }
    }
    let all = summary(results);
    let mut counts = Vec::new();
    for n in 1..=2 {
        let count = shard(n);
        counts.push(count);
    }
    for n in [7, 8] {
        counts.push(shard(n));
    }
    total(&counts, counts);
    if release && toolchains.len() > 1 {
        publish(all, profile);
    }
    match profile {
        Profile::Dev => shards(2),
        Profile::Release => {}
    }
    if let Some(channel) = &channel {
        lint(src, channel);
    }
    for level in ["deny/all"] {
        lint(src, level);
    }
    for toolchain in &toolchains {
        per_toolchain(src, toolchain);
    }
    all
}

/// Forwards its input to a nested pipeline that loops over it.
#[pipeline]
fn forwards(src: Dir, levels: Vec<String>) {
    lints(src, levels);
}

fn values(pairs: &[(&str, serde_json::Value)]) -> InputValues {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn labels(plan: &Plan) -> Vec<&str> {
    plan.steps().map(|(n, _)| &*n.label).collect()
}

fn main() {
    // Without the command line the steps depend on `--toolchains` and `--profile`: nothing is
    // built, and the switch and the option read as left out.
    let plan = Plan::of::<matrix>();
    assert_eq!(labels(&plan), [] as [&str; 0]);
    let unknown: Vec<&str> = plan.unknown.iter().map(|n| &*plan.node(*n).label).collect();
    assert_eq!(unknown, ["toolchains", "profile"]);
    let shaped: Vec<&str> = plan.shaped_by.iter().map(|(n, _)| &*plan.node(*n).label).collect();
    assert_eq!(shaped, ["release", "channel"]);

    let plan = Plan::with::<matrix>(&values(&[
        ("toolchains", serde_json::json!(["1.80", "1.81"])),
        ("release", serde_json::json!(true)),
        ("profile", serde_json::json!("Dev")),
        ("channel", serde_json::json!("beta")),
    ]))
    .unwrap();
    assert!(plan.unknown.is_empty());
    assert_eq!(
        labels(&plan),
        [
            "test[1.80,default]",
            "test[1.80,serde]",
            "test[1.80,full]",
            "test[1.81,default]",
            "test[1.81,serde]",
            "test[1.81,full]",
            "summary",
            "shard[1]",
            "shard[2]",
            "shard[7]",
            "shard[8]",
            "total",
            "publish",
            "shards/shard[0]",
            "shards/shard[1]",
            "lint",
            // A `/` in an item is not a nested pipeline's.
            "lint[deny\u{2215}all]",
            "per_toolchain[1.80]/lint",
            "per_toolchain[1.81]/lint",
        ]
    );
    let shaped: Vec<&str> = plan.shaped_by.iter().map(|(n, _)| &*plan.node(*n).label).collect();
    assert_eq!(shaped, ["toolchains", "release", "profile", "channel"]);

    // The fan-in takes one list of the six cells, in loop order.
    let id = |label: &str| plan.find(label).unwrap_or_else(|| panic!("{label}")).id;
    let cells: Vec<Arg> = labels(&plan)[..6]
        .iter()
        .map(|label| Arg::Handle { node: id(label), part: 0 })
        .collect();
    assert_eq!(plan.find("summary").unwrap().args, [Arg::List(cells)]);
    assert_eq!(plan.find("summary").unwrap().deps().len(), 6);
    let counted: Vec<Arg> = ["shard[1]", "shard[2]", "shard[7]", "shard[8]"]
        .iter()
        .map(|label| Arg::Handle { node: id(label), part: 0 })
        .collect();
    assert_eq!(
        plan.find("total").unwrap().args,
        [Arg::List(counted.clone()), Arg::List(counted)]
    );
    // Loop items reach steps as values.
    assert_eq!(
        plan.find("test[1.81,serde]").unwrap().args[1..],
        [Arg::Literal(serde_json::json!("1.81")), Arg::Literal(serde_json::json!("serde"))]
    );

    // Other values, another graph: no publish, no shards, no channel lint.
    let plan = Plan::with::<matrix>(&values(&[
        ("toolchains", serde_json::json!(["1.80"])),
        ("profile", serde_json::json!("Release")),
    ]))
    .unwrap();
    assert_eq!(
        labels(&plan),
        [
            "test[1.80,default]",
            "test[1.80,serde]",
            "test[1.80,full]",
            "summary",
            "shard[1]",
            "shard[2]",
            "shard[7]",
            "shard[8]",
            "total",
            "lint[deny\u{2215}all]",
            "per_toolchain[1.80]/lint",
        ]
    );

    // A value of the wrong type names its flag.
    let err = Plan::with::<matrix>(&values(&[
        ("toolchains", serde_json::json!(["1.80"])),
        ("profile", serde_json::json!("Fast")),
    ]))
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("--profile: unknown variant `Fast`"), "{err}");

    // A nested pipeline loops over the input its caller forwards.
    let plan = Plan::with::<forwards>(&values(&[("levels", serde_json::json!(["warn", "deny"]))]))
        .unwrap();
    assert_eq!(labels(&plan), ["lints/lint[warn]", "lints/lint[deny]"]);
    let shaped: Vec<&str> = plan.shaped_by.iter().map(|(n, _)| &*plan.node(*n).label).collect();
    assert_eq!(shaped, ["levels"]);
    // The input it forwards chose the nested pipeline's steps, which `--graph` draws.
    let levels = plan.find("levels").unwrap().id;
    assert_eq!(plan.find("lints/lint[warn]").unwrap().chosen_by, [levels]);
}
