use tanto::prelude::*;

#[step(image = "rust:1.95-slim", image = "rust:1.94-slim")]
async fn build(ctx: &Ctx, src: Dir) -> Result<Dir> {
    let _ = ctx;
    Ok(src)
}

fn main() {}
