use tanto::prelude::*;

#[step]
async fn build(_ctx: &Ctx, src: Dir) -> Result<impl Sized> {
    Ok(src)
}

fn main() {}
