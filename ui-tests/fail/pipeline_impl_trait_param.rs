use tanto::prelude::*;

#[pipeline]
fn ci(src: impl Into<Dir>) {}

fn main() {}
