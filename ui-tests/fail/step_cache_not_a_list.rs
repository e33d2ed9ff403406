use tanto::prelude::*;

#[step(cache = "cargo-registry")]
async fn build(ctx: &Ctx, src: Dir) -> Result<Dir> {
    let _ = ctx;
    Ok(src)
}

fn main() {}
