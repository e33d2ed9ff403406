use tanto::prelude::*;

#[pipeline]
fn ci(#[dir(include = ["src/**", docs])] src: Dir) {}

fn main() {}
