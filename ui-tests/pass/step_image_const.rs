//! A step names its image with a `&str` const, from its own module or by path from another.
use tanto::__internal::graph::Plan;
use tanto::__private::Step as _;
use tanto::prelude::*;

const RUST: &str = "rust:1.95-slim";

mod images {
    pub const BUSYBOX: &str = "busybox:1.37";
}

#[step(image = RUST)]
async fn build(_ctx: &Ctx, src: Dir) -> Result<Dir> {
    Ok(src)
}

#[step(image = images::BUSYBOX, network = false)]
async fn smoke(_ctx: &Ctx, bin: Dir) -> Result<()> {
    let _ = bin;
    Ok(())
}

#[pipeline]
fn ci(src: Dir) {
    let bin = build(src);
    smoke(bin);
}

fn main() {
    assert_eq!(build::INFO.settings.image, Some("rust:1.95-slim"));
    assert_eq!(smoke::INFO.settings.image, Some("busybox:1.37"));
    assert!(!smoke::INFO.settings.network);
    assert_eq!(Plan::of::<ci>().steps().count(), 2);
}
