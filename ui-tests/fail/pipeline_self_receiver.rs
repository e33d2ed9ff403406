use tanto::prelude::*;

struct Pipelines;

impl Pipelines {
    #[pipeline]
    fn ci(&self) {}
}

fn main() {}
