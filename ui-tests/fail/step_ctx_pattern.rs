use tanto::prelude::*;

#[step]
async fn build(ref ctx: &Ctx, src: Dir) -> Result<Dir> {
    let _ = ctx;
    Ok(src)
}

fn main() {}
