//! A secret is not a string: passing one where a `String` goes is refused on the argument.
use tanto::prelude::*;

#[step(image = "tanto-test/busybox:latest")]
async fn greet(_ctx: &Ctx, name: String) -> Result<String> {
    Ok(name)
}

#[pipeline]
fn release(token: Secret) -> String {
    greet(token)
}

fn main() {}
