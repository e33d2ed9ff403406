use tanto::prelude::*;

#[pipeline(name = "ci", name = "build")]
fn ci() {}

fn main() {}
