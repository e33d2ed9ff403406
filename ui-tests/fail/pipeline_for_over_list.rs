//! A loop over a list of collected step outputs.
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
fn ci(src: Dir) {
    let mut all = Vec::new();
    all.push(build(src, "dev"));
    for out in &all {
        build(src, out);
    }
}

fn main() {}
