//! A secret never leaves a step, not even as part of its output.
use tanto::prelude::*;

#[step(image = "tanto-test/busybox:latest")]
async fn leak(_ctx: &Ctx, src: Dir, token: Secret) -> Result<(Dir, Secret)> {
    Ok((src, token))
}

fn main() {}
