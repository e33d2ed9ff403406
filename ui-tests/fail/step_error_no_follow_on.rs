use tanto::prelude::*;

// The step's error is the only one: the pipeline that calls it still type-checks.
#[step(timeout = "soon")]
async fn build(_ctx: &Ctx, src: Dir, profile: String) -> Result<Dir> {
    let _ = profile;
    Ok(src)
}

#[pipeline]
fn ci(src: Dir) -> Dir {
    build(src, "release")
}

fn main() {}
