use tanto::prelude::*;

#[pipeline]
fn ci<T>(src: T) {}

fn main() {}
