use tanto::prelude::*;

#[pipeline]
fn ci(#[dir(exclude = "docs/**", exclude = "target/**")] src: Dir) {}

fn main() {}
