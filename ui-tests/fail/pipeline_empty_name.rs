use tanto::prelude::*;

#[pipeline(name = "")]
fn ci() {}

fn main() {}
