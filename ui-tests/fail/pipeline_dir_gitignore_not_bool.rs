use tanto::prelude::*;

#[pipeline]
fn ci(#[dir(gitignore = "off")] src: Dir) {}

fn main() {}
