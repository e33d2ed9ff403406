use tanto::prelude::*;

#[step(cache("/cache" = "one", "/cache" = "two"))]
async fn build(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
