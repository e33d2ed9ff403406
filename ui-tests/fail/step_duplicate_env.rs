use tanto::prelude::*;

#[step(env(RUST_LOG = "info"), env(RUST_LOG = "debug"))]
async fn build(ctx: &Ctx, src: Dir) -> Result<Dir> {
    let _ = ctx;
    Ok(src)
}

fn main() {}
