use tanto::prelude::*;

#[pipeline]
extern "C" fn ci() {}

fn main() {}
