use tanto::prelude::*;

#[step]
async fn build(_ctx: &Ctx, src: Dir, profile: String) -> Result<Dir> {
    let _ = profile;
    Ok(src)
}

#[step]
async fn version(_ctx: &Ctx, src: Dir) -> Result<String> {
    let _ = src;
    Ok(String::new())
}

#[pipeline]
fn release(src: Dir, profile: String) -> Dir {
    build(src, profile)
}

#[pipeline]
fn ci(src: Dir) {
    let v = version(src);
    release(v, "release");
}

fn main() {}
