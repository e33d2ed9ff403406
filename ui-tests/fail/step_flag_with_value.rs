use tanto::prelude::*;

#[step(side_effect = true)]
async fn deploy(ctx: &Ctx, bin: Dir) -> Result<()> {
    let _ = (ctx, bin);
    Ok(())
}

fn main() {}
