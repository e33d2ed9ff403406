//! A step returning a tuple gives one handle per element, each wired on its own.
use tanto::__internal::graph::Plan;
use tanto::__internal::graph::Arg;
use tanto::prelude::*;

#[step]
async fn split(_ctx: &Ctx, src: Dir) -> Result<(Dir, File, u32)> {
    let _ = src;
    unimplemented!("not run by this test")
}

#[step]
async fn check(_ctx: &Ctx, docs: Dir, bin: File, count: u32) -> Result<()> {
    let _ = (docs, bin, count);
    Ok(())
}

#[pipeline]
fn ci(src: Dir) -> (File, u32) {
    let (docs, bin, count) = split(src);
    check(docs, bin, count);
    (bin, count)
}

fn main() {
    let plan = Plan::of::<ci>();
    let split = plan.find("split").expect("a split node");
    let check = plan.find("check").expect("a check node");
    let part = |part| Arg::Handle { node: split.id, part };
    assert_eq!(check.args, [part(0), part(1), part(2)]);
    assert_eq!(plan.outputs, [(split.id, 1), (split.id, 2)]);
}
