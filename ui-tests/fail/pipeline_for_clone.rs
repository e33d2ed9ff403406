//! A loop over a copy of a flag, made so the flag can be passed on after the loop: rustc's own
//! advice for a moved `Vec`. A borrow does that, and the error says so.
use tanto::prelude::*;

#[step]
async fn cell(_ctx: &Ctx, feature: String) -> Result<String> {
    Ok(feature)
}

#[step]
async fn summary(_ctx: &Ctx, features: Vec<String>) -> Result<String> {
    Ok(features.join("\n"))
}

#[pipeline]
fn ci(features: Vec<String>) {
    for feature in features.clone() {
        cell(feature);
    }
    summary(features);
}

fn main() {}
