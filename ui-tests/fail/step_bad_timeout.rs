use tanto::prelude::*;

#[step(timeout = "ten")]
async fn build(ctx: &Ctx, src: Dir) -> Result<Dir> {
    let _ = ctx;
    Ok(src)
}

fn main() {}
