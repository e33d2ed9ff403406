use tanto::prelude::*;

#[pipeline]
fn ci(#[dir(exclude = "docs/**")] profile: String) {}

fn main() {}
