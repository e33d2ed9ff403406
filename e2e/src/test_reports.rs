//! Pipelines through `cargo-steps`: a suite through `cargo_steps::test_report` with a retry,
//! one split over three shards whose reports a fan-in step merges, and a workspace's binaries
//! and docs.

use tanto::Cli;
use tanto::prelude::*;

/// The offline Rust image (`cargo xtask images`), which carries nextest.
const RUST: &str = "tanto-test/rust:1.95";

/// The suite in `src` with one retry for a failing test.
#[pipeline]
pub fn tested(src: Dir) -> TestReport {
    cargo_steps::test_report(src, 1)
}

/// The suite in `src`, whole and without retries: what the shards must add up to.
#[pipeline]
pub fn unsharded(src: Dir) -> TestReport {
    cargo_steps::test_report(src, 0)
}

/// Merges the reports of a suite's shards.
#[step]
pub(crate) async fn merge_reports(_ctx: &Ctx, shards: Vec<TestReport>) -> Result<TestReport> {
    Ok(TestReport::merge(shards))
}

/// The suite in `src` over three shards, merged.
#[pipeline]
pub fn sharded(src: Dir) -> TestReport {
    let mut shards = Vec::new();
    for i in 1..=3 {
        shards.push(cargo_steps::test_shard(src, i, 3));
    }
    merge_reports(shards)
}

/// The binaries of the workspace in `src`, built with the dev profile.
#[pipeline]
pub fn built(src: Dir) -> Dir {
    cargo_steps::build(src, "dev")
}

/// The rustdoc of the workspace in `src`.
#[pipeline]
pub fn documented(src: Dir) -> Dir {
    cargo_steps::doc(src)
}

/// Adds these pipelines, and runs `cargo_steps`' image as the offline one, or as
/// `TANTO_FIXTURE_RUST` (an image without nextest, say).
pub(crate) fn register(cli: Cli) -> Cli {
    let image = std::env::var("TANTO_FIXTURE_RUST").unwrap_or_else(|_| RUST.to_owned());
    cli.image_alias(cargo_steps::IMAGE, image)
        .pipeline(tested)
        .pipeline(unsharded)
        .pipeline(sharded)
        .pipeline(built)
        .pipeline(documented)
}
