use tanto::prelude::*;

#[step]
async fn fmt(_ctx: &Ctx, src: Dir) -> Result<()> {
    let _ = src;
    Ok(())
}

// A type of the same kind of name as a step's companion, but no step.
#[allow(non_camel_case_types)]
struct lint;

#[pipeline]
fn ci(src: Dir) {
    fmt(src);
    lint();
}

fn main() {}
