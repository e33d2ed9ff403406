//! A secret never leaves a step: it cannot be a step's output.
use tanto::prelude::*;

#[step(image = "tanto-test/busybox:latest")]
async fn leak(_ctx: &Ctx, token: Secret) -> Result<Secret> {
    Ok(token)
}

fn main() {}
