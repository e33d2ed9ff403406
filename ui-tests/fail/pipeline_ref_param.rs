use tanto::prelude::*;

#[pipeline]
fn ci(src: &Dir) {}

fn main() {}
