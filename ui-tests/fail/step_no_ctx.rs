use tanto::prelude::*;

#[step]
async fn build(src: Dir) -> Result<Dir> {
    Ok(src)
}

fn main() {}
