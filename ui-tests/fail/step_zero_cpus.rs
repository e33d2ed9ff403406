use tanto::prelude::*;

#[step(cpus = "0")]
async fn build(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
