use tanto::prelude::*;

#[step]
async fn build(ctx: &Ctx, src: &Dir) -> Result<()> {
    let _ = (ctx, src);
    Ok(())
}

fn main() {}
