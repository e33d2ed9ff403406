//! A list of step outputs bound to a name that is not `mut`.
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
    let all = Vec::new();
    summary(all);
}

fn main() {}
