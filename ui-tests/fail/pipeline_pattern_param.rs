use tanto::prelude::*;

#[pipeline]
fn ci((src, docs): (Dir, Dir)) {}

fn main() {}
