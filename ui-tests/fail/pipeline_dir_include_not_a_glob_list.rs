use tanto::prelude::*;

#[pipeline]
fn ci(#[dir(include = 3)] src: Dir) {}

fn main() {}
