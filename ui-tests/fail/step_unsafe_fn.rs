use tanto::prelude::*;

#[step]
async unsafe fn build(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
