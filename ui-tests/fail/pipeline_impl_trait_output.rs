use tanto::prelude::*;

#[pipeline]
fn ci(src: Dir) -> impl Sized {
    src
}

fn main() {}
