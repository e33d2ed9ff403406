use tanto::prelude::*;

#[pipeline]
fn ci(#[dir(exclude = 3)] src: Dir) {}

fn main() {}
