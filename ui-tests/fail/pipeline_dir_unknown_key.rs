use tanto::prelude::*;

#[pipeline]
fn ci(#[dir(exclud = "docs/**")] src: Dir) {}

fn main() {}
