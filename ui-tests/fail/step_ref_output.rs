use tanto::prelude::*;

#[step]
async fn build(_ctx: &Ctx, src: Dir) -> Result<&'static str> {
    let _ = src;
    Ok("done")
}

fn main() {}
