use tanto::prelude::*;

#[step]
async fn build(_ctx: &Ctx, src: Dir) -> Result<Dir>
where
    Dir: Clone,
{
    Ok(src)
}

fn main() {}
