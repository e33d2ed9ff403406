use tanto::prelude::*;

#[pipeline]
async fn ci(_src: Dir) {}

fn main() {}
