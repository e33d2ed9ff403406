use tanto::prelude::*;

#[pipeline]
fn ci(src: Dir)
where
    Dir: Clone,
{
}

fn main() {}
