use tanto::prelude::*;

#[step(memory = "0")]
async fn build(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
