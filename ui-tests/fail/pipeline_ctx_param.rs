use tanto::prelude::*;

#[pipeline]
fn ci(ctx: &Ctx, src: Dir) {}

fn main() {}
