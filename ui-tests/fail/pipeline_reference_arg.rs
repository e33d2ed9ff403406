use tanto::prelude::*;

#[step]
async fn fmt(_ctx: &Ctx, src: Dir) -> Result<()> {
    let _ = src;
    Ok(())
}

#[pipeline]
fn ci(src: Dir) {
    fmt(&mut src);
}

fn main() {}
