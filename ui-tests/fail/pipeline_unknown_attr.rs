use tanto::prelude::*;

#[pipeline(image = "rust:1.95-slim")]
fn ci() {}

fn main() {}
