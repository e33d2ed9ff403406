use tanto::prelude::*;

const VERSION: &str = "1.95";

#[step(image = format!("rust:{VERSION}-slim"))]
async fn build(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
