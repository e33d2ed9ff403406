use tanto::prelude::*;

#[pipeline]
fn ci(#[dir(exclude = "docs/**")] #[dir(gitignore = false)] src: Dir) {}

fn main() {}
