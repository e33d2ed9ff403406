use tanto::prelude::*;

#[step(user = "")]
async fn build(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
