use tanto::prelude::*;

#[step(user = root)]
async fn build(ctx: &Ctx, src: Dir) -> Result<Dir> {
    let _ = ctx;
    Ok(src)
}

fn main() {}
