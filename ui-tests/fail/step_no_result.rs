use tanto::prelude::*;

#[step]
async fn build(ctx: &Ctx, src: Dir) -> Dir {
    let _ = ctx;
    src
}

fn main() {}
