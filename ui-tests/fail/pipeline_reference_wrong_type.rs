use tanto::prelude::*;

#[step]
async fn tag(_ctx: &Ctx, name: String) -> Result<()> {
    let _ = name;
    Ok(())
}

#[pipeline]
fn ci(release: bool) {
    if release {
        tag(&release);
    }
}

fn main() {}
