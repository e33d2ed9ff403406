use tanto::prelude::*;

#[pipeline]
unsafe fn ci() {}

fn main() {}
