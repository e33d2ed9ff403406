use tanto::prelude::*;

#[step(timeout = "0s")]
async fn build(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
