use tanto::prelude::*;

#[step(memory = "2 gigs")]
async fn build(ctx: &Ctx, src: Dir) -> Result<Dir> {
    let _ = ctx;
    Ok(src)
}

fn main() {}
