use serde::Serialize;
use tanto::prelude::*;

#[derive(Serialize)]
struct Report;

#[step]
async fn test(ctx: &Ctx, src: Dir) -> Result<Report> {
    let _ = (ctx, src);
    Ok(Report)
}

fn main() {}
