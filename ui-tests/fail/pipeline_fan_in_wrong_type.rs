//! Handles of `u64` collected and passed where a `Vec<String>` goes: the error is on the argument.
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

#[pipeline]
fn ci() {
    let mut counts = Vec::new();
    for n in 1..=3 {
        counts.push(count(n));
    }
    summary(counts);
}

fn main() {}
