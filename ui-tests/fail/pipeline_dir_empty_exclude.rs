use tanto::prelude::*;

#[pipeline]
fn ci(#[dir(exclude = [], gitignore = false)] src: Dir) {}

fn main() {}
