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
async fn package(_ctx: &Ctx, bin: Dir) -> Result<File> {
    let _ = bin;
    unimplemented!()
}

fn helper(src: Dir) -> Dir {
    src
}

#[pipeline]
fn ci(src: Dir) {
    helper(src);
}

fn main() {}
