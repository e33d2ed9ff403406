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

#[pipeline]
fn ci(src: Dir) {
    async {
        fmt(src);
    };
}

fn main() {}
