use tanto::prelude::*;

#[pipeline]
fn ci(profile: &str) {}

fn main() {}
