//! A secret is never a pipeline's output.
use tanto::prelude::*;

#[step(image = "tanto-test/busybox:latest")]
async fn check(_ctx: &Ctx, token: Secret) -> Result<()> {
    let _ = token;
    Ok(())
}

#[pipeline]
fn release(token: Secret) -> Secret {
    check(token);
    token
}

fn main() {}
