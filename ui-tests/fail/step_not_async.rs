use tanto::prelude::*;

#[step]
fn build(ctx: &Ctx, src: Dir) -> Result<Dir> {
    let _ = ctx;
    Ok(src)
}

fn main() {}
