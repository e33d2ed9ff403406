use tanto::prelude::*;

#[pipeline(name = "ci/release")]
fn ci() {}

fn main() {}
