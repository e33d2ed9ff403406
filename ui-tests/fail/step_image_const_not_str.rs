use tanto::prelude::*;

const IMAGE: u32 = 195;

#[step(image = IMAGE)]
async fn build(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
