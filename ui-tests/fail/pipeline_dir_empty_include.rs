use tanto::prelude::*;

#[pipeline]
fn ci(#[dir(include = [])] src: Dir) {}

fn main() {}
