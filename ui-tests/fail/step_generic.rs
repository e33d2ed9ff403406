use tanto::prelude::*;

#[step]
async fn build<T: Send>(ctx: &Ctx, src: Dir, extra: T) -> Result<Dir> {
    let _ = (ctx, extra);
    Ok(src)
}

fn main() {}
