use tanto::prelude::*;

#[pipeline]
fn ci(src: Dir) -> &'static Dir {
    src
}

fn main() {}
