use tanto::prelude::*;

#[pipeline]
const fn ci() {}

fn main() {}
