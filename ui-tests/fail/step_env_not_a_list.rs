use tanto::prelude::*;

#[step(env = "RUST_LOG=debug")]
async fn build(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
