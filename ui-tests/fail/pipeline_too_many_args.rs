use tanto::prelude::*;

#[step]
async fn fmt(_ctx: &Ctx, src: Dir) -> Result<()> {
    let _ = src;
    Ok(())
}

#[step]
async fn build(_ctx: &Ctx, src: Dir, profile: String) -> Result<Dir> {
    let _ = profile;
    Ok(src)
}

#[step]
async fn count(_ctx: &Ctx, src: Dir) -> Result<u64> {
    let _ = src;
    Ok(0)
}

// Two errors for one mistake: the arity, and the extra argument, which has no parameter.
#[pipeline]
fn ci(src: Dir) {
    fmt(src, "extra");
}

fn main() {}
