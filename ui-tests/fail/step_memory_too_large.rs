use tanto::prelude::*;

#[step(memory = "17179869184g")]
async fn build(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
