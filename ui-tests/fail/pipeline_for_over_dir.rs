//! A loop over a `Dir` input, read only when the pipeline runs.
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
    for file in src {
        build(file, "dev");
    }
}

fn main() {}
