use tanto::prelude::*;

#[step(env("RUST_LOG=info" = "debug"))]
async fn build(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
