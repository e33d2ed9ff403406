use tanto::prelude::*;

#[step]
async fn build(_ctx: &Ctx, #[dir(exclude = "docs/**")] src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
