use tanto::prelude::*;

#[step]
async fn build(_ctx: &Ctx, src: Dir, profile: impl Into<String>) -> Result<Dir> {
    let _ = profile.into();
    Ok(src)
}

fn main() {}
