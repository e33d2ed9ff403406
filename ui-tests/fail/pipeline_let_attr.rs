use tanto::prelude::*;

#[step]
async fn fmt(_ctx: &Ctx, src: Dir) -> Result<()> {
    let _ = src;
    Ok(())
}

#[step]
async fn lint(_ctx: &Ctx, src: Dir) -> Result<String> {
    let _ = src;
    Ok(String::new())
}

#[pipeline]
fn ci(src: Dir) {
    fmt(src);
    #[allow(unused_variables)]
    let report = lint(src);
}

fn main() {}
