//! A loop over a const whose items are not serde values: a loop item names its steps.
use tanto::prelude::*;

#[step]
async fn build(_ctx: &Ctx, src: Dir, profile: String) -> Result<String> {
    let _ = src;
    Ok(profile)
}

#[step]
async fn count(_ctx: &Ctx, n: u32) -> Result<u64> {
    Ok(u64::from(n))
}

#[step]
async fn summary(_ctx: &Ctx, results: Vec<String>) -> Result<String> {
    Ok(results.join("\n"))
}

#[derive(Clone, Copy)]
struct Level(u32);

const LEVELS: [Level; 2] = [Level(1), Level(2)];

#[pipeline]
fn ci() {
    for _level in LEVELS {
        count(3);
    }
}

fn main() {}
