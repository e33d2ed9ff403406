//! A pipeline with a bad `#[dir(..)]` still exists for its callers: one error, at the attribute.
use tanto::prelude::*;

#[step]
async fn test(_ctx: &Ctx, src: Dir) -> Result<()> {
    let _ = src;
    Ok(())
}

#[pipeline]
fn inner(#[dir(inclde = "src/**")] src: Dir) {
    test(src);
}

#[pipeline]
fn outer(src: Dir) {
    inner(src);
}

fn main() {}
