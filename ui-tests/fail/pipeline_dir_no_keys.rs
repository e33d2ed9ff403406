use tanto::prelude::*;

#[pipeline]
fn ci(#[dir] src: Dir) {}

fn main() {}
