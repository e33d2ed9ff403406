use serde::Serialize;
use tanto::prelude::*;

#[derive(Serialize)]
struct Settings {
    release: bool,
}

#[step]
async fn build(ctx: &Ctx, src: Dir, settings: Settings) -> Result<Dir> {
    let _ = (ctx, settings.release);
    Ok(src)
}

fn main() {}
