//! Where containers run: the `Backend` trait and its Docker implementation.

use crate::Ctx;

/// A container engine.
pub trait Backend: Send + Sync {}

/// A builder for a step's container.
#[derive(Debug, Clone)]
pub struct Container {}

impl Container {
    pub(crate) fn for_step(_ctx: &Ctx) -> Self {
        Container {}
    }
}
