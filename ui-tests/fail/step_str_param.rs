use tanto::prelude::*;

#[step]
async fn build(ctx: &Ctx, src: Dir, profile: &str) -> Result<Dir> {
    let _ = (ctx, profile);
    Ok(src)
}

fn main() {}
