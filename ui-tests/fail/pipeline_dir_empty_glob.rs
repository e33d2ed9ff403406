use tanto::prelude::*;

#[pipeline]
fn ci(#[dir(include = ["src/**", ""])] src: Dir) {}

fn main() {}
