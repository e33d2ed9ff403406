//! A const or an enum variant named by path is an argument, like a literal.
use serde::{Deserialize, Serialize};
use tanto::__internal::graph::Plan;
use tanto::prelude::*;

mod images {
    pub const BUSYBOX: &str = "busybox:1.37";
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Mode {
    Fast,
    Thorough,
}

#[step]
async fn check(_ctx: &Ctx, image: String, mode: Mode) -> Result<()> {
    let _ = (image, mode);
    Ok(())
}

#[pipeline]
fn ci() {
    check(images::BUSYBOX, Mode::Fast);
    check(self::images::BUSYBOX, Mode::Thorough);
}

fn main() {
    assert_eq!(Plan::of::<ci>().steps().count(), 2);
}
