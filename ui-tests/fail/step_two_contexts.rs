use tanto::prelude::*;

#[step]
async fn build(ctx: &Ctx, src: Dir, again: &Ctx) -> Result<Dir> {
    let _ = (ctx, again);
    Ok(src)
}

fn main() {}
