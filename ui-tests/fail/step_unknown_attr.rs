use tanto::prelude::*;

#[step(imgae = "rust:1.95-slim")]
async fn build(ctx: &Ctx, src: Dir) -> Result<Dir> {
    let _ = ctx;
    Ok(src)
}

fn main() {}
