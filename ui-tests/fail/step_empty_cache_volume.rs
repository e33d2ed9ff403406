use tanto::prelude::*;

#[step(cache("/target" = ""))]
async fn build(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
