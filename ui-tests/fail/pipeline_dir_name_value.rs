use tanto::prelude::*;

#[pipeline]
fn ci(#[dir = "src/**"] src: Dir) {}

fn main() {}
