use tanto::prelude::*;

mod helpers {
    pub fn image() -> String {
        "busybox".into()
    }
}

#[step]
async fn check(_ctx: &Ctx, image: String) -> Result<()> {
    let _ = image;
    Ok(())
}

#[pipeline]
fn ci() {
    check(helpers::image);
}

fn main() {}
