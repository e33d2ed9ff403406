use tanto::prelude::*;

#[step]
async extern "C" fn build(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
