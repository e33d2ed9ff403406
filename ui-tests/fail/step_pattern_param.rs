use tanto::prelude::*;

#[step]
async fn build(ctx: &Ctx, (a, b): (u32, u32)) -> Result<u32> {
    let _ = ctx;
    Ok(a + b)
}

fn main() {}
